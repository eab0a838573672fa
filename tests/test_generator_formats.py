"""The generator writes any log format definition, and its presets are the parser's presets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from support import lanes
from support.formats import definitions
from typer.testing import CliRunner

from edgelog.analysis import analyze
from edgelog.cli.main import app
from edgelog.errors import ExitCode
from edgelog.generator import backfill, load_config
from edgelog.generator.backfill import stream
from edgelog.generator.formats import FORMATS, GCP_LOAD_BALANCER
from edgelog.logformat import PRESETS, LogFormat, preset
from edgelog.logformat.codec import parse_line

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
runner = CliRunner()


def lines_of(fmt: str | LogFormat, n: int = 400, seed: int = 5) -> list[str]:
    out: list[str] = []
    stream(load_config(None), out.append, node="n1", start=START, lines=n, fmt=fmt, seed=seed)
    return "".join(out).splitlines()


def test_generate_presets_are_the_parser_presets() -> None:
    assert set(PRESETS) <= set(FORMATS)
    for name in PRESETS:
        fmt = preset(name)
        lines = lines_of(name)
        assert len(lines) == 400
        unparsed = [line for line in lines if parse_line(fmt, line) is None]
        assert not unparsed, (name, unparsed[:3])


@pytest.mark.parametrize("name", ["combined", "common"])
def test_definition_writer_writes_the_builtin_formats_byte_for_byte(name: str) -> None:
    assert lines_of(preset(name), 2000) == lines_of(name, 2000)


@settings(
    max_examples=lanes.examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(fmt=definitions())
def test_the_generator_writes_any_definition(fmt: LogFormat) -> None:
    lines = lines_of(fmt, 60)
    assert len(lines) == 60
    for line in lines:
        assert parse_line(fmt, line) is not None, (fmt.definition, line)


def test_behind_a_load_balancer_client_ip_recovers_the_clients(tmp_path: Path) -> None:
    """nginx-main logs the load balancer as $remote_addr; trusting it gives the combined log's clients."""
    config = load_config(None)
    for name in ("combined", "nginx-main"):
        backfill(config, tmp_path / name, node="n1", start=START, duration=timedelta(minutes=10), fmt=name,
                 seed=3, rate=5)  # fmt: skip
    plain = analyze([tmp_path / "combined"], tmp_path / "out-combined")
    proxied = analyze([tmp_path / "nginx-main"], tmp_path / "out-lb", log_format="nginx-main")
    trusted = analyze(
        [tmp_path / "nginx-main"],
        tmp_path / "out-trusted",
        log_format="nginx-main",
        trusted_proxies=GCP_LOAD_BALANCER,
    )
    assert plain.status == proxied.status == trusted.status == "ok"

    def summary(out: str) -> tuple:
        return duckdb.sql(
            f"SELECT valid_requests, unique_visitors FROM '{tmp_path}/{out}/reports/summary.parquet'"
        ).fetchall()[0]

    assert summary("out-trusted") == summary("out-combined")
    assert summary("out-lb")[1] > summary("out-combined")[1]  # load balancer addresses split visitors
    for report in ("hosts", "sessions"):
        a = duckdb.sql(f"SELECT * FROM '{tmp_path}/out-combined/reports/{report}.parquet'").fetchall()
        b = duckdb.sql(f"SELECT * FROM '{tmp_path}/out-trusted/reports/{report}.parquet'").fetchall()
        assert a == b, report


def test_timing_preset_feeds_the_latency_reports(tmp_path: Path) -> None:
    backfill(load_config(None), tmp_path / "in", node="n1", start=START, duration=timedelta(minutes=10),
             fmt="combined_timing", seed=2, rate=5)  # fmt: skip
    result = analyze([tmp_path / "in"], tmp_path / "out", log_format="combined_timing")
    t = result.manifest.totals
    assert result.status == "ok" and t.lines_read == t.lines_parsed > 0
    rows = duckdb.sql(
        f"SELECT count(*), min(p50_ms) FROM '{tmp_path}/out/reports/latency_time.parquet'"
    ).fetchall()
    assert rows[0][0] > 0 and rows[0][1] is not None


def test_generate_cli_log_format_options(tmp_path: Path) -> None:
    conf = Path(__file__).parent / "fixtures" / "servers" / "httpd.conf"
    r = runner.invoke(app, ["generate", "stream", "-n", "5", "--start", "2026-11-23T08:00Z",
                            "--log-format-from", str(conf), "--log-format-name", "timing"])  # fmt: skip
    assert r.exit_code == 0, r.output
    fmt = preset("vhost_combined")
    assert fmt is not None
    r = runner.invoke(app, ["generate", "stream", "-n", "1", "--log-format", "$remote_addr$status"])
    assert r.exit_code == ExitCode.USAGE and "$remote_addr" in r.output
    r = runner.invoke(app, ["generate", "stream", "-n", "1", "--log-format", "combined", "--format", "json"])
    assert r.exit_code == ExitCode.USAGE
