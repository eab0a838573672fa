"""Lines written by real nginx and Apache httpd in the formats edgelog reads: every line parses exactly.

The live tests start Debian's nginx and apache2 on loopback (tests/support/servers.py), send odd requests
(escaped quotes, control and UTF-8 bytes, a binary request line, IPv6, a 4 kB URL, X-Forwarded-For chains,
proxied requests that fail over and redirect internally) and check every field of every line against what
was sent. The same checks run on the committed capture in tests/fixtures/servers, without the servers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from support.servers import APACHE_FORMATS, NGINX_FORMATS, TRUSTED, Capture, Sent, captured, write_fixture
from support.tools import REPO_ROOT, require_tool

from edgelog.logformat import LogFormat, resolve
from edgelog.logformat.codec import canonical_text, parse_line
from edgelog.logformat.realip import client_ip, parse_networks

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "servers"


def read_lines(path: Path) -> list[str]:
    """A log's lines as text; bytes that are not UTF-8 (nginx's escape=json writes them raw) kept as such."""
    return path.read_bytes().decode("utf-8", "surrogateescape").splitlines()


def expected(sent: Sent, field: str, server: str) -> str | None:
    """What the server logs for a request field: the bytes sent, or '-' when the header was absent."""
    if server == "apache" and field in sent.apache_differs:
        return sent.apache_differs[field]
    value = getattr(sent, field)
    if value is None:
        return "-"
    return canonical_text(value.encode("latin-1"))


def raw_text(value: str) -> str:
    """escape=json leaves bytes >= 0x80 raw: compare them as the bytes they are."""
    return canonical_text(value.encode("utf-8", "surrogateescape"))


def check_nginx(cap: Capture, conf: Path) -> dict[str, int]:
    """Every line of each nginx log parses with the format read from nginx.conf; fields are as sent."""
    counts: dict[str, int] = {}
    for name in ("main", "timing", "json"):
        fmt = resolve(from_path=conf, name=name)
        assert fmt is not None and fmt.name == name
        lines = read_lines(cap.nginx_logs[name])
        assert len(lines) == len(cap.nginx_sent), name
        for line, sent in zip(lines, cap.nginx_sent, strict=True):
            v = parse_line(fmt, line)
            assert v is not None, (name, sent.name, line)
            check_nginx_fields(fmt, v, sent)
        counts[f"nginx {name}"] = len(lines)
    return counts


def check_nginx_fields(fmt: LogFormat, v: dict[str, str], sent: Sent) -> None:
    json_escape = fmt.escape == "json"
    absent = "" if json_escape else "-"
    text = raw_text if json_escape else (lambda s: s)
    assert v["remote_addr"] == ("::1" if sent.family == 6 else "127.0.0.1")
    assert text(v["request"]) == (expected(sent, "request", "nginx") or ""), sent.name
    ua = expected(sent, "user_agent", "nginx")
    assert text(v["http_user_agent"]) == (absent if ua == "-" else ua), sent.name
    referer = expected(sent, "referer", "nginx")
    assert v["http_referer"] == (absent if referer == "-" else referer), sent.name
    if "http_x_forwarded_for" in v:
        xff = expected(sent, "xff", "nginx")
        assert v["http_x_forwarded_for"] == (absent if xff == "-" else xff), sent.name
    if "upstream_response_time" in v:
        times = v["upstream_response_time"]
        tries = 0 if times in ("-", "") else len(times.replace(" : ", ", ").split(", "))
        assert tries == sent.upstream_tries, (sent.name, times)
        if fmt.field("upstream_addr"):
            addrs = v["upstream_addr"]
            assert (0 if addrs in ("-", "") else len(addrs.replace(" : ", ", ").split(", "))) == tries
    if "request_id" in v:
        assert len(v["request_id"]) == 32
    if "msec" in v:
        local = datetime.strptime(v["time_local"], "%d/%b/%Y:%H:%M:%S %z")
        iso = datetime.fromisoformat(v["time_iso8601"])
        assert local == iso and int(float(v["msec"])) == int(local.timestamp())
        assert v["host"] == (sent.host.split(":")[0] if sent.host else "localhost")


def check_apache(cap: Capture, conf: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in APACHE_FORMATS:
        fmt = resolve(from_path=conf, name=name)
        assert fmt is not None
        lines = read_lines(cap.apache_logs[name])
        assert len(lines) == len(cap.apache_sent), name
        for line, sent in zip(lines, cap.apache_sent, strict=True):
            v = parse_line(fmt, line)
            assert v is not None, (name, sent.name, line)
            assert v["remote_host"] == ("::1" if sent.family == 6 else "127.0.0.1")
            for key, fld in (
                ("request", "request"),
                ("http_user_agent", "user_agent"),
                ("http_referer", "referer"),
            ):
                want = expected(sent, fld, "apache")
                if want is not None:
                    assert v[key] == want, (name, sent.name, key)
            if "http_x_forwarded_for" in v:
                assert v["http_x_forwarded_for"] == expected(sent, "xff", "apache"), sent.name
            if "request_time_us" in v:
                assert int(v["request_time_us"]) >= 0 and int(v["request_time_s"]) <= 10
            assert v["vhost"] == "localhost"
        counts[f"apache {name}"] = len(lines)
    return counts


def check_realip(cap: Capture) -> int:
    """nginx's realip module (real_ip_recursive on) and edgelog's client_ip agree on every request."""
    lines = read_lines(cap.nginx_logs["realip"])
    with_xff = [s for s in cap.nginx_sent if s.xff is not None]
    assert len(lines) == len(with_xff)
    nets = parse_networks(TRUSTED)
    fmt = resolve('$realip_remote_addr|$remote_addr|"$http_x_forwarded_for"|$request_uri')
    assert fmt is not None
    for line in lines:
        v = parse_line(fmt, line)
        assert v is not None, line
        assert client_ip(v["realip_remote_addr"], v["http_x_forwarded_for"], nets) == v["remote_addr"], line
    return len(lines)


@pytest.fixture(scope="module")
def live() -> Iterator[Capture]:
    require_tool("nginx")
    require_tool("apache2")
    with captured() as cap:
        yield cap


@pytest.mark.needs_tool("nginx", "apache2")
def test_real_nginx_lines_parse_exactly(live: Capture) -> None:
    assert live.nginx_conf is not None
    counts = check_nginx(live, live.nginx_conf)
    assert counts == {"nginx main": 30, "nginx timing": 30, "nginx json": 30}


@pytest.mark.needs_tool("nginx", "apache2")
def test_real_apache_lines_parse_exactly(live: Capture) -> None:
    assert live.apache_conf is not None
    assert check_apache(live, live.apache_conf) == {"apache vhost_combined": 28, "apache timing": 28}


@pytest.mark.needs_tool("nginx", "apache2")
def test_client_ip_agrees_with_nginx_realip(live: Capture) -> None:
    assert check_realip(live) == 11


@pytest.mark.needs_tool("nginx", "apache2")
def test_upstream_lists_hold_failover_and_internal_redirects(live: Capture) -> None:
    fmt = resolve(from_path=live.nginx_conf, name="timing")
    assert fmt is not None
    values = [parse_line(fmt, line) for line in read_lines(live.nginx_logs["timing"])[-2:]]
    assert values[0] is not None and ", " in values[0]["upstream_response_time"]
    assert values[1] is not None and " : " in values[1]["upstream_response_time"]


def fixture_capture() -> Capture:
    sent = json.loads((FIXTURE / "sent.json").read_text())
    return Capture(
        FIXTURE,
        nginx_logs={n: FIXTURE / f"nginx-{n}.log" for n in NGINX_FORMATS},
        apache_logs={n: FIXTURE / f"apache-{n}.log" for n in APACHE_FORMATS},
        nginx_conf=FIXTURE / "nginx.conf",
        apache_conf=FIXTURE / "httpd.conf",
        nginx_sent=[Sent(**s) for s in sent["nginx"]],
        apache_sent=[Sent(**s) for s in sent["apache"]],
    )


def test_committed_capture_parses_exactly() -> None:
    """The same checks on the committed capture (regenerate: python tests/support/servers.py)."""
    cap = fixture_capture()
    counts = check_nginx(cap, FIXTURE / "nginx.conf") | check_apache(cap, FIXTURE / "httpd.conf")
    assert sum(counts.values()) == 146
    assert check_realip(cap) == 11


@pytest.mark.needs_tool("nginx", "apache2")
def test_fixture_writer_round_trips(live: Capture, tmp_path: Path) -> None:
    write_fixture(live, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in FIXTURE.iterdir())
    assert str(live.directory) not in (tmp_path / "nginx.conf").read_text()
