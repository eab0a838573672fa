"""The generator's three streams describe the same requests: what the access log says failed, the nginx error
log and the application log say too, for the same request, time and client.

An hour of traffic with a bad deploy and an outage is written as JSON access records, an nginx error log and
an application log (backfill, one call per format, as `edgelog generate backfill -f json -f error -f app`
does) and joined: every 5xx has its error-log entry (same second, client and request line) and its application
ERROR (same request id, time to the millisecond, client, session and status); every application line is a
request of the access log with the same id, time, status and duration; every error-log entry is a 4xx/5xx
request of the access log.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from edgelog.generator import backfill, load_config

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ERROR_RE = re.compile(
    r'^(\S+ \S+) \[(\w+)\] \d+#\d+: \*\d+ (.*?), client: (\S+), server: \S+, request: "([^"]*)"'
    r'(?:, upstream: "([^"]*)")?, host: "[^"]*"$'
)
APP_RE = re.compile(r"^(\S+) (\w+) (\S+) (.*?) request_id=(\w+) session=(\w+) user=(\S+) client=(\S+)$")


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    out = tmp_path_factory.mktemp("streams")
    cfg = load_config(None).with_overrides(
        {"errors.bad_deploys.per_day": 24.0, "errors.bad_deploys.duration_seconds": [900, 1200],
         "errors.outages.per_day": 24.0, "errors.upstream_errors": 0.01}
    )  # fmt: skip
    lines = {}
    for fmt in ("json", "error", "app"):
        files = backfill(
            cfg, out, node="c1", start=START, duration=timedelta(hours=1), fmt=fmt, seed=4, rate=5.0
        )
        lines[fmt] = [line for p in files for line in p.read_text().splitlines()]
    return lines


def records(streams: dict[str, list[str]]) -> list[dict]:
    return [json.loads(line) for line in streams["json"]]


def test_every_5xx_is_in_the_error_log_and_the_app_log(streams: dict[str, list[str]]) -> None:
    access = records(streams)
    failed = [r for r in access if r["status"] >= 500]
    assert {r["status"] for r in failed} >= {500, 502, 503, 504}, Counter(r["status"] for r in failed)
    errors: Counter[tuple[str, str, str]] = Counter()
    for line in streams["error"]:
        m = ERROR_RE.match(line)
        assert m, line
        errors[(m[1], m[4], m[5])] += 1
    app_errors = {}
    for line in streams["app"]:
        m = APP_RE.match(line)
        if m and m[2] == "ERROR":
            app_errors[m[5]] = m
    for r in failed:
        second = datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).strftime("%Y/%m/%d %H:%M:%S")
        request = f"{r['method']} {r['path']} {r['protocol']}"
        assert errors[(second, r["remote_addr"], request)] >= 1, (r, "no error-log entry")
        m = app_errors.get(r["request_id"])
        assert m, (r, "no application ERROR")
        assert (m[1], m[8], m[6]) == (r["ts"], r["remote_addr"], r["session_id"])
        assert f"failed with {r['status']}: " in m[4]
    assert len(app_errors) == len(failed)  # and no ERROR for a request that did not fail


def test_every_app_line_is_an_access_request(streams: dict[str, list[str]]) -> None:
    by_id = {r["request_id"]: r for r in records(streams)}
    seen = 0
    for line in streams["app"]:
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
    assert seen > 1000


def test_500s_carry_a_traceback(streams: dict[str, list[str]]) -> None:
    app = streams["app"]
    heads = [i for i, line in enumerate(app) if " failed with 500: " in line]
    assert heads
    for i in heads:
        assert app[i + 1] == "Traceback (most recent call last):", app[i : i + 5]
        j = i + 1
        while j + 1 < len(app) and not app[j + 1][:4].isdigit():
            j += 1
        assert re.match(r"^\w+(Error|Exception): ", app[j]), app[i : j + 1]


def test_every_error_log_entry_is_a_failed_request(streams: dict[str, list[str]]) -> None:
    access: Counter[tuple[str, str, str]] = Counter()
    for r in records(streams):
        if r["status"] >= 400:
            second = datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).strftime("%Y/%m/%d %H:%M:%S")
            access[(second, r["remote_addr"], f"{r['method']} {r['path']} {r['protocol']}")] += 1
    for line in streams["error"]:
        m = ERROR_RE.match(line)
        assert m, line
        assert access[(m[1], m[4], m[5])] >= 1, line
    timeouts = [line for line in streams["error"] if "upstream timed out (110: Connection timed out)" in line]
    assert timeouts  # 504s are upstream timeouts
