"""The finishing step ``analyze`` and ``merge`` share: merged partials -> report tables -> manifest.

Both end here, which is why ``merge(node results)`` equals ``analyze(union of inputs)`` exactly: ``analyze``
computes each report's partial from ``requests``, ``merge`` concatenates the nodes' partials, and from then
on the same code runs the report's merge SQL, writes partials and report tables, and writes the manifest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from edgelog import __version__, interrupts, resultdir
from edgelog.analysis.library import MACROS_DIR, MacroFile, Report, sha256_bytes
from edgelog.analysis.parse import sql_ident
from edgelog.analysis.runstats import PhaseClock, peak_rss_bytes
from edgelog.analysis.workspace import on_cursors, statement
from edgelog.errors import EdgelogError, ExitCode, UsageError
from edgelog.resultdir import Manifest, QueryEntry

MAX_OBJECT_BYTES_ENV = "EDGELOG_MAX_OBJECT_BYTES"
MAX_MERGE_PASSES = 256  # a report merged in more hash parts than this is failed for lack of memory
PROBE_ROWS = 122_880  # rows written first to estimate a stored table's bytes per row (one DuckDB row group)
_SIZE = re.compile(r"^\s*([0-9]+)\s*(|b|k|kb|kib|m|mb|mib)\s*$", re.IGNORECASE)

# partials/files.parquet: one row per input file (the files partial feeds summary and nodes).
FILES_SCHEMA = """
    node_id VARCHAR, name VARCHAR, format VARCHAR, status VARCHAR, lines_read BIGINT, lines_parsed BIGINT,
    lines_quarantined BIGINT, lines_outside_window BIGINT, first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ
"""


def object_limit(value: int | str | None = None) -> int:
    """The byte limit every written file stays below: ``value``, else ``$EDGELOG_MAX_OBJECT_BYTES``, else the
    default (4 MiB). Accepts bytes or a binary ``KiB``/``MiB`` size; below 64 KiB is refused."""
    source = "--max-object-bytes"
    if value is None or value == "":
        value, source = os.environ.get(MAX_OBJECT_BYTES_ENV) or None, MAX_OBJECT_BYTES_ENV
        if value is None:
            return resultdir.DEFAULT_MAX_OBJECT_BYTES
    if isinstance(value, int):
        limit = value
    else:
        m = _SIZE.match(value)
        if not m:
            raise UsageError(
                f"{source} {value!r} is not a size", hint="give bytes or KiB/MiB, e.g. 4194304 or 4MiB"
            )
        unit = m.group(2).lower()[:1]
        limit = int(m.group(1)) * {"": 1, "b": 1, "k": 1024, "m": 1024 * 1024}[unit]
    if limit < resultdir.MIN_OBJECT_BYTES:
        raise UsageError(
            f"{source} {value!r} is below the minimum of {resultdir.MIN_OBJECT_BYTES} bytes (64 KiB)",
            hint="the default, 4 MiB, keeps every object below Bacalhau's 5 MiB multipart threshold",
        )
    return limit


class ObjectTooLarge(EdgelogError):
    """One row of a table is larger than the object limit, so no split can keep it below."""


@dataclass
class RunResult:
    """What a run produced: its status, the exit code the CLI should use, the manifest and the directory."""

    status: str
    exit_code: ExitCode
    manifest: Manifest
    out: Path
    warnings: list[str] = field(default_factory=list)


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
    """Writes one results directory: replaces the paths edgelog owns, counts rows, writes the manifest.

    Every file it writes is smaller than ``max_object_bytes`` (the manifest is checked at the end): a table
    that comes out larger is split into parts (``resultdir.part_table``), each a contiguous run of its rows.
    Time spent writing counts in ``clock``'s ``write`` phase, whatever phase the caller is in.
    """

    def __init__(
        self,
        out: Path,
        kind: str,
        *,
        started: datetime | None = None,
        t0: float | None = None,
        max_object_bytes: int | None = None,
        clock: PhaseClock | None = None,
        prepare: bool = True,
    ):
        self.out = out
        self.clock = clock or PhaseClock()
        self.kind = kind
        self.max_object_bytes = max_object_bytes or resultdir.DEFAULT_MAX_OBJECT_BYTES
        self.started = started or datetime.now(UTC)
        self.t0 = time.monotonic() if t0 is None else t0
        self.rows: dict[str, int] = {}
        if prepare:
            self.prepare()

    def prepare(self) -> None:
        """Replace the paths edgelog owns in ``out`` by empty report and partial directories (done on
        construction unless ``prepare=False``: a merge first makes sure its inputs are sound)."""
        out = self.out
        out.mkdir(parents=True, exist_ok=True)
        for name in resultdir.OWNED:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        for sub in (resultdir.REPORTS, resultdir.PARTIALS):
            (out / sub).mkdir()

    def copy(self, con: duckdb.DuckDBPyConnection, sql: str, rel: str, *, once: bool = False) -> int:
        """Write the result of ``sql`` to table ``rel`` as zstd Parquet; remember and return its row count.

        One file when it is below the object limit; otherwise the file is cut into parts in row order
        (:meth:`_split`) and the one file removed. :class:`ObjectTooLarge`: one row alone is too big.
        ``once``: the text of ``sql`` is this run's only (it names the run's files), so its parsed statement
        is not kept (:func:`workspace.statement`).
        """
        target = self.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.clock.phase("write"):
            # ``sql`` runs once: it may read a one-shot stream (user queries)
            rows = _copy(con, sql, target, keep=not once)
            if target.stat().st_size < self.max_object_bytes:
                self.rows[rel] = rows
                return rows
            try:
                self._split(con, target, rel, rows)
            finally:
                target.unlink(missing_ok=True)
            return rows

    def copy_stored(
        self, con: duckdb.DuckDBPyConnection, table: str, rel: str, rows: int | None = None
    ) -> int:
        """Write ``table`` in its stored order (``rowid``) to ``rel``, as :meth:`copy` does, without writing
        it whole first when it is larger than the object limit: the parts are cut from ranges of the
        table's rows (a 1,000-node merge's top_paths partial is 57M rows, 274 MB, 77 parts), each sorted on
        its own by ``rowid``. How many rows a part holds is estimated from the bytes of the first rows
        (:data:`PROBE_ROWS`), then halved until each fits: the parts follow only from the rows, so the
        same rows give the same bytes whatever built the table. ``rows``: the table's row count when the
        caller knows it (the statements that built it said), else it is counted."""
        target = self.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)

        # the row range is the statement's parameters: one text per table, the same every run and part
        between = f"SELECT * FROM {table} WHERE rowid >= ? AND rowid < ? ORDER BY rowid"

        def write(start: int, end: int, file: Path) -> None:
            _copy(con, between, file, [start, end])

        with self.clock.phase("write"):
            if rows is None:
                row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
                rows = int(row[0]) if row else 0
            probe = min(rows, PROBE_ROWS)
            write(0, probe, target)
            per_row = target.stat().st_size / max(probe, 1)
            if probe < rows and per_row * rows < 0.8 * self.max_object_bytes:
                write(0, rows, target)  # likely one file: try it
                probe, per_row = rows, target.stat().st_size / rows
            if probe == rows and target.stat().st_size < self.max_object_bytes:
                self.rows[rel] = rows
                return rows
            target.unlink()
            per_part = max(1, int(0.85 * self.max_object_bytes / per_row))
            self._write_parts(rel, rows, per_part, write)
            return rows

    def _split(self, con: duckdb.DuckDBPyConnection, whole: Path, rel: str, rows: int) -> None:
        """Cut ``whole`` into parts below the limit: row ranges sized from its bytes per row, halved until
        each part fits (Parquet size grows with rows, but not exactly linearly)."""
        per_part = max(1, int(rows * 0.85 * self.max_object_bytes / whole.stat().st_size))
        # the file and the row range are the statement's parameters: its text is the same every run
        sql = (
            "SELECT * EXCLUDE (file_row_number) FROM read_parquet(?, file_row_number = true) "
            "WHERE file_row_number >= ? AND file_row_number < ?"
        )

        def write(start: int, end: int, scratch: Path) -> None:
            _copy(con, sql, scratch, [str(whole), start, end])

        self._write_parts(rel, rows, per_part, write)

    def _write_parts(
        self, rel: str, rows: int, per_part: int, write: Callable[[int, int, Path], object]
    ) -> None:
        """Table ``rel``'s ``rows`` rows as parts below the limit, ``write(start, end, file)`` writing rows
        ``[start, end)``: ``per_part`` rows each, a part that comes out too large halved until it fits. On
        any failure the parts folder is removed: no half-written table is left."""
        folder = self.out / resultdir.parts_dir(rel)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        try:
            self._fill_parts(folder, rel, rows, per_part, write)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _fill_parts(
        self, folder: Path, rel: str, rows: int, per_part: int, write: Callable[[int, int, Path], object]
    ) -> None:
        """:meth:`_write_parts` into ``folder``, which the caller removes when this fails."""
        pending = [(start, min(rows, start + per_part)) for start in range(0, rows, per_part)]
        scratch = folder / ".part.tmp"
        index = 0
        while pending:
            start, end = pending.pop(0)
            write(start, end, scratch)
            size = scratch.stat().st_size
            if size >= self.max_object_bytes:
                if end - start == 1:
                    scratch.unlink()
                    raise ObjectTooLarge(
                        f"{rel}: row {start} alone is {size} bytes as Parquet, not below the object limit "
                        f"of {self.max_object_bytes} bytes",
                        hint="return smaller rows (e.g. aggregate instead of string_agg), or raise "
                        "--max-object-bytes where the bucket accepts larger objects",
                    )
                middle = (start + end) // 2
                pending[:0] = [(start, middle), (middle, end)]
                continue
            part = resultdir.part_table(rel, index)
            scratch.replace(self.out / part)
            self.rows[part] = end - start
            index += 1

    def written_bytes(self, rel: str) -> int:
        """Bytes written so far to table ``rel``, whole or in parts (a watchdog polls this during a copy)."""
        target = self.out / rel
        files = [target, *resultdir.table_files(self.out, rel)]
        return sum(p.stat().st_size for p in dict.fromkeys(files) if p.exists())

    def discard(self, rel: str) -> None:
        """Remove whatever a failed copy left of table ``rel``: the manifest never lists half a table."""
        parts = resultdir.parts_dir(rel) + "/"
        self.rows = {k: v for k, v in self.rows.items() if k != rel and not k.startswith(parts)}
        (self.out / rel).unlink(missing_ok=True)
        shutil.rmtree(self.out / resultdir.parts_dir(rel), ignore_errors=True)

    def write_library(
        self,
        con: duckdb.DuckDBPyConnection,
        reports: list[Report],
        macros: list[MacroFile],
        load_partial: Callable[[Report, duckdb.DuckDBPyConnection], str | None],
        before_write: Callable[[], None] | None = None,
        *,
        workers: int = 1,
        cost: Callable[[Report], float] | None = None,
        passes: Callable[[Report, duckdb.DuckDBPyConnection], int] | None = None,
        built: Callable[[Report, duckdb.DuckDBPyConnection], None] | None = None,
        macros_key: str | None = None,
    ) -> list[QueryEntry]:
        """Every report: its merged partial ``p_<name>`` (built by ``load_partial``), then its table.

        ``con`` must hold ``p_files`` and ``quarantine``; ``load_partial(report, cursor)`` either creates the
        table or view ``partial`` on ``cursor`` with that report's concatenated partial rows and returns None,
        or returns a query giving those rows, which the merge SQL then reads as a CTE named ``partial`` (one
        statement, no catalog work: on a small input a third of what building ``p_<name>`` costs). A report
        that fails (SQL error, or a table that does not match its ``-- columns:``) is recorded as failed; the
        others are still written. Every ``p_`` table is built before anything is written: ``before_write`` is
        called in between (a merge waits there for its inputs' verification, which runs alongside).

        ``workers`` > 1: that many reports are built (and tables written) at once, each on a cursor of its
        own (``partial`` is a temporary object, so each cursor has its own); ``cost`` (a report's expected
        work) orders the builds, largest first, so the last to finish is a small one. Each statement's
        result is the same whichever cursor runs it and whenever: only the order of work changes.

        ``passes(report, cursor)``: in how many passes to merge a report with a ``-- partition:`` column,
        each over one hash part of ``partial`` (a merge whose partials would not fit in memory at once); a
        pass that still runs out of memory makes the report start again with four times as many.

        ``built(report, cursor)``: called once the report's merged partial is built (or failed), right after
        ``partial`` is dropped, to remove what ``load_partial`` made for it (a merge's partials read into a
        table for its passes): a report's inputs are held only while it is built, not until every report
        is.

        ``macros_key``: what identifies every macro on ``con`` (:func:`library.install_macros` returns it),
        when the caller knows them all; the ``-- columns:`` check then binds a report's final SQL once per
        process and catalog (:func:`_columns`), from the process's second such run on. None: it binds on
        every run.
        """
        entries = {
            r.name: QueryEntry(name=r.name, file=f"queries/{r.file.name}", sha256=r.sha256) for r in reports
        }
        merged = [r for r in reports if r.partial_sql is not None]
        stored: dict[str, int] = {}  # rows of each merged partial, as the statements building it said

        def build(r: Report, cur: duckdb.DuckDBPyConnection) -> None:
            rows = None
            try:
                rows = load_partial(r, cur)
                stored[r.name] = _merge_partial(cur, r, rows, passes(r, cur) if passes is not None else 1)
            finally:
                try:
                    if rows is None:  # ``partial`` was created (or half-created) in the catalog
                        _drop_partial(cur)
                finally:
                    if built is not None:
                        built(r, cur)

        def write_partial(r: Report, cur: duckdb.DuckDBPyConnection) -> None:
            if r.partition is not None:  # stored in its order: written by ranges of rows, no sort of it all
                self.copy_stored(cur, f"p_{r.name}", resultdir.partial_table(r.name), stored.get(r.name))
            else:
                self.copy(cur, f"SELECT * FROM p_{r.name} ORDER BY ALL", resultdir.partial_table(r.name))

        def side_by_side(
            items: list[Report], step: Callable[[Report, duckdb.DuckDBPyConnection], None]
        ) -> None:
            """``step`` for every report not failed yet, ``workers`` at a time; a report that runs out of
            memory there (its neighbours' work holds memory too) runs again afterwards, alone, where running
            out of memory fails it like any error."""
            starved: list[Report] = []

            def first(r: Report, cur: duckdb.DuckDBPyConnection) -> None:
                if entries[r.name].status == "failed":
                    return
                with _failing(entries[r.name], f"{r.file.name} (partial)"):
                    try:
                        step(r, cur)
                    except duckdb.OutOfMemoryException:
                        if workers <= 1:
                            raise
                        interrupts.check()
                        starved.append(r)

            on_cursors(con, workers, items, first)
            for r in [r for r in items if r in starved]:
                with _failing(entries[r.name], f"{r.file.name} (partial)"):
                    step(r, con)

        catalogs: dict[int, str] = {}  # by cursor: the key of the catalog it binds against
        # A process's first run keeps nothing: it would pay the key (~6 ms) for binds no later run reuses
        # (a node's job analyses once per process)
        keep = macros_key is not None and _KEPT_BEFORE.is_set()
        if macros_key is not None:
            _KEPT_BEFORE.set()

        def write_report(r: Report, cur: duckdb.DuckDBPyConnection) -> None:
            if entries[r.name].status == "failed":
                return
            with _failing(entries[r.name], r.file.name):
                catalog = None
                if keep and macros_key is not None:
                    catalog = catalogs.get(id(cur)) or catalogs.setdefault(id(cur), _catalog(cur, macros_key))
                problem = r.column_problem(*_columns(cur, r.final_sql, catalog))
                if problem:
                    _fail(entries[r.name], f"{r.file.name}: {problem}")
                    return
                self.copy(cur, r.final_sql, resultdir.report_table(r.name))

        by_cost = sorted(merged, key=lambda r: -cost(r)) if cost is not None else merged
        side_by_side(by_cost, build)
        if before_write is not None:
            before_write()
        files = resultdir.partial_table(resultdir.FILES_PARTIAL)
        with self.clock.phase("write"):
            side_by_side(by_cost, write_partial)
            self.copy(con, "SELECT * FROM p_files ORDER BY node_id, name", files)
            on_cursors(con, workers, reports, write_report)
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
        """Decide the status, name the data range, hash every output and write ``manifest.json`` last (its
        presence means done); complete ``manifest.processing`` (phases, lines/s, peak RSS) when it is set.

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
        interrupts.check()  # a stopped run never writes its manifest: the directory never claims to be done
        with self.clock.phase("write"):
            self._write_data_range(manifest)
            manifest.outputs = resultdir.output_entries(self.out, self.rows)
        manifest.schema = resultdir.schema_for(manifest.outputs)
        manifest.max_object_bytes = self.max_object_bytes
        manifest.finished_at = iso_utc(datetime.now(UTC))
        manifest.duration_s = round(time.monotonic() - self.t0, 3)
        if manifest.processing is not None:
            p = manifest.processing
            phases = self.clock.seconds()
            # setup: the rest of the run (options, the SQL library, DuckDB's start and stop), so the phases
            # account for the whole duration
            setup = max(0.0, round(manifest.duration_s - sum(phases.values()), 3))
            p.phases_s = {"setup": setup, **phases}
            if self.kind == "analyze" and manifest.duration_s > 0:
                p.lines_per_s = round(manifest.totals.lines_read / manifest.duration_s, 1)
            p.peak_rss_bytes = peak_rss_bytes()
        manifest.write(self.out)
        warnings = []
        size = (self.out / resultdir.MANIFEST).stat().st_size
        if size >= self.max_object_bytes:
            # The one file that cannot be split: it grows with the inputs (~0.5 KB each), a merge's with
            # every node's.
            remedy = (
                "a local merge is unaffected, a job that publishes one must merge fewer results or "
                "narrower windows"
                if self.kind == "merge"
                else "analyze a --since/--until window, or keep fewer files on the node"
            )
            warnings.append(
                f"manifest.json is {size} bytes ({len(manifest.inputs)} inputs), not below the object limit "
                f"of {self.max_object_bytes} bytes: a Bacalhau S3 publisher cannot upload it to GCS; {remedy}"
            )
        return RunResult(status, code, manifest, self.out, warnings)

    def _write_data_range(self, manifest: Manifest) -> None:
        """``data-range/<first>_<last>.json``: the range in the name, for listings; the same in the body."""
        first, last = resultdir.data_range(manifest.inputs)
        target = self.out / resultdir.data_range_table(first, last)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"first_ts": first, "last_ts": last}) + "\n")


def _copy(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    target: Path,
    params: Sequence[object] = (),
    *,
    keep: bool = True,
) -> int:
    """``COPY (sql) TO target`` as zstd Parquet; the number of rows written. ``params``: the values of the
    ``?`` in ``sql``, in order.

    The target is the statement's last parameter, so its text is the same every run, parsed once per process
    (:func:`workspace.statement`): a report's final SQL is parsed for its COPY only in a process's first run
    (the same bytes are written; an in-process analyze of the 491-line nginx sample took ~8% less CPU).
    ``keep`` False: ``sql`` is one run's text (it names that run's files), run as text and not kept."""
    text = f"COPY ({sql}) TO ? (FORMAT parquet, COMPRESSION zstd)"
    parsed = statement(con, text) if keep else text
    row = con.execute(parsed, [*params, str(target)]).fetchone()
    return int(row[0]) if row else 0


def _merge_partial(cur: duckdb.DuckDBPyConnection, r: Report, rows: str | None, passes: int) -> int:
    """``p_<name>`` from the report's merge SQL over ``partial`` (the catalog's, or ``rows`` as a CTE); the
    number of rows it holds, as the statements that stored them say.

    With a ``-- partition:`` column the merge may run in ``passes`` passes, each over the rows whose column
    hashes into one range and appending to the table: the merge never combines rows of different values of
    that column, so the passes give exactly the rows of one merge, while each holds only its part's groups
    (a thousand nodes' top_paths are ~57M (path, visitor) groups; DuckDB's aggregate and window operators
    ran out of memory on them at the 1 GB default). A pass that still runs out of memory starts the report
    again with four times as many passes, up to :data:`MAX_MERGE_PASSES`.

    Such a table is stored in :func:`partition_order` (each pass sorts its own rows; the passes are
    consecutive ranges of that order), so it is the same table, row for row and in order, whatever the
    number of passes, and it is written in that order without sorting it all at once.
    """
    source = "partial" if rows is None else f"(\n{rows}\n)"
    merge_sql = r.merge_sql or ""
    while True:
        try:
            if r.partition is None:
                sql = merge_sql if rows is None else _with_partial(rows, merge_sql)
                return _stored(cur.execute(statement(cur, f"CREATE OR REPLACE TABLE p_{r.name} AS {sql}")))
            passes = min(max(passes, 1), MAX_MERGE_PASSES)
            total = 0
            for i in range(passes):
                # pass i: the i-th of ``passes`` equal ranges of the 64-bit hash (its top 32 bits, scaled)
                where = f" WHERE ((({_hash(r)} >> 32) * {passes}) >> 32) = {i}" if passes > 1 else ""
                sql = f"{_with_partial(f'SELECT * FROM {source}{where}', merge_sql)} {partition_order(r)}"
                total += _stored(
                    cur.execute(
                        statement(
                            cur,
                            f"CREATE OR REPLACE TABLE p_{r.name} AS {sql}"
                            if i == 0
                            else f"INSERT INTO p_{r.name} {sql}",
                        )
                    )
                )
            return total
        except duckdb.OutOfMemoryException:
            interrupts.check()
            if r.partition is None or passes >= MAX_MERGE_PASSES:
                raise
            passes = min(MAX_MERGE_PASSES, max(passes, 1) * 4)


_COLUMNS: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
_COLUMNS_MAX = 512  # (SQL, catalog) pairs kept; a process that sees more starts again
_KEPT_BEFORE = threading.Event()  # set once a run could have kept its binds: later runs key and keep them


def _catalog(con: duckdb.DuckDBPyConnection, macros_key: str) -> str:
    """A key of everything a SELECT binds against on ``con``: the definition of every table (its columns and
    types) and view, its own temporary ones included, and the macros (``macros_key``, from what created
    them). DuckDB's other settings are the workspace's, the same every run; its version is the process's.
    (~6 ms a run, most of it DuckDB making its own system views on a database's first listing; listing the
    macros too, ``duckdb_functions()``, would add ~9 ms.)"""
    rows = con.execute(
        statement(
            con,
            "SELECT database_name, schema_name, table_name, sql FROM duckdb_tables() UNION ALL "
            "SELECT database_name, schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal "
            "ORDER BY ALL",
        )
    ).fetchall()
    return sha256_bytes(json.dumps([macros_key, rows]).encode())


def _columns(con: duckdb.DuckDBPyConnection, sql: str, catalog: str | None) -> tuple[list[str], list[str]]:
    """The names and types of the columns ``sql`` gives on ``con``, as DuckDB binds it (nothing runs).

    With a ``catalog`` key (:func:`_catalog`), what was bound is kept for the process: the same text bound
    against the same tables, views and macros gives the same columns (a report's final SQL over the tiny
    tables of a small analyze cost ~0.5 ms to bind, ~15 ms a run for the 30 reports, and its COPY binds it
    again). A bind that fails is not kept: it fails again, as before."""
    key = (sql, catalog) if catalog is not None else None
    if key is not None and (known := _COLUMNS.get(key)) is not None:
        return known
    table = con.sql(statement(con, sql))
    columns = (list(table.columns), [str(t) for t in table.types])
    if key is not None:
        if len(_COLUMNS) >= _COLUMNS_MAX:
            _COLUMNS.clear()
        _COLUMNS[key] = columns
    return columns


def _stored(result: duckdb.DuckDBPyConnection) -> int:
    """The rows a ``CREATE TABLE ... AS`` or ``INSERT`` stored, as its result says."""
    row = result.fetchone()
    return int(row[0]) if row else 0


def partition_order(r: Report) -> str:
    """The order a merged partial with a ``-- partition:`` column is stored and written in: by the 64-bit
    hash of that column, then by all its columns (a total order, as ``ORDER BY ALL``). Merge passes are
    consecutive ranges of it; other merged partials are written ``ORDER BY ALL``. (Ordered by a coarse
    bucket of the hash instead, then all columns, top_paths' merge and write cost 30% more CPU at 100 nodes,
    and its partial came out 7% larger.)"""
    return f"ORDER BY {_hash(r)}, COLUMNS(*)"


def _hash(r: Report) -> str:
    return f"hash({sql_ident(r.partition or '')})"


def _with_partial(rows: str, merge_sql: str) -> str:
    """``merge_sql`` reading ``rows`` as ``partial`` (new lines: either may end in a comment)."""
    return f"WITH partial AS (\n{rows}\n)\nSELECT * FROM (\n{merge_sql}\n)"


def _drop_partial(con: duckdb.DuckDBPyConnection) -> None:
    """Drop ``partial``, a view (merge, cached analyze) or a table (a merge of no files), if it exists: one
    catalog lookup each, not a scan of the catalog (which grows with every report's ``p_`` table). Both are
    temporary objects of one catalog, so never both exist: once the view is dropped (or none is there), so
    is any ``partial``."""
    for kind in ("VIEW", "TABLE"):
        try:
            con.execute(f"DROP {kind} IF EXISTS partial")
            return
        except duckdb.CatalogException:  # "partial" is the other kind
            continue


@contextmanager
def _failing(entry: QueryEntry, label: str) -> Iterator[None]:
    """A DuckDB error, or a table no split keeps below the object limit, fails ``entry`` (the message starts
    with ``label``), not the run; a stop signal still stops the run (an interrupted query surfaces as an
    ordinary DuckDB error, so :func:`interrupts.check` comes first)."""
    try:
        yield
    except duckdb.Error as exc:
        interrupts.check()
        _fail(entry, f"{label}: {short_error(exc)}")
    except ObjectTooLarge as exc:
        _fail(entry, f"{label}: {exc.message}")


def _fail(entry: QueryEntry, error: str) -> None:
    entry.status, entry.error = "failed", error
