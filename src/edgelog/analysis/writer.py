"""The finishing step ``analyze`` and ``merge`` share: merged partials -> report tables -> manifest.

Both end here, which is why ``merge(node results)`` equals ``analyze(union of inputs)`` exactly: ``analyze``
computes each report's partial from ``requests``, ``merge`` concatenates the nodes' partials, and from then
on the same code runs the report's merge SQL, writes partials and report tables, and writes the manifest.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from edgelog import __version__, resultdir
from edgelog.analysis.library import MACROS_DIR, MacroFile, Report
from edgelog.analysis.parse import sql_str
from edgelog.errors import ExitCode
from edgelog.resultdir import Manifest, QueryEntry

# partials/files.parquet: one row per input file (the files partial feeds summary and nodes).
FILES_SCHEMA = """
    node_id VARCHAR, name VARCHAR, format VARCHAR, status VARCHAR, lines_read BIGINT, lines_parsed BIGINT,
    lines_quarantined BIGINT, lines_outside_window BIGINT, first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ
"""


@dataclass
class RunResult:
    """What a run produced: its status, the exit code the CLI should use, the manifest and the directory."""

    status: str
    exit_code: ExitCode
    manifest: Manifest
    out: Path


def iso_utc(dt: datetime | None) -> str | None:
    """A time as the manifest writes it: ISO-8601 UTC, milliseconds, ``Z``."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def short_error(exc: BaseException) -> str:
    """The first line of an error (DuckDB's messages run to many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0][:1000] if text else type(exc).__name__


class ResultWriter:
    """Writes one results directory: replaces the paths edgelog owns, counts rows, writes the manifest."""

    def __init__(self, out: Path, kind: str, *, started: datetime | None = None, t0: float | None = None):
        self.out = out
        self.kind = kind
        self.started = started or datetime.now(UTC)
        self.t0 = time.monotonic() if t0 is None else t0
        self.rows: dict[str, int] = {}
        out.mkdir(parents=True, exist_ok=True)
        for name in resultdir.OWNED:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        for sub in (resultdir.REPORTS, resultdir.PARTIALS):
            (out / sub).mkdir()

    def copy(self, con: duckdb.DuckDBPyConnection, sql: str, rel: str) -> None:
        """Write the result of ``sql`` to ``rel`` as zstd Parquet and remember its row count."""
        (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
        row = con.execute(
            f"COPY ({sql}) TO {sql_str(str(self.out / rel))} (FORMAT parquet, COMPRESSION zstd)"
        ).fetchone()
        self.rows[rel] = int(row[0]) if row else 0

    def write_library(
        self,
        con: duckdb.DuckDBPyConnection,
        reports: list[Report],
        macros: list[MacroFile],
        load_partial: Callable[[Report], None],
    ) -> list[QueryEntry]:
        """Every report: its merged partial ``p_<name>`` (built by ``load_partial``), then its table.

        ``con`` must hold ``p_files`` and ``quarantine``; ``load_partial(report)`` creates the table
        ``partial`` with that report's concatenated partial rows. A report that fails (SQL error, or a table
        that does not match its ``-- columns:``) is recorded as failed; the others are still written.
        """
        entries = {
            r.name: QueryEntry(name=r.name, file=f"queries/{r.file.name}", sha256=r.sha256) for r in reports
        }
        for r in reports:
            if r.partial_sql is None:
                continue
            try:
                con.execute("DROP TABLE IF EXISTS partial")
                load_partial(r)
                con.execute(f"CREATE OR REPLACE TABLE p_{r.name} AS {r.merge_sql}")
                con.execute("DROP TABLE IF EXISTS partial")
                self.copy(con, f"SELECT * FROM p_{r.name} ORDER BY ALL", resultdir.partial_table(r.name))
            except duckdb.Error as exc:
                _fail(entries[r.name], f"{r.file.name} (partial): {short_error(exc)}")
        files = resultdir.partial_table(resultdir.FILES_PARTIAL)
        self.copy(con, "SELECT * FROM p_files ORDER BY node_id, name", files)
        for r in reports:
            if entries[r.name].status == "failed":
                continue
            try:
                table = con.sql(r.final_sql)
                problem = r.column_problem(table.columns, [str(t) for t in table.types])
                if problem:
                    _fail(entries[r.name], f"{r.file.name}: {problem}")
                    continue
                self.copy(con, r.final_sql, resultdir.report_table(r.name))
            except duckdb.Error as exc:
                _fail(entries[r.name], f"{r.file.name}: {short_error(exc)}")
        self.copy(con, "SELECT * FROM quarantine ORDER BY node_id, file, line_no", resultdir.QUARANTINE)
        macro_entries = [
            QueryEntry(name=m.name, file=f"queries/{MACROS_DIR}/{m.file.name}", sha256=m.sha256, kind="macro")
            for m in macros
        ]
        return [*entries.values(), *macro_entries]

    def manifest(self, **fields: Any) -> Manifest:
        """A manifest of this run's kind with the fields every run has; ``fields`` add the rest."""
        return Manifest(
            kind=self.kind,
            status="failed",
            run_id=uuid.uuid4().hex,
            edgelog_version=__version__,
            duckdb_version=duckdb.__version__,
            started_at=iso_utc(self.started),
            **fields,
        )

    def finish(self, manifest: Manifest, *, incomplete: bool, usable: bool) -> RunResult:
        """Decide the status, hash every output and write ``manifest.json`` last (its presence means done).

        ``failed`` when nothing usable was produced; ``partial`` when something is missing (``incomplete``,
        or a report or query failed); else ``ok``.
        """
        if not usable:
            status, code = "failed", ExitCode.FAILED
        elif incomplete or manifest.failed_queries:
            status, code = "partial", ExitCode.PARTIAL
        else:
            status, code = "ok", ExitCode.OK
        manifest.status = status
        manifest.outputs = resultdir.output_entries(self.out, self.rows)
        manifest.finished_at = iso_utc(datetime.now(UTC))
        manifest.duration_s = round(time.monotonic() - self.t0, 3)
        manifest.write(self.out)
        return RunResult(status, code, manifest, self.out)


def _fail(entry: QueryEntry, error: str) -> None:
    entry.status, entry.error = "failed", error
