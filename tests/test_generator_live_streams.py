"""Live mode writes the chosen streams together: the access log, nginx's error log and the application log,
each to its own file beside --output, describing the same requests, each followed across renames like the
access log, with its own inode and counters in the status file and its own series in the metrics textfile.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from support.consistency import (
    check_app_lines_are_requests,
    check_error_lines_are_failed_requests,
    check_failures_in_every_stream,
    records,
)
from support.tools import require_tool
from support.waiting import wait_for
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.generator.metrics import metrics_file_name

STREAMS = {"access": "access-n1.jsonl", "error": "error-n1.log", "app": "app-n1.log"}


@pytest.fixture(scope="module")
def failing_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shop whose upstream fails often, so seconds of live traffic hold many 5xx."""
    path = tmp_path_factory.mktemp("cfg") / "failing.yaml"
    path.write_text(yaml.safe_dump({"errors": {"upstream_errors": 0.3}}))
    return path


def test_live_writes_every_stream_and_follows_each_across_renames(
    tmp_path: Path, failing_config: Path
) -> None:
    out = tmp_path / STREAMS["access"]
    status = tmp_path / "state" / "gen.json"
    metrics = tmp_path / "textfile"
    status.parent.mkdir()
    metrics.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgelog", "generate", "live", "--output", str(out), "-f", "json",
         "-f", "error", "-f", "app", "--status-file", str(status), "--metrics-dir", str(metrics),
         "--node", "n1", "--rate", "2000", "--flat", "--duration", "60", "--seed", "3",
         "--config", str(failing_config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    rotated: dict[str, list[Path]] = {s: [] for s in STREAMS}
    try:
        assert wait_for(lambda: all((tmp_path / n).exists() for n in STREAMS.values()), 60), "streams missing"
        assert wait_for(lambda: (tmp_path / STREAMS["error"]).stat().st_size > 2000, 20)
        for k in (1, 2):  # rename every stream away, as logrotate does, while it writes
            for stream, name in STREAMS.items():
                dest = tmp_path / f"{name}.{k}"
                (tmp_path / name).rename(dest)
                rotated[stream].append(dest)
            for stream in STREAMS:
                gone = rotated[stream][-1].stat().st_ino
                assert wait_for(
                    lambda s=stream, g=gone: _stream(status, s).get("inode") not in (None, g), 5
                ), f"{stream} was not reopened"
            time.sleep(0.3)  # some traffic in each file between the renames (600 lines)
        proc.send_signal(signal.SIGTERM)  # a clean stop once the files were followed (not the rest of 60 s)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
    final = json.loads(status.read_text())
    assert [s["stream"] for s in final["streams"]] == ["access", "error", "app"]
    assert [s["format"] for s in final["streams"]] == ["json", "error", "app"]
    # The top level is the first stream's, as before (rotation and health read it).
    assert (final["path"], final["inode"], final["lines"]) == (
        final["streams"][0]["path"],
        final["streams"][0]["inode"],
        final["streams"][0]["lines"],
    )
    lines: dict[str, list[str]] = {}
    for stream, name in STREAMS.items():
        entry = _stream(status, stream)
        current = tmp_path / name
        assert entry["path"] == str(current) and entry["inode"] == current.stat().st_ino
        assert entry["reopens"] == 2 and entry["write_errors"] == 0
        data = b"".join(p.read_bytes() for p in [*rotated[stream], current])
        assert data.endswith(b"\n") and all(p.read_bytes().endswith(b"\n") for p in rotated[stream])
        assert entry["lines"] == data.count(b"\n") and entry["bytes"] == len(data), stream
        lines[stream] = data.decode().splitlines()
    access = records(lines["access"])
    # ~2,500 requests: 410-455 failures in every stream, 1,540-1,600 app lines (three runs)
    assert check_failures_in_every_stream(access, lines["error"], lines["app"]) > 50
    assert check_app_lines_are_requests(access, lines["app"]) > 500
    check_error_lines_are_failed_requests(access, lines["error"])
    # One textfile for the process, a series per stream with that stream's counters.
    (prom,) = metrics.iterdir()
    assert prom.name == metrics_file_name(out)
    written = {}
    for family in text_string_to_metric_families(prom.read_text()):
        for s in family.samples:
            if s.name == "edgelog_generator_lines_written_total":
                written[s.labels["stream"]] = (s.labels["format"], s.value)
    assert written == {s["stream"]: (s["format"], s["lines"]) for s in final["streams"]}


@pytest.mark.needs_tool("promtool")
def test_the_streams_textfile_passes_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    status = tmp_path / "gen.json"
    res = subprocess.run(
        [sys.executable, "-m", "edgelog", "generate", "live", "-o", str(tmp_path / "access-n2.log"),
         "-f", "combined", "-f", "error", "-f", "app", "--status-file", str(status), "--node", "n2",
         "--rate", "500", "--flat", "--duration", "2s"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    (prom,) = tmp_path.glob("*.prom")
    check = subprocess.run(
        [promtool, "check", "metrics"], input=prom.read_text(), capture_output=True, text=True
    )
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), check.stdout
    assert {p.name for p in tmp_path.glob("*-n2.log")} == {"access-n2.log", "error-n2.log", "app-n2.log"}


def test_stream_files_and_bad_combinations(tmp_path: Path) -> None:
    runner = CliRunner()
    # The first format writes --output; the others <stream>-<node><ext> beside it.
    out = tmp_path / "logs" / "my-error.log"
    out.parent.mkdir()
    r = runner.invoke(app, ["generate", "live", "-o", str(out), "-f", "error", "-f", "app", "-f", "csv",
                            "--node", "n3", "--rate", "200", "--flat", "--duration", "0.2"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.parent.iterdir()} == {"my-error.log", "app-n3.log", "access-n3.csv"}
    assert (out.parent / "access-n3.csv").read_text().startswith("ts,remote_addr,")
    bad = runner.invoke(app, ["generate", "live", "-o", str(tmp_path / "a.log"), "-f", "combined", "-f",
                              "common", "--max-lines", "1"])  # fmt: skip
    assert bad.exit_code == 2 and "combined and common both write" in bad.output
    clash = runner.invoke(app, ["generate", "live", "-o", str(tmp_path / "app-n4.log"), "-f", "error", "-f",
                                "app", "--node", "n4", "--max-lines", "1"])  # fmt: skip
    assert clash.exit_code == 2 and "app-n4.log" in clash.output


def _stream(status: Path, stream: str) -> dict:  # type: ignore[type-arg]
    try:
        data = json.loads(status.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return next((s for s in data.get("streams", []) if s["stream"] == stream), {})
