"""`edgelog jobs` shows the time range of each job's data, read from the bucket listing alone.

Each results directory carries a tiny ``data-range/<first>_<last>.json`` object whose *name* is the first and
last record time of the run's valid requests, so a listing (which has only keys, sizes and times) says what
time a job covered without downloading anything. It is an output like any other: listed with its sha256 in
the manifest, and verified against the manifest's inputs wherever results are read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.results import analyze_node, copy_sample, publish_gzip, publish_plain, stage_execution
from typer.testing import CliRunner

from edgelog import resultdir
from edgelog.cli.main import app
from edgelog.errors import ExitCode
from edgelog.storage import open_bucket
from edgelog.storage.local import LocalBucket

runner = CliRunner()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("range")
    copy_sample(samples_dir, "nginx_small.log", root / "in-a", "node-a", "20261122T232500Z")
    copy_sample(samples_dir, "apache_small.log", root / "in-b", "node-b", "20261122T232500Z")
    (root / "in-e").mkdir()
    (root / "in-e" / "access-node-e-20261122T232500Z.log").write_text("")  # an idle node: no records
    return {
        node: analyze_node(
            root / f"in-{node[-1]}",
            root / f"out-{node}",
            job_id="j-r",
            node_id=node,
            execution_id=f"e-{node[-1]}",
        )
        for node in ("node-a", "node-b", "node-e")
    }


def _range(result_dir: Path) -> tuple[str | None, str | None]:
    m = resultdir.read(result_dir)
    ok = [i for i in m.inputs if i.status == "ok" and i.first_ts]
    return (min(i.first_ts for i in ok), max(i.last_ts for i in ok)) if ok else (None, None)


def test_every_result_names_its_data_range(results: dict[str, Path]) -> None:
    a = results["node-a"]
    first, last = _range(a)
    assert (first, last) == ("2026-11-22T23:20:17.000Z", "2026-11-22T23:21:41.000Z")
    marker = [o.path for o in resultdir.read(a).outputs if o.path.startswith("data-range/")]
    assert marker == ["data-range/20261122T232017.000Z_20261122T232141.000Z.json"]
    assert json.loads((a / marker[0]).read_text()) == {"first_ts": first, "last_ts": last}
    assert resultdir.parse_data_range(marker[0].split("/")[1]) == (first, last)
    idle = [o.path for o in resultdir.read(results["node-e"]).outputs if o.path.startswith("data-range/")]
    assert idle == ["data-range/empty.json"]


def test_merge_names_the_range_of_everything_it_holds(results: dict[str, Path], tmp_path: Path) -> None:
    res = runner.invoke(app, ["merge", *(str(p) for p in results.values()), "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    (marker,) = (tmp_path / "m" / "data-range").iterdir()
    firsts, lasts = zip(*(_range(results[n]) for n in ("node-a", "node-b")), strict=True)
    assert resultdir.parse_data_range(marker.name) == (min(firsts), max(lasts))


def test_a_range_that_disagrees_with_the_inputs_is_an_integrity_problem(
    results: dict[str, Path], tmp_path: Path
) -> None:
    forged = tmp_path / "forged"
    shutil.copytree(results["node-a"], forged)
    m = resultdir.read(forged)
    (entry,) = [o for o in m.outputs if o.path.startswith("data-range/")]
    old = forged / entry.path
    entry.path = "data-range/20200101T000000.000Z_20261122T232141.000Z.json"  # claims years of data
    old.rename(forged / entry.path)
    m.write(forged)
    problems = m.verify(forged)
    assert problems and "data-range" in problems[0] and "inputs" in problems[0]
    res = runner.invoke(app, ["report", str(forged)])
    assert res.exit_code == ExitCode.INTEGRITY, res.output

    # published, it is one corrupt node: fetch merges the others and says which and why
    bucket = open_bucket(tmp_path / "bucket")
    publish_plain(bucket, stage_execution(forged, tmp_path / "sf"), "edgelog/j-r/node-a/e-a")
    publish_plain(bucket, stage_execution(results["node-b"], tmp_path / "sb"), "edgelog/j-r/node-b/e-b")
    res = runner.invoke(
        app, ["fetch", "j-r", "--bucket", str(tmp_path / "bucket"), "--out", str(tmp_path / "f"), "--json"]
    )
    assert res.exit_code == ExitCode.INTEGRITY, res.output
    nodes = {n["node_id"]: n for n in json.loads(res.stdout)["nodes"]}
    assert nodes["node-a"]["status"] == "corrupt" and "data-range" in nodes["node-a"]["reason"]
    assert nodes["node-b"]["status"] == "ok"
    assert [r.node_id for r in resultdir.read(tmp_path / "f" / "merged").merged_from or []] == ["node-b"]


def _publish(bucket: LocalBucket, results: dict[str, Path], tmp: Path) -> None:
    publish_plain(bucket, stage_execution(results["node-a"], tmp / "sa"), "edgelog/j-r/node-a/e-a")
    publish_plain(bucket, stage_execution(results["node-b"], tmp / "sb"), "edgelog/j-r/node-b/e-b")
    publish_plain(bucket, stage_execution(results["node-e"], tmp / "se"), "edgelog/j-r/node-e/e-e")
    # gzip encoding: one archive, no keys to read a range from
    publish_gzip(bucket, stage_execution(results["node-b"], tmp / "sg"), "edgelog/j-r/node-g/e-g", tmp)


def test_jobs_shows_the_data_range_without_downloading_anything(
    results: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = open_bucket(tmp_path / "bucket")
    assert isinstance(bucket, LocalBucket)
    _publish(bucket, results, tmp_path)

    def no_download(self: LocalBucket, key: str, local: Path) -> None:
        raise AssertionError(f"edgelog jobs downloaded {key}")

    monkeypatch.setattr(LocalBucket, "download_file", no_download)
    res = runner.invoke(app, ["jobs", "--bucket", str(tmp_path / "bucket"), "--json"])
    assert res.exit_code == 0, res.output
    (job,) = json.loads(res.stdout)
    firsts, lasts = zip(*(_range(results[n]) for n in ("node-a", "node-b")), strict=True)
    assert (job["data_first_ts"], job["data_last_ts"]) == (min(firsts), max(lasts))
    # 4 executions; the gzip one shows no range (its listing is one archive): said, not hidden
    assert (job["executions"], job["data_range_executions"]) == (4, 3)

    table = runner.invoke(app, ["jobs", "--bucket", str(tmp_path / "bucket")], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "data from" in table.output and "data to" in table.output
    assert "2026-11-22 23:20:17" in table.output and "2026-11-22 23:21:41" in table.output
    assert "3 of 4" in table.output  # executions the range covers


def test_jobs_of_results_without_a_range(results: dict[str, Path], tmp_path: Path) -> None:
    """Results written before the range object existed (or only idle nodes) show no range, not a wrong one."""
    old = tmp_path / "old"
    shutil.copytree(results["node-a"], old)
    shutil.rmtree(old / "data-range")
    m = resultdir.read(old)
    m.outputs = [o for o in m.outputs if not o.path.startswith("data-range/")]
    m.write(old)
    bucket = open_bucket(tmp_path / "bucket")
    publish_plain(bucket, stage_execution(old, tmp_path / "so"), "edgelog/j-old/node-a/e-a")
    publish_plain(bucket, stage_execution(results["node-e"], tmp_path / "se"), "edgelog/j-idle/node-e/e-e")
    res = runner.invoke(app, ["jobs", "--bucket", str(tmp_path / "bucket"), "--json"])
    jobs = {j["job_id"]: j for j in json.loads(res.stdout)}
    assert (jobs["j-old"]["data_first_ts"], jobs["j-old"]["data_range_executions"]) == (None, 0)
    assert (jobs["j-idle"]["data_first_ts"], jobs["j-idle"]["data_range_executions"]) == (None, 1)
