"""Read a result directory (``manifest.json`` + ``reports/*.parquet``) into plain Python rows for the reports.

The terminal and HTML reports share this loader so both show the same numbers, and both can say which report
tables are missing or do not match the manifest's checksums instead of quietly showing less.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from edgelog.errors import UsageError
from edgelog.fileio import hash_file

# The report tables design.md promises, in the order people read them.
REPORTS = (
    "summary",
    "time_5min",
    "time_hourly",
    "error_rate",
    "status_codes",
    "top_paths",
    "not_found",
    "static_files",
    "hosts",
    "methods_protocols",
    "referring_sites",
    "referring_urls",
    "browsers",
    "operating_systems",
    "crawlers",
    "sessions",
    "entry_pages",
    "exit_pages",
    "tags",
    "anomalies",
    "nodes",
)

Row = dict[str, Any]
QUARANTINE_SAMPLE = 20


@dataclass
class ResultData:
    """A loaded result directory."""

    dir: Path
    manifest: dict[str, Any]
    tables: dict[str, list[Row]] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # report tables the directory lacks
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
        return str(self.manifest.get("status") or "unknown")

    @property
    def partial(self) -> bool:
        return self.status != "ok" or bool(self.integrity_problems) or bool(self.missing)


def _sha256(path: Path) -> str:
    return hash_file(path, "sha256")[1]


def _read_parquet(con: Any, path: Path) -> tuple[list[str], list[Row]]:
    """Rows as dicts; TIMESTAMPTZ comes back as aware UTC datetimes (read as UTC wall time: no pytz)."""
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    names = [str(r[0]) for r in described]
    types = [str(r[1]).upper() for r in described]
    select = []
    for name, typ in zip(names, types, strict=True):
        quoted = '"' + name.replace('"', '""') + '"'
        select.append(
            f"timezone('UTC', {quoted}) AS {quoted}" if typ == "TIMESTAMP WITH TIME ZONE" else quoted
        )
    cursor = con.execute(f"SELECT {', '.join(select)} FROM read_parquet(?)", [str(path)])
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
    manifest_path = root / "manifest.json"
    if not root.is_dir():
        raise UsageError(
            f"{root} is not a directory", hint="pass a result directory written by analyze or fetch"
        )
    if not manifest_path.is_file():
        raise UsageError(
            f"{root} has no manifest.json: not an edgelog result directory",
            hint="pass the directory `edgelog analyze --out` or `edgelog fetch --out DIR` (DIR/merged) wrote",
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError as exc:
        raise UsageError(f"{manifest_path}: not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise UsageError(f"{manifest_path}: expected a JSON object")
    data = ResultData(dir=root, manifest=manifest)

    if verify:
        for entry in manifest.get("outputs") or []:
            rel = entry.get("path") if isinstance(entry, dict) else None
            if (
                not isinstance(rel, str)
                or PurePosixPath(rel).is_absolute()
                or ".." in PurePosixPath(rel).parts
            ):
                data.integrity_problems.append(f"manifest lists an unsafe path {rel!r}")
                continue
            path = root / rel
            if not path.is_file():
                data.integrity_problems.append(f"{rel}: listed in the manifest but missing")
            elif _sha256(path) != entry.get("sha256"):
                data.integrity_problems.append(f"{rel}: sha256 does not match the manifest")
            else:
                data.verified_files += 1

    con = duckdb.connect()
    try:
        for name in REPORTS:
            path = root / "reports" / f"{name}.parquet"
            if not path.is_file():
                data.missing.append(name)
                continue
            try:
                data.columns[name], data.tables[name] = _read_parquet(con, path)
            except duckdb.Error as exc:
                data.integrity_problems.append(f"reports/{name}.parquet: unreadable: {exc}")
        quarantine = root / "quarantine.parquet"
        if quarantine.is_file():
            try:
                data.quarantine_reasons = [
                    {"reason": r, "lines": n}
                    for r, n in con.execute(
                        "SELECT reason, count(*) AS n FROM read_parquet(?) "
                        "GROUP BY reason ORDER BY n DESC, reason",
                        [str(quarantine)],
                    ).fetchall()
                ]
                cursor = con.execute(
                    "SELECT * FROM read_parquet(?) ORDER BY file, line_no LIMIT ?",
                    [str(quarantine), QUARANTINE_SAMPLE],
                )
                names = [d[0] for d in cursor.description]
                data.quarantine_sample = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            except duckdb.Error as exc:
                data.integrity_problems.append(f"quarantine.parquet: unreadable: {exc}")
    finally:
        con.close()
    return data
