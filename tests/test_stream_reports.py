"""analyze reads the error log and the application log next to the access log, and reports on them.

Two hours of generated traffic (a quiet hour, then an hour with an outage) in all three streams are analysed;
every number of the new reports is recomputed here from the files with plain Python, and the outage must show
as error-log and application-log bursts in the bucket of the 5xx spike.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from edgelog.analysis import RunResult, analyze
from edgelog.cli.main import app
from edgelog.generator import backfill, load_config

START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
ROTATION = timedelta(minutes=15)  # 8 files a stream: a file costs the run more than its lines do
FILES = int(timedelta(hours=2) / ROTATION)  # rotated files of each stream
NGINX_ERRORS = {"error", "crit", "alert", "emerg"}
APP_ERRORS = {"ERROR", "CRITICAL", "FATAL"}
# What a client's request causes (a missing file, a forbidden path), not a failing server.
CLIENT_CAUSED = re.compile(
    r"\(2: No such file or directory\)|access forbidden by rule|\] \d+#\d+: \*\d+ client "
)
ACCESS_TS = re.compile(r"\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] \"(?:[^\"\\]|\\.)*\" (\d{3}) ")


def bucket(ts: datetime) -> datetime:
    return ts.replace(minute=ts.minute - ts.minute % 5, second=0, microsecond=0)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quiet hour and an hour with a 2-minute outage, as rotated access, error and app files of node s1."""
    out = tmp_path_factory.mktemp("streams") / "logs"
    base = load_config(None).with_overrides({"errors.bad_deploys.per_day": 0.0})
    quiet = base.with_overrides({"errors.outages.per_day": 0.0})
    outage = base.with_overrides(
        {"errors.outages.per_day": 24.0, "errors.outages.duration_seconds": [120, 120]}
    )
    for fmt in ("combined", "error", "app"):
        kw: dict[str, Any] = {"node": "s1", "fmt": fmt, "seed": 11, "rate": 5.0, "interval": ROTATION}
        backfill(quiet, out, start=START - timedelta(hours=1), duration=timedelta(hours=1), **kw)
        backfill(outage, out, start=START, duration=timedelta(hours=1), **kw)
    return out


@pytest.fixture(scope="module")
def result(logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("streams-out") / "out"
    r = analyze([logs], out)
    assert r.status == "ok", r.manifest.inputs
    return out


def table(out: Path, name: str) -> list[dict[str, Any]]:
    rel = duckdb.sql(f"SELECT * FROM '{out}/reports/{name}.parquet'")
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


@functools.cache  # a second holds several requests: strptime once per distinct stamp
def access_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z")


def read_access(logs: Path) -> list[tuple[datetime, int]]:
    rows = []
    for p in sorted(logs.glob("access-*.log")):
        for line in p.read_text().splitlines():
            m = ACCESS_TS.search(line)
            assert m, line
            rows.append((access_time(m[1]), int(m[2])))
    return rows


def read_errors(logs: Path) -> list[dict[str, Any]]:
    rows = []
    for p in sorted(logs.glob("error-*.log")):
        for line in p.read_text().splitlines():
            ts = datetime.strptime(line[:19], "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)
            level = line[21 : line.index("]")]
            upstream = re.search(r', upstream: "([a-z]+://[^/"]*)', line)
            host = re.search(r', host: "([^"]*)"', line)
            rows.append(
                {
                    "ts": ts,
                    "level": level,
                    "upstream": upstream[1] if upstream else None,
                    "host": host[1] if host else None,
                    "line": line,
                }
            )
    return rows


def read_app(logs: Path) -> list[tuple[datetime, str]]:
    rows = []
    for p in sorted(logs.glob("app-*.log")):
        for line in p.read_text().splitlines():
            stamp, level = line.split(" ", 2)[:2]
            rows.append((datetime.fromisoformat(stamp.replace("Z", "+00:00")), level))
    return rows


def test_every_stream_is_read_and_accounted_for(logs: Path, result: Path) -> None:
    inputs = {i["name"]: i for i in json.loads((result / "manifest.json").read_text())["inputs"]}
    assert len(inputs) == 3 * FILES
    for name, entry in inputs.items():
        stream = name.split("-", 1)[0]
        assert entry["status"] == "ok", entry
        assert entry["format"] == {"access": "combined", "error": "error", "app": "app"}[stream]
        lines = (logs / name).read_text().count("\n")
        assert (entry["lines_read"], entry["lines_parsed"], entry["lines_quarantined"]) == (lines, lines, 0)
    summary = table(result, "summary")[0]
    access_lines = sum(p.read_text().count("\n") for p in logs.glob("access-*.log"))
    assert summary["total_lines"] == summary["valid_requests"] == access_lines
    # Per node as in the summary: every stream's files, the access log's lines (they add up to its requests).
    (node,) = table(result, "nodes")
    assert (node["node_id"], node["files_failed"], node["status"]) == ("s1", 0, "ok")
    assert node["files"] == 3 * FILES
    assert node["lines_read"] == node["valid_requests"] == access_lines and node["quarantined_lines"] == 0


def test_error_summary_and_timeline_match_the_files(logs: Path, result: Path) -> None:
    errors, app_rows, access = read_errors(logs), read_app(logs), read_access(logs)
    s = table(result, "error_summary")[0]
    upstream_errors = [e for e in errors if e["level"] in NGINX_ERRORS and "upstream" in e["line"]]
    assert s == {
        "error_log_files": FILES,
        "error_log_lines": len(errors),
        "error_log_quarantined": 0,
        "nginx_events": len(errors),
        "nginx_errors": sum(e["level"] in NGINX_ERRORS for e in errors),
        "nginx_warnings": sum(e["level"] == "warn" for e in errors),
        "upstream_failures": len(upstream_errors),
        "app_log_files": FILES,
        "app_log_lines": len(app_rows),
        "app_log_quarantined": 0,
        "app_events": len(app_rows),
        "app_errors": sum(level in APP_ERRORS for _, level in app_rows),
        "app_warnings": sum(level == "WARN" for _, level in app_rows),
        "first_ts": min(min(e["ts"] for e in errors), min(t for t, _ in app_rows)),
        "last_ts": max(max(e["ts"] for e in errors), max(t for t, _ in app_rows)),
    }
    assert s["upstream_failures"] > 0 and s["app_errors"] > 0
    expected: dict[datetime, Counter[str]] = {}
    for ts, status in access:
        c = expected.setdefault(bucket(ts), Counter())
        c["requests"] += 1
        c["errors_5xx"] += status >= 500
    for e in errors:
        c = expected.setdefault(bucket(e["ts"]), Counter())
        c["nginx_errors"] += e["level"] in NGINX_ERRORS
        c["nginx_server_errors"] += e["level"] in NGINX_ERRORS and not CLIENT_CAUSED.search(e["line"])
        c["nginx_warnings"] += e["level"] == "warn"
        c["upstream_failures"] += e["level"] in NGINX_ERRORS and "upstream" in e["line"]
    for ts, level in app_rows:
        c = expected.setdefault(bucket(ts), Counter())
        c["app_errors"] += level in APP_ERRORS
        c["app_warnings"] += level == "WARN"
    rows = table(result, "error_timeline")
    assert [r["bucket"] for r in rows] == sorted(expected)
    for r in rows:
        want = expected[r["bucket"]]
        assert {k: v for k, v in r.items() if k != "bucket"} == {
            k: want[k]
            for k in (
                "requests",
                "errors_5xx",
                "nginx_errors",
                "nginx_server_errors",
                "nginx_warnings",
                "upstream_failures",
                "app_errors",
                "app_warnings",
            )
        }, r["bucket"]


def test_upstream_failures_by_upstream_and_host(logs: Path, result: Path) -> None:
    counts: Counter[tuple[str, str]] = Counter()
    kinds: Counter[str] = Counter()
    for e in read_errors(logs):
        if e["level"] in NGINX_ERRORS and "upstream" in e["line"]:
            counts[(e["upstream"] or "-", e["host"] or "-")] += 1
            line = e["line"]
            kinds[
                "refused"
                if "Connection refused" in line
                else "timed_out"
                if "timed out" in line
                else "closed"
                if "prematurely closed" in line or "reset by peer" in line
                else "no_live"
                if "no live upstreams" in line
                else "other"
            ] += 1
    rows = table(result, "upstream_failures")
    assert {(r["upstream"], r["host"]): r["failures"] for r in rows} == dict(counts)
    for kind in ("refused", "timed_out", "closed", "no_live", "other"):
        assert sum(r[kind] for r in rows) == kinds[kind], kind
    assert all(r["failures"] == sum(r[k] for k in kinds) for r in rows)


def test_patterns_and_levels(logs: Path, result: Path) -> None:
    errors, app_rows = read_errors(logs), read_app(logs)
    levels = table(result, "error_levels")
    by_level: Counter[tuple[str, str]] = Counter()
    for r in levels:
        by_level[(r["source"], r["level"])] += r["events"]
    want = Counter(("nginx", e["level"]) for e in errors) + Counter(("app", level) for _, level in app_rows)
    assert by_level == want
    patterns = table(result, "error_patterns")
    assert patterns == sorted(
        patterns, key=lambda r: (-r["events"], r["source"], r["level"], r["module"], r["pattern"])
    )
    assert all(r["level"] not in ("info", "notice", "debug", "INFO", "DEBUG") for r in patterns)
    nginx = {r["pattern"]: r for r in patterns if r["source"] == "nginx"}
    missing = 'open() "<path>" failed (<n>: No such file or directory)'
    assert nginx[missing]["module"] == "static"
    assert nginx[missing]["events"] == sum("No such file or directory" in e["line"] for e in errors)
    assert nginx[missing]["example"].startswith('open() "/usr/share/nginx/html/')
    app_errors = [r for r in patterns if r["source"] == "app" and r["level"] == "ERROR"]
    assert sum(r["events"] for r in app_errors) == sum(level == "ERROR" for _, level in app_rows)


def test_patterns_over_time(logs: Path, result: Path) -> None:
    """The top patterns of each stream per hour: as error_patterns ranks them, adding up to its counts."""
    patterns, rows = table(result, "error_patterns"), table(result, "error_pattern_timeline")
    assert rows == sorted(rows, key=lambda r: (r["source"], r["rank"], r["hour"]))
    for source in ("nginx", "app"):
        top = [r for r in patterns if r["source"] == source][:10]
        mine = [r for r in rows if r["source"] == source]
        assert len(top) >= 3, source
        assert sorted({r["rank"] for r in mine}) == list(range(1, len(top) + 1))
        for rank, p in enumerate(top, 1):
            hours = [r for r in mine if r["rank"] == rank]
            assert {(r["level"], r["module"], r["pattern"]) for r in hours} == {
                (p["level"], p["module"], p["pattern"])
            }
            assert sum(r["events"] for r in hours) == p["events"] and all(r["events"] > 0 for r in hours)
            assert min(r["hour"] for r in hours) == p["first_ts"].replace(minute=0, second=0, microsecond=0)
    # Recounted from the file: the missing-file errors of each hour.
    missing = 'open() "<path>" failed (<n>: No such file or directory)'
    want = Counter(
        e["ts"].replace(minute=0, second=0)
        for e in read_errors(logs)
        if "No such file or directory" in e["line"]
    )
    assert {r["hour"]: r["events"] for r in rows if r["pattern"] == missing} == dict(want)
    assert len(want) == 2


def test_the_outage_bursts_in_both_logs_with_its_5xx(result: Path) -> None:
    anomalies = table(result, "anomalies")
    spikes = {r["ts"] for r in anomalies if r["kind"] == "error_5xx_spike" and r["score"] >= 60}
    assert spikes and all(ts >= START for ts in spikes), anomalies
    for kind in ("error_log_burst", "app_error_burst", "upstream_failures"):
        found = [r for r in anomalies if r["kind"] == kind]
        # The quiet hour has at most small findings (a handful of transient upstream errors at once).
        assert found and all(r["ts"] >= START or r["score"] < 40 for r in found), (kind, anomalies)
        in_spike = [r for r in found if r["ts"] in spikes]
        assert in_spike, (kind, found, spikes)
        assert all(r["score"] >= 60 and r["severity"] in ("high", "critical") for r in in_spike)
        if kind != "upstream_failures":
            assert all(
                re.search(r"same bucket: [1-9]\d* of \d+ requests answered 5xx", r["detail"])
                for r in in_spike
            )
    upstreams = {r["subject"] for r in anomalies if r["kind"] == "upstream_failures"}
    assert upstreams <= {"http://10.0.2.15:8080", "http://shop"}  # the app servers; "shop" when none is live


@pytest.fixture(scope="module")
def access_only(logs: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The run over the access logs alone (no test changes its directory)."""
    only = tmp_path_factory.mktemp("access-only") / "in"
    only.mkdir()
    for p in logs.glob("access-*.log"):
        (only / p.name).write_bytes(p.read_bytes())
    return analyze([only], only.parent / "out")


def test_only_access_logs_leave_the_stream_reports_empty(access_only: RunResult) -> None:
    r = access_only
    assert r.status == "ok"
    s = table(r.out, "error_summary")[0]
    assert s["error_log_files"] == s["app_log_files"] == s["nginx_events"] == s["app_events"] == 0
    for name in ("error_timeline", "error_levels", "error_patterns", "upstream_failures"):
        assert table(r.out, name) == [], name
    assert not [a for a in table(r.out, "anomalies") if a["kind"] in ("error_log_burst", "app_error_burst")]


def test_error_and_app_logs_alone_are_analysable(logs: Path, tmp_path: Path) -> None:
    """Unnamed files are told apart by their first line; --format error forces the error-log parser."""
    err = tmp_path / "error.log"
    err.write_text("".join(p.read_text() for p in sorted(logs.glob("error-*.log"))[:2]))
    applog = tmp_path / "application.log"
    applog.write_text(sorted(logs.glob("app-*.log"))[0].read_text())
    runner = CliRunner()
    r = runner.invoke(app, ["analyze", str(err), str(applog), "--out", str(tmp_path / "o1")])
    assert r.exit_code == 0, r.output
    assert "analyze ok" in r.output and "not analysed" not in r.output
    formats = duckdb.sql(
        f"SELECT unnest(inputs).format FROM read_json('{tmp_path}/o1/manifest.json')"
    ).fetchall()
    assert sorted(f[0] for f in formats) == ["app", "error"]
    assert table(tmp_path / "o1", "error_summary")[0]["nginx_events"] == err.read_text().count("\n")
    forced = runner.invoke(app, ["analyze", str(err), "--format", "error", "--out", str(tmp_path / "o2")])
    assert forced.exit_code == 0, forced.output
    bad = runner.invoke(app, ["analyze", str(err), "--format", "nginx", "--out", str(tmp_path / "o3")])
    assert bad.exit_code == 2 and "error, app" in bad.output


def test_terminal_and_html_show_the_streams_that_were_read(
    result: Path, logs: Path, access_only: RunResult, tmp_path: Path
) -> None:
    runner = CliRunner()
    html = tmp_path / "all.html"
    r = runner.invoke(app, ["report", str(result), "--html", str(html)], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    assert re.search(r"Error log: [\d,]+ entries, [\d,]+ errors \([\d,]+ upstream failures\)", r.output)
    assert re.search(r"Application log: [\d,]+ entries, [\d,]+ errors", r.output)
    assert "Upstream failures" in r.output and "http://10.0.2.15:8080" in r.output
    assert "connect() failed (<n>: Connection refused) while connecting to" in r.output
    page = html.read_text()
    for anchor in ("errorlog", "applog"):
        assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page
    assert "open() &quot;&lt;path&gt;&quot; failed (&lt;n&gt;: No such file or directory)" in page
    # When the top patterns happened: a chart per stream, the busiest hour of each pattern in the terminal.
    assert 'data-chart="Top error-log patterns per hour"' in page
    assert 'data-chart="Top application-log patterns per hour"' in page
    assert r.output.count("busiest hour") == 2
    timeline = table(result, "error_pattern_timeline")
    first = max((x for x in timeline if x["source"] == "nginx" and x["rank"] == 1), key=lambda x: x["events"])
    peak = f"{first['hour'].astimezone(UTC):%Y-%m-%d %H}:00 UTC ({first['events']:,})"
    assert peak in r.output, (peak, r.output)
    # A result without those streams has neither section; one with the error log only, just that one.
    only = tmp_path / "only"
    only.mkdir()
    for p in [*logs.glob("access-*.log"), *logs.glob("error-*.log")]:
        (only / p.name).write_bytes(p.read_bytes())
    min(only.glob("error-*.log")).unlink()  # a node whose error log is missing a file: still fine
    assert analyze([only], tmp_path / "out-error").status == "ok"
    for name, out, expect in (
        ("access", access_only.out, set()),
        ("error", tmp_path / "out-error", {"errorlog"}),
    ):
        page_path = tmp_path / f"{name}.html"
        r = runner.invoke(app, ["report", str(out), "--html", str(page_path)], env={"COLUMNS": "160"})
        assert r.exit_code == 0, r.output
        assert ("Error log:" in r.output) == ("errorlog" in expect)
        assert "Application log:" not in r.output
        page = page_path.read_text()
        for anchor in ("errorlog", "applog"):
            assert (f'id="{anchor}"' in page) == (anchor in expect), (name, anchor)


def test_the_sql_and_python_agree_on_which_formats_are_access_logs() -> None:
    """``edgelog_is_access`` (the summary's SQL) and ``streams.FORMATS`` (the Python side: what the
    integrity check counts) are two spellings of one rule; a new stream format must change both."""
    import duckdb

    from edgelog.analysis import parse, streams
    from edgelog.analysis.library import install_macros, load_macros

    con = duckdb.connect()
    install_macros(con, load_macros(), None)
    for fmt, access in [*((f, True) for f in parse.FORMATS), *((f, False) for f in streams.FORMATS)]:
        got = con.execute("SELECT edgelog_is_access(?)", [fmt]).fetchone()
        assert got == (access,), fmt
    assert con.execute("SELECT edgelog_is_access(NULL)").fetchone() == (True,)  # failed before its format
    assert con.execute("SELECT edgelog_is_access('nginx-main')").fetchone() == (True,)  # a --log-format label
