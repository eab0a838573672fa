"""Bucket listings map back to jobs, nodes and executions for every layout the Bacalhau publisher writes."""

from __future__ import annotations

from datetime import UTC, datetime

from edgelog.results.layout import job_prefix, parse_job, summarize_jobs
from edgelog.storage.base import ObjectInfo


def _o(key: str, size: int = 1, minute: int = 0) -> ObjectInfo:
    return ObjectInfo(key=key, size=size, updated=datetime(2026, 11, 23, 9, minute, tzinfo=UTC))


def test_plain_gzip_and_no_execution_layouts() -> None:
    objects = [
        _o("edgelog/j-1/n1/e-a/outputs/manifest.json"),
        _o("edgelog/j-1/n1/e-a/outputs/reports/summary.parquet", 10),
        _o("edgelog/j-1/n1/e-a/exitCode"),
        _o("edgelog/j-1/n1/e-a/stdout"),
        _o("edgelog/j-1/n2/e-b.tar.gz", 99),
        _o("edgelog/j-1/n3/outputs/manifest.json"),
        _o("edgelog/j-1/n3/exitCode"),
        _o("edgelog/j-1/n4.tar.gz", 5),
        _o("edgelog/j-1/n5/e-c/random.txt"),  # fits no layout
        _o("edgelog/j-1/README"),
        _o("edgelog/j-10/n1/e-z/exitCode"),  # another job sharing the name prefix
    ]
    listing = parse_job("j-1", "edgelog", objects)
    got = {(e.node_id, e.execution_id, e.encoding): e for e in listing.executions}
    assert set(got) == {
        ("n1", "e-a", "plain"),
        ("n2", "e-b", "gzip"),
        ("n3", None, "plain"),
        ("n4", None, "gzip"),
    }
    plain = got[("n1", "e-a", "plain")]
    assert plain.base_key == "edgelog/j-1/n1/e-a/"
    assert sorted(plain.objects) == [
        "exitCode",
        "outputs/manifest.json",
        "outputs/reports/summary.parquet",
        "stdout",
    ]
    assert plain.size == 13
    assert got[("n2", "e-b", "gzip")].base_key == "edgelog/j-1/n2/e-b.tar.gz"
    assert got[("n3", None, "plain")].base_key == "edgelog/j-1/n3/"
    assert listing.node_ids == ["n1", "n2", "n3", "n4"]
    assert sorted(o.key for o in listing.stray) == ["edgelog/j-1/README", "edgelog/j-1/n5/e-c/random.txt"]


def test_job_prefix_without_results_prefix() -> None:
    assert job_prefix("edgelog", "j-1") == "edgelog/j-1/"
    assert job_prefix("/a/b/", "j-1") == "a/b/j-1/"
    assert job_prefix("", "j-1") == "j-1/"
    listing = parse_job("j-1", "", [_o("j-1/n1/e-1/exitCode")])
    assert [e.node_id for e in listing.executions] == ["n1"]


def test_two_executions_of_one_node_are_both_kept() -> None:
    listing = parse_job(
        "j-1",
        "edgelog",
        [_o("edgelog/j-1/n1/e-1/exitCode", minute=1), _o("edgelog/j-1/n1/e-2/exitCode", minute=5)],
    )
    assert [(e.execution_id, e.updated.minute if e.updated else None) for e in listing.for_node("n1")] == [
        ("e-1", 1),
        ("e-2", 5),
    ]


def test_summarize_jobs_newest_first() -> None:
    objects = [
        _o("edgelog/j-old/n1/e-1/exitCode", minute=1),
        _o("edgelog/j-old/n2/e-2/exitCode", minute=3),
        _o("edgelog/j-new/n1/e-3.tar.gz", size=100, minute=30),
        _o("other/j-x/n1/e-1/exitCode"),
        _o("edgelog/loose-file"),
    ]
    jobs = summarize_jobs("edgelog", objects)
    assert [j.job_id for j in jobs] == ["j-new", "j-old"]
    old = jobs[1]
    assert (old.nodes, old.executions, old.objects) == (2, 2, 2)
    assert old.first_updated and old.first_updated.minute == 1
    assert old.last_updated and old.last_updated.minute == 3
    assert jobs[0].to_json()["bytes"] == 100
