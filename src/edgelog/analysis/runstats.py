"""How a run went: time per phase, the process's and DuckDB's peak memory, DuckDB's settings.

``analyze`` and ``merge`` record these in the manifest's ``processing`` (:class:`resultdir.Processing`), so a
job's report can show which node held it back and why. They are measured, never estimated:

* phases: wall time per named phase, nested phases pausing the enclosing one, so phases never overlap and
  add up to at most the run's duration;
* the process's peak RSS: ``getrusage(RUSAGE_SELF).ru_maxrss``, the high-water mark of the whole process
  (in a job that is the run; in a long-lived caller it includes what came before);
* DuckDB's peak memory and spill: ``duckdb_memory()`` reports current use only, so a thread samples it every
  :data:`SAMPLE_INTERVAL_S` on its own cursor, and :meth:`DuckDBMemory.sample` takes one when a phase has
  built what it keeps (the parsed rows, the loaded partials) and at the end: a peak between two samples can
  be missed, never invented.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import duckdb

from edgelog.resultdir import Processing

# A sample is one small DuckDB query on its own cursor, run while DuckDB works: two a second catch any peak
# held for half a second and keep the sampler's share of a run small (no bench/ script measures it yet).
SAMPLE_INTERVAL_S = 0.5


ANALYZE_PHASES = ("discover", "parse", "reports", "write")
MERGE_PHASES = ("read", "reports", "write")


class PhaseClock:
    """Wall time per phase; entering a phase pauses the one it is nested in.

    ``phases`` are listed (at 0 s) even when a run never enters them, in that order. Only the thread that
    made the clock counts: work that other threads do on its behalf (a merge writes tables on several
    cursors at once) is timed by the phase that thread is in while it waits for them.
    """

    def __init__(self, phases: tuple[str, ...] = ()) -> None:
        self._seconds: dict[str, float] = dict.fromkeys(phases, 0.0)
        self._stack: list[tuple[str, float]] = []  # (phase, when it (re)started)
        self._owner = threading.get_ident()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if threading.get_ident() != self._owner:
            yield
            return
        now = time.monotonic()
        if self._stack:
            outer, since = self._stack[-1]
            self._add(outer, now - since)
        self._seconds.setdefault(name, 0.0)
        self._stack.append((name, now))
        try:
            yield
        finally:
            now = time.monotonic()
            _, since = self._stack.pop()
            self._add(name, now - since)
            if self._stack:
                self._stack[-1] = (self._stack[-1][0], now)

    def _add(self, name: str, seconds: float) -> None:
        self._seconds[name] = self._seconds.get(name, 0.0) + seconds

    def seconds(self) -> dict[str, float]:
        """Seconds per phase (to the millisecond): the declared phases, then any other in entry order."""
        return {name: round(s, 3) for name, s in self._seconds.items()}


def peak_rss_bytes() -> int:
    """The process's peak resident set so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


class DuckDBMemory:
    """Samples DuckDB's memory and spill use while a run works; the largest values seen are the peaks.

    Use as a context manager around the work on ``con``; :meth:`sample` adds a reading at a chosen moment.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, interval_s: float = SAMPLE_INTERVAL_S):
        self._cursor = con.cursor()  # its own connection to the same database: usable from another thread
        self._interval = interval_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak_memory = 0
        self.peak_spill = 0
        settings = con.execute(
            "SELECT current_setting('threads'), current_setting('memory_limit')"
        ).fetchone()
        self.threads = int(settings[0]) if settings else None
        self.memory_limit = str(settings[1]) if settings else None

    def sample(self) -> None:
        with self._lock:
            try:
                row = self._cursor.execute(
                    "SELECT sum(memory_usage_bytes), sum(temporary_storage_bytes) FROM duckdb_memory()"
                ).fetchone()
            except duckdb.Error:
                return  # the database is closing: the peaks so far stand
        if row:
            self.peak_memory = max(self.peak_memory, int(row[0] or 0))
            self.peak_spill = max(self.peak_spill, int(row[1] or 0))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def __enter__(self) -> DuckDBMemory:
        self._thread = threading.Thread(target=self._run, name="edgelog-duckdb-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        self._cursor.close()

    def figures(self, *, workspace: str, bytes_read: int | None) -> Processing:
        """The run's processing figures known once DuckDB's work is done (the writer adds the phases)."""
        return Processing(
            bytes_read=bytes_read,
            duckdb_peak_memory_bytes=self.peak_memory,
            duckdb_peak_spill_bytes=self.peak_spill,
            duckdb_threads=self.threads,
            duckdb_memory_limit=self.memory_limit,
            workspace=workspace,
        )
