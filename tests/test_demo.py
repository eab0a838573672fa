"""`edgelog demo` on a fresh machine: no arguments, real generator, runner, fetch and report, under 60 s."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from support.signals import processes_naming, stop_when
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.jobs.demo import demo_bucket_url
from edgelog.storage import open_bucket

runner = CliRunner()


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine that has never run edgelog: empty data home, no bucket configured."""
    home = tmp_path / "home"
    monkeypatch.setenv("EDGELOG_HOME", str(home))
    monkeypatch.delenv("EDGELOG_BUCKET", raising=False)
    return home


@pytest.mark.slow
def test_demo_runs_end_to_end_with_no_arguments(fresh_home: Path) -> None:
    started = time.monotonic()
    result = runner.invoke(app, ["demo"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert elapsed < 60, f"demo took {elapsed:.1f}s"
    out = result.output
    for step in ("1/4", "2/4", "3/4", "4/4"):  # progress is shown
        assert step in out
    assert out.count("Completed (exit 0") == 3
    # the report shows how each node's run went: its time by phase, the slowest and the spread
    processing = out.split("Node processing", 1)[1]
    for node in ("node-1", "node-2", "node-3"):
        row = next(line for line in processing.splitlines() if line.lstrip().startswith(node))
        assert re.search(r"\d+\.\d\ds .*MiB", row), row  # its time, phases and memory
    assert "spread: min " in processing and "slowest: node-" in processing
    html = fresh_home / "demo" / "report.html"
    assert f"HTML report: {html}" in out.replace("\n", "")
    page = html.read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and "node-3" in page
    nodes_panel = page[page.index('id="nodes"') : page.index('id="quality"')]
    slowest = re.search(r"slowest: (node-\d)", processing)
    assert slowest and "Processing per node" in nodes_panel and "Slowest node" in nodes_panel
    assert re.findall(r'<tr class="hl"><td class="txt"><span class="cell">(node-\d)<', nodes_panel) == [
        slowest.group(1)
    ]
    # results were published in Bacalhau's layout in the local bucket, for three nodes
    keys = [o.key for o in open_bucket((fresh_home / "bucket").as_uri()).list()]
    job_ids = {k.split("/")[1] for k in keys}
    assert len(job_ids) == 1
    job_id = job_ids.pop()
    assert job_id.startswith("j-") and job_id in out
    nodes = {k.split("/")[2] for k in keys}
    assert nodes == {"node-1", "node-2", "node-3"}
    assert all(k.split("/")[3].startswith("e-") for k in keys)
    assert sum(k.endswith("/exitCode") for k in keys) == 3
    merged = json.loads((fresh_home / "demo" / "results" / job_id / "merged" / "manifest.json").read_text())
    assert merged["kind"] == "merge" and merged["status"] == "ok"
    assert len(merged["merged_from"]) == 3
    # one hour of 5-minute files per node and stream: the access log, nginx's error log, the app log
    for i in (1, 2, 3):
        for stream in ("access", "error", "app"):
            assert len(list((fresh_home / "demo" / "nodes" / f"node-{i}").glob(f"{stream}-node-*.log"))) == 12
    assert "Error log:" in out and "Application log:" in out
    assert 'id="errorlog"' in page and 'id="applog"' in page


@pytest.mark.slow
def test_demo_options_and_rerun(tmp_path: Path, fresh_home: Path) -> None:
    workdir = tmp_path / "work"
    bucket = tmp_path / "bucket"
    args = ["demo", "--workdir", str(workdir), "--nodes", "2", "--hours", "0.25", "--bucket", str(bucket)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, args)  # a rerun starts from fresh logs and adds a second job
    assert second.exit_code == 0, second.output
    assert len(list((workdir / "nodes" / "node-1").glob("*.log"))) == 3 * 3  # 15 minutes of three streams
    assert len({o.key.split("/")[1] for o in open_bucket(str(bucket)).list()}) == 2
    assert (workdir / "report.html").is_file()


def test_demo_never_publishes_to_a_cloud_bucket_by_default(
    monkeypatch: pytest.MonkeyPatch, fresh_home: Path
) -> None:
    monkeypatch.setenv("EDGELOG_BUCKET", "gs://someone-elses-bucket")
    assert demo_bucket_url(None) == (fresh_home / "bucket").as_uri()
    monkeypatch.setenv("EDGELOG_BUCKET", "file:///srv/edgelog")
    assert demo_bucket_url(None) == "file:///srv/edgelog"
    assert demo_bucket_url("gs://chosen") == "gs://chosen"


def test_demo_rejects_bad_options(fresh_home: Path) -> None:
    result = runner.invoke(app, ["demo", "--nodes", "0"])
    assert result.exit_code == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "trusted", "panels"),
    [
        (["--log-format", "nginx-main"], True, ()),  # X-Forwarded-For: the simulated load balancer is trusted
        (
            ["--log-format-from", "tests/fixtures/servers/nginx.conf", "--log-format-name", "json"],
            True,
            ("latency", "vhosts"),
        ),
        (["--log-format", "vhost_combined"], False, ("vhosts",)),
    ],
)
def test_demo_passes_a_log_format_through_the_job(
    tmp_path: Path, fresh_home: Path, repo_root: Path, args: list[str], trusted: bool, panels: tuple[str, ...]
) -> None:
    args = [a.replace("tests/", f"{repo_root}/tests/") for a in args]
    workdir = tmp_path / "work"
    result = runner.invoke(app, ["demo", "--workdir", str(workdir), "--nodes", "2", "--hours", "0.25", *args])
    assert result.exit_code == 0, result.output
    merged = next((workdir / "results").glob("*/merged"))
    manifest = json.loads((merged / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert manifest["totals"]["lines_quarantined"] == 0
    assert manifest["totals"]["lines_parsed"] == manifest["totals"]["lines_read"] > 0
    nodes = [json.loads(p.read_text()) for p in (workdir / "results").glob("*/nodes/*/manifest.json")] or [
        json.loads(p.read_text()) for p in (workdir / "results").rglob("manifest.json") if p.parent != merged
    ]
    analyzed = [m for m in nodes if m["kind"] == "analyze"]
    assert analyzed and all(m["log_format"] is not None for m in analyzed)
    assert all(("trusted_proxies" in m) is trusted for m in analyzed)
    page = (workdir / "report.html").read_text()
    for panel in ("latency", "vhosts"):
        assert (f'id="{panel}"' in page) is (panel in panels), panel


def test_demo_rejects_a_bad_log_format(fresh_home: Path) -> None:
    result = runner.invoke(app, ["demo", "--log-format", "$remote_addr$status"])
    assert result.exit_code == 2 and "$remote_addr" in result.output
    result = runner.invoke(app, ["demo", "--log-format", "combined", "--trusted-proxies", "x"])
    assert result.exit_code == 2 and "'x'" in result.output


def test_a_sigterm_ends_the_demo_and_its_jobs_tasks(tmp_path: Path, fresh_home: Path) -> None:
    # the job's tasks (`edgelog analyze` per node) run in their own sessions: a SIGTERM that killed the demo
    # alone left them analysing into a temporary directory nobody removed
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    argv = ["demo", "--workdir", str(tmp_path / "work"), "--nodes", "1", "--hours", "0.25"]
    stopped = stop_when(
        [sys.executable, "-m", "edgelog", *argv, "--bucket", str(tmp_path / "bucket")],
        lambda: processes_naming(f"--out {tmp}/"),  # a task is analysing
        signal.SIGTERM,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert stopped.returncode == 143, stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] == "terminated", stopped.stderr
    assert processes_naming(str(tmp)) == []
    assert list(tmp.iterdir()) == []
