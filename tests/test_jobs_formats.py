"""Job specs pass the log format and trusted proxies to every node's analyze, and validation checks them."""

from __future__ import annotations

import base64

import pytest

from edgelog.jobs.spec import load_spec, render_spec
from edgelog.jobs.validate import problems

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
