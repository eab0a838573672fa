"""``edgelog analyze --log-format ...``: real servers' formats through the pipeline, client_ip, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from support.tools import REPO_ROOT
from typer.testing import CliRunner

from edgelog.analysis import analyze
from edgelog.cli.main import app
from edgelog.errors import ExitCode, UsageError

runner = CliRunner()
SERVERS = REPO_ROOT / "tests" / "fixtures" / "servers"
TRUSTED = "127.0.0.0/8,::1,10.0.0.0/8,2001:db8:ffff::/48"  # as nginx's realip server in the capture


def rows(out: Path, query: str) -> list[tuple]:
    """Run SQL over the requests of a results directory's --query output."""
    return duckdb.sql(query.replace("{out}", str(out))).fetchall()


def one_log(tmp_path: Path, name: str) -> Path:
    """A copy of one captured log as a rotated file of node n1."""
    d = tmp_path / "in"
    d.mkdir(exist_ok=True)
    shutil.copyfile(SERVERS / name, d / "access-n1-20261129T234000Z.log")
    return d


def dump_query(tmp_path: Path) -> Path:
    q = tmp_path / "dump.sql"
    q.write_text(
        "SELECT line_no, ts, ip, client_ip, request, method, path, status, bytes, referer, user_agent, host,"
        " request_id, request_time_s, response_time_ms, upstream_time_s, upstream_addr, vhost, xff "
        "FROM requests ORDER BY line_no"
    )
    return q


def test_nginx_timing_format_from_its_config(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = analyze(
        [one_log(tmp_path, "nginx-timing.log")],
        out,
        log_format_from=SERVERS / "nginx.conf",
        log_format_name="timing",
        queries=[dump_query(tmp_path)],
    )
    assert result.status == "ok", result.manifest.inputs
    t = result.manifest.totals
    assert (t.lines_read, t.lines_parsed, t.lines_quarantined) == (30, 30, 0)
    assert result.manifest.inputs[0].format == "nginx:timing"
    lf = result.manifest.log_format
    assert lf is not None and (lf.name, lf.syntax) == ("timing", "nginx")
    assert "$upstream_addr" in lf.definition
    got = rows(out, "SELECT * FROM '{out}/queries/dump.parquet'")
    by_path = {r[6]: r for r in got}
    up = by_path["/up/index.html"]
    assert up[13] is not None and up[14] == pytest.approx(up[13] * 1000)
    assert up[15] is not None and up[16].count(", ") == 1  # failover: two upstreams tried
    redirect = by_path["/up404/missing"]
    assert redirect[16].count(" : ") == 1  # internal redirect: two groups
    assert by_path["/index.html"][15] is None and by_path["/index.html"][16] is None  # served by nginx itself
    assert {r[17] for r in got} == {"localhost", "shop.example.com"}
    assert all(len(r[12]) == 32 for r in got)
    assert all(r[18] is None for r in got)  # this format logs no X-Forwarded-For
    assert all(r[3] == r[2] for r in got)  # the client is the connection


def test_trusted_proxies_give_the_client_nginx_realip_gives(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = analyze(
        [one_log(tmp_path, "nginx-main.log")],
        out,
        log_format="nginx-main",
        trusted_proxies=TRUSTED,
        queries=[dump_query(tmp_path)],
    )
    assert result.status == "ok"
    assert result.manifest.trusted_proxies == TRUSTED.split(",")
    client = {r[0]: r[1] for r in rows(out, "SELECT path, client_ip FROM '{out}/queries/dump.parquet'")}
    realip = {}
    for line in (SERVERS / "nginx-realip.log").read_text().splitlines():
        _, remote, _, uri = line.split("|")
        realip[uri] = remote
    assert realip  # /x1 .. /x11, each sent with an X-Forwarded-For chain
    assert {uri: client[uri] for uri in realip} == realip
    visitors = rows(out, "SELECT count(*) FROM '{out}/reports/hosts.parquet' WHERE ip = '198.51.100.2'")
    assert visitors == [(1,)]  # hosts count the client behind the proxy, not the proxy


def test_apache_vhost_combined_and_timing(tmp_path: Path) -> None:
    for name, log in (("vhost_combined", "apache-vhost_combined.log"), ("timing", "apache-timing.log")):
        out = tmp_path / name
        result = analyze(
            [one_log(tmp_path, log)],
            out,
            log_format_from=SERVERS / "httpd.conf",
            log_format_name=name,
            queries=[dump_query(tmp_path)],
        )
        assert result.status == "ok"
        assert result.manifest.totals.lines_parsed == 28
        got = rows(out, "SELECT vhost, request_time_s, bytes, method FROM '{out}/queries/dump.parquet'")
        assert {r[0] for r in got} == {"localhost"}
        if name == "timing":  # %D microseconds
            assert all(r[1] is not None and 0 <= r[1] < 10 for r in got)
            head = [r for r in got if r[3] == "HEAD"]
            assert head and all(r[2] == 0 for r in head)  # %b writes "-" for no body


def test_json_escape_and_a_line_that_is_not_utf8(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = analyze(
        [one_log(tmp_path, "nginx-json.log")],
        out,
        log_format_from=SERVERS / "nginx.conf",
        log_format_name="json",
        queries=[dump_query(tmp_path)],
    )
    t = result.manifest.totals
    assert (t.lines_read, t.lines_parsed + t.lines_quarantined) == (30, 30)
    uas = {r[0] for r in rows(out, "SELECT user_agent FROM '{out}/queries/dump.parquet'")}
    assert 'He said "hi \\"there\\"" (test)\ttab' in uas and "Wörk ünïcode 日本" in uas


def test_definition_errors_are_usage_errors_naming_the_variable(tmp_path: Path) -> None:
    log = one_log(tmp_path, "nginx-main.log")
    cases = [
        (["--log-format", "$remote_addr$remote_user [$time_local] $status"], "$remote_addr"),
        (["--log-format", "$binary_remote_addr [$time_local] $status"], "$binary_remote_addr"),
        (["--log-format", "$remote_addr $status"], "no time field"),
        (["--log-format", "combined", "--format", "json"], "--format"),
        (["--log-format", "combined", "--log-format-from", str(SERVERS / "nginx.conf")], "exclusive"),
        (["--log-format-name", "main"], "--log-format-from"),
        (["--log-format-from", str(SERVERS / "nginx.conf"), "--log-format-name", "nope"], "nope"),
        (["--log-format", "combined", "--trusted-proxies", "10.0.0.0/99"], "10.0.0.0/99"),
    ]
    for args, needle in cases:
        r = runner.invoke(app, ["analyze", str(log), "--out", str(tmp_path / "out"), *args])
        assert r.exit_code == ExitCode.USAGE, (args, r.output)
        assert needle in r.output, (args, r.output)
        assert "Traceback" not in r.output
    # refused before any output was written (the CLI's writability check may leave --out itself, empty)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    with pytest.raises(UsageError):
        analyze([log], tmp_path / "o", log_format="$remote_addr")


def test_cli_reads_a_definition_verbatim(tmp_path: Path) -> None:
    log = one_log(tmp_path, "nginx-main.log")
    definition = (
        "'$remote_addr - $remote_user [$time_local] \"$request\" '\n"
        '\'$status $body_bytes_sent "$http_referer" \'\n\'"$http_user_agent" "$http_x_forwarded_for"\''
    )
    r = runner.invoke(
        app,
        ["analyze", str(log), "--out", str(tmp_path / "out"), "--log-format", definition,
         "--trusted-proxies", TRUSTED],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["log_format"]["definition"] == definition
    assert manifest["inputs"][0]["lines_parsed"] == 30


@pytest.mark.parametrize(
    ("definition", "good", "bad"),
    [
        ('$remote_addr [$msec] "$request" $status', "1795939200.123", "9223372036854775.807"),
        ('%h [%{sec}t] "%r" %>s', "1795939200", "9223372036854775807"),
        ('%h [%{msec}t] "%r" %>s', "1795939200123", "9223372036854775807"),
        ('%h [%{usec}t] "%r" %>s', "1795939200123456", "9223372036854775807"),
    ],
    ids=["nginx-msec", "apache-sec", "apache-msec", "apache-usec"],
)
def test_an_epoch_time_out_of_range_is_one_bad_line_not_a_failed_file(
    tmp_path: Path, definition: str, good: str, bad: str
) -> None:
    """A time field DuckDB cannot hold (seconds or milliseconds past the year 9999) used to raise a conversion
    error that failed the whole file; it is one quarantined line, and the file's other lines count."""
    d = tmp_path / "in"
    d.mkdir()
    lines = [f'10.0.0.1 [{t}] "GET /p HTTP/1.1" 200' for t in (good, bad, good)]
    (d / "access-n1-20261123T080500Z.log").write_text("\n".join(lines) + "\n")
    result = analyze([d], tmp_path / "out", log_format=definition)
    (entry,) = result.manifest.inputs
    assert result.status == "ok", entry.error
    assert (entry.status, entry.lines_parsed, entry.lines_quarantined) == ("ok", 2, 1), entry
