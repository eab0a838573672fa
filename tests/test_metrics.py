"""Node metrics in Prometheus text format: the live generator and the rotation write them for node_exporter's
textfile collector, checked with prometheus_client's parser, Debian's `promtool check metrics` and a real
`prometheus-node-exporter` scraped on a loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.rotation import Generator, make_layout, rotate
from support.tools import REPO_ROOT, require_tool
from support.waiting import wait_for
from typer.testing import CliRunner, Result

from edgelog.cli.main import app
from edgelog.errors import ExitCode
from edgelog.generator.metrics import LIVE_METRICS, metrics_file_name

# Every metric the rotation documents (docs/rotation.md) and writes.
ROTATE_METRICS = {
    "edgelog_rotation_runs_total",
    "edgelog_rotation_failures_total",
    "edgelog_rotation_last_run_timestamp_seconds",
    "edgelog_rotation_last_success_timestamp_seconds",
    "edgelog_rotation_last_run_duration_seconds",
    "edgelog_rotation_last_run_success",
    "edgelog_rotation_published_files_total",
    "edgelog_rotation_published_bytes_total",
    "edgelog_rotation_publish_latency_seconds",
    "edgelog_rotation_pruned_files_total",
    "edgelog_rotation_pruned_bytes_total",
    "edgelog_logs_to_process_files",
    "edgelog_logs_to_process_bytes",
    "edgelog_rotation_staging_files",
    "edgelog_logs_to_process_filesystem_avail_bytes",
    "edgelog_logs_to_process_filesystem_size_bytes",
}


def samples(text: str) -> dict[str, float]:
    """name{labels} -> value for every sample, via prometheus_client's own parser (which rejects bad text)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def by_name(text: str) -> dict[str, float]:
    """name -> value (the sum over label sets, enough for single-series metrics)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def promtool_check(text: str) -> None:
    promtool = require_tool("promtool")
    res = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), res.stdout + res.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _live(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgelog", "generate", "live", *args],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.mark.needs_tool("promtool")
def test_live_generator_writes_valid_textfile_metrics(tmp_path: Path) -> None:
    metrics = tmp_path / "textfile"
    metrics.mkdir()
    out = tmp_path / "access-n1.log"
    status = tmp_path / "state" / "gen.json"
    status.parent.mkdir()
    res = _live(tmp_path, "--output", str(out), "--status-file", str(status), "--rate", "2000", "--flat",
                "--max-lines", "5000", "--node", "n1", "--metrics-dir", str(metrics))  # fmt: skip
    assert res.returncode == 0, res.stderr
    files = sorted(metrics.iterdir())
    assert [f.name for f in files] == [metrics_file_name(out)] == ["edgelog-generator-access-n1.prom"]
    text = files[0].read_text()
    promtool_check(text)
    st = json.loads(status.read_text())
    values = samples(text)
    series = '{format="combined",node="n1",stream="access"}'
    assert values[f"edgelog_generator_lines_written_total{series}"] == st["lines"] == 5000
    assert values[f"edgelog_generator_bytes_written_total{series}"] == st["bytes"] == out.stat().st_size
    assert values[f"edgelog_generator_write_errors_total{series}"] == 0
    assert values[f"edgelog_generator_reopens_total{series}"] == st["reopens"]
    assert values[f"edgelog_generator_bursts_total{series}"] == 0
    assert values[f"edgelog_generator_running{series}"] == 0  # the final file says it stopped
    assert values[f"edgelog_generator_last_write_timestamp_seconds{series}"] == pytest.approx(
        st["last_write_ts"]
    )
    assert values[f"edgelog_generator_target_requests_per_second{series}"] == 2000
    assert {f.name for f in text_string_to_metric_families(text)} | {"edgelog_generator_info"} >= {
        m.removesuffix("_total") for m in LIVE_METRICS
    }
    assert not [p for p in status.parent.iterdir() if p.suffix == ".prom"], (
        "--metrics-dir wins over the default"
    )


def test_metrics_dir_from_environment_and_default_next_to_the_status_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir = tmp_path / "env-textfile"
    env_dir.mkdir()
    out = tmp_path / "access-n2.jsonl"
    res = _live_runner(tmp_path, "--output", str(out), "--rate", "5000", "--flat", "--max-lines", "200",
                       "--node", "n2", "-f", "json", env={"EDGELOG_METRICS_DIR": str(env_dir)})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert [p.name for p in env_dir.iterdir()] == ["edgelog-generator-access-n2.prom"]
    state = tmp_path / "state"
    state.mkdir()
    res = _live_runner(tmp_path, "--output", str(out), "--rate", "5000", "--flat", "--max-lines", "200",
                       "--node", "n2", "-f", "json", "--status-file", str(state / "gen.json"),
                       env={"EDGELOG_METRICS_DIR": ""})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in state.iterdir()) == ["edgelog-generator-access-n2.prom", "gen.json"]
    # no status file and no metrics directory: nothing to write next to, no metrics
    bare = tmp_path / "bare"
    bare.mkdir()
    monkeypatch.chdir(bare)
    res = _live_runner(bare, "--output", str(bare / "x.log"), "--rate", "5000", "--flat", "--max-lines", "50",
                       env={"EDGELOG_METRICS_DIR": ""})  # fmt: skip
    assert res.exit_code == 0 and sorted(p.name for p in bare.iterdir()) == ["x.log"]


def _live_runner(tmp_path: Path, *args: str, env: dict[str, str]) -> Result:
    """``generate live`` through the CLI runner (where the metrics go is what is checked, not the process:
    a child process costs ~0.5 CPU s of start-up); ``env`` is set for the run only."""
    return CliRunner().invoke(app, ["generate", "live", *args], env=env)


def test_unwritable_metrics_dir_is_a_usage_error(tmp_path: Path) -> None:
    res = _live_usage(tmp_path, "--output", str(tmp_path / "x.log"), "--max-lines", "5",
                      "--metrics-dir", str(tmp_path / "missing"))  # fmt: skip
    assert "--metrics-dir" in res.output and "missing" in res.output
    assert not (tmp_path / "x.log").exists()


def _live_usage(tmp_path: Path, *args: str) -> Result:
    """``generate live`` through the CLI runner, which must end in a usage error (exit 2), not a traceback."""
    res = CliRunner().invoke(app, ["generate", "live", *args])
    assert res.exit_code == ExitCode.USAGE, (args, res.output, res.exception)
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output
    return res


def _listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of the TCP sockets in LISTEN state that process ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and inode in inodes:  # 0A = LISTEN
                addr, port = local.split(":")
                found.append((addr, int(port, 16)))
    return found


@pytest.mark.needs_tool("promtool")
def test_metrics_endpoint_serves_on_loopback_only_when_asked(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "access-n1.log"
    served = subprocess.Popen(
        [sys.executable, "-m", "edgelog", "generate", "live", "--output", str(out), "--rate", "300", "--flat",
         "--duration", "60", "--metrics-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    quiet = subprocess.Popen(
        [sys.executable, "-m", "edgelog", "generate", "live", "--output", str(tmp_path / "q.log"),
         "--rate", "300", "--duration", "60"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    try:
        text = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                    text = resp.read().decode()
                if by_name(text).get("edgelog_generator_lines_written_total", 0) > 0:
                    break
            time.sleep(0.2)
        assert by_name(text).get("edgelog_generator_lines_written_total", 0) > 0, text[:500]
        assert by_name(text)["edgelog_generator_running"] == 1
        promtool_check(text)
        assert _listening_sockets(served.pid) == [("0100007F", port)], "must listen on 127.0.0.1 only"
        started = wait_for((tmp_path / "q.log").exists, 30, interval=0.1)
        assert started, "the generator without a port did not start"
        assert _listening_sockets(quiet.pid) == [], "no port unless --metrics-port is given"
    finally:
        for proc in (served, quiet):
            proc.terminate()
            proc.wait(timeout=20)
    assert served.returncode == 0, served.stderr.read() if served.stderr else ""


def test_bad_metrics_options_exit_2(tmp_path: Path) -> None:
    """Checked before anything is written: a usage error naming the option (the CLI runner, in process)."""
    for args in (["--metrics-port", "70000"], ["--metrics-port", "0"],
                 ["--metrics-port", str(free_port()), "--metrics-address", "not an address"]):  # fmt: skip
        res = _live_usage(tmp_path, "--output", str(tmp_path / "x.log"), "--max-lines", "5", *args)
        assert args[-2] in res.output, (args, res.output)
    assert not (tmp_path / "x.log").exists()


# ---- rotation --------------------------------------------------------------------------------------------


@pytest.mark.needs_tool("promtool", "logrotate", "gzip", "flock")
def test_rotation_writes_metrics_that_count_runs_files_and_failures(tmp_path: Path) -> None:
    """A real generator, the real wrapper and logrotate: metrics after each run, valid for promtool."""
    layout = make_layout(tmp_path, tmp_path, ext=".jsonl")
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    layout.extra_env["EDGELOG_METRICS_DIR"] = str(textfile)
    gen = Generator(layout, rate=400, fmt="json")
    try:
        gen.wait_running()
        for _ in range(3):
            res = rotate(layout)
            assert res.returncode == 0, res.stderr
            time.sleep(1.1)  # a new stamp per run
        gen.pause()  # the writer cannot reopen: the next run times out and fails
        res = rotate(layout, EDGELOG_REOPEN_TIMEOUT="1", EDGELOG_STATUS_STALE_AFTER="60")
        assert res.returncode == 1
        gen.resume()
    finally:
        gen.stop()
    rotate_prom = textfile / "edgelog-rotate.prom"
    text = rotate_prom.read_text()
    promtool_check(text)
    values = by_name(text)
    assert {f.name for f in text_string_to_metric_families(text)} >= {
        m.removesuffix("_total") for m in ROTATE_METRICS
    }
    published = layout.published()
    assert values["edgelog_rotation_runs_total"] == 4
    assert values["edgelog_rotation_failures_total"] == 1
    assert values["edgelog_rotation_last_run_success"] == 0
    assert values["edgelog_rotation_published_files_total"] == len(published) == 3
    assert values["edgelog_rotation_published_bytes_total"] == sum(p.stat().st_size for p in published)
    assert values["edgelog_rotation_publish_latency_seconds_count"] == 3
    assert 0 < values["edgelog_rotation_publish_latency_seconds_sum"] < 3 * 30
    assert values["edgelog_logs_to_process_files"] == len(published)
    assert values["edgelog_logs_to_process_bytes"] == sum(p.stat().st_size for p in published)
    assert values["edgelog_rotation_staging_files"] == 1  # the file the paused writer held
    avail = values["edgelog_logs_to_process_filesystem_avail_bytes"]
    assert 0 < avail <= values["edgelog_logs_to_process_filesystem_size_bytes"]
    assert time.time() - 120 < values["edgelog_rotation_last_success_timestamp_seconds"] <= time.time()
    assert (
        values["edgelog_rotation_last_run_timestamp_seconds"]
        >= values["edgelog_rotation_last_success_timestamp_seconds"]
    )
    assert oct(rotate_prom.stat().st_mode & 0o777) == "0o644"
    assert not [p for p in textfile.iterdir() if p.suffix != ".prom"], "temporary files left behind"
    # the generator wrote its own file next to its status file (the default), also valid
    gen_prom = layout.state / "edgelog-generator-access-n1.prom"
    promtool_check(gen_prom.read_text())


@pytest.mark.needs_tool("promtool", "logrotate", "gzip", "flock")
def test_rotation_metrics_count_pruned_files(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    for k in range(5):
        (layout.out / f"access-n1-2026010{k + 1}T000000Z.log.gz").write_bytes(b"x" * (k + 1))
    res = rotate(layout, EDGELOG_RETENTION_COUNT="2", EDGELOG_RETENTION_DAYS="0")
    assert res.returncode == 0, res.stderr
    text = (layout.state / "edgelog-rotate.prom").read_text()  # default: the status file's directory
    promtool_check(text)
    values = by_name(text)
    assert values["edgelog_rotation_pruned_files_total"] == 3
    assert values["edgelog_rotation_pruned_bytes_total"] == 1 + 2 + 3
    assert values["edgelog_logs_to_process_files"] == 2 and values["edgelog_logs_to_process_bytes"] == 4 + 5


@pytest.mark.needs_tool("logrotate", "gzip", "flock")
def test_rotation_metrics_dir_option_and_bad_dir(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    res = subprocess.run([str(REPO_ROOT / "log-generator/rotation/edgelog-rotate"),
                          "--metrics-dir", str(other)], env=layout.env(), capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert (other / "edgelog-rotate.prom").is_file()
    # a missing metrics directory is logged, but never stops the rotation itself (absent metrics alert)
    (layout.live_file).write_text("line\n")
    res = rotate(layout, EDGELOG_METRICS_DIR=str(tmp_path / "nope"))
    assert res.returncode == 0 and "EDGELOG_METRICS_DIR" in res.stderr, res.stderr
    assert len(layout.published()) == 1 and not (tmp_path / "nope").exists()


# ---- node_exporter ---------------------------------------------------------------------------------------


@pytest.mark.needs_tool("prometheus-node-exporter", "logrotate", "gzip", "flock")
def test_node_exporter_serves_the_textfiles(tmp_path: Path) -> None:
    """The real prometheus-node-exporter, textfile collector only, on a loopback port: it reads both files
    without a scrape error and serves our metrics."""
    exporter = require_tool("prometheus-node-exporter")
    layout = make_layout(tmp_path, tmp_path, ext=".jsonl")
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    layout.extra_env["EDGELOG_METRICS_DIR"] = str(textfile)
    res = subprocess.run(
        [sys.executable, "-m", "edgelog", "generate", "live", "--output", str(layout.live_file), "-f", "json",
         "--status-file", str(layout.status_file), "--rate", "500", "--flat", "--max-lines", "1000",
         "--metrics-dir", str(textfile), "--node", "n1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert rotate(layout).returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [exporter, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
         "--collector.textfile", f"--collector.textfile.directory={textfile}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        text = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "edgelog_" not in text:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp,
            ):
                text = resp.read().decode()
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    values = samples(text)
    assert values["node_textfile_scrape_error"] == 0, text
    assert values['edgelog_generator_lines_written_total{format="json",node="n1",stream="access"}'] == 1000
    assert values["edgelog_rotation_runs_total"] == 1
    assert values["edgelog_rotation_published_files_total"] == 1
    mtimes = [k for k in values if k.startswith("node_textfile_mtime_seconds")]
    assert len(mtimes) == 2, mtimes


# ---- one list of names -------------------------------------------------------------------------------------


def test_documented_and_alerted_metric_names_are_the_written_ones() -> None:
    """docs list exactly the metrics written; the alert policies (terraform) use only metrics that exist."""
    import re

    written = set(LIVE_METRICS) | {"edgelog_generator_info"} | ROTATE_METRICS
    generator = {m for m in written if m.startswith("edgelog_generator_")}
    for doc, expected in (("docs/generator.md", generator), ("docs/rotation.md", ROTATE_METRICS)):
        text = (REPO_ROOT / doc).read_text()
        rows = set(re.findall(r"^\| `(edgelog_[a-z_]+)` \|", text, flags=re.M))
        assert rows == expected, f"{doc}: has {sorted(rows - expected)}, lacks {sorted(expected - rows)}"
    alerts = (REPO_ROOT / "terraform" / "monitoring.tf").read_text()
    used = set(re.findall(r"\b(edgelog_[a-z_]+?)(?:_sum|_count)?\b(?=[\[\s)]|$)", alerts))
    used = {u for u in used if not u.startswith("edgelog_fetch")}
    assert used, "no edgelog metric in the alert policies?"
    assert used <= written, f"alerts use metrics nobody writes: {sorted(used - written)}"
