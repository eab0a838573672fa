"""Join the generator's three streams of the same traffic (JSON access records, nginx error log, app log).

Each check asserts one direction of "the streams describe the same requests"; backfill and live tests both
use them, so the two modes are held to the same contract.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

ERROR_RE = re.compile(
    r'^(\S+ \S+) \[(\w+)\] \d+#\d+: \*\d+ (.*?), client: (\S+), server: \S+, request: "([^"]*)"'
    r'(?:, upstream: "([^"]*)")?, host: "[^"]*"$'
)
APP_RE = re.compile(r"^(\S+) (\w+) (\S+) (.*?) request_id=(\w+) session=(\w+) user=(\S+) client=(\S+)$")


def records(json_lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in json_lines]


def _key(r: dict[str, Any]) -> tuple[str, str, str]:
    """(error-log time, client, request line) of an access record."""
    second = datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).strftime("%Y/%m/%d %H:%M:%S")
    return second, r["remote_addr"], f"{r['method']} {r['path']} {r['protocol']}"


def check_failures_in_every_stream(access: list[dict[str, Any]], error: list[str], app: list[str]) -> int:
    """Every 5xx has its error-log entry and exactly one app ERROR; no ERROR for anything else. Returns
    the number of 5xx."""
    errors: Counter[tuple[str, str, str]] = Counter()
    for line in error:
        m = ERROR_RE.match(line)
        assert m, line
        errors[(m[1], m[4], m[5])] += 1
    app_errors = {}
    for line in app:
        m = APP_RE.match(line)
        if m and m[2] == "ERROR":
            app_errors[m[5]] = m
    failed = [r for r in access if r["status"] >= 500]
    for r in failed:
        assert errors[_key(r)] >= 1, (r, "no error-log entry")
        m = app_errors.get(r["request_id"])
        assert m, (r, "no application ERROR")
        assert (m[1], m[8], m[6]) == (r["ts"], r["remote_addr"], r["session_id"])
        assert f"failed with {r['status']}: " in m[4]
    assert len(app_errors) == len(failed)
    return len(failed)


def check_app_lines_are_requests(access: list[dict[str, Any]], app: list[str]) -> int:
    """Every app entry is an access request with the same id, time, client, session, status and duration."""
    by_id = {r["request_id"]: r for r in access}
    seen = 0
    for line in app:
        m = APP_RE.match(line)
        if not m:
            assert not line[:4].isdigit(), f"an entry the test cannot read: {line}"
            continue  # a traceback line under an ERROR
        r = by_id[m[5]]
        seen += 1
        assert (m[1], m[8], m[6]) == (r["ts"], r["remote_addr"], r["session_id"]), line
        assert m[4].startswith(f"{r['method']} {r['path']} ") or m[3] in ("auth", "payments"), line
        status = re.search(r"(?:-> |failed with |status=)(\d{3})", m[4])
        if status:
            assert int(status[1]) == r["status"], line
        took = re.search(r" in (\d+\.\d)ms$", m[4])
        if took:
            assert float(took[1]) == pytest.approx(r["response_time_ms"], abs=0.051), line
    return seen


def check_error_lines_are_failed_requests(access: list[dict[str, Any]], error: list[str]) -> None:
    """Every error-log entry is a 4xx/5xx request of the access log (same second, client, request line)."""
    failed = Counter(_key(r) for r in access if r["status"] >= 400)
    for line in error:
        m = ERROR_RE.match(line)
        assert m, line
        assert failed[(m[1], m[4], m[5])] >= 1, line
