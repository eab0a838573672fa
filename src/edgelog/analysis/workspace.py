"""A private DuckDB workspace for one run: bounded memory, its own spill directory, removed afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from edgelog.interrupts import interruptible

ON_DISK_BYTES = 256 * 1024 * 1024  # above this much (uncompressed) input, DuckDB works from a temp file


@dataclass
class Workspace:
    """The connection and its private scratch directory (spill files, sanitized copies)."""

    con: duckdb.DuckDBPyConnection
    scratch: Path
    memory_limit: str
    threads: int | None


def on_disk_threshold() -> int:
    """Input bytes above which the workspace is a database file (``$EDGELOG_DISK_THRESHOLD``)."""
    return int(os.environ.get("EDGELOG_DISK_THRESHOLD", ON_DISK_BYTES))


@contextmanager
def workspace(*, on_disk: bool = False) -> Iterator[Workspace]:
    """A DuckDB connection with bounded memory that spills to a private temp directory.

    Large inputs use a database file in that directory instead of memory: DuckDB then stores the parsed rows
    compressed (dictionary/FSST suit user agents and paths), which spills far less than uncompressed
    in-memory tables. Small inputs stay in memory, where they are faster. Memory and threads follow
    ``$EDGELOG_MEMORY_LIMIT`` (default 1GB) and ``$EDGELOG_THREADS``.
    """
    tmp = Path(tempfile.mkdtemp(prefix="edgelog-duckdb-"))
    try:
        memory_limit = os.environ.get("EDGELOG_MEMORY_LIMIT", "1GB")
        config: dict[str, Any] = {
            "memory_limit": memory_limit,
            "temp_directory": str(tmp),
            "preserve_insertion_order": True,
        }
        threads = int(os.environ["EDGELOG_THREADS"]) if os.environ.get("EDGELOG_THREADS") else None
        if threads:
            config["threads"] = threads
        con = duckdb.connect(str(tmp / "work.duckdb") if on_disk else ":memory:", config=config)
        try:
            con.execute("SET TimeZone = 'UTC'")
            # DuckDB draws a progress bar on stdout for slow queries, even when stdout is no terminal: in a
            # job, stdout is an object the publisher uploads, and must stay small.
            con.execute("SET enable_progress_bar = false")
            with interruptible(con):
                yield Workspace(con, tmp, memory_limit, threads)
        finally:
            con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
