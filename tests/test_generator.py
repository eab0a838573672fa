"""The generator's output: determinism, format correctness, configured rates and session realism."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.errors import ExitCode, UsageError
from edgelog.generator import RECORD_FIELDS, backfill, load_config
from edgelog.generator.escape import nginx_escape, nginx_unescape
from edgelog.generator.pools import BROWSER_AGENTS, CRAWLER_AGENTS, SCANNER_AGENTS
from edgelog.naming import parse_rotated_name

runner = CliRunner()
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

# The combined format as log parsers (GoAccess, the analyzer, lnav) match it; quoted fields may hold
# backslash escapes but never a bare quote.
COMBINED_RE = re.compile(
    r"^(?P<ip>[0-9A-Fa-f.:]+) - (?P<user>\S+) \[(?P<ts>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)"$'
)
KNOWN_AGENTS = {ua for ua, _ in BROWSER_AGENTS + CRAWLER_AGENTS + SCANNER_AGENTS}
BROWSERS = {ua for ua, _ in BROWSER_AGENTS}
ASSET_PREFIXES = ("/static/", "/images/", "/favicon.ico")
NOT_PRINTABLE = re.compile(rb"[^\x20-\x7e]")  # nginx writes printable ASCII only


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _records(
    tmp_path: Path, config=None, *, hours: float = 1.0, rate: float = 30.0, seed: int = 3
) -> list[dict]:
    cfg = config or load_config(None)
    paths = backfill(cfg, tmp_path, node="t1", start=START, duration=timedelta(hours=hours), fmt="json",
                     seed=seed, rate=rate)  # fmt: skip
    return [r for p in paths for r in _json_lines(p)]


def _json_lines(path: Path) -> list[dict]:
    """The records of a JSON-lines file read as one JSON array: what json.loads gives line by line, faster."""
    return json.loads("[" + ",".join(path.read_text(encoding="utf-8").splitlines()) + "]")


# ---- determinism ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "gz"), [("combined", True), ("json", False), ("csv", False), ("app", False)])
def test_same_seed_config_start_give_identical_bytes(tmp_path: Path, fmt: str, gz: bool) -> None:
    cfg = load_config(None)
    # 5 req/s (a quarter of the default): two files of ~1,500 lines
    kw = dict(node="n1", start=START, duration=timedelta(minutes=10), fmt=fmt, gzip=gz, seed=11, rate=5)
    a = backfill(cfg, tmp_path / "a", **kw)  # type: ignore[arg-type]
    b = backfill(cfg, tmp_path / "b", **kw)  # type: ignore[arg-type]
    c = backfill(cfg, tmp_path / "c", **{**kw, "seed": 12})  # type: ignore[arg-type]
    assert [p.name for p in a] == [p.name for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))
    assert any(x.read_bytes() != z.read_bytes() for x, z in zip(a, c, strict=True))


def test_determinism_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    """No dependence on PYTHONHASHSEED, the wall clock or the global RNG: a separate process with another hash
    seed writes what this one writes (the CLI runner here, a child process there)."""
    args = ["generate", "backfill", "--start", "2026-11-23T08:00:00Z", "--duration", "10m", "--node", "n2",
            "--seed", "5", "-f", "combined", "-f", "json", "--out"]  # fmt: skip
    here = runner.invoke(app, [*args, str(tmp_path / "here")])
    assert here.exit_code == 0, here.output
    # this process's hash seed is random (or the PYTHONHASHSEED it was given): the child's is another one
    hs = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    env = {**os.environ, "PYTHONHASHSEED": hs}
    subprocess.run([sys.executable, "-m", "edgelog", *args, str(tmp_path / "child")],
                   check=True, env=env, capture_output=True)  # fmt: skip
    outs = [{p.name: p.read_bytes() for p in sorted((tmp_path / d).iterdir())} for d in ("here", "child")]
    assert outs[0] == outs[1]
    assert len(outs[0]) == 4


def test_engines_of_one_config_and_seed_share_site_and_pool_and_write_the_same(tmp_path: Path) -> None:
    """The site and session pool are kept per (config, seed) for the next engine, the lookup tables of
    agents, referrers, page types and addresses per content: reused only where equal, and what an engine
    writes with them is what it writes with its own."""
    from edgelog.generator import engine, pools

    cfg = load_config(None)
    other = cfg.with_overrides({"site.products": 40, "bots.crawler_share": 0.2})
    kw = dict(start=START, duration=timedelta(minutes=2), fmt="json", seed=7, rate=5.0)

    def files(d: str, config) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
        return {p.name: p.read_bytes() for p in backfill(config, tmp_path / d, node="n", **kw)}  # type: ignore[arg-type]

    engine._SETUPS.clear()
    pools.weighted_table.cache_clear()
    alone = files("alone", cfg)  # built from scratch
    a = engine.Engine(cfg, seed=7, node="x", start=START.timestamp())
    b = engine.Engine(cfg.with_overrides({}), seed=7, node="y", start=START.timestamp() + 60)
    assert a.site is b.site and a.pool is b.pool  # an equal config and seed: reused
    shared = ("browsers", "desktops", "crawlers", "scanners", "referrers", "entry")
    assert all(getattr(a, name) is getattr(b, name) for name in shared)
    assert all(a.transitions[k] is b.transitions[k] for k in a.transitions)
    assert a.addresses is not b.addresses  # it remembers each engine's recent visitors
    assert all(getattr(a.addresses, t) is getattr(b.addresses, t) for t in ("v4", "v6", "shared"))
    origins = pools.REFERRER_ORIGINS
    fresh = pools.WeightedTable([u for u, _ in origins], [w for _, w in origins])
    assert a.referrers.table == fresh.table and a.referrers.items == fresh.items
    c = engine.Engine(other, seed=7, node="x", start=START.timestamp())
    d = engine.Engine(cfg, seed=8, node="x", start=START.timestamp())
    assert c.site is not a.site and d.site is not a.site and d.pool is not a.pool
    assert files("other", other) != alone
    assert files("again", cfg) == alone  # after other configs and seeds filled the caches


def test_nodes_differ_but_share_the_site(tmp_path: Path) -> None:
    cfg = load_config(None)
    kw = dict(start=START, duration=timedelta(minutes=5), fmt="json", seed=1, rate=5)
    (a,) = backfill(cfg, tmp_path, node="a", **kw)  # type: ignore[arg-type]
    (b,) = backfill(cfg, tmp_path, node="b", **kw)  # type: ignore[arg-type]
    assert a.read_bytes() != b.read_bytes()
    paths_a = {json.loads(x)["path"] for x in a.read_text().splitlines()}
    paths_b = {json.loads(x)["path"] for x in b.read_text().splitlines()}
    assert len(paths_a & paths_b) > 50  # same product catalogue (144-168 paths over seeds 1-4 at 5 req/s)


# ---- backfill files ------------------------------------------------------------------------------


def test_backfill_writes_one_complete_file_per_interval(tmp_path: Path) -> None:
    cfg = load_config(None)
    # 4 req/s (a fifth of the default): ~1,200 lines a file, ~4 of them in each boundary second
    paths = backfill(
        cfg, tmp_path, node="edge-1", start=START, duration=timedelta(minutes=32), gzip=True, rate=4
    )
    assert len(paths) == 7  # six full 5-minute files and one of 2 minutes
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]  # no temporary left over
    for i, p in enumerate(paths):
        parsed = parse_rotated_name(p.name)
        assert parsed is not None and parsed.node == "edge-1" and parsed.gzip and parsed.stream == "access"
        end = min(START + timedelta(minutes=5 * (i + 1)), START + timedelta(minutes=32))
        assert parsed.rotated_at == end
        lines = _read(p).decode().splitlines()
        assert lines
        stamps = [datetime.strptime(COMBINED_RE.match(x)["ts"], "%d/%b/%Y:%H:%M:%S %z") for x in lines]
        assert all(end - timedelta(minutes=5) <= s < end for s in stamps)
        assert stamps == sorted(stamps)
    kw = dict(node="n", start=START, duration=timedelta(minutes=5), rate=4)
    names = {
        f: backfill(cfg, tmp_path / f, fmt=f, **kw)[0].name  # type: ignore[arg-type]
        for f in ("json", "csv", "app", "error", "common")
    }
    assert names["json"] == "access-n-20261123T080500Z.jsonl"
    assert names["csv"] == "access-n-20261123T080500Z.csv"
    assert names["app"].startswith("app-n-") and names["error"].startswith("error-n-")


def test_default_volume_is_moderate_and_fast(tmp_path: Path) -> None:
    """The demo backfills 3 nodes x 1 hour: it must stay realistic but small."""
    import time

    t0 = time.monotonic()
    paths = backfill(load_config(None), tmp_path, node="d", start=START, duration=timedelta(hours=1))
    elapsed = time.monotonic() - t0
    lines = sum(_read(p).count(b"\n") for p in paths)
    assert 10 * 3600 <= lines <= 40 * 3600, lines
    assert elapsed < 10


def test_backfill_rejects_bad_arguments(tmp_path: Path) -> None:
    cfg = load_config(None)
    with pytest.raises(UsageError, match="unknown format"):
        backfill(cfg, tmp_path, node="n", start=START, duration=timedelta(minutes=5), fmt="xml")
    with pytest.raises(UsageError, match="node name"):
        backfill(cfg, tmp_path, node="bad/node", start=START, duration=timedelta(minutes=5))
    with pytest.raises(UsageError, match="duration"):
        backfill(cfg, tmp_path, node="n", start=START, duration=timedelta(0))


# ---- formats -------------------------------------------------------------------------------------


def test_nginx_escaping_exact_and_round_trips() -> None:
    assert nginx_escape('say "hi"') == "say \\x22hi\\x22"
    assert nginx_escape("a\\b") == "a\\x5Cb"
    assert nginx_escape("ü") == "\\xC3\\xBC"
    assert nginx_escape(b"\x16\x03\x01\x7f") == "\\x16\\x03\\x01\\x7F"
    assert nginx_escape("tab\there") == "tab\\x09here"
    assert nginx_escape("plain /path?q=1") == "plain /path?q=1"
    for raw in ['"', "\\x22", "\\", 'ü"\\\x00\x7f', "日本", "x\\x41"]:
        assert nginx_unescape(nginx_escape(raw)) == raw.encode()


def test_every_combined_line_matches_and_round_trips(tmp_path: Path) -> None:
    cfg = load_config(None).with_overrides({"bots.scanner_share": 0.05, "bots.crawler_share": 0.1})
    paths = backfill(cfg, tmp_path, node="n", start=START, duration=timedelta(minutes=20), seed=4, rate=60)
    lines = [x for p in paths for x in p.read_bytes().split(b"\n")[:-1]]
    # 20 minutes: 70,000-77,000 lines over seeds 1-8; already over 10 minutes every seed had 22+ escaped
    # agents, 220+ escaped request lines, 50 curated agents and the quoted one
    assert len(lines) > 50_000
    escaped_seen = Counter()
    raw_agents = set()
    round_tripped: set[str] = set()  # each distinct value once: a value round-trips or not, wherever it is
    for raw in lines:
        assert not NOT_PRINTABLE.search(raw), raw
        line = raw.decode("ascii")
        m = COMBINED_RE.match(line)
        assert m, line
        for field in ("request", "referer", "ua", "user"):
            value = m[field]
            if value not in round_tripped:
                assert nginx_escape(nginx_unescape(value)) == value
                round_tripped.add(value)
            if "\\x" in value:
                escaped_seen[field] += 1
        raw_agents.add(m["ua"])
    agents = {nginx_unescape(ua).decode("utf-8") for ua in raw_agents}
    # every agent round-trips to a curated one or to Faker's long tail of browsers
    assert all(a in KNOWN_AGENTS or a.startswith(("Mozilla/5.0 (", "Opera/")) for a in agents)
    assert len(agents & KNOWN_AGENTS) > 20
    assert escaped_seen["ua"] > 0 and escaped_seen["request"] > 0  # odd agents and TLS junk were escaped
    assert any('"QuotedBrowser"' in a for a in agents)


def test_json_lines_have_the_contract_fields(tmp_path: Path) -> None:
    recs = _records(tmp_path, hours=0.25)
    assert len(recs) > 5000
    for r in recs:
        assert tuple(r) == RECORD_FIELDS
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", r["ts"])
        assert isinstance(r["status"], int) and isinstance(r["bytes"], int)
        assert isinstance(r["response_time_ms"], int | float) and r["response_time_ms"] >= 0
        # $remote_user is HTTP Basic auth (the admin area); a form login shows only in user_id
        assert r["remote_user"] == "-" or (r["path"].startswith("/admin/") and r["user_id"] == "")
        assert r["referer"] and r["host"] == "shop.example.com"
        assert re.fullmatch(r"[0-9a-f]{32}", r["request_id"]) and re.fullmatch(
            r"[0-9a-f]{16}", r["session_id"]
        )
    assert len({r["request_id"] for r in recs}) == len(recs)


@pytest.fixture(scope="module")
def csv_and_json(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Five minutes of one traffic plan as CSV and as JSON lines (the tests only read them)."""
    cfg, out = load_config(None), tmp_path_factory.mktemp("csv-json")
    kw = dict(node="c", start=START, duration=timedelta(minutes=5), seed=8)
    (c,) = backfill(cfg, out, fmt="csv", **kw)  # type: ignore[arg-type]
    (j,) = backfill(cfg, out, fmt="json", **kw)  # type: ignore[arg-type]
    return c, j


def test_csv_parses_with_header_and_matches_json(csv_and_json: tuple[Path, Path]) -> None:
    c, j = csv_and_json
    rows = list(csv.DictReader(io.StringIO(c.read_text(encoding="utf-8"))))
    recs = [json.loads(x) for x in j.read_text(encoding="utf-8").splitlines()]
    assert list(rows[0]) == list(RECORD_FIELDS)
    assert len(rows) == len(recs) > 1000
    for row, rec in zip(rows, recs, strict=True):  # the same traffic plan in both formats
        assert int(row["status"]) == rec["status"] and int(row["bytes"]) == rec["bytes"]
        assert row["path"] == rec["path"] and row["user_agent"] == rec["user_agent"]
        assert float(row["response_time_ms"]) == rec["response_time_ms"]


def test_duckdb_reads_json_and_csv_with_expected_types(csv_and_json: tuple[Path, Path]) -> None:
    import duckdb

    con = duckdb.connect()
    for p in csv_and_json:
        reader = "read_csv" if p.suffix == ".csv" else "read_json"
        cols = con.execute(f"DESCRIBE SELECT * FROM {reader}('{p}')").fetchall()
        assert [x[0] for x in cols] == list(RECORD_FIELDS)
        n, s5 = con.execute(
            f"SELECT count(*), count(*) FILTER (status >= 500) FROM {reader}('{p}')"
        ).fetchone()
        assert n > 1000 and s5 >= 0


def test_app_and_error_streams(tmp_path: Path) -> None:
    cfg = load_config(None).with_overrides({"bots.scanner_share": 0.05})
    # 5 req/s: 750+ app lines in the first file, 45+ refused /.env probes over seeds 1-4
    kw = dict(node="e", start=START, duration=timedelta(minutes=30), seed=2, rate=5)
    app_lines = backfill(cfg, tmp_path, fmt="app", **kw)[0].read_text().splitlines()  # type: ignore[arg-type]
    app_re = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (DEBUG|INFO|WARN|ERROR) [a-z]+ \S.*$")
    assert app_lines and all(app_re.match(x) for x in app_lines)
    assert {x.split()[1] for x in app_lines} >= {"INFO", "WARN", "ERROR"}
    err_lines = [x for p in backfill(cfg, tmp_path, fmt="error", **kw) for x in p.read_text().splitlines()]  # type: ignore[arg-type]
    err_re = re.compile(
        r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[error\] \d+#\d+: \*\d+ .*, client: \S+, server: "
    )
    assert err_lines and all(err_re.match(x) for x in err_lines)
    assert any("/.env" in x and "forbidden" in x for x in err_lines)


# ---- rates and shape -----------------------------------------------------------------------------


def test_error_settings_drive_their_statuses(tmp_path: Path) -> None:
    """Upstream hiccups hit dynamic requests at the configured rate; dead links and missing images are
    resources that are always missing, and their share follows the config."""
    quiet = {
        "bots.crawler_share": 0.0, "bots.scanner_share": 0.0, "errors.outages.per_day": 0.0,
        "errors.bad_deploys.per_day": 0.0, "sessions.end": {"logout": 0.2, "abandon": 0.8, "error": 0.0},
        "sessions.staff_share": 0.0,
    }  # fmt: skip
    cfg = load_config(None).with_overrides(
        {**quiet, "errors.upstream_errors": 0.02, "errors.dead_links": 0.2, "errors.broken_images": 0.3}
    )
    recs = _records(tmp_path, cfg, hours=0.25, rate=60)
    dynamic = [r for r in recs if not r["path"].startswith(ASSET_PREFIXES) and r["status"] != 404]
    n = len(dynamic)
    observed = sum(r["status"] in (502, 504) for r in dynamic) / n
    assert abs(observed - 0.02) < 5 * (0.02 * 0.98 / n) ** 0.5 + 0.001, observed
    assert not [r for r in recs if r["path"].startswith(ASSET_PREFIXES) and r["status"] >= 500]
    images = defaultdict(set)
    for r in recs:
        if r["path"].startswith("/images/products/"):
            images[r["path"]].add(r["status"])
    assert all(st == {404} or 404 not in st for st in images.values())  # an image is there or it is not
    assert 0.2 < sum(st == {404} for st in images.values()) / len(images) < 0.4
    entries = [r for r in recs if r["referer"] not in ("-",) and "example.com" not in r["referer"]]
    # six minutes: with dead_links at 0.2 they hold 230-270 product 404s (seeds 1-3); at 0 there must be none
    none = _records(tmp_path / "none", load_config(None).with_overrides({**quiet, "errors.dead_links": 0.0}),
                    hours=0.1, rate=60)  # fmt: skip
    assert not [r for r in none if r["status"] == 404 and r["path"].startswith("/product/")]
    dead = [r for r in entries if r["status"] == 404]
    assert 0.12 < len(dead) / len(entries) < 0.3, len(dead) / len(entries)


def test_error_sessions_and_outages_add_5xx(tmp_path: Path) -> None:
    base = {"bots.crawler_share": 0.0, "bots.scanner_share": 0.0, "errors.outages.per_day": 0.0}
    quiet = load_config(None).with_overrides(
        {**base, "sessions.end": {"logout": 0.2, "abandon": 0.8, "error": 0.0}}
    )
    noisy = load_config(None).with_overrides(
        {**base, "sessions.end": {"logout": 0.1, "abandon": 0.4, "error": 0.5}}
    )

    def share5xx(cfg) -> float:
        recs = _records(tmp_path / str(id(cfg)), cfg, hours=0.1, rate=20)  # ~7,500 each
        return sum(r["status"] >= 500 for r in recs) / len(recs)

    assert share5xx(noisy) > share5xx(quiet) + 0.005  # 0.038-0.050 vs 0.0006-0.0014 over seeds 1-8


def test_outages_are_correlated_windows_of_5xx(tmp_path: Path) -> None:
    cfg = load_config(None).with_overrides({
        "bots.crawler_share": 0.0, "bots.scanner_share": 0.0, "errors.outages.per_day": 24.0,
        "errors.outages.duration_seconds": [900, 900], "errors.outages.error_share": 1.0,
    })  # fmt: skip
    # 5 req/s: 55+ dynamic requests in every minute; the windows of seed 3 fill whole minutes (share 1.000,
    # median 0.007; at 20 req/s 0.991 and 0.006)
    recs = _records(tmp_path, cfg, hours=1.0, rate=5)
    per_minute: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in recs:
        if not r["path"].startswith(ASSET_PREFIXES):
            m = per_minute[r["ts"][:16]]
            m[0] += 1
            m[1] += r["status"] in (502, 503)
    shares = sorted(bad / total for total, bad in per_minute.values() if total >= 20)
    assert shares[-1] > 0.9  # inside a window nearly every dynamic request fails
    assert shares[len(shares) // 2] < 0.1  # most minutes are fine: the failures cluster


def test_hour_of_day_shape(tmp_path: Path) -> None:
    paths = backfill(load_config(None), tmp_path, node="s", start=datetime(2026, 11, 24, 0, 0, tzinfo=UTC),
                     duration=timedelta(hours=24), interval=timedelta(hours=1), rate=0.5)  # fmt: skip
    per_hour = [p.read_bytes().count(b"\n") for p in paths]
    assert len(per_hour) == 24
    # evening peak vs. night trough (1.6 vs 0.18): 7.9-22x over seeds 1-6 at this rate (~2,900 vs ~300 lines)
    assert per_hour[19] > 4 * per_hour[3]
    flat = load_config(None).with_overrides({"traffic.shaped": False})
    paths = backfill(flat, tmp_path / "flat", node="s", start=datetime(2026, 11, 24, 0, 0, tzinfo=UTC),
                     duration=timedelta(hours=24), interval=timedelta(hours=1), rate=0.5)  # fmt: skip
    per_hour = [p.read_bytes().count(b"\n") for p in paths]
    assert max(per_hour) < 2.5 * min(per_hour)  # 1.06-1.11 over seeds 1-6


def test_forced_burst_creates_a_spike(tmp_path: Path) -> None:
    flat = load_config(None).with_overrides({"traffic.shaped": False, "traffic.burst.factor": 6.0})
    burst = START + timedelta(minutes=20)
    paths = backfill(flat, tmp_path, node="b", start=START, duration=timedelta(minutes=30),
                     interval=timedelta(minutes=1), rate=10, bursts=[burst])  # fmt: skip
    per_minute = [p.read_bytes().count(b"\n") for p in paths]
    normal = sorted(per_minute[:19])[9]
    assert per_minute[21] > 3 * normal  # sessions arriving 6x as fast (their pages trail into later minutes)


# ---- sessions ------------------------------------------------------------------------------------


def test_session_invariants_login_and_referrer_path(tmp_path: Path) -> None:
    recs = _records(tmp_path, hours=0.5, rate=40)  # ~75,000 records, ~6,000 whole human sessions
    base = "https://shop.example.com"
    sessions: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        sessions[r["session_id"]].append(r)
    # sessions already in progress at the start (warm-up) show up mid-path: only whole sessions count
    human = [
        s for s in sessions.values()
        if s[0]["user_agent"] in BROWSERS and not min(s, key=lambda r: r["ts"])["referer"].startswith(base)
        and not s[0]["path"].startswith(("/admin/", "/api/v1/products/"))  # staff, the blog's widget
    ]  # fmt: skip
    assert len(human) > 1000
    logged_in = 0
    checked_refs = 0
    for sess in human:
        sess.sort(key=lambda r: r["ts"])
        assert len({(r["remote_addr"], r["user_agent"]) for r in sess}) == 1
        seen_login = False
        current = None
        users = set()
        for i, r in enumerate(sess):
            path, method = r["path"], r["method"]
            assert r["remote_user"] == "-"  # a form login: $remote_user stays empty
            if r["user_id"]:
                assert seen_login, f"logged-in request before LOGIN: {path}"
                users.add(r["user_id"])
            if (path.startswith(("/account", "/checkout")) and r["status"] == 200) or path == "/logout":
                assert r["user_id"], f"{path} served to an anonymous visitor"
            if method == "POST" and path == "/login" and r["status"] == 302:
                seen_login = True
            if i == 0:
                assert r["referer"] == "-" or not r["referer"].startswith(base)
                current = r["referer"]  # a reload of a failed landing page sends it again
            else:
                assert r["referer"] == current, (path, r["referer"], current)
                checked_refs += 1
            is_page = method == "GET" and not path.startswith((*ASSET_PREFIXES, "/api/"))
            # a redirect or a failed page is not where the next click comes from (a missing landing page is:
            # its visitors click on to the home page)
            if is_page and (r["status"] == 200 or (i == 0 and r["status"] == 404)):
                current = base + path
        assert len(users) <= 1
        logged_in += seen_login
    assert checked_refs > 10_000
    share = logged_in / len(human)
    assert 0.2 < share < 0.4  # sessions.start.login = 0.3 (minus failed logins)


def test_crawlers_and_scanners_are_present(tmp_path: Path) -> None:
    cfg = load_config(None).with_overrides({"bots.crawler_share": 0.1, "bots.scanner_share": 0.02})
    # a quarter of an hour at 20 req/s, seeds 1-6: 3,600+ crawler and 840+ scanner requests, 133+ for
    # robots.txt, probes answered 404/403 at 0.816-0.834, 29+ refused /.env probes
    recs = _records(tmp_path, cfg, hours=0.25, rate=20)
    crawler = [r for r in recs if r["user_agent"] in {ua for ua, _ in CRAWLER_AGENTS}]
    scanner = [r for r in recs if r["user_agent"] in {ua for ua, _ in SCANNER_AGENTS}]
    assert crawler and scanner
    assert any(r["path"] == "/robots.txt" for r in crawler)
    assert all(r["referer"] == "-" for r in crawler + scanner)
    probes = Counter(r["status"] for r in scanner)
    assert probes[404] + probes[403] > 0.7 * len(scanner)
    assert any(r["path"] == "/.env" and r["status"] == 403 for r in scanner)


# ---- config --------------------------------------------------------------------------------------


def test_example_config_equals_embedded_defaults(repo_root: Path) -> None:
    example = load_config(repo_root / "log-generator" / "config.example.yaml")
    assert example.data == load_config(None).data


@pytest.mark.parametrize(
    ("yaml_text", "field", "problem"),
    [
        ("sessions:\n  pages_meen: 3\n", "sessions.pages_meen", "unknown key"),
        ("traffic:\n  requests_per_second: fast\n", "traffic.requests_per_second", "must be a number"),
        ("traffic:\n  requests_per_second: -5\n", "traffic.requests_per_second", "must be > 0"),
        ("sessions:\n  end: {logout: 0.2, abandon: 0.7, error: 0.05}\n", "sessions.end", "must sum to 1"),
        ("sessions:\n  start: {login: 1.5, direct: -0.5}\n", "sessions.start.login", "in 0..1"),
        ("site:\n  assets_per_page: [9, 3]\n", "site.assets_per_page", "min <= max"),
        ("traffic:\n  hourly_multipliers: [1, 2]\n", "traffic.hourly_multipliers", "24 items"),
        ("traffic:\n  shaped: yes please\n", "traffic.shaped", "true or false"),
        ("users: 5\n", "users", "must be a mapping"),
        ("bots:\n  crawler_share: 2\n", "bots.crawler_share", "share"),
        ("errors:\n  rates: {not_found: 0.1}\n", "errors.rates", "unknown key"),
        (
            "sessions:\n  transitions:\n    home: {cart: 0.5, exit: 0.4}\n",
            "sessions.transitions.home",
            "must sum to 1",
        ),
        (
            "sessions:\n  transitions:\n    home: {basket: 1.0}\n",
            "sessions.transitions.home.basket",
            "unknown page type",
        ),
        (
            "sessions:\n  transitions:\n    home: {cart: 1.5, exit: -0.5}\n",
            "sessions.transitions.home.cart",
            "in 0..1",
        ),
        ("sessions:\n  transitions:\n    home: [cart]\n", "sessions.transitions.home", "must be a mapping"),
        ("sessions:\n  entry: {home: 0.5}\n", "sessions.entry", "must sum to 1"),
        ("sessions:\n  transitions:\n    basket: {exit: 1}\n", "sessions.transitions.basket", "unknown key"),
        ("seed: abc\n", "seed", "integer"),
    ],
)
def test_config_errors_name_the_key_path(tmp_path: Path, yaml_text: str, field: str, problem: str) -> None:
    path = tmp_path / "gen.yaml"
    path.write_text(yaml_text)
    result = runner.invoke(app, ["generate", "config", "--config", str(path)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{path}: {field}: " in result.output and problem in result.output, result.output
    assert "Traceback" not in result.output
    # the same error from the commands that generate
    result = runner.invoke(app, ["generate", "backfill", "--config", str(path), "--out", str(tmp_path / "o"),
                                 "--duration", "5m"])  # fmt: skip
    assert result.exit_code == ExitCode.USAGE and field in result.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_config_file_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: [unclosed\n")
    result = runner.invoke(app, ["generate", "config", "--config", str(bad)])
    assert result.exit_code == 2 and "not valid YAML at line" in result.output
    result = runner.invoke(app, ["generate", "config", "--config", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "file not found" in result.output
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(empty).data == load_config(None).data


# ---- CLI -----------------------------------------------------------------------------------------


def test_cli_backfill_flags_override_config(tmp_path: Path) -> None:
    conf = tmp_path / "gen.yaml"
    conf.write_text("seed: 1\ntraffic:\n  requests_per_second: 1\n")
    out = tmp_path / "out"
    args = ["generate", "backfill", "--config", str(conf), "--start", "2026-11-23T08:00:00Z",
            "--duration", "10m", "--node", "cli-1", "--out", str(out), "--format", "combined",
            "--format", "csv", "--gzip"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "access-cli-1-20261123T080500Z.csv.gz", "access-cli-1-20261123T080500Z.log.gz",
        "access-cli-1-20261123T081000Z.csv.gz", "access-cli-1-20261123T081000Z.log.gz",
    ]  # fmt: skip
    slow = sum(_read(out / n).count(b"\n") for n in names if n.endswith(".log.gz"))
    fast_dir = tmp_path / "fast"
    result = runner.invoke(app, [*[a if a != str(out) else str(fast_dir) for a in args], "--rate", "10"])
    assert result.exit_code == 0, result.output
    fast = sum(_read(p).count(b"\n") for p in fast_dir.glob("*.log.gz"))
    assert fast > 5 * slow  # --rate 10 beats the file's 1 req/s
    seeded = runner.invoke(
        app, [*[a if a != str(out) else str(tmp_path / "s2") for a in args], "--seed", "2"]
    )
    assert seeded.exit_code == 0
    assert _read(tmp_path / "s2" / names[1]) != _read(out / names[1])  # --seed beats the file's seed


def test_cli_stream_and_usage_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "stream", "-n", "250", "--start", "2026-11-23T08:00:00Z"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 250 and all(COMBINED_RE.match(x) for x in lines)
    result = runner.invoke(app, ["generate", "stream", "-n", "20", "-f", "csv"])
    assert result.exit_code == 0 and len(result.output.splitlines()) == 21
    result = runner.invoke(app, ["generate", "stream", "-d", "30s", "-f", "json", "--rate", "10"])
    assert result.exit_code == 0 and all(json.loads(x) for x in result.output.splitlines())
    for bad in (["stream", "-n", "5", "--rate", "0"], ["backfill", "--out", str(tmp_path), "--rate", "0"],
                ["stream", "-f", "xml"], ["stream", "-d", "soon"], ["stream", "--start", "yesterday"],
                ["backfill", "--out", str(tmp_path), "--interval", "0s"],
                ["backfill", "--out", str(tmp_path), "--node", "a b"]):  # fmt: skip
        result = runner.invoke(app, ["generate", *bad])
        assert result.exit_code == ExitCode.USAGE, (bad, result.output)
        assert "Traceback" not in result.output


def test_cli_config_prints_effective_yaml() -> None:
    import yaml

    result = runner.invoke(app, ["generate", "config"])
    assert result.exit_code == 0
    assert yaml.safe_load(result.output) == load_config(None).data


def test_backfill_speed_guard(tmp_path: Path) -> None:
    """A loose floor (the goal is 300,000 lines/s, see bench/generator.py): catches a hot loop gone slow.

    CPU time, not wall time, so other processes on the machine do not make it flaky.
    """
    import time

    cfg = load_config(None).with_overrides({"traffic.shaped": False})
    t0 = time.process_time()
    # 15 minutes: 135,000 lines, 250,000 lines/s of CPU with the engine's set-up (330,000 over 30 minutes)
    paths = backfill(cfg, tmp_path, node="p", start=START, duration=timedelta(minutes=15), rate=150, seed=1)
    cpu = time.process_time() - t0
    lines = sum(p.read_bytes().count(b"\n") for p in paths)
    assert lines > 100_000
    assert lines / cpu > 100_000, f"{lines / cpu:,.0f} lines/s of CPU time"


def test_transition_matrix_drives_the_visit(tmp_path: Path) -> None:
    """The configured matrix decides where a visit goes next: here home -> search -> leave, always."""
    matrix = {
        k: {"exit": 1.0} for k in ("category", "product", "cart", "checkout", "account", "orders", "info")
    }
    cfg = load_config(None).with_overrides({
        "bots.crawler_share": 0.0, "bots.scanner_share": 0.0, "sessions.staff_share": 0.0,
        "sessions.embed_share": 0.0, "sessions.bounce": 0.0, "errors.dead_links": 0.0,
        "errors.outages.per_day": 0.0, "errors.bad_deploys.per_day": 0.0, "errors.upstream_errors": 0.0,
        "sessions.end": {"logout": 0.0, "abandon": 1.0, "error": 0.0},
        "sessions.start": {"login": 0.0, "direct": 1.0}, "sessions.entry": {"home": 1.0},
        "sessions.transitions": {**matrix, "home": {"search": 1.0}, "search": {"exit": 1.0}},
    })  # fmt: skip
    recs = _records(tmp_path, cfg, hours=0.25, rate=20)
    paths: dict[str, list[str]] = defaultdict(list)
    first: dict[str, str] = {}
    for r in recs:
        if r["method"] == "GET" and not r["path"].startswith((*ASSET_PREFIXES, "/api/")):
            paths[r["session_id"]].append(r["path"].split("?")[0])
            first.setdefault(r["session_id"], r["ts"])
    # visits that began inside the window, early enough to have ended in it
    walks = Counter(tuple(p) for sid, p in paths.items() if p[0] == "/" and first[sid] < "2026-11-23T08:10")
    complete = set(walks)
    assert complete and complete <= {("/", "/search")}, walks.most_common(5)


def test_smallest_site_and_extreme_shares_generate(tmp_path: Path) -> None:
    """The smallest valid catalogue and pools with every share at its edge still generate a valid log."""
    cfg = load_config(None).with_overrides({
        "site.products": 1, "site.categories": 1, "site.search_terms": 1, "users.population": 1,
        "users.shared_addresses": 1, "users.shared_share": 1.0, "users.revisit_share": 0.0,
        "sessions.staff_share": 0.2, "sessions.embed_share": 0.2, "sessions.bounce": 0.0,
        "errors.broken_images": 1.0, "errors.dead_links": 1.0, "errors.upstream_errors": 1.0,
    })  # fmt: skip
    recs = _records(tmp_path, cfg, hours=0.1, rate=20)
    assert recs and len({r["remote_addr"] for r in recs if r["user_agent"] in BROWSERS}) == 1
    assert all(r["status"] == 404 for r in recs if r["path"].startswith("/images/products/"))
