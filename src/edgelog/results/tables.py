"""Read a result directory (``manifest.json`` + ``reports/*.parquet``) into plain Python rows for the reports.

The terminal and HTML reports share this loader so both show the same numbers, and both can say which report
tables are missing or do not match the manifest's checksums instead of quietly showing less.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgelog import resultdir
from edgelog.analysis.library import report_names
from edgelog.resultdir import Manifest

Row = dict[str, Any]
QUARANTINE_SAMPLE = 20


@dataclass
class ResultData:
    """A loaded result directory."""

    dir: Path
    manifest: Manifest
    tables: dict[str, list[Row]] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # library reports the directory lacks
    integrity_problems: list[str] = field(default_factory=list)  # files that do not match the manifest
    verified_files: int = 0
    quarantine_reasons: list[Row] = field(default_factory=list)  # reason, lines: why lines did not parse
    quarantine_sample: list[Row] = field(default_factory=list)  # a few quarantined lines, to see the problem

    def rows(self, name: str) -> list[Row]:
        return self.tables.get(name, [])

    def one(self, name: str) -> Row:
        rows = self.tables.get(name) or [{}]
        return rows[0]

    @property
    def status(self) -> str:
        return self.manifest.status or "unknown"

    @property
    def partial(self) -> bool:
        return self.status != "ok" or bool(self.integrity_problems) or bool(self.missing)


def _read_parquet(con: Any, files: list[Path]) -> tuple[list[str], list[Row]]:
    """Rows as dicts; TIMESTAMPTZ comes back as aware UTC datetimes (read as UTC wall time: no pytz)."""
    paths = [str(p) for p in files]
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [paths]).fetchall()
    names = [str(r[0]) for r in described]
    types = [str(r[1]).upper() for r in described]
    select = []
    for name, typ in zip(names, types, strict=True):
        quoted = '"' + name.replace('"', '""') + '"'
        select.append(
            f"timezone('UTC', {quoted}) AS {quoted}" if typ == "TIMESTAMP WITH TIME ZONE" else quoted
        )
    cursor = con.execute(f"SELECT {', '.join(select)} FROM read_parquet(?)", [paths])
    rows = []
    for values in cursor.fetchall():
        row = {}
        for name, typ, value in zip(names, types, values, strict=True):
            if isinstance(value, datetime) and value.tzinfo is None and "TIME ZONE" in typ:
                value = value.replace(tzinfo=UTC)
            row[name] = value
        rows.append(row)
    return names, rows


def load_result(result_dir: str | Path, *, verify: bool = True) -> ResultData:
    """Load ``manifest.json`` and every report table; with ``verify``, check files against the manifest."""
    import duckdb

    root = Path(result_dir).expanduser()
    data = ResultData(dir=root, manifest=resultdir.read(root))
    if verify:
        from edgelog.analysis.merger import totals_problems

        data.integrity_problems = data.manifest.verify(root)
        data.verified_files = len(data.manifest.outputs) - len(data.integrity_problems)
        if not data.integrity_problems:  # the files are the manifest's: are its numbers theirs too?
            data.integrity_problems = totals_problems(root, data.manifest)

    con = duckdb.connect()
    try:
        for name in report_names():
            rel = resultdir.report_table(name)
            files = resultdir.table_files(root, rel)
            if not files:
                data.missing.append(name)
                continue
            try:
                data.columns[name], data.tables[name] = _read_parquet(con, files)
            except duckdb.Error as exc:
                data.integrity_problems.append(f"{rel}: unreadable: {exc}")
        quarantine = [str(p) for p in resultdir.table_files(root, resultdir.QUARANTINE)]
        if quarantine:
            try:
                data.quarantine_reasons = [
                    {"reason": r, "lines": n}
                    for r, n in con.execute(
                        "SELECT reason, count(*) AS n FROM read_parquet(?) "
                        "GROUP BY reason ORDER BY n DESC, reason",
                        [quarantine],
                    ).fetchall()
                ]
                cursor = con.execute(
                    "SELECT * FROM read_parquet(?) ORDER BY file, line_no LIMIT ?",
                    [quarantine, QUARANTINE_SAMPLE],
                )
                names = [d[0] for d in cursor.description]
                data.quarantine_sample = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            except duckdb.Error as exc:
                data.integrity_problems.append(f"{resultdir.QUARANTINE}: unreadable: {exc}")
    finally:
        con.close()
    return data
