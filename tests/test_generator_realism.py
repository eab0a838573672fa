"""The generator measured against what real servers log: distributions within documented bands.

One seeded hour of default traffic (JSON records, ~70k lines, about a second) is read as an operator would
read it and its distributions are compared with the bands in ``BANDS``. Each band is documented, with its
source, in docs/generator.md ("Realism"); ``test_bands_are_documented`` keeps the two in step.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edgelog.generator import backfill, load_config

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday morning: ordinary weekday traffic
HASHED_ASSET = re.compile(r"\.[0-9a-f]{8}\.(?:css|js|woff2)$")
CRAWLER_TOKENS = ("bot", "crawler", "spider", "facebookexternalhit", "slurp")

# metric -> (low, high), inclusive. Sources and reasoning per band: docs/generator.md, "Realism".
BANDS: dict[str, tuple[float, float]] = {
    # status mix, share of all requests
    "status_2xx": (0.85, 0.98),
    "status_304": (0.0, 0.05),
    "status_4xx": (0.005, 0.06),
    "status_5xx": (0.0, 0.01),  # an hour without an outage window
    # static assets (css, js, fonts, images) as a share of all requests
    "asset_share": (0.30, 0.75),
    # a content-hashed asset fetched at most once per session (max requests of one (session, asset))
    "hashed_asset_max_per_session": (1, 1),
    # protocol, share of all requests
    "proto_http2": (0.55, 0.90),
    "proto_http3": (0.03, 0.30),
    "proto_http1": (0.03, 0.30),
    # methods, share of all requests
    "method_get": (0.85, 0.99),
    "method_post": (0.003, 0.06),
    "method_put": (0.0001, 0.01),
    "method_patch": (0.0001, 0.01),
    "method_delete": (0.0001, 0.01),
    "method_options": (0.0001, 0.02),
    # browser families and device class, share of human sessions
    "ua_chrome": (0.55, 0.75),
    "ua_safari": (0.10, 0.25),
    "ua_edge": (0.02, 0.10),
    "ua_firefox": (0.01, 0.06),
    "ua_samsung": (0.01, 0.05),
    "ua_mobile": (0.50, 0.72),
    # automated clients (crawlers and scanners), share of all requests
    "bot_request_share": (0.05, 0.50),
    # human sessions per client address over the hour
    "ip_one_session_share": (0.60, 0.95),
    "ip_max_sessions": (8, 200),
    "distinct_ips_per_session": (0.60, 0.95),
    # navigation
    "pages_per_session": (3.0, 7.0),
    "single_page_sessions": (0.20, 0.55),
    "external_referrer_sessions": (0.35, 0.75),
}


def _family(ua: str) -> str:
    if "Edg/" in ua or "EdgA/" in ua or "EdgiOS/" in ua:
        return "edge"
    if "OPR/" in ua or "OPiOS/" in ua:
        return "opera"
    if "SamsungBrowser/" in ua:
        return "samsung"
    if "Firefox/" in ua or "FxiOS/" in ua:
        return "firefox"
    if "CriOS/" in ua or "Chrome/" in ua:
        return "chrome"
    if "Safari/" in ua and "Version/" in ua:
        return "safari"
    return "other"


def _is_bot(ua: str) -> bool:
    low = ua.lower()
    return any(t in low for t in CRAWLER_TOKENS) or not low.startswith("mozilla/") or "zgrab" in low


def measure(records: list[dict]) -> dict[str, float]:
    """Every metric of ``BANDS`` from the JSON records of one generated window."""
    n = len(records)
    status = Counter(r["status"] for r in records)
    methods = Counter(r["method"] for r in records)
    protos = Counter(r["protocol"] for r in records)
    assets = [r for r in records if r["path"].startswith(("/static/", "/images/", "/favicon.ico"))]
    per_session_asset = Counter(
        (r["session_id"], r["path"]) for r in assets if HASHED_ASSET.search(r["path"])
    )
    bots = sum(1 for r in records if _is_bot(r["user_agent"]))
    human = [r for r in records if not _is_bot(r["user_agent"])]
    sessions: dict[str, list[dict]] = defaultdict(list)
    for r in human:
        sessions[r["session_id"]].append(r)
    pages = {
        sid: [r for r in rs if r["method"] == "GET" and _is_page(r["path"])] for sid, rs in sessions.items()
    }
    browsing = {sid: p for sid, p in pages.items() if p}  # sessions with at least one page view
    families = Counter(_family(rs[0]["user_agent"]) for rs in sessions.values())
    mobile = sum(
        1 for rs in sessions.values() if re.search(r"Mobile|Android|iPhone|iPad", rs[0]["user_agent"])
    )
    ip_sessions: dict[str, set[str]] = defaultdict(set)
    for sid, rs in sessions.items():
        ip_sessions[rs[0]["remote_addr"]].add(sid)
    per_ip = Counter(len(s) for s in ip_sessions.values())
    ns = len(sessions)
    host = "https://shop.example.com"
    external = sum(
        1
        for p in browsing.values()
        if p[0]["referer"] not in ("-", "") and not p[0]["referer"].startswith(host)
    )
    return {
        "status_2xx": sum(v for k, v in status.items() if 200 <= k < 300) / n,
        "status_304": status[304] / n,
        "status_4xx": sum(v for k, v in status.items() if 400 <= k < 500) / n,
        "status_5xx": sum(v for k, v in status.items() if k >= 500) / n,
        "asset_share": len(assets) / n,
        "hashed_asset_max_per_session": max(per_session_asset.values(), default=0),
        "proto_http2": protos["HTTP/2.0"] / n,
        "proto_http3": protos["HTTP/3.0"] / n,
        "proto_http1": protos["HTTP/1.1"] / n,
        "method_get": methods["GET"] / n,
        "method_post": methods["POST"] / n,
        "method_put": methods["PUT"] / n,
        "method_patch": methods["PATCH"] / n,
        "method_delete": methods["DELETE"] / n,
        "method_options": methods["OPTIONS"] / n,
        "ua_chrome": families["chrome"] / ns,
        "ua_safari": families["safari"] / ns,
        "ua_edge": families["edge"] / ns,
        "ua_firefox": families["firefox"] / ns,
        "ua_samsung": families["samsung"] / ns,
        "ua_mobile": mobile / ns,
        "bot_request_share": bots / n,
        "ip_one_session_share": per_ip[1] / len(ip_sessions),
        "ip_max_sessions": max(per_ip),
        "distinct_ips_per_session": len(ip_sessions) / ns,
        "pages_per_session": sum(len(p) for p in browsing.values()) / len(browsing),
        "single_page_sessions": sum(1 for p in browsing.values() if len(p) == 1) / len(browsing),
        "external_referrer_sessions": external / len(browsing),
    }


def _is_page(path: str) -> bool:
    return not path.startswith(("/static/", "/images/", "/favicon.ico", "/api/", "/robots.txt", "/sitemap"))


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """One hour of default traffic (outages off, so the hour is an ordinary one), seeded."""
    out = tmp_path_factory.mktemp("realism")
    cfg = load_config(None).with_overrides({"errors.outages.per_day": 0.0})
    paths = backfill(cfg, out, node="r1", start=START, duration=timedelta(hours=1), fmt="json", seed=7)
    # each file read as one JSON array: the records json.loads gives line by line, ~40% faster
    return [
        r for p in paths for r in json.loads("[" + ",".join(p.read_text(encoding="utf-8").splitlines()) + "]")
    ]


def test_distributions_within_documented_bands(hour: list[dict]) -> None:
    got = measure(hour)
    report = "\n".join(
        f"{'OK ' if lo <= got[k] <= hi else 'BAD'} {k:30} {got[k]:10.4f}  band [{lo}, {hi}]"
        for k, (lo, hi) in BANDS.items()
    )
    outside = [k for k, (lo, hi) in BANDS.items() if not lo <= got[k] <= hi]
    assert not outside, f"outside their bands: {outside}\n{report}"


def test_bands_are_documented(repo_root: Path) -> None:
    """docs/generator.md lists every band with the same numbers as this test."""
    doc = (repo_root / "docs" / "generator.md").read_text(encoding="utf-8")
    for key, (lo, hi) in BANDS.items():
        row = re.search(rf"^\| `{key}` \|[^|]*\| ([^|]+) \|", doc, re.M)
        assert row, f"docs/generator.md has no Realism row for {key}"
        assert row.group(1).strip() == f"{lo:g} - {hi:g}", (key, row.group(1))


# ---- invariants an operator would notice ---------------------------------------------------------


def test_remote_user_only_in_the_basic_auth_area(hour: list[dict]) -> None:
    """nginx sets $remote_user from an Authorization: Basic header only; form logins leave it '-'."""
    users = [r for r in hour if r["remote_user"] != "-"]
    assert users, "the Basic-auth admin area should appear in an hour of traffic"
    assert {r["path"].split("/")[1] for r in users} == {"admin"}
    assert any(r["user_id"] and r["remote_user"] == "-" for r in hour)  # form-login users: user_id only


def test_errors_belong_to_resources(hour: list[dict]) -> None:
    """Outside outages and bad deploys a URL answers consistently: a missing page is always missing."""
    by_path: dict[str, set[int]] = defaultdict(set)
    for r in hour:
        by_path[r["path"]].add(r["status"])
    flapping = sorted(p for p, st in by_path.items() if 404 in st and st & {200, 304})
    assert not flapping, flapping[:10]
    not_found = [p for p, st in by_path.items() if st == {404}]
    assert len(not_found) >= 5  # removed products, broken links, missing images, scanner probes
    assert not [p for p in not_found if HASHED_ASSET.search(p)]  # the site's own build is complete


def test_user_agents_and_referrers_are_curated(hour: list[dict]) -> None:
    from edgelog.generator.pools import BROWSER_AGENTS, CRAWLER_AGENTS, REFERRER_ORIGINS, SCANNER_AGENTS

    known = {ua for ua, _ in BROWSER_AGENTS + CRAWLER_AGENTS + SCANNER_AGENTS}
    assert {r["user_agent"] for r in hour} <= known
    assert not [ua for ua in known if re.search(r"MSIE|Windows CE|Windows NT 11|Opera/[0-9]", ua)]
    origins = {u for u, _ in REFERRER_ORIGINS}
    # (the brand's own blog, which embeds the reviews widget, is the same site, not an external referrer)
    external = {r["referer"] for r in hour if r["referer"] != "-" and ".example.com/" not in r["referer"]}
    assert external and external <= origins, sorted(external - origins)[:5]


def test_slugs_read_like_a_real_catalogue(hour: list[dict]) -> None:
    from edgelog.generator.pools import CATALOGUE_WORDS

    slugs = {r["path"].split("/")[2].split("?")[0] for r in hour if r["path"].startswith("/product/")}
    assert len(slugs) > 50
    for slug in slugs:
        words = slug.split("-")
        assert 2 <= len(words) <= 5 and all(w in CATALOGUE_WORDS for w in words), slug


@pytest.mark.slow
def test_outages_score_high_in_the_anomaly_report(tmp_path: Path) -> None:
    """Windows in which 60% of dynamic requests fail are incidents, not 'low' findings: every outage of two
    hours (one per hour, 2 minutes long, wherever it falls in the 5-minute buckets) scores high or critical,
    and the quiet hour before them has no 5xx finding."""
    import duckdb
    from typer.testing import CliRunner

    from edgelog.cli.main import app

    base = load_config(None).with_overrides({"errors.bad_deploys.per_day": 0.0})
    quiet = base.with_overrides({"errors.outages.per_day": 0.0})
    outage = base.with_overrides(
        {"errors.outages.per_day": 24.0, "errors.outages.duration_seconds": [120, 120],
         "errors.outages.error_share": 0.6}
    )  # fmt: skip
    logs = tmp_path / "logs"
    backfill(quiet, logs, node="o1", start=START - timedelta(hours=1), duration=timedelta(hours=1), seed=5)
    backfill(outage, logs, node="o1", start=START, duration=timedelta(hours=2), seed=5)
    result = CliRunner().invoke(app, ["analyze", str(logs), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    rows = duckdb.sql(
        f"SELECT ts, value, score, severity FROM '{tmp_path}/out/reports/anomalies.parquet' "
        "WHERE kind = 'error_5xx_spike' ORDER BY ts"
    ).fetchall()
    assert rows, "no outage was reported"
    assert all(r[0] >= START for r in rows), rows  # nothing flagged in the quiet hour
    hours = {r[0].astimezone(UTC).hour for r in rows if r[2] >= 60}
    assert hours == {START.hour, START.hour + 1}, rows  # each hour's outage scores high
