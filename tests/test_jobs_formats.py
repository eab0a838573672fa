"""Job specs pass the log format and trusted proxies to every node's analyze, and validation checks them."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.errors import ExitCode
from edgelog.jobs.spec import load_spec, render_spec
from edgelog.jobs.validate import problems
from edgelog.logformat import LogFormat, resolve

runner = CliRunner()
SERVERS = Path(__file__).parent / "fixtures" / "servers"

BASE = {"bucket": "b", "image": "edgelog-job:1"}
NGINX_MAIN = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" "$http_x_forwarded_for"'
)
SPECS = ["access-log-report", "access-log-report-batch", "adhoc-query"]


def task(name: str, extra: dict[str, str]) -> dict:
    variables = {**BASE, **extra}
    if name == "access-log-report-batch":
        variables["region"] = "us-east1"
    if name == "adhoc-query":
        variables["sql_b64"] = base64.b64encode(b"SELECT 1").decode()
    spec = load_spec(name, variables)
    return spec.job["Tasks"][0]


@pytest.mark.parametrize("name", SPECS)
def test_presets_definitions_and_trusted_proxies_reach_analyze(name: str) -> None:
    t = task(name, {"log_format": NGINX_MAIN, "trusted_proxies": "35.191.0.0/16,130.211.0.0/22"})
    params = t["Engine"]["Params"]["Parameters"]
    assert params[params.index("--log-format") + 1] == NGINX_MAIN  # single-quoted YAML keeps it verbatim
    assert params[params.index("--trusted-proxies") + 1] == "35.191.0.0/16,130.211.0.0/22"
    plain = task(name, {})["Engine"]["Params"]["Parameters"]
    assert "--log-format" not in plain and "--trusted-proxies" not in plain


@pytest.mark.parametrize("name", SPECS)
def test_a_config_file_travels_inline(name: str) -> None:
    conf = (
        b"http {\n  log_format main escape=json "
        b'\'{"ip":"$remote_addr","t":"$time_iso8601","s":$status}\';\n}\n'
    )
    t = task(name, {"log_format_b64": base64.b64encode(conf).decode(), "log_format_name": "main"})
    params = t["Engine"]["Params"]["Parameters"]
    assert params[params.index("--log-format-from") + 1] == "/edgelog/log-format"
    assert params[params.index("--log-format-name") + 1] == "main"
    inline = [s for s in t["InputSources"] if s["Target"] == "/edgelog/log-format"]
    assert base64.b64decode(inline[0]["Source"]["Params"]["URL"].split(",", 1)[1]) == conf


def test_validation_names_a_broken_log_format_or_proxy_list() -> None:
    def found(extra: dict[str, str]) -> list[str]:
        return [str(p) for p in problems(render_spec("access-log-report", {**BASE, **extra}).job)]

    assert found({"log_format": "nginx-main", "trusted_proxies": "10.0.0.0/8"}) == []
    bad = found({"log_format": "$remote_addr$remote_user [$time_local] $status"})
    assert any("$remote_addr and $remote_user" in p for p in bad), bad
    bad = found({"log_format_b64": base64.b64encode(b"log_format x '$remote_addr $status';").decode()})
    assert any("no time field" in p for p in bad), bad
    bad = found({"trusted_proxies": "10.0.0.0/40"})
    assert any("10.0.0.0/40" in p for p in bad), bad


def _analyze_format(rendered_yaml: str) -> LogFormat | None:
    """The log format the rendered spec's analyze task would read, resolved as the job resolves it."""
    job = yaml.safe_load(rendered_yaml)
    t = job["Tasks"][0]
    params = t["Engine"]["Params"]["Parameters"]
    if "--log-format" in params:
        return resolve(params[params.index("--log-format") + 1])
    if "--log-format-from" in params:
        inline = [s for s in t.get("InputSources", []) if s["Target"] == "/edgelog/log-format"]
        text = base64.b64decode(inline[0]["Source"]["Params"]["URL"].split(",", 1)[1]).decode()
        name = params[params.index("--log-format-name") + 1] if "--log-format-name" in params else None
        return resolve(text, None, None) if name is None else None
    return None


@pytest.mark.parametrize("name", ["main", "timing", "json"])
def test_job_cli_reads_the_definition_from_a_server_config(name: str, tmp_path: Path) -> None:
    """`job render --log-format-from nginx.conf --log-format-name X` hands the job exactly that definition.

    The config is read here (includes and all), so the nodes need not have it; a definition with quotes
    travels as an inline file.
    """
    want = resolve(None, SERVERS / "nginx.conf", name)
    args = ["job", "render", "access-log-report", "-V", "bucket=b", "-V", "image=edgelog-job:1"]
    r = runner.invoke(
        app, [*args, "--log-format-from", str(SERVERS / "nginx.conf"), "--log-format-name", name]
    )
    assert r.exit_code == 0, r.output
    got = _analyze_format(r.output)
    assert got is not None and want is not None
    assert (got.items, got.escape) == (want.items, want.escape)


def test_job_cli_log_format_options_and_errors() -> None:
    args = ["job", "render", "access-log-report", "-V", "bucket=b", "-V", "image=edgelog-job:1"]
    r = runner.invoke(app, [*args, "--log-format", "vhost_combined", "--trusted-proxies", "10.0.0.0/8"])
    assert r.exit_code == 0, r.output
    got = _analyze_format(r.output)
    assert got is not None and got.name == "vhost_combined"
    assert "--trusted-proxies" in r.output and "10.0.0.0/8" in r.output
    for bad, needle in (
        (["--log-format", "$remote_addr$remote_user [$time_local] $status"], "$remote_user"),
        (["--log-format-name", "main"], "--log-format-from"),
        (["--log-format-from", str(SERVERS / "nginx.conf"), "--log-format-name", "nope"], "nope"),
        (["--log-format", "combined", "-V", "log_format=common"], "log_format"),
        (["--trusted-proxies", "10.0.0.0/99"], "10.0.0.0/99"),
    ):
        r = runner.invoke(app, [*args, *bad])
        assert r.exit_code == ExitCode.USAGE, (bad, r.output)
        assert needle in r.output, (bad, r.output)
        assert "Traceback" not in r.output
