"""A stop signal is never lost, whenever it arrives.

``tests/test_input_accounting.py`` sends real signals to a real process in the middle of a query. These
cover the moments a real signal hits only by chance (found once at load ~4: a run that ignored SIGINT for
30 s): DuckDB clears a connection's interrupt when its next query starts, so an interrupt issued between two
queries is lost; and an interrupted query surfaces as an ordinary DuckDB error, which the report loop would
record as one failed report and carry on. Here the stop is made to arrive at exactly those moments.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from edgelog import interrupts, resultdir
from edgelog.analysis import analyze, merge
from edgelog.analysis.writer import ResultWriter

LINE = '10.0.0.{i} - - [23/Nov/2026:08:00:00 +0000] "GET /p{i} HTTP/1.1" 200 5 "-" "curl/8.5.0"\n'


@pytest.fixture
def stop() -> Iterator[Callable[[signal.Signals], None]]:
    """``stop(sig)``: what the signal watcher does when ``sig`` arrives; forgotten after the test."""
    interrupts.reset()
    yield interrupts.signal_arrived
    interrupts.reset()


def logs(root: Path, n: int = 50) -> Path:
    root.mkdir(parents=True)
    (root / "access.log").write_text("".join(LINE.format(i=i) for i in range(n)))
    return root


def test_a_query_that_starts_after_the_stop_never_runs(stop: Callable[[signal.Signals], None]) -> None:
    con = duckdb.connect()
    stop(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), interrupts.interruptible(con):
        con.execute("CREATE TABLE ran AS SELECT 1")
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'ran'").fetchone() == (0,)


@pytest.mark.parametrize(
    ("sig", "raised"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, interrupts.Terminated)]
)
def test_a_stop_during_the_reports_stops_analyze_without_a_manifest(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stop: Callable[[signal.Signals], None],
    sig: signal.Signals,
    raised: type[BaseException],
) -> None:
    real = ResultWriter.write_library
    entered = []

    def reports_then_stop(self: ResultWriter, con: duckdb.DuckDBPyConnection, *args: Any) -> Any:
        entered.append(True)
        stop(sig)  # between two queries: nothing runs that the interrupt could stop
        return real(self, con, *args)

    monkeypatch.setattr(ResultWriter, "write_library", reports_then_stop)
    out = tmp_path / "out"
    with pytest.raises(raised):
        analyze([logs(tmp_path / "in")], out)
    assert entered
    assert not (out / resultdir.MANIFEST).exists()


def test_an_interrupted_report_query_is_not_a_failed_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: Callable[[signal.Signals], None]
) -> None:
    """The stop arrives while a report's query runs: DuckDB raises its interrupt error, which must stop the
    run instead of being recorded as that report's failure (and the run finishing as ``partial``)."""
    real = ResultWriter.copy
    calls = []

    def copy_interrupted(self: ResultWriter, con: duckdb.DuckDBPyConnection, sql: str, rel: str) -> Any:
        calls.append(rel)
        if rel == resultdir.report_table("top_paths"):
            stop(signal.SIGINT)
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
        return real(self, con, sql, rel)

    monkeypatch.setattr(ResultWriter, "copy", copy_interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        analyze([logs(tmp_path / "in")], out)
    assert resultdir.report_table("top_paths") in calls
    assert not (out / resultdir.MANIFEST).exists()


def test_a_stop_during_a_merge_stops_it_without_a_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: Callable[[signal.Signals], None]
) -> None:
    node = analyze([logs(tmp_path / "in")], tmp_path / "node").out
    real = ResultWriter.write_library

    def reports_then_stop(self: ResultWriter, con: duckdb.DuckDBPyConnection, *args: Any) -> Any:
        stop(signal.SIGTERM)
        return real(self, con, *args)

    monkeypatch.setattr(ResultWriter, "write_library", reports_then_stop)
    with pytest.raises(interrupts.Terminated):
        merge([node], tmp_path / "merged")
    assert not (tmp_path / "merged" / resultdir.MANIFEST).exists()


def test_a_query_started_after_the_stop_on_a_registered_connection_is_interrupted(
    stop: Callable[[signal.Signals], None],
) -> None:
    """The stop lands while a registered connection runs nothing (between two statements, or before a
    sandbox's result stream starts): DuckDB forgets that interrupt when the next query starts, so the
    watcher must interrupt again while the stop is pending (found at load ~3: SIGINT ignored for 30 s)."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    bound = threading.Timer(20, con.interrupt)  # without the repeat the query would run for minutes
    with interrupts.stop_on_signals(), interrupts.interruptible(con):
        stop(signal.SIGINT)
        bound.start()
        started = time.monotonic()
        with pytest.raises(duckdb.InterruptException):
            con.execute("SELECT count(*) FROM range(100000000000) t(i) WHERE hash(i) % 7 = 3").fetchone()
        took = time.monotonic() - started
    bound.cancel()
    assert took < 2.0, f"the query ran {took:.1f} s after the stop"
