"""The application log into ``app_events``: the generator's app format (docs/design.md) parses exactly.

Each line of generated traffic is compared field by field with a reference parser written here with Python's
string methods; a traceback under an ERROR line is part of its entry; other lines are quarantined with a
reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.streams import load_stream

from edgelog.generator import backfill, load_config

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CONTEXT = ("request_id", "session", "user", "client")


def reference(line: str) -> dict[str, Any]:
    """One app-log line by hand: time, level, service, then the message and its trailing key=value pairs."""
    stamp, level, service, rest = line.split(" ", 3)
    words = rest.split(" ")
    ctx: dict[str, str] = {}
    while words and "=" in words[-1] and words[-1].split("=", 1)[0] in CONTEXT:
        key, value = words.pop().split("=", 1)
        ctx[key] = value
    message = " ".join(words)
    first = message.split(" ")
    method = first[0] if len(first) > 1 and first[0].isupper() and first[1].startswith("/") else None
    status = None
    for marker in ("-> ", "failed with ", "status="):
        if marker in message:
            status = int(message.split(marker, 1)[1][:3])
            break
    duration = None
    if " in " in message and message.endswith("ms"):
        duration = float(message.rsplit(" in ", 1)[1][:-2])
    return {
        "ts": datetime.fromisoformat(stamp.replace("Z", "+00:00")),
        "level": level,
        "service": service,
        "message": message,
        "method": method,
        "path": first[1] if method else None,
        "status": status,
        "duration_ms": duration,
        "request_id": ctx.get("request_id"),
        "session_id": ctx.get("session"),
        "user_id": None if ctx.get("user") in (None, "-") else ctx["user"],
        "client": ctx.get("client"),
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty minutes of the generator's application log with a bad deploy (ERROR lines) in them."""
    out = tmp_path_factory.mktemp("app")
    cfg = load_config(None).with_overrides({"errors.bad_deploys.per_day": 24.0})
    files = backfill(cfg, out, node="n1", start=START, duration=timedelta(minutes=20), fmt="app", seed=5)
    path = out / "app.log"
    path.write_text("".join(p.read_text() for p in files))
    return path


def test_every_generated_line_parses_exactly(generated: Path) -> None:
    lines = generated.read_text().splitlines()
    got = load_stream(generated, "app")
    c = got["counts"]
    assert (c.lines_read, c.lines_parsed, c.lines_quarantined) == (len(lines), len(lines), 0)
    entries: list[tuple[str, list[str]]] = []  # (first line, traceback lines under it)
    for line in lines:
        if line[:4].isdigit():
            entries.append((line, []))
        else:
            entries[-1][1].append(line)
    rows = got["rows"]
    assert len(rows) == len(entries)
    for row, (line, more) in zip(rows, entries, strict=True):
        want = reference(line)
        want["message"] = "\n".join([want["message"], *more])
        for key, value in want.items():
            assert row[key] == value, (row["line_no"], key, row[key], value, line)
    assert any(more for _, more in entries)  # the bad deploy's tracebacks are there
    levels = {r["level"] for r in rows}
    assert {"DEBUG", "INFO", "WARN", "ERROR"} <= levels
    assert {r["service"] for r in rows} >= {"web", "api", "search", "cart", "payments", "auth"}
    errors = [r for r in rows if r["level"] == "ERROR"]
    assert errors and all(r["status"] >= 500 and r["request_id"] for r in errors)
    patterns = {r["pattern"] for r in rows}
    assert "GET <path> -> <n> in <n>ms" in patterns
    assert len(patterns) < 40, sorted(patterns)


def test_tracebacks_continue_their_entry_and_strays_are_quarantined(tmp_path: Path) -> None:
    text = (
        "stray text before any entry\n"
        "2026-11-23T08:00:00.123Z ERROR payments POST /checkout/payment failed with 500: unhandled exception "
        "request_id=aa session=bb user=alice client=10.0.0.1\n"
        "Traceback (most recent call last):\n"
        '  File "/srv/shop/payments.py", line 88, in authorize\n'
        "KeyError: 'card'\n"
        "2026-11-23T08:00:01+01:00 WARNING auth login rejected status=401 request_id=cc user=- client=::1\n"
        "2026-11-23T08:00:02.5Z LOUD web shouting\n"
        "  continues the quarantined line\n"
        "2026-11-23T25:00:00Z INFO web no such hour\n"
        "23/Nov/2026 08:00:03 INFO web not our time format\n"
        "2026-11-23T08:00:04Z INFO web-1 started\n"
    )
    path = tmp_path / "app.log"
    path.write_text(text)
    got = load_stream(path, "app")
    assert {q["line_no"]: q["reason"] for q in got["quarantine"]} == {
        1: "not an application-log line",
        7: "unknown level: LOUD",
        8: "continues a quarantined line (7)",
        9: "bad timestamp: 2026-11-23T25:00:00Z",
        10: "continues a quarantined line (9)",
    }
    c = got["counts"]
    assert (c.lines_read, c.lines_parsed, c.lines_quarantined) == (11, 6, 5)
    error, warning, started = got["rows"]
    assert error["message"] == (
        "POST /checkout/payment failed with 500: unhandled exception\nTraceback (most recent call last):\n"
        '  File "/srv/shop/payments.py", line 88, in authorize\n'
        "KeyError: 'card'"
    )
    assert (error["status"], error["request_id"], error["user_id"], error["client"]) == (
        500,
        "aa",
        "alice",
        "10.0.0.1",
    )
    assert (error["method"], error["path"], error["pattern"]) == (
        "POST",
        "/checkout/payment",
        "POST <path> failed with <n>: unhandled exception",
    )
    assert warning["ts"] == datetime(2026, 11, 23, 7, 0, 1, tzinfo=UTC)
    assert (warning["level"], warning["status"], warning["user_id"], warning["client"]) == (
        "WARNING",
        401,
        None,
        "::1",
    )
    assert (started["service"], started["message"], started["request_id"]) == ("web-1", "started", None)


def test_the_sniffer_tells_the_streams_apart() -> None:
    from edgelog.analysis.streams import sniff

    assert sniff("2026/11/23 08:00:01 [error] 23#23: *452 connect() failed") == "error"
    assert sniff("2026/11/23 08:00:01 [notice] 1#1: signal process started") == "error"
    assert sniff("2026-11-23T08:00:00.484Z INFO web GET / -> 200 in 41.9ms request_id=x") == "app"
    assert sniff('10.0.0.1 - - [23/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"') is None
    assert sniff('{"ts":"2026-11-23T08:00:00.000Z"}') is None
