"""Read a result directory (``manifest.json``, ``reports/*.parquet``, ``queries/*.parquet``) into plain rows.

The terminal and HTML reports share this loader so both show the same numbers, and both can say which report
tables are missing or do not match the manifest's checksums instead of quietly showing less. It also says
*what kind* of incomplete a result is: inputs or nodes missing (totals are lower bounds) is not the same as a
user query that failed (every total is still complete).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgelog import resultdir
from edgelog.analysis.library import report_names
from edgelog.analysis.parse import sql_ident
from edgelog.resultdir import Manifest, QueryEntry

Row = dict[str, Any]
QUARANTINE_SAMPLE = 20
QUERY_ROWS = 100  # rows of each user query a report loads (the count says how many there are)
USABLE_NODE = ("ok", "partial")  # fetch statuses of nodes whose results are in the merge


@dataclass
class QueryResult:
    """A user ``--query`` of the result: its manifest entry and its first rows."""

    entry: QueryEntry
    columns: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)  # the first QUERY_ROWS rows
    total_rows: int = 0
    table: str | None = None  # relative path of its table, None when there is none

    @property
    def name(self) -> str:
        return self.entry.name


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
    queries: list[QueryResult] = field(default_factory=list)  # user --query results, in manifest order

    def rows(self, name: str) -> list[Row]:
        return self.tables.get(name, [])

    def one(self, name: str) -> Row:
        rows = self.tables.get(name) or [{}]
        return rows[0]

    def has_stream(self, fmt: str) -> bool:
        """Whether a stream (``error``, ``app``) was read: an input of that format that was not skipped."""
        return any(i.format == fmt and i.status != "skipped" for i in self.manifest.inputs)

    @property
    def status(self) -> str:
        """What a reader is told: ``corrupt`` when a file does not match the manifest (no number shown can
        be trusted, whatever the manifest says), else the manifest's status."""
        return "corrupt" if self.integrity_problems else self.manifest.status or "unknown"

    @property
    def partial(self) -> bool:
        """Anything short of complete: missing data, a failed report or query, a file that does not verify."""
        return self.status != "ok" or bool(self.integrity_problems) or bool(self.missing)

    @property
    def failed_queries(self) -> list[QueryEntry]:
        """User queries that failed (their results are missing; the reports' totals are not affected)."""
        return [q for q in self.manifest.queries if q.kind == "user" and q.status != "ok"]

    @property
    def failed_reports(self) -> list[QueryEntry]:
        """Library reports that failed: their tables are missing, the other reports are complete."""
        return [q for q in self.manifest.queries if q.kind is None and q.status != "ok"]

    @property
    def uncounted(self) -> list[str]:
        """Why the totals are lower bounds: nodes or input files not counted ([]: every total is complete)."""
        m = self.manifest
        reasons = [
            f"node {n.node_id}: {n.status} — {n.reason or ''}".rstrip(" —")
            for n in (m.fetch.nodes if m.fetch else [])
            if n.status not in USABLE_NODE
        ]
        reasons += m.fetch.problems if m.fetch else []
        if m.totals.files_failed:
            reasons.append(f"{m.totals.files_failed} input file(s) failed to read (see Data quality)")
        reasons += [
            f"merged result {s.node_id or s.path}: failed"
            for s in m.merged_from or []
            if s.status == "failed"
        ]
        explained = reasons or self.failed_queries or self.failed_reports or self.missing
        status = m.status or "unknown"
        if status != "ok" and not explained:
            reasons.append(f"the result's status is {status} (see manifest.json)")
        return reasons


def _read_parquet(con: Any, files: list[Path], *, limit: int | None = None) -> tuple[list[str], list[Row]]:
    """Rows as dicts (the first ``limit``, in file order); TIMESTAMPTZ comes back as aware UTC datetimes."""
    paths = [str(p) for p in files]
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [paths]).fetchall()
    names = [str(r[0]) for r in described]
    types = [str(r[1]).upper() for r in described]
    select = []
    for name, typ in zip(names, types, strict=True):
        quoted = sql_ident(name)
        select.append(
            f"timezone('UTC', {quoted}) AS {quoted}" if typ == "TIMESTAMP WITH TIME ZONE" else quoted
        )
    bound = f" LIMIT {int(limit)}" if limit is not None else ""
    cursor = con.execute(f"SELECT {', '.join(select)} FROM read_parquet(?){bound}", [paths])
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
        data.queries = _load_queries(con, root, data.manifest, data.integrity_problems)
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


def load_queries(result_dir: Path, manifest: Manifest) -> list[QueryResult]:
    """The user ``--query`` results of a directory (first rows and counts), without loading the reports."""
    import duckdb

    con = duckdb.connect()
    try:
        problems: list[str] = []
        return _load_queries(con, result_dir, manifest, problems)
    finally:
        con.close()


def _load_queries(con: Any, root: Path, manifest: Manifest, problems: list[str]) -> list[QueryResult]:
    return [_load_query(con, root, q, problems) for q in manifest.queries if q.kind == "user"]


def _load_query(con: Any, root: Path, entry: QueryEntry, problems: list[str]) -> QueryResult:
    """A user query's first rows and row count (a failed query has no table: just its entry)."""
    import duckdb

    result = QueryResult(entry)
    rel = resultdir.query_table(entry.name)
    files = [str(p) for p in resultdir.table_files(root, rel)]
    if not files:
        return result
    try:
        names, rows = _read_parquet(con, [Path(f) for f in files], limit=QUERY_ROWS)
        count = con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchone()
    except duckdb.Error as exc:
        problems.append(f"{rel}: unreadable: {exc}")
        return result
    result.columns, result.rows, result.table = names, rows, rel
    result.total_rows = int(count[0]) if count else len(rows)
    return result
