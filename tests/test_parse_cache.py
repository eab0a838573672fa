"""The parse cache: each file parsed once; entries that cannot be trusted are re-parsed; results identical."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from support.results import parquet_outputs

from edgelog.analysis import analyze, chunks, parse, partial_cache
from edgelog.analysis.parse_cache import ParseCache, entry_key
from edgelog.analysis.writer import RunResult
from edgelog.fileio import hash_file
from edgelog.generator import backfill, load_config
from edgelog.logformat import resolve

GARBAGE = (
    b"not a log line\n\n"
    b'10.0.0.1 - - [23/Nov/2026:08:00:00 +0000] "GET /\xff HTTP/1.1" 200 5 "-" "x"\n'
    b'10.0.0.1 - - [23/Nov/2026:08:00:01 +0000] "GET /ok HTTP/1.1" 2000 5 "-" "x"\n'
    b"a\x00b\n"
)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """Rotated files of two nodes: generator traffic, real-server samples, garbage, gzip and JSON lines."""
    d = tmp_path_factory.mktemp("logs")
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    backfill(load_config(None), d, node="n1", start=start, duration=timedelta(minutes=30), seed=3, rate=3.0)
    backfill(load_config(None), d, node="n2", start=start, duration=timedelta(minutes=10), seed=4, rate=2.0,
             fmt="json")  # fmt: skip
    (d / "access-n3-20261123T081000Z.log").write_bytes((samples_dir / "nginx_small.log").read_bytes())
    (d / "access-n3-20261123T081500Z.log").write_bytes((samples_dir / "apache_small.log").read_bytes())
    (d / "access-n3-20261123T082000Z.log").write_bytes(GARBAGE)
    (d / "access-n3-20261123T082500Z.log.gz").write_bytes(
        gzip.compress((samples_dir / "nginx_small.log").read_bytes())
    )
    return d


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture's hours hold a few hundred requests: chunk them anyway (the default is 10,000)."""
    monkeypatch.setattr(chunks, "MIN_CHUNK_REQUESTS", 1)


@pytest.fixture(scope="module")
def plain(logs: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The run without the cache that tests compare with (none changes its directory): made once."""
    return run(logs, tmp_path_factory.mktemp("plain") / "out", None)


@pytest.fixture(scope="module")
def cold(logs: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The run that filled an empty cache, made once; each test gets its own copy of the cache (``cache``).
    Module-scoped fixtures are set up before ``small_chunks``: it chunks as that fixture says."""
    d = tmp_path_factory.mktemp("cold")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(chunks, "MIN_CHUNK_REQUESTS", 1)
        return run(logs, d / "out", d / "cache")


@pytest.fixture
def cache(cold: RunResult, tmp_path: Path) -> Path:
    """A copy of the cache the cold run filled (entries are named by content, not by place), for this test
    to spoil or extend: what a cold run into ``tmp_path / "cache"`` would leave."""
    target = tmp_path / "cache"
    shutil.copytree(cold.out.with_name("cache"), target)
    return target


def cache_states(result) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    return {i.name: i.parse_cache for i in result.manifest.inputs if i.status != "skipped"}


def run(logs: Path, out: Path, cache: Path | None, **kw: object):  # type: ignore[no-untyped-def]
    result = analyze([logs], out, parse_cache=cache, **kw)  # type: ignore[arg-type]
    assert result.status == "ok", [(i.name, i.error) for i in result.manifest.inputs if i.error]
    return result


def entries(cache: Path) -> list[Path]:
    """The parsed-rows entries (``<key>.parquet``; a chunk's partials are ``<key>.<report>.parquet``)."""
    return sorted(p for p in cache.glob("*/*.parquet") if p.name.count(".") == 1)


def rows_entries(cache: Path) -> dict[str, bytes]:
    """The parsed-rows entries' Parquet files and records, by path in the cache."""
    files = [f for p in entries(cache) for f in (p, p.with_suffix(".json"))]
    return {str(f.relative_to(cache)): f.read_bytes() for f in files}


def chunk_records(cache: Path) -> list[Path]:
    """The records of the report-partial entries (one per chunk: a node's files of one hour)."""
    found = [p for p in cache.glob("*/*.json") if not p.name.startswith(".")]
    return sorted(p for p in found if json.loads(p.read_text()).get("kind") == "partials")


def forge_top_paths(record: Path, *, fix_record: bool) -> None:
    """Replace a chunk's top_paths partial with valid Parquet of other numbers (hits + 1000); with
    ``fix_record`` the record's size and sha256 are made to match, as a deliberate forger would."""
    parquet = record.with_name(f"{record.stem}.top_paths.parquet")
    tmp = record.with_name("forged.parquet")
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT * REPLACE (hits + 1000 AS hits) FROM '{parquet}') TO '{tmp}' (FORMAT parquet)"
        )
    tmp.replace(parquet)
    if fix_record:
        rec = json.loads(record.read_text())
        size, digest = hash_file(parquet, "sha256")
        rec["parquet"]["top_paths"].update(size=size, sha256=digest)
        record.write_text(json.dumps(rec))


def test_results_are_byte_identical_without_cache_cold_and_warm(
    logs: Path, tmp_path: Path, plain: RunResult, cold: RunResult, cache: Path
) -> None:
    warm = run(logs, tmp_path / "warm", cache)
    assert set(cache_states(plain).values()) == {None}
    assert set(cache_states(cold).values()) == {"stored"}
    assert set(cache_states(warm).values()) == {"hit"}
    assert len(entries(cache)) == len(cache_states(cold))
    assert len(chunk_records(cache)) == 3  # three nodes, each with files of one hour
    expected = parquet_outputs(plain.out)
    assert parquet_outputs(cold.out) == expected
    assert parquet_outputs(tmp_path / "warm") == expected
    assert [i.lines_read for i in warm.manifest.inputs] == [i.lines_read for i in plain.manifest.inputs]
    # a window applies to cached rows as to parsed ones: test_a_file_straddling_the_window_...


def test_untrustworthy_entries_are_reparsed_never_used(
    logs: Path, tmp_path: Path, plain: RunResult, cold: RunResult, cache: Path
) -> None:
    expected = parquet_outputs(plain.out)
    # one entry per distinct Parquet: a sample and its gzip copy parse to the same rows, and copying one's
    # Parquet beside the other's record would not be a mismatch
    distinct = {p.read_bytes(): p for p in entries(cache)}
    found = sorted(distinct.values())
    missing, corrupt, other_version, mismatched, truncated, half_written = found[:6]
    # and two entries of one format, so that only their key and source tell them apart
    fmt = {p: json.loads(p.with_suffix(".json").read_text())["format"] for p in found[6:]}
    forged, source = next((a, b) for a in fmt for b in fmt if a != b and fmt[a] == fmt[b])
    missing.unlink()  # record without its Parquet
    data = bytearray(corrupt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))  # one flipped byte
    record = json.loads(other_version.with_suffix(".json").read_text())
    record["edgelog_version"] = "0.0.0-other"
    other_version.with_suffix(".json").write_text(json.dumps(record))  # written by another version
    mismatched.write_bytes(truncated.read_bytes())  # another writer's Parquet beside this record
    truncated.write_bytes(truncated.read_bytes()[:100])  # a Parquet cut short
    half_written.with_suffix(".json").unlink()  # a writer still at work: Parquet renamed, record not yet
    for suffix in (".parquet", ".json"):  # another file's entry copied under this key: records name their
        forged.with_suffix(suffix).write_bytes(source.with_suffix(suffix).read_bytes())  # key and source
    warm = run(logs, tmp_path / "warm", cache)
    states = cache_states(warm)
    assert list(states.values()).count("stored") == 7, states
    assert list(states.values()).count("hit") == len(states) - 7
    assert parquet_outputs(tmp_path / "warm") == expected
    # the entries were rewritten, byte for byte as the cold run wrote them: the next run hits them, as the
    # warm run of test_results_are_byte_identical_without_cache_cold_and_warm hits the cold run's
    assert rows_entries(cache) == rows_entries(cold.out.with_name("cache"))


def test_an_unwritable_cache_never_fails_the_run(logs: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    result = run(logs, tmp_path / "out", blocker)
    assert set(cache_states(result).values()) == {"miss"}


def test_keys_change_with_versions_and_format() -> None:
    sha = "0" * 64
    assert entry_key(sha, "combined") != entry_key(sha, "common")
    assert entry_key(sha, "combined") != entry_key("1" * 64, "combined")
    assert entry_key(sha, "combined") == entry_key(sha, "combined")


def test_prune_removes_what_outlived_the_retention(logs: Path, tmp_path: Path, cache: Path) -> None:
    found = entries(cache)
    old = found[0]
    week_ago = time.time() - 8 * 86400
    for p in (old, old.with_suffix(".json")):
        os.utime(p, (week_ago, week_ago))
    stale_tmp = old.parent / f".{old.stem}.dead.parquet"
    stale_tmp.write_bytes(b"partial")
    os.utime(stale_tmp, (time.time() - 7200, time.time() - 7200))
    fresh_tmp = old.parent / f".{old.stem}.live.parquet"
    fresh_tmp.write_bytes(b"being written")
    removed = ParseCache(cache).prune(7 * 86400)
    assert removed == 3
    assert not old.exists() and not stale_tmp.exists() and fresh_tmp.exists()
    assert entries(cache) == found[1:]


# Two unnamed nginx definitions (both "nginx:custom" in the manifest) that read the last field differently.
REQUEST_TIME = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" $request_time'
)
UPSTREAM_TIME = REQUEST_TIME.replace("$request_time", "$upstream_response_time")


def test_a_log_format_definition_never_reuses_another_definitions_parse(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access-n1-20261123T080500Z.log").write_text(
        '10.0.0.1 - - [23/Nov/2026:08:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8" 0.250\n'
        '10.0.0.2 - - [23/Nov/2026:08:00:01 +0000] "GET /b HTTP/1.1" 404 0 "-" "curl/8" 0.750\n'
    )
    query = tmp_path / "times.sql"
    query.write_text(
        "SELECT sum(request_time_s) AS request_s, sum(upstream_time_s) AS upstream_s FROM requests"
    )
    cache = tmp_path / "cache"

    def times(out: Path) -> tuple[float | None, float | None]:
        with duckdb.connect() as con:  # not the default connection: a result left open there breaks others
            rows = con.execute(f"SELECT * FROM '{out}/queries/times.parquet'").fetchall()
        assert len(rows) == 1
        return rows[0][0], rows[0][1]

    req = resolve(REQUEST_TIME, None, None)
    ups = resolve(UPSTREAM_TIME, None, None)
    assert req is not None and ups is not None and req.name == ups.name
    assert parse.format_id(req) != parse.format_id(ups)
    first = run(logs, tmp_path / "req", cache, log_format=REQUEST_TIME, queries=[query])
    assert set(cache_states(first).values()) == {"stored"}
    assert times(tmp_path / "req") == (1.0, None)
    other = run(logs, tmp_path / "ups", cache, log_format=UPSTREAM_TIME, queries=[query])
    assert set(cache_states(other).values()) == {"stored"}  # same file, same label: not the first parse
    assert times(tmp_path / "ups") == (None, 1.0)
    assert len(entries(cache)) == 2
    again = run(logs, tmp_path / "req-warm", cache, log_format=REQUEST_TIME, queries=[query])
    assert set(cache_states(again).values()) == {"hit"}
    run(logs, tmp_path / "req-plain", None, log_format=REQUEST_TIME, queries=[query])
    assert parquet_outputs(tmp_path / "req-warm") == parquet_outputs(tmp_path / "req-plain")


def test_an_entry_holds_rows_before_the_trusted_proxy_rule(tmp_path: Path) -> None:
    """An entry is what parsing gives, whatever --trusted-proxies says (its key does not name them): the
    client behind the proxies is resolved from it on every read, so runs with other proxies, or none,
    share the entry and give what a run without the cache gives."""
    from edgelog.generator.formats import GCP_LOAD_BALANCER

    logs = tmp_path / "logs"
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    config = load_config(None)
    backfill(
        config,
        logs,
        node="n1",
        start=start,
        duration=timedelta(minutes=10),
        seed=5,
        rate=3.0,
        fmt="nginx-main",
    )
    cache = tmp_path / "cache"
    kw = {"log_format": "nginx-main"}
    runs = (("lb", GCP_LOAD_BALANCER, "lb"), ("none", None, "none"), ("lb-again", GCP_LOAD_BALANCER, "lb"))
    for name, proxies, plain in runs:
        if not (tmp_path / f"{plain}-plain").exists():  # the same inputs and proxies give the same bytes
            run(logs, tmp_path / f"{plain}-plain", None, trusted_proxies=proxies, **kw)
        cached = run(logs, tmp_path / name, cache, trusted_proxies=proxies, **kw)
        assert set(cache_states(cached).values()) == ({"stored"} if name == "lb" else {"hit"})
        assert parquet_outputs(tmp_path / name) == parquet_outputs(tmp_path / f"{plain}-plain")
    assert parquet_outputs(tmp_path / "lb") != parquet_outputs(
        tmp_path / "none"
    )  # the rule applies: other visitors


def top_paths(out: Path) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM '{out}/reports/top_paths.parquet'").fetchall()


def test_chunk_partials_that_verify_are_used(
    logs: Path, tmp_path: Path, plain: RunResult, cache: Path
) -> None:
    """The warm run reads a chunk's stored partials instead of computing them: a consistent forgery (the
    limit of the trust model, docs/analysis.md) shows in its results."""
    for record in chunk_records(cache):
        forge_top_paths(record, fix_record=True)
    run(logs, tmp_path / "warm", cache)
    assert top_paths(tmp_path / "warm") != top_paths(plain.out)


def _flipped(record: Path) -> None:
    forge_top_paths(record, fix_record=False)  # the Parquet is not the one the record describes


def _other_version(record: Path) -> None:
    forge_top_paths(record, fix_record=True)
    rec = json.loads(record.read_text())
    rec["edgelog_version"] = "0.0.0-other"
    record.write_text(json.dumps(rec))


def _being_written(record: Path) -> None:
    forge_top_paths(record, fix_record=True)
    record.unlink()  # a writer still at work: Parquet files renamed, record not yet


def _other_key(record: Path) -> None:
    """Another chunk's entry copied under this chunk's key, made consistent (checksums) after a forgery."""
    other = next(r for r in chunk_records(record.parents[1]) if r != record)
    for src in other.parent.glob(f"{other.stem}.*"):
        (record.parent / src.name.replace(other.stem, record.stem)).write_bytes(src.read_bytes())
    forge_top_paths(record, fix_record=True)


def trusted_entry(record: Path) -> tuple[dict, dict[str, list[tuple]]]:
    """A chunk's entry as a run checks it: its record, with the size and sha256 it gives each Parquet file
    checked against the file (then left out: a partial's rows may be stored in another order), and the rows of
    each Parquet file in any order."""
    rec = json.loads(record.read_text())
    rows = {}
    with duckdb.connect() as con:
        for report, meta in rec["parquet"].items():
            parquet = record.with_name(f"{record.stem}.{report}.parquet")
            assert (meta.pop("size"), meta.pop("sha256")) == hash_file(parquet, "sha256"), report
            rows[report] = con.execute(f"SELECT * FROM '{parquet}' ORDER BY ALL").fetchall()
    return rec, rows


@pytest.mark.parametrize("spoil", [_flipped, _other_version, _being_written, _other_key])
def test_untrustworthy_chunk_partials_are_recomputed_never_used(
    logs: Path, tmp_path: Path, plain: RunResult, cold: RunResult, cache: Path, spoil: Callable[[Path], None]
) -> None:
    record = chunk_records(cache)[0]
    spoil(record)  # forged content in each case: used, it would show
    run(logs, tmp_path / "warm", cache)
    assert parquet_outputs(tmp_path / "warm") == parquet_outputs(plain.out)
    assert len(chunk_records(cache)) == 3
    # rewritten as the cold run wrote it: the next run reads it, as it reads the cold run's entries
    # (test_chunk_partials_that_verify_are_used)
    assert trusted_entry(record) == trusted_entry(cold.out.with_name("cache") / record.relative_to(cache))


def test_a_file_straddling_the_window_never_uses_a_whole_file_partial(
    logs: Path, tmp_path: Path, cache: Path
) -> None:
    """Chunks stored by a run without a window hold whole files; a window that cuts files (08:07:30 is inside
    the second file of n1 and n2, 08:22:30 inside n1's fifth) must not reuse them for those files. The
    window applies to cached rows as to parsed ones: the files before and after it are not read, the lines
    outside it of the files it cuts are left out."""
    window = {"since": "2026-11-23T08:07:30Z", "until": "2026-11-23T08:22:30Z"}
    warm = run(logs, tmp_path / "warm", cache, **window)
    no_cache = run(logs, tmp_path / "plain", None, **window)
    assert parquet_outputs(tmp_path / "warm") == parquet_outputs(tmp_path / "plain")
    skipped = {i.name for i in warm.manifest.inputs if i.status == "skipped"}
    assert {"access-n1-20261123T080500Z.log", "access-n1-20261123T083000Z.log"} <= skipped
    cut = {i.name for i in warm.manifest.inputs if i.lines_outside_window}
    assert {"access-n1-20261123T081000Z.log", "access-n1-20261123T082500Z.log"} <= cut
    assert [i.lines_outside_window for i in warm.manifest.inputs] == [
        i.lines_outside_window for i in no_cache.manifest.inputs
    ]


def test_an_hour_that_gained_files_is_computed_again(logs: Path, tmp_path: Path, plain: RunResult) -> None:
    """A chunk stored while its hour had fewer files (a job between two rotations) is another chunk than
    the hour with all its files: the later run computes it again, from every file's rows."""
    early = tmp_path / "early"
    early.mkdir()
    names = sorted(p.name for p in logs.iterdir())
    last_n1 = max(n for n in names if n.startswith("access-n1-"))
    for name in names:
        if name != last_n1:  # n1's hour is stored with all files but its last
            (early / name).symlink_to(logs / name)
    cache = tmp_path / "cache"
    run(early, tmp_path / "fill", cache)
    warm = run(logs, tmp_path / "warm", cache)
    assert "hit" in cache_states(warm).values()
    assert parquet_outputs(tmp_path / "warm") == parquet_outputs(plain.out)


def test_a_record_that_miscounts_quarantined_lines_loads_the_rows_after_all(
    logs: Path, tmp_path: Path, plain: RunResult, cache: Path
) -> None:
    """A whole chunk's files are counted from its record; the quarantined lines read from their entries must
    agree with it, or the rows are loaded and counted as without the chunk."""
    for record in chunk_records(cache):
        rec = json.loads(record.read_text())
        for counts in rec["file_counts"].values():
            counts["lines_quarantined"] += 1
            counts["lines_read"] += 1
        record.write_text(json.dumps(rec))
    warm = run(logs, tmp_path / "warm", cache)
    assert parquet_outputs(tmp_path / "warm") == parquet_outputs(plain.out)
    assert warm.manifest.totals == plain.manifest.totals


def test_an_hour_of_few_requests_is_not_chunked(
    logs: Path, tmp_path: Path, plain: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunks, "MIN_CHUNK_REQUESTS", partial_cache.MIN_CHUNK_REQUESTS)
    cache = tmp_path / "cache"
    run(logs, tmp_path / "cold", cache)
    assert chunk_records(cache) == []
    warm = run(logs, tmp_path / "warm", cache)
    assert set(cache_states(warm).values()) == {"hit"}
    assert parquet_outputs(tmp_path / "warm") == parquet_outputs(plain.out)


def test_stored_partials_are_used_only_with_rows_from_the_cache(
    logs: Path, tmp_path: Path, plain: RunResult, cache: Path
) -> None:
    """A file parsed again (its rows entry gone) is recorded as `stored`, not `hit`: its chunk's partials are
    computed again too, so the manifest names every input whose numbers came from the cache."""
    for record in chunk_records(cache):
        forge_top_paths(record, fix_record=True)
    for entry in entries(cache):
        entry.unlink()
        entry.with_suffix(".json").unlink()
    warm = run(logs, tmp_path / "warm", cache)
    assert set(cache_states(warm).values()) == {"stored"}
    assert parquet_outputs(tmp_path / "warm") == parquet_outputs(plain.out)
