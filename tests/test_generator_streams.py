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

import re
from datetime import UTC, datetime, timedelta

import pytest
from support.consistency import (
    check_app_lines_are_requests,
    check_error_lines_are_failed_requests,
    check_failures_in_every_stream,
    records,
)

from edgelog.generator import backfill, load_config

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


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


def test_every_5xx_is_in_the_error_log_and_the_app_log(streams: dict[str, list[str]]) -> None:
    access = records(streams["json"])
    assert {r["status"] for r in access if r["status"] >= 500} >= {500, 502, 503, 504}
    assert check_failures_in_every_stream(access, streams["error"], streams["app"]) > 100


def test_every_app_line_is_an_access_request(streams: dict[str, list[str]]) -> None:
    assert check_app_lines_are_requests(records(streams["json"]), streams["app"]) > 1000


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
    check_error_lines_are_failed_requests(records(streams["json"]), streams["error"])
    timeouts = [line for line in streams["error"] if "upstream timed out (110: Connection timed out)" in line]
    assert timeouts  # 504s are upstream timeouts
