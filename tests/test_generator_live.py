"""Live mode against the real filesystem and real signals: rotation by rename loses and duplicates nothing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.waiting import wait_for
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.generator.live import LiveStatus, check_health, write_status

runner = CliRunner()
LINE_RE_START = (b"[", b'"')


def _live(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edgelog", "generate", "live", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )


def _status(path: Path) -> dict:
    return json.loads(path.read_text())


def test_live_rename_mid_write_loses_no_line(tmp_path: Path) -> None:
    out = tmp_path / "access-n1.log"
    status = tmp_path / "gen.json"
    total = 12_000  # 1.5 s at 8,000 lines/s: both renames land mid-write (each reopen takes ~0.1 s)
    proc = _live(
        tmp_path, "--output", str(out), "--status-file", str(status), "--rate", "8000", "--flat",
        "--max-lines", str(total), "--node", "n1", "--seed", "7",
    )  # fmt: skip
    try:
        assert wait_for(lambda: out.exists() and out.stat().st_size > 20_000, 20), "live wrote nothing"
        first_inode = out.stat().st_ino
        rotated = []
        for k in range(1, 3):  # rotate twice while it writes, as logrotate (rename) would
            dest = tmp_path / f"access-n1.log.{k}"
            out.rename(dest)
            rotated.append(dest)
            # rotation's postrotate waits for the status inode to move off the rotated file
            assert wait_for(
                lambda d=dest: status.exists() and _status(status)["inode"] != d.stat().st_ino, 5
            ), "writer did not reopen within 5 s"
            assert wait_for(lambda: out.exists() and out.stat().st_size > 10_000, 10)
        assert first_inode == rotated[0].stat().st_ino
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read().decode()
    files = [*rotated, out]
    found = 0
    for f in files:
        data = f.read_bytes()
        assert data.endswith(b"\n"), f"{f.name} ends with a partial line"
        lines = data.split(b"\n")[:-1]
        for line in lines:
            assert b" - " in line and line.endswith(b'"'), line  # whole combined lines, never split
        found += len(lines)
    st = _status(status)
    assert found == total == st["lines"]
    assert st["bytes"] == sum(f.stat().st_size for f in files)
    assert st["reopens"] >= 2
    assert st["state"] == "stopped"
    assert st["write_errors"] == 0
    for key in ("pid", "path", "inode", "lines", "bytes", "reopens", "write_errors", "last_write_ts",
                "started_ts", "updated_ts", "rate"):  # fmt: skip
        assert key in st


def test_live_sigterm_exits_cleanly_and_sighup_reopens(tmp_path: Path) -> None:
    out = tmp_path / "live.log"
    status = tmp_path / "gen.json"
    proc = _live(tmp_path, "--output", str(out), "--status-file", str(status), "--rate", "300", "--flat",
                 "--duration", "60")  # fmt: skip
    try:
        assert wait_for(lambda: out.exists() and out.read_bytes().count(b"\n") > 50, 20)
        # SIGUSR1 first: both flags are set before the writer's next pass, which reopens (and saves the status
        # file at once), then starts the burst; so the reopen seen here means the burst is counted before
        # SIGTERM is read (the status file is also saved every second and on exit, not on a burst)
        proc.send_signal(signal.SIGUSR1)
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: status.exists() and _status(status)["reopens"] >= 1, 5), (
            "SIGHUP did not reopen"
        )
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    st = _status(status)
    assert st["state"] == "stopped" and st["stop_reason"] == "SIGTERM"
    assert st["bursts"] == 1, "SIGUSR1 did not start a burst"
    data = out.read_bytes()
    assert data.endswith(b"\n")
    assert data.count(b"\n") == st["lines"]


def test_live_survives_its_directory_vanishing(tmp_path: Path) -> None:
    """The log directory is removed and re-created: errors are counted, writing resumes, no traceback."""
    logdir = tmp_path / "logs"
    logdir.mkdir()
    out = logdir / "live.log"
    status = tmp_path / "gen.json"
    proc = _live(tmp_path, "--output", str(out), "--status-file", str(status), "--rate", "300", "--flat",
                 "--duration", "60")  # fmt: skip
    try:
        assert wait_for(lambda: status.exists() and _status(status)["lines"] > 50, 20)
        out.unlink()
        logdir.rmdir()
        assert wait_for(lambda: _status(status)["write_errors"] >= 1, 10), "missing directory not noticed"
        logdir.mkdir()
        assert wait_for(lambda: out.exists() and out.stat().st_size > 5000, 15), "writing did not resume"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    st = _status(status)
    assert st["state"] == "stopped" and "No such file" in st["last_error"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_live_write_errors_are_counted_and_retried(tmp_path: Path) -> None:
    status = tmp_path / "gen.json"
    proc = _live(tmp_path, "--output", "/dev/full", "--status-file", str(status), "--rate", "200", "--flat",
                 "--duration", "30")  # fmt: skip
    try:
        assert wait_for(lambda: status.exists() and _status(status)["write_errors"] >= 2, 20)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    st = _status(status)
    assert st["lines"] == 0 and st["dropped_lines"] > 0
    assert "No space left" in st["last_error"]
    assert proc.returncode == 1  # lines were lost: a supervisor must see it
    assert b"could not be written" in proc.stderr.read()
    health = runner.invoke(app, ["generate", "health", "--status-file", str(status), "--max-silence", "5"])
    assert health.exit_code == 1


def _status_file(tmp_path: Path, **kw: object) -> Path:
    now = time.time()
    st = LiveStatus(pid=os.getpid(), path="/x.log", started_ts=now - 100, inode=1, state="running")
    for k, v in kw.items():
        setattr(st, k, v)
    path = tmp_path / "status.json"
    write_status(path, st, kw.get("updated_ts", now))  # type: ignore[arg-type]
    return path


def test_health_command_healthy_and_unhealthy(tmp_path: Path) -> None:
    now = time.time()
    healthy = _status_file(tmp_path, last_write_ts=now - 2, lines=10)
    res = runner.invoke(app, ["generate", "health", "--status-file", str(healthy), "--max-silence", "10"])
    assert res.exit_code == 0, res.output
    assert "healthy" in res.output

    silent = _status_file(tmp_path, last_write_ts=now - 60, lines=10, write_errors=3)
    res = runner.invoke(app, ["generate", "health", "--status-file", str(silent), "--max-silence", "10"])
    assert res.exit_code == 1
    assert "no write for" in res.output and "3 write errors" in res.output

    res = runner.invoke(app, ["generate", "health", "--status-file", str(tmp_path / "nope.json")])
    assert res.exit_code == 1 and "does not exist" in res.output

    stale = _status_file(tmp_path, last_write_ts=now - 1, updated_ts=now - 120)
    assert not check_health(stale, 30).healthy

    stopped = _status_file(tmp_path, last_write_ts=now - 1, state="stopped", stop_reason="SIGTERM")
    h = check_health(stopped, 30)
    assert not h.healthy and "SIGTERM" in h.reason

    starting = _status_file(tmp_path, last_write_ts=None, started_ts=now - 1)
    assert check_health(starting, 30).healthy
    assert not check_health(starting, 30, now=now + 40).healthy

    (tmp_path / "bad.json").write_text("{not json")
    assert not check_health(tmp_path / "bad.json", 30).healthy

    res = runner.invoke(app, ["generate", "health", "--status-file", str(healthy), "--max-silence", "0"])
    assert res.exit_code == 2


def test_live_through_cli_runner_stops_at_max_lines(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    status = tmp_path / "gen.json"
    args = ["generate", "live", "--output", str(out), "--status-file", str(status), "--rate", "3000",
            "--flat", "--max-lines", "500", "--format", "json", "--node", "cli"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert len(lines) == 500 == _status(status)["lines"]
    assert all(json.loads(x)["host"] == "shop.example.com" for x in lines)
    res = runner.invoke(
        app, ["generate", "live", "--output", str(tmp_path / "nodir" / "x.log"), "--max-lines", "1"]
    )
    assert res.exit_code == 1 and "cannot open" in res.output
    res = runner.invoke(app, ["generate", "live", "--output", str(out), "--rate", "-1"])
    assert res.exit_code == 2


def _lines_after(path: Path, offset: int) -> int:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().count(b"\n")


def test_ids_stay_unique_when_the_live_generator_is_killed_and_restarted(tmp_path: Path) -> None:
    """SIGKILL (no clean exit, nothing persisted) and a restart with the same seed and node: the new run
    must not reuse request ids nor session ids of the first one."""
    out = tmp_path / "access-n1.jsonl"
    args = ("--output", str(out), "--rate", "4000", "--flat", "--format", "json", "--node", "n1",
            "--seed", "3")  # fmt: skip
    boundaries = []
    for _ in range(2):
        before = out.stat().st_size if out.exists() else 0
        boundaries.append(before)
        proc = _live(tmp_path, *args)
        try:
            # wait on lines, not bytes: a record's size follows the generator's realism, not this test
            assert wait_for(lambda b=before: out.exists() and _lines_after(out, b) > 1500, 30)
        finally:
            proc.kill()  # SIGKILL: the generator cannot save anything
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
    data = out.read_bytes()
    runs: list[list[dict]] = []
    for chunk in (data[: boundaries[1]], data[boundaries[1] :]):
        records = []
        for line in chunk.splitlines():
            with contextlib.suppress(ValueError):  # a kill may cut the last write of a run short
                records.append(json.loads(line))
        runs.append(records)
    assert all(len(r) > 1000 for r in runs), [len(r) for r in runs]
    ids = [r["request_id"] for records in runs for r in records]
    duplicates = len(ids) - len(set(ids))
    assert duplicates == 0, f"{duplicates} request ids repeat after a restart"
    first, second = ({r["session_id"] for r in records} for records in runs)
    assert not first & second, f"{len(first & second)} session ids of the first run reappear after a restart"


def test_live_duration_counts_from_the_first_line(tmp_path: Path) -> None:
    """`--rate 10000 --flat --duration 1s`: 1 s of traffic from the first line (it used to start the clock
    before the warm-up, which took ~10 s at this rate, and write 0 lines; the warm-up now takes 0.3-0.7 s)."""
    from datetime import datetime

    out = tmp_path / "access-n1.jsonl"
    status = tmp_path / "gen.json"
    res = subprocess.run(
        [sys.executable, "-m", "edgelog", "generate", "live", "--output", str(out),
         "--status-file", str(status), "--rate", "10000", "--flat", "--duration", "1s", "--format", "json",
         "--node", "n1"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = out.read_bytes()
    st = _status(status)
    assert data.count(b"\n") == st["lines"]
    assert abs(st["lines"] / 10_000 - 1) < 0.05, st["lines"]  # 9,916-10,054 in five runs
    stamps = [datetime.fromisoformat(json.loads(line)["ts"]).timestamp() for line in data.splitlines()]
    assert 0.75 < max(stamps) - min(stamps) < 1.0, (min(stamps), max(stamps))
    assert st["stop_reason"] == "duration reached"
    assert 0 < st["startup_seconds"] < st["first_write_ts"] - st["started_ts"] + 0.5
