"""A stop signal is never lost, whenever it arrives.

``tests/test_input_accounting.py`` sends real signals to a real process in the middle of a query. These
cover the moments a real signal hits only by chance (found once at load ~4: a run that ignored SIGINT for
30 s): DuckDB clears a connection's interrupt when its next query starts, so an interrupt issued between two
queries is lost; and an interrupted query surfaces as an ordinary DuckDB error, which the report loop would
record as one failed report and carry on. Here the stop is made to arrive at exactly those moments.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support.results import analyze_node, publish_plain, stage_execution

from edgelog import interrupts, resultdir
from edgelog.analysis import analyze, merge
from edgelog.analysis.writer import ResultWriter
from edgelog.storage import open_bucket

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

    def reports_then_stop(self: ResultWriter, con: duckdb.DuckDBPyConnection, *args: Any, **kw: Any) -> Any:
        entered.append(True)
        stop(sig)  # between two queries: nothing runs that the interrupt could stop
        return real(self, con, *args, **kw)

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

    def reports_then_stop(self: ResultWriter, con: duckdb.DuckDBPyConnection, *args: Any, **kw: Any) -> Any:
        stop(signal.SIGTERM)
        return real(self, con, *args, **kw)

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


def test_a_stop_recorded_before_the_run_starts_stops_it(stop: Callable[[signal.Signals], None]) -> None:
    """The handler recorded a stop whose exception start-up code swallowed (DuckDB's extension swallows one
    raised while it initialises, found at load ~6: a run that ignored SIGINT and ran its query for minutes):
    the run must not start."""
    stop(signal.SIGINT)
    started = []
    with pytest.raises(KeyboardInterrupt), interrupts.stop_on_signals():
        started.append(True)
    assert not started


@pytest.fixture
def sigint_from_a_terminal() -> Iterator[None]:
    """SIGINT handled as a terminal's Ctrl-C is, whatever the runner inherited: a suite started in the
    background by a shell without job control (``pytest ... &`` in a script, as CI may be) has SIGINT
    ignored, and :func:`interrupts.stop_on_signals` rightly leaves an ignored SIGINT ignored."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@pytest.mark.usefixtures("sigint_from_a_terminal")
def test_the_same_stop_seen_again_while_the_run_unwinds_does_not_cut_its_cleanup_short() -> None:
    """The watcher stops the run first (an interrupted query raises, :func:`interrupts.check` turns that into
    the stop); the Python handler for the same signal runs later, in a ``finally`` or in the CLI's ``except``
    printing "interrupted": raising there again skipped the cleanup or the message (runs that exited 130
    with an empty stderr)."""
    cleaned = []
    with pytest.raises(KeyboardInterrupt), interrupts.stop_on_signals():
        try:
            signal.raise_signal(signal.SIGINT)
        finally:
            signal.raise_signal(signal.SIGINT)
            cleaned.append(True)
    assert cleaned
    interrupts.reset()


# Runs the CLI as `python -m edgelog` does and sends SIGINT when the module named in argv[1] is first
# imported, which pins the signal to one phase of the run: ``raise_signal`` runs the Python-level handler
# before it returns. ``exec`` raises it from exec'd code (dataclass and namedtuple creation run such code);
# ``swallow`` catches what the handler raised, as DuckDB's extension does with one raised as it initialises.
DRIVER = """
import importlib.abc, pathlib, runpy, signal, sys

module, how, fired = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
sys.argv = ["edgelog", *sys.argv[4:]]
signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal, whatever the runner ignores


class SignalOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == module and not fired.exists():
            fired.touch()
            if how == "exec":
                exec("import signal; signal.raise_signal(signal.SIGINT)")
            elif how == "swallow":
                try:
                    signal.raise_signal(signal.SIGINT)
                except KeyboardInterrupt:
                    pass
            else:
                signal.raise_signal(signal.SIGINT)
        return None


sys.meta_path.insert(0, SignalOnImport())
runpy.run_module("edgelog", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    ("module", "how"),
    [
        pytest.param("typer", "raise", id="start-up"),  # before the CLI exists: was a traceback
        pytest.param("pydantic", "raise", id="parsing"),  # typer builds the context: was exit 130, no message
        pytest.param("edgelog.analysis", "exec", id="exec"),  # "interrupted", then killed by SIGINT (rc -2)
        pytest.param("duckdb", "swallow", id="swallowed"),  # was lost: the run went on to the end
    ],
)
def test_a_sigint_at_any_phase_of_a_cli_run_exits_130_with_one_line(
    tmp_path: Path, module: str, how: str
) -> None:
    fired, out = tmp_path / "fired", tmp_path / "out"
    (tmp_path / "signal_driver.py").write_text(DRIVER)
    run = ["analyze", str(logs(tmp_path / "in")), "--out", str(out)]
    proc = subprocess.run(  # run with -m, as `python -m edgelog`: only then does CPython's flag kill it
        [sys.executable, "-m", "signal_driver", module, how, str(fired), *run],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fired.exists(), f"{module} was not imported: the signal was never sent"
    assert (proc.returncode, proc.stderr.strip()) == (interrupts.EXIT_SIGINT, "interrupted"), proc.stderr
    assert not (out / resultdir.MANIFEST).exists()


def test_a_sigint_swallowed_while_fetch_loads_duckdb_stops_it(tmp_path: Path) -> None:
    # fetch loads DuckDB (for the merge) as analyze does: the stop recorded there ends it before it reads the
    # bucket (it went on to download and verify the whole job, until the merge saw the stop)
    fired, bucket = tmp_path / "fired", tmp_path / "bucket"
    ids = {"job_id": "j-1", "node_id": "n1", "execution_id": "e-1"}
    node = analyze_node(logs(tmp_path / "in"), tmp_path / "node", **ids)
    publish_plain(open_bucket(str(bucket)), stage_execution(node, tmp_path / "stage"), "edgelog/j-1/n1/e-1")
    (tmp_path / "signal_driver.py").write_text(DRIVER)
    run = ["fetch", "j-1", "--bucket", str(bucket), "--out", str(tmp_path / "out")]
    proc = subprocess.run(
        [sys.executable, "-m", "signal_driver", "duckdb", "swallow", str(fired), *run],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fired.exists(), "duckdb was not imported: the signal was never sent"
    assert (proc.returncode, proc.stderr.strip()) == (interrupts.EXIT_SIGINT, "interrupted"), proc.stderr
    assert not (tmp_path / "out").exists()


# DuckDB's extension runs Python code while it initialises (``import duckdb``); it imports ``atexit`` there
# when nothing has yet. A SIGINT raised at that import lands inside the extension's start-up, which turns
# the exception into an ImportError here (or swallows it, or aborts the process: seen under load).
DUCKDB_START_UP = """
import importlib.abc, signal, sys
from edgelog import interrupts


class SignalInsideDuckDB(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "atexit" and "atexit" not in sys.modules and "_duckdb" in sys.modules:
            print("fired", flush=True)
            signal.raise_signal(signal.SIGINT)
        return None


sys.meta_path.insert(0, SignalInsideDuckDB())
signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal, whatever the runner ignores
interrupts.install()
try:
    with interrupts.deferred():
        import duckdb
except KeyboardInterrupt:
    print("stopped after the import:", duckdb.connect().execute("SELECT 42").fetchone()[0])
"""


def test_a_sigint_while_duckdb_initialises_is_raised_once_it_has() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DUCKDB_START_UP], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.stdout.splitlines() == ["fired", "stopped after the import: 42"], proc.stderr[-3000:]
