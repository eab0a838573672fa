"""nginx error logs into ``errors``: every line of a real nginx's error log parses exactly.

The lines come from Debian's nginx, started on loopback with a private config and provoked into each kind of
error (tests/support/nginx_errors.py): the committed capture in tests/fixtures/nginx-errors runs everywhere, a
fresh capture where nginx is installed. Each line is compared field by field with an independent reference
parser written here (it splits the context from the right, where the SQL matches one regex from the left),
and each provocation's expected entries must be there, in order.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.nginx_errors import Capture, captured, read_fixture
from support.streams import ALL, load_stream
from support.tools import REPO_ROOT, require_tool

from edgelog.analysis.library import install_macros, load_macros
from edgelog.analysis.workspace import workspace

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "nginx-errors"
FIELDS = ("message", "client", "server", "request", "subrequest", "upstream", "host", "referrer")
LEVELS = {"debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"}


def load(path: Path, window: tuple[str, str] = ALL) -> dict[str, Any]:
    return load_stream(path, "error", window)


# --- the reference parser ---------------------------------------------------------------------------------

HEAD = re.compile(rb"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[")
STREAM_TAIL = re.compile(r", bytes from/to client:\d+/\d+, bytes from/to upstream:\d+/\d+$")


def as_text(raw: bytes) -> str:
    """A line's bytes as text: UTF-8 where valid, other bytes and NUL as \\xHH (what edgelog promises)."""
    text = raw.decode("utf-8", "surrogateescape").replace("\x00", "\\x00")
    return re.sub(r"[\udc80-\udcff]", lambda m: f"\\x{ord(m.group()) - 0xDC00:02X}", text)


def reference_entries(data: bytes) -> list[dict[str, Any]]:
    """Entries of an error log: header fields, then the context taken off the end key by key."""
    entries: list[dict[str, Any]] = []
    for no, raw in enumerate(data.split(b"\n")[:-1], start=1):
        raw = raw.removesuffix(b"\r")
        if not HEAD.match(raw):
            assert entries, f"line {no} continues nothing"
            entries[-1]["body"] += "\n" + as_text(raw)
            continue
        text = as_text(raw)
        stamp, rest = text[:19], text[20:]
        level, rest = rest[1:].split("] ", 1)
        ids, rest = rest.split(": ", 1)
        pid, tid = ids.split("#")
        cid = None
        if rest.startswith("*"):
            cid_text, rest = rest[1:].split(" ", 1)
            cid = int(cid_text)
        entries.append(
            {
                "line_no": no,
                "ts": datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC),
                "level": level,
                "pid": int(pid),
                "tid": int(tid),
                "cid": cid,
                "body": rest,
            }
        )
    for e in entries:
        e.update(reference_context(e.pop("body")))
    return entries


def reference_context(body: str) -> dict[str, str | None]:
    fields: dict[str, str | None] = dict.fromkeys(FIELDS)
    rest = STREAM_TAIL.sub("", body) if "client: " in body else body
    for key in ("referrer", "host", "upstream", "subrequest", "request"):
        marker = f', {key}: "'
        at = rest.rfind(marker)
        if rest.endswith('"') and at >= 0 and ", server: " in rest[:at]:
            fields[key] = rest[at + len(marker) : -1] or None
            rest = rest[:at]
    at = rest.rfind(", server: ")
    client_at, marker = -1, ""
    for marker in (", client: ", ", udp client: "):
        client_at = rest.rfind(marker, 0, at) if at >= 0 else -1
        if client_at >= 0:
            break
    if client_at >= 0 and "," not in rest[at + 10 :]:
        fields["server"] = rest[at + 10 :] or None
        fields["client"] = rest[client_at + len(marker) : at] or None
        rest = rest[:client_at]
    else:
        fields.update(dict.fromkeys(("request", "subrequest", "upstream", "host", "referrer")))
        rest = body
    fields["message"] = rest
    return fields


# --- checks shared by the committed capture and a live run ------------------------------------------------


def check_capture(cap: Capture) -> dict[str, Any]:
    data = cap.error_log.read_bytes()
    got = load(cap.error_log)
    n_lines = data.count(b"\n")
    counts = got["counts"]
    assert (counts.lines_read, counts.lines_parsed, counts.lines_quarantined) == (n_lines, n_lines, 0)
    assert got["quarantine"] == []
    expected = reference_entries(data)
    rows = got["rows"]
    assert [r["line_no"] for r in rows] == [e["line_no"] for e in expected]
    for row, ref in zip(rows, expected, strict=True):
        for key, value in ref.items():
            assert row[key] == value, (row["line_no"], key, row[key], value)
    # Every provocation's entries, in order, with exact fields.
    at = 0
    for case in cap.cases:
        for want in case.expect:
            want = {k: cap.substitute(v) if isinstance(v, str) else v for k, v in want.items()}
            while at < len(rows) and not all(rows[at].get(k) == v for k, v in want.items()):
                at += 1
            assert at < len(rows), (case.name, want)
            row = rows[at]
            assert {k: row[k] for k in FIELDS if k not in want} == dict.fromkeys(
                k for k in FIELDS if k not in want
            )
            assert row["cid"] is not None and row["module"] and row["pattern"], case.name
            at += 1
    assert {r["level"] for r in rows} == LEVELS
    return got


def test_the_committed_real_nginx_capture_parses_exactly() -> None:
    got = check_capture(read_fixture(FIXTURE))
    rows = {r["line_no"]: r for r in got["rows"]}
    lines = got["lines"]
    # The debug log's proxied request header block is one entry of several lines, blank line included.
    multi = [r for r in got["rows"] if "\n" in r["message"]]
    assert multi and all(r["level"] == "debug" for r in multi)
    block = next(r for r in multi if r["message"].startswith("http proxy header:"))
    assert block["message"].splitlines()[1] == '"GET /debug HTTP/1.0'
    continuation = [x for x in lines if x["continuation"]]
    assert continuation and all(x["reason"] is None for x in continuation)
    assert len(rows) + len(continuation) == len(lines)
    # Lines without a connection: no cid, no client context, module core.
    emerg = next(r for r in got["rows"] if r["level"] == "emerg")
    assert emerg["cid"] is None and emerg["client"] is None
    assert emerg["message"] == 'unknown directive "no_such_directive" in /srv/edgelog-test/broken.conf:2'
    assert emerg["module"] == "core" and emerg["pattern"] == 'unknown directive "<str>" in <path>'
    alert = next(r for r in got["rows"] if r["level"] == "alert")
    assert alert["pattern"] == "worker process <n> exited on signal <n>"
    by_module = {r["module"] for r in got["rows"]}
    assert {
        "upstream",
        "static",
        "access",
        "limit_req",
        "auth_basic",
        "auth_request",
        "client",
        "rewrite",
    } <= (by_module)
    refused = [r for r in got["rows"] if r["message"].startswith("connect() failed (111")]
    assert {r["pattern"] for r in refused} == {
        "connect() failed (<n>: Connection refused) while connecting to upstream"
    }


@pytest.mark.needs_tool("nginx")
def test_a_live_real_nginx_error_log_parses_exactly() -> None:
    require_tool("nginx")
    with captured() as cap:
        check_capture(cap)


# --- the grammar's corners, line by line ------------------------------------------------------------------


def write(tmp_path: Path, data: bytes, name: str = "error.log", gz: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


HTTP = (
    b"2026/11/23 08:00:01 [error] 23#23: *452 connect() failed (111: Connection refused) while connecting to "
    b'upstream, client: 10.0.0.1, server: shop.example.com, request: "GET /checkout HTTP/2.0", upstream: '
    b'"http://10.0.2.15:8080/checkout", host: "shop.example.com"\n'
)


@pytest.fixture(params=[False, True], ids=["plain", "gzip"])
def gz(request: pytest.FixtureRequest) -> Iterator[bool]:
    yield request.param


def test_fields_of_an_upstream_failure(tmp_path: Path, gz: bool) -> None:
    got = load(write(tmp_path, HTTP, gz=gz))
    (row,) = got["rows"]
    assert row["ts"] == datetime(2026, 11, 23, 8, 0, 1, tzinfo=UTC)
    assert (row["level"], row["pid"], row["tid"], row["cid"]) == ("error", 23, 23, 452)
    assert row["message"] == "connect() failed (111: Connection refused) while connecting to upstream"
    assert (row["client"], row["server"], row["request"]) == (
        "10.0.0.1",
        "shop.example.com",
        "GET /checkout HTTP/2.0",
    )
    assert (row["upstream"], row["host"], row["referrer"], row["subrequest"]) == (
        "http://10.0.2.15:8080/checkout",
        "shop.example.com",
        None,
        None,
    )
    assert (row["node_id"], row["file"], row["line_no"], row["module"]) == ("n1", "error.log", 1, "upstream")


def test_variations_of_the_context(tmp_path: Path) -> None:
    lines = [
        # stream module (TCP and UDP): server is an address, byte counts end the line
        b"2026/11/23 08:00:02 [error] 7#7: *3 connect() failed (111: Connection refused) while connecting to "
        b'upstream, client: 10.0.0.2, server: 0.0.0.0:5353, upstream: "10.0.9.9:53", bytes from/to '
        b"client:0/0, bytes from/to upstream:0/0",
        b"2026/11/23 08:00:03 [info] 7#7: *4 udp timed out, packets from/to client:1/0, bytes from/to "
        b"client:40/0, bytes from/to upstream:0/40, udp client: 10.0.0.3, server: 0.0.0.0:5353, upstream: "
        b'"10.0.9.9:53", bytes from/to client:40/0, bytes from/to upstream:0/40',
        # IPv6 client, referrer, no host
        b'2026/11/23 08:00:04 [error] 7#7: *5 open() "/srv/a b.png" failed (2: No such file or directory), '
        b'client: 2001:db8::1, server: _, request: "GET /a%20b.png HTTP/1.1", referrer: "https://x.example/"',
        # a message that itself holds ", client: " (not followed by a context)
        b"2026/11/23 08:00:05 [warn] 7#7: *6 odd, client: says hi",
        # a connection without a request: server is the listening address
        b"2026/11/23 08:00:06 [info] 7#7: *7 client closed connection while waiting for request, client: "
        b"10.0.0.4, server: 0.0.0.0:80",
        # mail module's context: not the http grammar, the message keeps it
        b"2026/11/23 08:00:07 [info] 7#7: *8 client login failed, client: 10.0.0.5, server: 0.0.0.0:25, "
        b'login: "a"',
    ]
    got = load(write(tmp_path, b"\n".join(lines) + b"\n"))
    rows = got["rows"]
    assert got["counts"].lines_quarantined == 0 and len(rows) == 6
    tcp, udp, v6, odd, idle, mail = rows
    assert (tcp["server"], tcp["upstream"], tcp["message"]) == (
        "0.0.0.0:5353",
        "10.0.9.9:53",
        "connect() failed (111: Connection refused) while connecting to upstream",
    )
    assert (udp["client"], udp["upstream"]) == ("10.0.0.3", "10.0.9.9:53")
    assert udp["message"].startswith("udp timed out, packets from/to client:1/0")
    assert (v6["client"], v6["server"], v6["request"], v6["host"], v6["referrer"]) == (
        "2001:db8::1",
        "_",
        "GET /a%20b.png HTTP/1.1",
        None,
        "https://x.example/",
    )
    assert (odd["message"], odd["client"]) == ("odd, client: says hi", None)
    assert (idle["client"], idle["server"], idle["request"]) == ("10.0.0.4", "0.0.0.0:80", None)
    assert mail["client"] is None and mail["message"].endswith('login: "a"')
    for row in rows:
        ref = reference_context(row_body(lines[row["line_no"] - 1]))
        assert {k: row[k] for k in FIELDS} == ref, row["line_no"]


def row_body(line: bytes) -> str:
    text = line.decode()
    rest = text.split("] ", 1)[1].split(": ", 1)[1]
    return rest.split(" ", 1)[1] if rest.startswith("*") else rest


def test_every_line_is_accounted_for(tmp_path: Path) -> None:
    data = (
        b"a stray line before any entry\n"
        b"\n" + HTTP + b"  a continuation of the entry above\n"
        b"2026/11/23 08:00:09 [bogus] 1#1: an unknown level\n"
        b"  continues the quarantined line\n"
        b"2026/13/45 08:00:09 [error] 1#1: no such date\n"
        b"2026/11/23 08:00:10 [ERROR] 1#1: upper-case level is not nginx's\n"
        b"2026/11/23 08:00:11 [error] x#1: no pid\n"
        b"2026/11/23 08:00:12 [notice] 1#1: signal process started\n"
    )
    got = load(write(tmp_path, data))
    reasons = {q["line_no"]: q["reason"] for q in got["quarantine"]}
    assert reasons == {
        1: "not an nginx error-log line",
        2: "empty line",
        5: "unknown level: bogus",
        6: "continues a quarantined line (5)",
        7: "bad timestamp: 2026/13/45 08:00:09",
        8: "not an nginx error-log line",
        9: "not an nginx error-log line",
    }
    c = got["counts"]
    assert (c.lines_read, c.lines_parsed, c.lines_quarantined) == (10, 3, 7)
    assert [r["line_no"] for r in got["rows"]] == [3, 10]
    # nginx puts the context at the end of an entry: after a foreign continuation line there is none.
    assert got["rows"][0]["message"].endswith("\n  a continuation of the entry above")
    assert got["rows"][0]["client"] is None
    assert got["quarantine"][0]["raw"] == "a stray line before any entry"


def test_multi_line_entries_take_the_context_from_their_end(tmp_path: Path) -> None:
    data = (
        b'2026/11/23 08:00:01 [error] 9#9: *1 FastCGI sent in stderr: "PHP message: PHP Warning:  oops\n'
        b"PHP message: PHP Stack trace:\n"
        b'PHP message: #0 {main}" while reading response header from upstream, client: 10.0.0.1, server: '
        b'shop, request: "GET /index.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/fpm.sock:", '
        b'host: "shop"\n'
    )
    got = load(write(tmp_path, data))
    (row,) = got["rows"]
    assert row["message"] == (
        'FastCGI sent in stderr: "PHP message: PHP Warning:  oops\nPHP message: PHP Stack trace:\n'
        'PHP message: #0 {main}" while reading response header from upstream'
    )
    assert (row["client"], row["upstream"], row["host"]) == (
        "10.0.0.1",
        "fastcgi://unix:/run/php/fpm.sock:",
        "shop",
    )
    assert row["pattern"] == 'FastCGI sent in stderr: "PHP message: PHP Warning:  oops'
    assert got["counts"].lines_parsed == 3 and got["counts"].lines_quarantined == 0


def test_raw_bytes_nginx_writes_are_escaped_not_lost(tmp_path: Path) -> None:
    data = (
        b"2026/11/23 08:00:01 [info] 9#9: *1 client sent invalid method while reading client request line, "
        b'client: 10.0.0.1, server: shop, request: "\x16\x03\x01\x00\x05\xff"\r\n'
        b'2026/11/23 08:00:02 [error] 9#9: *2 open() "/srv/caf\xc3\xa9\xe9.png" failed (2: No such file or '
        b'directory), client: 10.0.0.1, server: shop, request: "GET /caf\xc3\xa9\xe9.png HTTP/1.1", '
        b'host: "shop"\n'
        b"2026/11/23 08:00:03 [info] 9#9: *3 a bare\rcarriage return\n"
    )
    got = load(write(tmp_path, data))
    assert got["counts"].lines_quarantined == 0
    tls, cafe, cr = got["rows"]
    assert tls["request"] == "\x16\x03\x01\\x00\x05\\xFF"
    assert cafe["request"] == "GET /café\\xE9.png HTTP/1.1"
    assert cr["message"] == "a bare\\x0Dcarriage return"
    assert [r["line_no"] for r in got["rows"]] == [1, 2, 3]


def test_an_entry_is_in_the_window_by_its_time(tmp_path: Path) -> None:
    data = HTTP + b"  continued\n" + HTTP.replace(b"08:00:01", b"09:00:00")
    got = load(
        write(tmp_path, data),
        window=("'2026-11-23T08:30:00Z'::TIMESTAMPTZ", "'2026-11-23T10:00:00Z'::TIMESTAMPTZ"),
    )
    c = got["counts"]
    assert (c.lines_read, c.lines_parsed, c.lines_outside_window) == (3, 3, 2)
    assert [r["line_no"] for r in got["rows"]] == [3]
    assert c.first_ts == c.last_ts == "2026-11-23T09:00:00.000Z"


def test_message_patterns_and_modules() -> None:
    cases = {
        'open() "/srv/www/img/p-17.jpg" failed (2: No such file or directory)': (
            'open() "<path>" failed (<n>: No such file or directory)',
            "static",
        ),
        "upstream timed out (110: Connection timed out) while reading response header from upstream": (
            "upstream timed out (<n>: Connection timed out) while reading response header from upstream",
            "upstream",
        ),
        "a client request body is buffered to a temporary file /var/lib/nginx/body/0000000001": (
            "a client request body is buffered to a temporary file <path>",
            "http",
        ),
        "GET /search?q=red+shoes -> 200 in 58.8ms": ("GET <path> -> <n> in <n>ms", "http"),
        "payment authorized amount=123.45 EUR order=482913": (
            "payment authorized amount=<n> EUR order=<n>",
            "http",
        ),
        "session 0123456789abcdef0123 expired for 10.1.2.3:443 via https://a.example/x?y=1": (
            "session <id> expired for <ip> via <url>",
            "http",
        ),
        'limiting requests, excess: 20.500 by zone "api"': (
            'limiting requests, excess: <n> by zone "<str>"',
            "limit_req",
        ),
        "worker process 123 exited on signal 9": ("worker process <n> exited on signal <n>", "core"),
    }
    with workspace() as w:
        install_macros(w.con, load_macros(), None)
        for message, (pattern, module) in cases.items():
            got = w.con.execute(
                "SELECT edgelog_message_pattern(?), edgelog_error_module(?, NULL, 1)", [message, message]
            ).fetchone()
            assert got == (pattern, module), message
