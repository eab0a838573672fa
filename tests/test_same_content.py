"""Two input files of one run with the same bytes are one file's lines, counted once.

A log copied next to itself (``cp access.log access.log.1``, a rotation that copied and also kept, a backup
restored beside the original) holds the same requests twice; ``merge`` refuses two results that read the same
bytes for that reason. ``analyze`` read both and said ``ok`` with every line counted twice. Now the later
copy (in the order files are listed) is skipped, naming the first, as a second path to one file already is;
empty files are exempt (idle nodes rotate empty files that are all alike).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.results import parquet_outputs

from edgelog.analysis import analyze, chunks, merge
from edgelog.analysis.writer import RunResult
from edgelog.generator import backfill, load_config
from edgelog.resultdir import InputEntry

REPO_FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty minutes of one node's traffic: four rotated files of one hour (one chunk of the cache)."""
    d = tmp_path_factory.mktemp("traffic")
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    backfill(load_config(None), d, node="n1", start=start, duration=timedelta(minutes=20), seed=5, rate=2.0)
    return d


def _copy_of(traffic: Path, tmp_path: Path, *, extra: dict[str, str]) -> Path:
    """``traffic`` plus, for each ``extra`` name -> source name, a copy of that file under the new name."""
    d = tmp_path / "in"
    shutil.copytree(traffic, d)
    for name, source in extra.items():
        shutil.copyfile(traffic / source, d / name)
    return d


def _input(result: RunResult, name: str) -> InputEntry:
    (entry,) = [i for i in result.manifest.inputs if i.name == name]
    return entry


def test_a_file_copied_beside_itself_is_read_once(traffic: Path, tmp_path: Path) -> None:
    first = sorted(p.name for p in traffic.iterdir())[1]
    copy = first.replace(".log", ".log.1")  # lists after its original
    both = analyze([_copy_of(traffic, tmp_path, extra={copy: first})], tmp_path / "both")
    alone = analyze([traffic], tmp_path / "alone")

    assert both.status == "ok"
    skipped = _input(both, copy)
    assert skipped.status == "skipped"
    assert skipped.error == f"same content as {tmp_path / 'in' / first}"
    assert (skipped.lines_read, skipped.lines_parsed) == (0, 0)
    assert skipped.sha256 == _input(both, first).sha256  # it was read: its bytes are named
    assert both.manifest.totals.files_skipped == 1
    assert both.manifest.totals.lines_read == alone.manifest.totals.lines_read
    # every report, partial and the quarantine: as if the copy were not there
    assert parquet_outputs(both.out) == parquet_outputs(alone.out)


def test_the_copy_listed_first_is_the_one_read(traffic: Path, tmp_path: Path) -> None:
    """Which copy is kept follows the listing, not which was parsed or hashed first."""
    source = sorted(p.name for p in traffic.iterdir())[2]
    early = "access-n1-20261123T075500Z.log"  # sorts before every file of ``traffic``
    result = analyze([_copy_of(traffic, tmp_path, extra={early: source})], tmp_path / "out")
    assert _input(result, early).status == "ok"
    assert _input(result, source).status == "skipped"
    assert _input(result, source).error == f"same content as {tmp_path / 'in' / early}"


def test_empty_files_are_never_taken_for_copies(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    for stamp in ("080000", "080500", "081000"):
        (d / f"access-n1-20261123T{stamp}Z.log").write_bytes(b"")
        (d / f"error-n1-20261123T{stamp}Z.log").write_bytes(b"")
    result = analyze([d], tmp_path / "out")
    assert [i.status for i in result.manifest.inputs] == ["ok"] * 6


def test_a_gzip_and_its_plain_copy_are_different_bytes_and_both_read(traffic: Path, tmp_path: Path) -> None:
    """Only the same bytes are taken for a copy (as merge compares them): a compressed copy of a file is
    another file's bytes, and is read (this rule does not decompress to compare)."""
    import gzip

    first = sorted(p.name for p in traffic.iterdir())[0]
    d = _copy_of(traffic, tmp_path, extra={})
    (d / (first + ".1.gz")).write_bytes(gzip.compress((traffic / first).read_bytes()))
    result = analyze([d], tmp_path / "out")
    assert [i.status for i in result.manifest.inputs] == ["ok"] * len(result.manifest.inputs)


def test_an_error_log_copied_beside_itself_is_read_once(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    source = REPO_FIXTURES / "nginx-errors" / "error.log"
    shutil.copyfile(source, d / "error-n1-20261123T080000Z.log")
    alone = analyze([d], tmp_path / "alone")
    shutil.copyfile(source, d / "error-n1-20261123T080500Z.log")
    both = analyze([d], tmp_path / "both")
    assert alone.status == both.status == "ok"
    assert _input(both, "error-n1-20261123T080500Z.log").status == "skipped"
    assert both.manifest.totals.lines_read == alone.manifest.totals.lines_read > 0
    assert parquet_outputs(both.out) == parquet_outputs(alone.out)


@pytest.mark.parametrize("order", ["copy-first", "copy-last"])
def test_with_the_parse_cache_the_copy_is_skipped_and_results_match_a_run_without_it(
    traffic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """The copy arrives after its original's chunk was cached: either the copy (parsed) or the original (a
    cache hit whose chunk's stored partials would otherwise be used whole) is the one skipped; the results
    are those of a run without the cache."""
    monkeypatch.setattr(chunks, "MIN_CHUNK_REQUESTS", 1)
    cache = tmp_path / "cache"
    warm_up = analyze([traffic], tmp_path / "warm-up", parse_cache=cache)
    assert warm_up.status == "ok"
    source = sorted(p.name for p in traffic.iterdir())[1]
    # another hour's name (a chunk of its own) that lists before or after every file of ``traffic``
    copy = "access-n1-20261123T075500Z.log" if order == "copy-first" else "access-n1-20261123T090000Z.log"
    d = _copy_of(traffic, tmp_path, extra={copy: source})
    cached = analyze([d], tmp_path / "cached", parse_cache=cache)
    plain = analyze([d], tmp_path / "plain")
    skipped = source if order == "copy-first" else copy
    assert _input(cached, skipped).status == _input(plain, skipped).status == "skipped"
    assert cached.manifest.totals == plain.manifest.totals
    assert parquet_outputs(cached.out) == parquet_outputs(plain.out)
    # and once more, every file a cache hit now
    again = analyze([d], tmp_path / "again", parse_cache=cache)
    assert parquet_outputs(again.out) == parquet_outputs(plain.out)


def test_a_result_with_a_skipped_copy_merges(traffic: Path, tmp_path: Path) -> None:
    first = sorted(p.name for p in traffic.iterdir())[0]
    result = analyze([_copy_of(traffic, tmp_path, extra={first + ".1": first})], tmp_path / "out")
    merged = merge([result.out], tmp_path / "merged")
    assert merged.status == "ok"
    assert merged.manifest.totals == result.manifest.totals
