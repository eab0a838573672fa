"""Every entry under the input paths is accounted for, one bad entry never stops the run, and a run stops
when asked.

Most run ``edgelog analyze`` as a real subprocess with a time limit, because the failures they guard against
were hangs (a FIFO, a signal during a DuckDB query) that an in-process call would turn into a stuck test run;
entries whose examination fails at once (symlink loops, dangling links) are analysed in this process. As
root, permission bits do not apply, so the unreadable-directory case drops the capabilities that bypass them
(``setpriv``, util-linux) instead of switching users.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from support.signals import stop_when
from typer.testing import CliRunner

from edgelog import resultdir
from edgelog.analysis import analyze, parse
from edgelog.analysis.parse_cache import ParseCache
from edgelog.cli.main import app
from edgelog.errors import ExitCode

LINE = '10.0.0.{i} - - [23/Nov/2026:08:00:00 +0000] "GET /p{i} HTTP/1.1" 200 5 "-" "curl/8.5.0"\n'
# A test run started as a background job of a shell without job control (`pytest ... &` in a script, `sh -c`)
# inherits SIGINT ignored, and edgelog rightly leaves an ignored SIGINT ignored (nohup, background jobs): a
# child sent SIGINT must start with SIGINT's default disposition, as from a terminal (GNU env resets it).
RUN_LIMIT_S = 120  # no run here takes more than a few seconds; the limit turns a hang into a failure


def edgelog(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    drop_dac: bool = False,
    timeout: float = RUN_LIMIT_S,
) -> subprocess.CompletedProcess[str]:
    """``edgelog ARGS`` in a subprocess, killed (and the test failed) if it outlives ``timeout``."""
    cmd = [sys.executable, "-m", "edgelog", *args]
    if drop_dac and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to run without CAP_DAC_OVERRIDE as root"
        caps = "-dac_override,-dac_read_search"
        cmd = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *cmd]
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"edgelog {' '.join(args)} did not finish within {timeout} s")


def manifest_inputs(out: Path) -> dict[str, dict]:
    manifest = json.loads((out / "manifest.json").read_text())
    return {Path(i["path"]).name: i for i in manifest["inputs"]}


def write_log(path: Path, n: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(LINE.format(i=i) for i in range(n)))
    return path


def test_unreadable_subdirectory_is_a_failed_input(tmp_path: Path) -> None:
    d = tmp_path / "in"
    write_log(d / "a.log")
    write_log(d / "private" / "b.log")
    (d / "private").chmod(0)
    try:
        run = edgelog(["analyze", str(d), "--out", str(tmp_path / "out")], drop_dac=True)
    finally:
        (d / "private").chmod(0o755)
    assert run.returncode == ExitCode.PARTIAL, run.stderr
    assert "Traceback" not in run.stderr and "private" in run.stderr
    inputs = manifest_inputs(tmp_path / "out")
    assert inputs["a.log"]["status"] == "ok"
    assert inputs["private"]["status"] == "failed"
    assert "Permission denied" in inputs["private"]["error"]
    assert resultdir.verify(tmp_path / "out") == []


def test_fifos_sockets_and_devices_are_skipped_never_opened(tmp_path: Path) -> None:
    d = tmp_path / "in"
    write_log(d / "a.log")
    os.mkfifo(d / "access-n1-20261123T080500Z.log")  # opening it for reading would block forever
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(d / "app.sock"))
    (d / "null.log").symlink_to("/dev/null")
    (d / "zero.log").symlink_to("/dev/zero")  # reading it would never end
    try:
        run = edgelog(["analyze", str(d), "--out", str(tmp_path / "out")], timeout=60)
    finally:
        sock.close()
    assert run.returncode == ExitCode.OK, run.stderr
    inputs = manifest_inputs(tmp_path / "out")
    assert inputs["a.log"]["status"] == "ok"
    for name, kind in (
        ("access-n1-20261123T080500Z.log", "FIFO"),
        ("app.sock", "socket"),
        ("null.log", "character device"),
        ("zero.log", "character device"),
    ):
        assert inputs[name]["status"] == "skipped", name
        assert f"not a regular file ({kind})" in inputs[name]["error"]
        assert inputs[name]["sha256"] is None and inputs[name]["lines_read"] == 0


def test_symlink_loops_and_dangling_links_are_failed_entries(tmp_path: Path) -> None:
    d = tmp_path / "in"
    write_log(d / "a.log")
    (d / "self.log").symlink_to("self.log")
    (d / "ping.log").symlink_to("pong.log")
    (d / "pong.log").symlink_to("ping.log")
    (d / "gone.log").symlink_to("no-such-file.log")
    # in this process (the CLI runner): examining such an entry fails at once, it cannot hang
    run = CliRunner().invoke(app, ["analyze", str(d), "--out", str(tmp_path / "out")])
    assert run.exit_code == ExitCode.PARTIAL, (run.output, run.exception)
    assert "Traceback" not in run.output and "self.log" in run.output
    inputs = manifest_inputs(tmp_path / "out")
    assert inputs["a.log"]["status"] == "ok" and inputs["a.log"]["lines_parsed"] == 3
    for name in ("self.log", "ping.log", "pong.log"):
        assert inputs[name]["status"] == "failed" and "symbolic link loop" in inputs[name]["error"]
    assert inputs["gone.log"]["status"] == "failed" and "dangling" in inputs["gone.log"]["error"]
    assert resultdir.verify(tmp_path / "out") == []


def test_linked_directories_are_skipped_and_the_same_file_is_read_once(tmp_path: Path) -> None:
    d = tmp_path / "in"
    write_log(d / "a.log")
    (d / "again.log").symlink_to("a.log")
    os.link(d / "a.log", d / "hardlink.log")
    (d / "loop").symlink_to(".")  # a directory link back up: following it would walk forever
    result = analyze([d], tmp_path / "out")
    assert result.exit_code == ExitCode.OK
    by_name = {Path(i.path).name: i for i in result.manifest.inputs}
    assert by_name["a.log"].status == "ok"
    for name in ("again.log", "hardlink.log"):
        assert by_name[name].status == "skipped" and "same file as" in (by_name[name].error or "")
    assert by_name["loop"].status == "skipped" and "directory" in (by_name["loop"].error or "")
    assert result.manifest.totals.lines_read == 3


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_a_long_query_within_a_second(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    d = tmp_path / "in"
    write_log(d / "a.log")
    q = tmp_path / "slow.sql"
    q.write_text("SELECT count(*) FROM range(100000000000) t(i) WHERE hash(i) % 7 = 3")
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    cmd = [sys.executable, "-m", "edgelog", "analyze", str(d), "--out", str(out), "--query", str(q)]
    stopped = stop_when(
        cmd,
        (out / resultdir.report_table("summary")).exists,  # the library is written first
        sig,
        env={**os.environ, "TMPDIR": str(tmp), "EDGELOG_QUERY_TIMEOUT": "600"},
        settle=1.0,  # well inside the query now
    )
    assert stopped.returncode == code, stopped.stderr
    assert stopped.took < 2.0, f"stopped {stopped.took:.2f} s after the signal"
    assert "Traceback" not in stopped.stderr
    assert not (out / "manifest.json").exists()  # an interrupted run never claims to be complete
    assert list(tmp.iterdir()) == []  # its DuckDB temp directory is gone


@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "parse-cache"])
def test_a_file_appended_during_the_run_is_described_by_exactly_what_was_parsed(
    tmp_path: Path, cached: bool
) -> None:
    d = tmp_path / "in"
    d.mkdir()
    log = d / "access.log"
    with log.open("w") as fh:
        for i in range(30_000):
            fh.write(LINE.format(i=i % 250))
    assert log.stat().st_size > 2 * parse.SMALL_FILE_BYTES  # read by DuckDB's line reader, not whole
    cache = tmp_path / "cache" if cached else None
    stop = threading.Event()

    def append() -> None:
        i = 0
        with log.open("ab", buffering=0) as fh:
            while not stop.is_set():
                line = LINE.format(i=i % 250).encode()
                fh.write(line[:40])  # half a line on disk for a moment, as a buffered writer leaves it
                time.sleep(0.0002)
                fh.write(line[40:])
                i += 1
                time.sleep(0.0003)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        result = analyze([d], tmp_path / "out", parse_cache=cache)
    finally:
        stop.set()
        writer.join()
    (entry,) = result.manifest.inputs
    data = log.read_bytes()
    assert entry.size is not None and entry.size > 0
    prefix = data[: entry.size]
    assert hashlib.sha256(prefix).hexdigest() == entry.sha256
    assert prefix.endswith(b"\n")
    assert entry.lines_read == prefix.count(b"\n") == entry.lines_parsed
    assert entry.status == "ok" and entry.error and "changed while" in entry.error
    if cache is not None:  # the entry stored is keyed by the sha256 of exactly the bytes parsed
        assert entry.parse_cache == "stored"
        assert entry.sha256 is not None and entry.format is not None
        stored = ParseCache(cache).lookup(entry.sha256, entry.format)
        assert stored is not None
        rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{stored.parquet}')").fetchall()[0][0]
        assert rows == entry.lines_read
