"""A private DuckDB workspace for one run: bounded memory, its own spill directory, removed afterwards."""

from __future__ import annotations

import concurrent.futures
import math
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from edgelog.errors import UsageError, env_number, shown
from edgelog.interrupts import interruptible

_T = TypeVar("_T")
_R = TypeVar("_R")

ON_DISK_BYTES = 256 * 1024 * 1024  # above this much (uncompressed) input, DuckDB works from a temp file
# below this much (uncompressed) input, DuckDB works on one thread: coordinating threads costs more than they
# save (docs/analysis.md, Resources)
SMALL_INPUT_BYTES = 16 * 1024 * 1024
MAX_THREADS = 256
MEMORY_LIMIT_RANGE = (64 << 20, 1 << 50)  # 64 MiB (DuckDB fails on far less) to 1 PiB
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


@dataclass
class Workspace:
    """The connection and its private scratch directory (spill files, sanitized copies)."""

    con: duckdb.DuckDBPyConnection
    scratch: Path
    memory_limit: str
    threads: int | None
    on_disk: bool = False  # a database file in scratch instead of memory

    @property
    def memory_bytes(self) -> int:
        """``memory_limit`` as a number of bytes."""
        return int(self.memory_limit.removesuffix("B"))

    @property
    def kind(self) -> str:
        """``memory`` or ``disk``, as the manifest's ``processing.workspace`` says."""
        return "disk" if self.on_disk else "memory"


def on_disk_threshold() -> int:
    """Input bytes above which the workspace is a database file (``$EDGELOG_DISK_THRESHOLD``)."""
    return int(env_number("EDGELOG_DISK_THRESHOLD", ON_DISK_BYTES, low=0, high=1 << 60, integer=True))


def memory_limit(share: float = 1.0) -> str:
    """DuckDB's ``memory_limit`` in bytes, from ``$EDGELOG_MEMORY_LIMIT`` (a size: ``1GB``, ``512MiB``);
    ``share``: the part of it DuckDB gets, at least the smallest limit allowed."""
    text = os.environ.get("EDGELOG_MEMORY_LIMIT", "").strip() or "1GB"
    m = _MEMORY.fullmatch(text)
    size = float(m.group(1)) * _UNITS[m.group(2).lower()] if m else math.nan
    low, high = MEMORY_LIMIT_RANGE
    if not low <= size <= high:
        raise UsageError(
            f"$EDGELOG_MEMORY_LIMIT must be a size from 64MiB to 1024TiB, got {shown(text)}",
            hint="write a number and a unit, e.g. 1GB or 512MiB",
        )
    return f"{int(max(low, size * share))}B"


def threads() -> int | None:
    """DuckDB's thread count (``$EDGELOG_THREADS``; None: all cores)."""
    value = env_number("EDGELOG_THREADS", 0, low=1, high=MAX_THREADS, integer=True)
    return int(value) or None


@contextmanager
def workspace(
    *, on_disk: bool = False, memory_share: float = 1.0, input_bytes: int | None = None
) -> Iterator[Workspace]:
    """A DuckDB connection with bounded memory that spills to a private temp directory.

    Large inputs use a database file in that directory instead of memory: DuckDB then stores the parsed rows
    compressed (dictionary/FSST suit user agents and paths), which spills far less than uncompressed
    in-memory tables. Small inputs stay in memory, where they are faster. Memory and threads follow
    ``$EDGELOG_MEMORY_LIMIT`` (default 1GB) and ``$EDGELOG_THREADS``; ``memory_share``: the part of that
    limit DuckDB gets (a merge leaves the rest to the process: see ``merger.DUCKDB_MEMORY_SHARE``).
    ``input_bytes`` (uncompressed, estimated) below :data:`SMALL_INPUT_BYTES`: one thread unless
    ``$EDGELOG_THREADS`` says otherwise (a few megabytes parse and aggregate faster, and for ~20% less CPU,
    on one thread than on two).
    """
    memory, cores = memory_limit(memory_share), threads()  # checked before anything is created
    if cores is None and input_bytes is not None and input_bytes < SMALL_INPUT_BYTES:
        cores = 1
    tmp = Path(tempfile.mkdtemp(prefix="edgelog-duckdb-"))
    try:
        config: dict[str, Any] = {
            "memory_limit": memory,
            "temp_directory": str(tmp),
            "preserve_insertion_order": True,
            # No async I/O threads. DuckDB 2.0 writes Parquet through an asynchronous writer. Once, after an
            # interrupt (the query sandbox's watchdog), that writer's abort waited forever for its write tasks
            # (AsyncFileWriter -> TaskExecutor::DrainTasks, which checks no interrupt). With no async threads,
            # DuckDB writes and reads local files synchronously on its worker threads, and was no slower here
            # (docs/analysis.md, Resources).
            "async_threads": 0,
        }
        if cores:
            config["threads"] = cores
        con = duckdb.connect(str(tmp / "work.duckdb") if on_disk else ":memory:", config=config)
        try:
            con.execute("SET TimeZone = 'UTC'")
            # DuckDB draws a progress bar on stdout for slow queries, even when stdout is no terminal: in a
            # job, stdout is an object the publisher uploads, and must stay small.
            con.execute("SET enable_progress_bar = false")
            with interruptible(con):
                yield Workspace(con, tmp, memory, cores, on_disk)
        finally:
            con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_STATEMENTS: dict[str, duckdb.Statement] = {}
_STATEMENTS_MAX = 512  # distinct texts kept; a process that sees more starts again


def statement(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement | str:
    """SQL whose text is the same every run (a report's final SQL for the ``-- columns:`` check, the
    statement building its merged partial, each table's COPY, a part's with its row range as parameters,
    the library's macros, the workspace's tables and views) parsed once per process (text that names one
    run's files, such as a merge's combined user-query COPY, is not passed here: kept, it would never be
    used again): a process that analyses many times (the test suite, a long-lived caller) binds and runs the
    parsed statement instead of parsing the text again (a report's final SQL: ~0.7 of the ~1.5 ms its check
    costs). Parsing reads no catalog: what the statement binds to is the catalog's at each call, as with
    the text. The text itself when it is not one statement or does not parse, so such SQL fails as it
    always did."""
    parsed = _STATEMENTS.get(sql)
    if parsed is None:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error:
            return sql
        if len(statements) != 1:
            return sql
        if len(_STATEMENTS) >= _STATEMENTS_MAX:
            _STATEMENTS.clear()
        parsed = _STATEMENTS[sql] = statements[0]
    return parsed


def on_cursors(
    con: duckdb.DuckDBPyConnection,
    workers: int,
    items: Sequence[_T],
    fn: Callable[[_T, duckdb.DuckDBPyConnection], _R],
) -> list[_R]:
    """``fn(item, cursor)`` for every item, results in item order: one after another on ``con`` itself, or
    ``workers`` at a time, each thread on a cursor of ``con`` of its own (DuckDB releases the GIL while a
    statement runs; a cursor is its own connection to the same database, so temporary objects are its own).
    A stop signal interrupts every cursor's statement. The first exception is raised once the running calls
    have returned; calls not yet started never are."""
    if workers <= 1 or len(items) <= 1:
        return [fn(item, con) for item in items]
    local = threading.local()
    opened: list[duckdb.DuckDBPyConnection] = []

    def run(item: _T) -> _R:
        cur = getattr(local, "cursor", None)
        if cur is None:
            cur = local.cursor = con.cursor()
            opened.append(cur)
        with interruptible(cur):
            return fn(item, cur)

    try:
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="edgelog-cursor") as pool:
            futures = [pool.submit(run, item) for item in items]
            try:
                return [future.result() for future in futures]
            finally:
                for future in futures:
                    future.cancel()
    finally:
        for cur in opened:
            cur.close()
