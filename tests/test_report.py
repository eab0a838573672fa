"""`edgelog report`: terminal tables and the self-contained HTML page, rendered in real headless Chromium.

The result shown is real: three nodes analysed by `edgelog analyze` (real nginx and Apache samples, two hours
of generator backfill, and a log of hostile lines), fetched from a bucket with one expected node missing, and
merged by `edgelog.analysis.merge`, so the page has a partial-result banner and a data-quality story to tell.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from support.results import (
    analyze_node,
    backfill_inputs,
    copy_sample,
    publish_plain,
    stage_execution,
    write_hostile_log,
)
from support.tools import require_tool
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.errors import ExitCode, UsageError
from edgelog.results import fetch_job, load_result, print_summary, render_html
from edgelog.storage import open_bucket

runner = CliRunner()
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("report")
    copy_sample(samples_dir, "nginx_small.log", root / "in-a", "node-a", "20261122T232200Z")
    write_hostile_log(root / "in-a", "node-a", repeat=1000)  # outranks the busiest generated paths
    copy_sample(samples_dir, "apache_small.log", root / "in-b", "node-b", "20261122T232200Z")
    backfill_inputs(root / "in-c", "node-c", hours=2.0)
    bucket = open_bucket(root / "bucket")
    for node in ("node-a", "node-b", "node-c"):
        out = analyze_node(
            root / f"in-{node[-1]}",
            root / f"out-{node}",
            job_id="j-rep",
            node_id=node,
            execution_id=f"e-{node[-1]}",
        )
        publish_plain(
            bucket, stage_execution(out, root / f"stage-{node}"), f"edgelog/j-rep/{node}/e-{node[-1]}"
        )
    result = fetch_job(bucket, "j-rep", root / "fetched", expected_nodes=["node-d"])
    assert result.exit_code == ExitCode.PARTIAL and result.merged_dir is not None
    return result.merged_dir


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained_and_escapes_hostile_values(merged: Path, tmp_path: Path) -> None:
    page_path = render_html(merged, tmp_path / "report.html")
    page = page_path.read_text()
    parser = _Tags()
    parser.feed(page)
    names = [t for t, _ in parser.tags]
    # Exactly our one script; nothing from the logs became markup.
    assert names.count("script") == 1 and names.count("h1") == 1  # ours: the script and the page title
    assert not {"img", "iframe", "link", "object", "embed", "form", "base"} & set(names)
    for _tag, attrs in parser.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (name, value)  # no event handlers from data
            if name in ("src", "href"):
                assert value is not None and value.startswith("#"), value  # in-page anchors only
    # The hostile values are there, as text, and never as markup.
    assert "/x&quot;&gt;&lt;svg/onload=alert(2)&gt;" in page  # a path
    assert "https://evil.example/&lt;img src=x onerror=alert(1)&gt;" in page  # a referrer
    for raw in ("<svg/onload", "<img src=x", "<script>alert", "<h1>pwned"):
        assert raw not in page, raw
    # CSP: no network, only our script (by hash).
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp and "default-src &#x27;none&#x27;" in csp.group(1) and "sha256-" in csp.group(1)
    # Every panel is there, and the data-quality section says what is missing.
    for anchor in (
        "overview",
        "traffic",
        "errors",
        "status",
        "paths",
        "notfound",
        "referrers",
        "clients",
        "sessions",
        "tags",
        "anomalies",
        "nodes",
        "quality",
    ):
        assert f'id="{anchor}"' in page, anchor
    assert "Partial result" in page and "node-d" in page and "missing" in page
    assert "Quarantined lines (sample)" in page and "this line is not an access log line at all" in page


def _chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = require_tool("chromium")
    return subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.needs_tool("chromium")
def test_console_error_detection_works(tmp_path: Path) -> None:
    """The Chromium check below must be able to fail: a page with an error and a blocked fetch is caught."""
    bad = tmp_path / "bad.html"
    csp = "default-src 'none'; script-src 'unsafe-inline'"
    bad.write_text(
        f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{csp}"></head>'
        '<body><script>missingFunction();</script><img src="http://127.0.0.1:9/x.png"></body></html>'
    )
    run = _chromium(bad.as_uri(), tmp_path / "profile", "--dump-dom")
    messages = _console_messages(run.stderr)
    assert any("missingFunction" in m for m in messages)
    assert any("Content Security Policy" in m for m in messages)


@pytest.mark.needs_tool("chromium")
def test_report_renders_in_headless_chromium(merged: Path, tmp_path: Path) -> None:
    page = render_html(merged, tmp_path / "report.html")
    run = _chromium(page.as_uri(), tmp_path / "profile", "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _console_messages(run.stderr) == []
    dom = run.stdout
    # Our script ran to the end and counted what the browser actually rendered.
    root = re.search(r"<html[^>]*>", dom)
    assert root and 'data-ready="1"' in root.group(0)
    charts = int(re.search(r'data-charts="(\d+)"', root.group(0)).group(1))
    tables = int(re.search(r'data-tables="(\d+)"', root.group(0)).group(1))
    assert charts >= 12 and tables >= 20, (charts, tables)
    assert dom.count("<circle") > 50 and dom.count("<rect") > 30  # points and bars, not empty frames
    assert "<h1>pwned" not in dom

    shot = tmp_path / "report.png"
    run = _chromium(page.as_uri(), tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1400,3000")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _console_messages(run.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 3000)
    assert len(data) > 100_000  # a blank page compresses to a few KB; charts and tables do not
    if keep := os.environ.get(
        "EDGELOG_SCREENSHOT_DIR"
    ):  # to look at it: EDGELOG_SCREENSHOT_DIR=/tmp/x pytest ...
        Path(keep).mkdir(parents=True, exist_ok=True)
        Path(keep, "report.png").write_bytes(data)


def test_terminal_summary_prints_panels_literally(merged: Path) -> None:
    out = StringIO()
    data = print_summary(merged, Console(file=out, width=160, force_terminal=False))
    text = out.getvalue()
    for heading in (
        "Status codes",
        "Top paths",
        "Not found (404)",
        "Browsers",
        "Anomalies",
        "Nodes",
        "Data quality",
    ):
        assert heading in text, heading
    assert "[bold red]rich-markup[/]" in text  # markup in log data is printed, not interpreted
    assert "node-d: missing" in text and "PARTIAL RESULT" in text
    assert data.partial and not data.integrity_problems


def test_report_cli_exit_codes_and_tampering(merged: Path, tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(merged), "--html", str(html)])
    assert res.exit_code == ExitCode.PARTIAL, res.output
    assert html.is_file() and "Top paths" in res.output

    # A complete single-node result exits 0.
    manifest = json.loads((merged / "manifest.json").read_text())
    tampered = tmp_path / "copy"
    shutil.copytree(merged, tampered)
    manifest["status"] = "ok"
    manifest.pop("fetch")
    manifest["totals"]["files_failed"] = 0
    (tampered / "manifest.json").write_text(json.dumps(manifest))
    res = runner.invoke(app, ["report", str(tampered), "--quiet"])
    assert res.exit_code == ExitCode.OK, res.output

    # A report file that no longer matches its checksum: exit 4 and a red banner.
    target = tampered / "reports" / "top_paths.parquet"
    target.write_bytes(target.read_bytes()[:-1] + b"\x00")
    res = runner.invoke(app, ["report", str(tampered), "--quiet", "--html", str(tmp_path / "t.html")])
    assert res.exit_code == ExitCode.INTEGRITY, res.output
    assert "integrity" in res.output
    assert "Integrity check failed" in (tmp_path / "t.html").read_text()


def test_a_result_whose_files_do_not_verify_is_shown_as_corrupt(merged: Path, tmp_path: Path) -> None:
    # whatever its manifest says (partial here, ok elsewhere), a result with a file that does not match it
    # is shown as corrupt from its first line: the terminal's header said "status partial" (or "ok") above
    # numbers read from the damaged file, and named the mismatch only at the very end
    damaged = tmp_path / "damaged"
    shutil.copytree(merged, damaged)
    target = damaged / "reports" / "top_paths.parquet"
    target.write_bytes(target.read_bytes()[:-1] + b"\x00")
    out = StringIO()
    data = print_summary(damaged, Console(file=out, width=160, force_terminal=False))
    assert data.status == "corrupt" and data.manifest.status == "partial"
    header, warning, *_ = out.getvalue().splitlines()
    assert header.endswith("status corrupt"), header
    assert "cannot be trusted" in warning and "top_paths.parquet" in warning, warning
    html = tmp_path / "r.html"
    render_html(damaged, html)
    assert re.search(r"Result status</div>\s*<div[^>]*>corrupt<", html.read_text()), "status card"


def test_report_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        load_result(tmp_path / "nope")
    with pytest.raises(UsageError, match=r"no manifest\.json"):
        load_result(tmp_path)
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == ExitCode.USAGE and "Traceback" not in res.output


def test_hostile_lines_parse(tmp_path: Path) -> None:
    """The hostile lines must reach the reports (all but the junk line) or escaping tests prove nothing."""
    write_hostile_log(tmp_path / "in", "n0")
    out = analyze_node(tmp_path / "in", tmp_path / "out", job_id="j-t", node_id="n0", execution_id="e-t")
    totals = json.loads((out / "manifest.json").read_text())["totals"]
    assert (totals["lines_read"], totals["lines_parsed"], totals["lines_quarantined"]) == (4, 3, 1)
