"""`edgelog fetch` against a real gcp-storage-emulator: layouts, verification, partial results, resume.

Node results are real `edgelog analyze` outputs (see test_fetch_support), published in the Bacalhau S3
publisher's layouts; the merge is the real `edgelog.analysis.merge`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest
from support.gcs import FaultProxy, new_bucket
from support.results import (
    analyze_node,
    copy_sample,
    publish_gzip,
    publish_plain,
    stage_execution,
    write_hostile_log,
    write_truncated_gzip,
)
from support.signals import stop_when
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.errors import ExitCode, UsageError
from edgelog.results import fetch_job, list_jobs
from edgelog.storage import open_bucket
from edgelog.storage.gcs import GCSBucket

# Every test here drives a real tool (see tests/support/tools.py); the fast lane deselects them.
pytestmark = pytest.mark.needs_tool("gcp-storage-emulator")


runner = CliRunner()


@pytest.fixture
def gcs(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    return new_bucket(gcs_emulator)


@pytest.fixture(scope="module")
def node_results(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> dict[str, Path]:
    """Real analysis results of three nodes (nginx, Apache, hostile lines) and one partial node."""
    root = tmp_path_factory.mktemp("nodes")
    results = {}
    copy_sample(samples_dir, "nginx_small.log", root / "in-a", "node-a", "20261122T232500Z")
    copy_sample(samples_dir, "apache_small.log", root / "in-b", "node-b", "20261122T232500Z")
    write_hostile_log(root / "in-c", "node-c")
    # node-p's good file must not be byte-identical to another node's: merge refuses shared inputs.
    write_hostile_log(root / "in-p", "node-p", repeat=2)
    write_truncated_gzip(samples_dir, root / "in-p", "node-p")
    for node, execution in (("node-a", "e-a"), ("node-b", "e-b"), ("node-c", "e-c"), ("node-p", "e-p")):
        results[node] = analyze_node(
            root / f"in-{node[-1]}",
            root / f"out-{node}",
            job_id="j-test",
            node_id=node,
            execution_id=execution,
        )
    return results


def _summary(result_dir: Path) -> dict:
    con = duckdb.connect()
    cur = con.execute("SELECT * FROM read_parquet(?)", [str(result_dir / "reports" / "summary.parquet")])
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchall()[0], strict=True))


def _manifest(result_dir: Path) -> dict:
    return json.loads((result_dir / "manifest.json").read_text())


def test_fetch_verifies_and_merges_plain_gzip_and_no_execution_layouts(
    gcs: str, node_results: dict[str, Path], tmp_path: Path
) -> None:
    bucket = open_bucket(gcs)
    publish_plain(
        bucket, stage_execution(node_results["node-a"], tmp_path / "sa"), "edgelog/j-test/node-a/e-a"
    )
    publish_gzip(
        bucket,
        stage_execution(node_results["node-b"], tmp_path / "sb"),
        "edgelog/j-test/node-b/e-b",
        tmp_path,
    )
    publish_plain(bucket, stage_execution(node_results["node-c"], tmp_path / "sc"), "edgelog/j-test/node-c")

    result = fetch_job(gcs, "j-test", tmp_path / "out", workers=4)
    assert [(n.node_id, n.status, n.encoding) for n in result.nodes] == [
        ("node-a", "ok", "plain"),
        ("node-b", "ok", "gzip"),
        ("node-c", "ok", "plain"),
    ]
    assert (result.status, result.exit_code, result.partial) == ("ok", ExitCode.OK, False)
    expected_files = {n: len(_manifest(d)["outputs"]) for n, d in node_results.items()}
    assert (
        result.nodes[0].files == expected_files["node-a"] + 4
    )  # outputs + manifest + stdout/stderr/exitCode
    assert result.nodes[1].files == expected_files["node-b"] + 1  # the archive, then each file inside it
    assert result.nodes[1].execution_id == "e-b" and result.nodes[2].execution_id is None

    merged = result.merged_dir
    assert merged == tmp_path / "out" / "merged"
    manifest = _manifest(merged)
    assert manifest["kind"] == "merge" and manifest["status"] == "ok"
    assert sorted(m["node_id"] for m in manifest["merged_from"]) == ["node-a", "node-b", "node-c"]
    assert [n["status"] for n in manifest["fetch"]["nodes"]] == ["ok", "ok", "ok"]
    parts = [_summary(node_results[n]) for n in ("node-a", "node-b", "node-c")]
    total = _summary(merged)
    assert total["valid_requests"] == sum(p["valid_requests"] for p in parts) > 900
    assert total["quarantined_lines"] == sum(p["quarantined_lines"] for p in parts) >= 1
    # Every merged output verifies against the merged manifest.
    from edgelog.results import load_result

    loaded = load_result(merged)
    assert not loaded.integrity_problems and loaded.verified_files == len(manifest["outputs"])
    fetch_doc = json.loads((tmp_path / "out" / "fetch.json").read_text())
    assert fetch_doc["status"] == "ok" and len(fetch_doc["nodes"]) == 3


def test_missing_failed_partial_and_corrupt_nodes_are_reported(
    gcs: str, node_results: dict[str, Path], tmp_path: Path
) -> None:
    bucket = open_bucket(gcs)
    job = "edgelog/j-test"
    publish_plain(bucket, stage_execution(node_results["node-a"], tmp_path / "sa"), f"{job}/node-a/e-a")
    # node-b: a report object replaced after publishing (bit rot, a bad re-upload): sha256 will not match.
    publish_plain(bucket, stage_execution(node_results["node-b"], tmp_path / "sb"), f"{job}/node-b/e-b")
    evil = tmp_path / "evil.parquet"
    evil.write_bytes(b"PAR1 not really")
    bucket.upload_file(evil, f"{job}/node-b/e-b/outputs/reports/top_paths.parquet")
    # node-f: the job failed on the node: exit code 1, stderr, no outputs.
    stage = stage_execution(
        tmp_path / "none", tmp_path / "sf", exit_code=1, stderr="boom\nerror: /inputs: no such dir\n"
    )
    publish_plain(bucket, stage, f"{job}/node-f/e-f")
    # node-p: analyze exited 3 with a partial manifest (one truncated input file): merged, marked partial.
    publish_plain(
        bucket, stage_execution(node_results["node-p"], tmp_path / "sp", exit_code=3), f"{job}/node-p/e-p"
    )
    # node-m: expected but published nothing.

    result = fetch_job(gcs, "j-test", tmp_path / "out", expected_nodes=["node-m"], workers=4)
    by_node = {n.node_id: n for n in result.nodes}
    assert {n: r.status for n, r in by_node.items()} == {
        "node-a": "ok",
        "node-b": "corrupt",
        "node-f": "failed",
        "node-m": "missing",
        "node-p": "partial",
    }
    assert "top_paths.parquet" in (by_node["node-b"].reason or "")
    assert "sha256" in (by_node["node-b"].reason or "") or "size" in (by_node["node-b"].reason or "")
    assert by_node["node-f"].exit_code == 1 and "no such dir" in (by_node["node-f"].reason or "")
    assert by_node["node-p"].exit_code == 3
    assert result.exit_code == ExitCode.INTEGRITY and result.partial and result.status == "partial"
    # The corrupt copy is not kept where a rerun could take it for verified.
    assert not (tmp_path / "out/nodes/node-b/e-b/outputs/reports/top_paths.parquet").exists()

    manifest = _manifest(result.merged_dir)
    assert manifest["status"] == "partial"
    assert sorted(m["node_id"] for m in manifest["merged_from"]) == ["node-a", "node-p"]
    assert {n["node_id"]: n["status"] for n in manifest["fetch"]["nodes"]}["node-m"] == "missing"
    merged = _summary(result.merged_dir)
    assert (
        merged["valid_requests"]
        == _summary(node_results["node-a"])["valid_requests"]
        + _summary(node_results["node-p"])["valid_requests"]
    )

    # Without the corrupt node the verdict is "partial" (exit 3), not integrity.
    bucket_obj = GCSBucket.from_url(gcs)
    client = bucket_obj._client()
    for blob in client.list_blobs(bucket_obj.bucket_name, prefix=f"{job}/node-b/"):
        blob.delete()
    again = fetch_job(gcs, "j-test", tmp_path / "out", expected_nodes=["node-m"])
    assert again.exit_code == ExitCode.PARTIAL and again.partial


def test_refetch_follows_the_bucket_not_stale_local_copies(
    gcs: str, node_results: dict[str, Path], tmp_path: Path, samples_dir: Path
) -> None:
    """A job re-published under the same key: changed files are fetched again, vanished ones stop counting."""
    bucket = open_bucket(gcs)
    key = "edgelog/j-re/node-a/e-1"
    publish_plain(bucket, stage_execution(node_results["node-a"], tmp_path / "s1"), key)
    first = fetch_job(gcs, "j-re", tmp_path / "out")
    assert first.exit_code == ExitCode.OK

    # Overwrite with another analysis of the same node (different content, same file names) plus a file the
    # old one lacked.
    copy_sample(samples_dir, "apache_small.log", tmp_path / "in-a2", "node-a", "20261122T234000Z")
    again = analyze_node(
        tmp_path / "in-a2", tmp_path / "a2", job_id="j-re", node_id="node-a", execution_id="e-1"
    )
    stage = stage_execution(again, tmp_path / "s2")
    publish_plain(bucket, stage, key)
    local = tmp_path / "out" / "nodes" / "node-a" / "e-1"
    (local / "outputs" / "stale.parquet").write_bytes(b"left over from an old run")
    second = fetch_job(gcs, "j-re", tmp_path / "out")
    assert second.exit_code == ExitCode.OK
    assert second.downloaded > 0
    assert _summary(second.merged_dir)["valid_requests"] == _summary(again)["valid_requests"]
    assert _summary(again)["valid_requests"] != _summary(node_results["node-a"])["valid_requests"]
    assert not (local / "outputs" / "stale.parquet").exists()

    # The manifest object disappears (a half-deleted prefix): the local copy must not stand in for it.
    gcs_bucket = GCSBucket.from_url(gcs)
    gcs_bucket._client().bucket(gcs_bucket.bucket_name).blob(f"{key}/outputs/manifest.json").delete()
    third = fetch_job(gcs, "j-re", tmp_path / "out")
    assert third.nodes[0].status == "missing" and third.exit_code == ExitCode.FAILED


def test_nothing_usable_is_a_failure(gcs: str, tmp_path: Path) -> None:
    bucket = open_bucket(gcs)
    stage = stage_execution(tmp_path / "none", tmp_path / "sf", exit_code=2, stderr="usage error\n")
    publish_plain(bucket, stage, "edgelog/j-dead/node-1/e-1")
    result = fetch_job(gcs, "j-dead", tmp_path / "out")
    assert result.exit_code == ExitCode.FAILED and result.merged_dir is None
    assert result.nodes[0].status == "failed"
    with pytest.raises(UsageError, match="no results for job j-nope"):
        fetch_job(gcs, "j-nope", tmp_path / "out2")
    with pytest.raises(UsageError, match="invalid job id"):
        fetch_job(gcs, "../etc", tmp_path / "out3")


@pytest.fixture(scope="module")
def big_job(
    gcs_emulator: str, tmp_path_factory: pytest.TempPathFactory, samples_dir: Path
) -> Iterator[tuple[str, int]]:
    """26 nodes, each a real analysis of a slice of the samples: more than 1,000 objects in one job."""
    mp = pytest.MonkeyPatch()
    mp.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    url = new_bucket(gcs_emulator)
    root = tmp_path_factory.mktemp("big")
    lines = (samples_dir / "nginx_small.log").read_text().splitlines(keepends=True)
    lines += (samples_dir / "apache_small.log").read_text().splitlines(keepends=True)
    bucket = open_bucket(url)

    def node_job(i: int) -> int:
        node = f"node-{i:02d}"
        inputs = root / f"in-{i}"
        inputs.mkdir()
        (inputs / f"access-{node}-20261122T232500Z.log").write_text("".join(lines[i::26]))
        out = analyze_node(inputs, root / f"out-{i}", job_id="j-big", node_id=node, execution_id=f"e-{i}")
        return len(
            publish_plain(bucket, stage_execution(out, root / f"stage-{i}"), f"edgelog/j-big/{node}/e-{i}")
        )

    with ThreadPoolExecutor(4) as pool:  # nodes publish concurrently, as they do for real
        objects = sum(pool.map(node_job, range(26)))
    yield url, objects
    mp.undo()


@pytest.mark.slow
def test_more_than_1000_objects_and_interrupted_fetch_resumes(
    big_job: tuple[str, int], gcs_emulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, objects = big_job
    assert objects > 1000
    jobs = {j.job_id: j for j in list_jobs(url)}
    assert jobs["j-big"].nodes == 26 and jobs["j-big"].objects == objects

    # The network goes away after 300 downloads and stays away: the first fetch is cut off mid-way.
    served = [0]

    def outage(method: str, path: str) -> str | None:
        if "alt=media" in path:
            served[0] += 1
            return "drop" if served[0] > 300 else None
        return None

    out = tmp_path / "out"
    with FaultProxy(gcs_emulator, outage) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.endpoint)
        flaky = GCSBucket.from_url(url, retry_timeout=1.0, retry_initial=0.05, retry_maximum=0.2)
        first = fetch_job(flaky, "j-big", out, workers=4)
    assert first.exit_code in (ExitCode.FAILED, ExitCode.PARTIAL)
    assert first.downloaded == 300
    assert first.retries > 0 and flaky.on_retry is None  # retries counted; the caller's bucket left as it was
    assert any("bucket unreachable" in p for p in first.problems)
    assert any(n.status == "failed" and "download failed" in (n.reason or "") for n in first.nodes)

    # Damage left by the interruption: a stray temporary file and one truncated download.
    done = sorted(p for p in (out / "nodes").rglob("*.parquet") if p.is_file())
    assert done
    done[0].write_bytes(done[0].read_bytes()[:10])
    stray = done[1].parent / f".{done[1].name}.part"
    stray.write_bytes(b"half")

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    second = fetch_job(url, "j-big", out, workers=4)
    assert second.exit_code == ExitCode.OK, [(n.node_id, n.status, n.reason) for n in second.nodes]
    assert second.skipped == 300 - 1  # everything the first run got, except the truncated file
    assert second.downloaded == objects - 300 + 1
    assert second.downloaded + second.skipped == objects
    assert not stray.exists()
    manifest = _manifest(second.merged_dir)
    assert len(manifest["merged_from"]) == 26 and manifest["status"] == "ok"
    total = _summary(second.merged_dir)
    assert total["total_lines"] == 491 + 485

    # A third run downloads nothing.
    third = fetch_job(url, "j-big", out)
    assert (third.downloaded, third.skipped, third.exit_code) == (0, objects, ExitCode.OK)


@pytest.mark.slow
def test_killed_fetch_resumes(big_job: tuple[str, int], gcs_emulator: str, tmp_path: Path) -> None:
    """SIGKILL `edgelog fetch` mid-download (a crash, Ctrl-\\, OOM): the rerun keeps what was verified."""
    url, objects = big_job
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with FaultProxy(gcs_emulator, lambda m, p: "slow" if "alt=media" in p else None, delay=0.02) as proxy:
        env["STORAGE_EMULATOR_HOST"] = proxy.endpoint
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edgelog",
                "fetch",
                "j-big",
                "--bucket",
                url,
                "--out",
                str(out),
                "--workers",
                "4",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and proc.poll() is None:
                if sum(1 for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")) >= 150:
                    break
                time.sleep(0.05)
            assert proc.poll() is None, "fetch finished before it could be interrupted"
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "merged").exists()
    kept = sum(1 for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert 150 <= kept < objects

    result = fetch_job(url, "j-big", out, workers=4)
    assert result.exit_code == ExitCode.OK
    assert result.skipped >= kept - 4  # at most the files being verified at the kill are fetched again
    assert result.downloaded + result.skipped == objects
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files left behind"


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_fetch_ends_at_once_and_leaves_no_temporary_file(
    big_job: tuple[str, int], gcs_emulator: str, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """Ctrl-C or SIGTERM (`timeout`, a CI runner) ends `edgelog fetch` mid-download within a second, with its
    exit code and one line: the downloads still queued never start, no merge is written, nothing temporary
    is left behind, and what was verified stays for the rerun."""
    url, objects = big_job
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp)}
    with FaultProxy(gcs_emulator, lambda m, p: "slow" if "alt=media" in p else None, delay=0.02) as proxy:
        env["STORAGE_EMULATOR_HOST"] = proxy.endpoint
        command = [sys.executable, "-m", "edgelog", "fetch", "j-big", "--bucket", url, "--out", str(out)]
        stopped = stop_when(
            [*command, "--workers", "4"],
            lambda: sum(1 for p in out.rglob("*.parquet") if p.is_file()) >= 100,
            sig,
            env=env,
            timeout=90,
        )
    assert stopped.returncode == code, stopped.stderr
    assert stopped.took < 1.0, f"stopped {stopped.took:.2f} s after the signal"
    assert "Traceback" not in stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] in ("interrupted", "terminated"), stopped.stderr
    assert not (out / "merged").exists()
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files left behind"
    assert list(tmp.iterdir()) == []
    kept = sum(1 for p in out.rglob("*") if p.is_file())
    assert 100 <= kept < objects - 100  # the queued downloads never started


@pytest.mark.slow
def test_a_fetch_stopped_during_an_outage_does_not_retry_on(
    big_job: tuple[str, int], gcs_emulator: str, tmp_path: Path
) -> None:
    """Ctrl-C while the bucket is unreachable (when a fetch looks stuck) ends it within the backoff of the
    retries already under way: a download stops retrying once the stop is seen, instead of going on for the
    whole retry budget (120 s) before the command can end."""
    url, _ = big_job
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with FaultProxy(gcs_emulator, lambda m, p: "drop" if "alt=media" in p else None) as proxy:
        env["STORAGE_EMULATOR_HOST"] = proxy.endpoint
        command = [sys.executable, "-m", "edgelog", "fetch", "j-big", "--bucket", url, "--out", str(out)]
        stopped = stop_when(
            [*command, "--workers", "4"],
            lambda: sum(1 for r in proxy.requests if r[2] == "drop") >= 8,  # every worker is retrying
            signal.SIGINT,
            env=env,
            timeout=90,
        )
    assert stopped.returncode == 130, stopped.stderr
    assert stopped.took < 10.0, f"stopped {stopped.took:.2f} s after the signal"  # retry_maximum: 8 s
    assert stopped.stderr.strip().splitlines()[-1] == "interrupted", stopped.stderr
    assert not (out / "merged").exists()
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files left behind"


def test_cli_fetch_jobs_report(gcs: str, node_results: dict[str, Path], tmp_path: Path) -> None:
    bucket = open_bucket(gcs)
    publish_plain(
        bucket, stage_execution(node_results["node-a"], tmp_path / "sa"), "edgelog/j-cli/node-a/e-a"
    )
    publish_plain(
        bucket, stage_execution(node_results["node-c"], tmp_path / "sc"), "edgelog/j-cli/node-c/e-c"
    )

    listed = runner.invoke(app, ["jobs", "--bucket", gcs, "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(j["job_id"], j["nodes"]) for j in json.loads(listed.stdout)] == [("j-cli", 2)]
    # the data's time range, from the GCS listing's data-range keys alone
    (job,) = json.loads(listed.stdout)
    inputs = [i for n in ("node-a", "node-c") for i in _manifest(node_results[n])["inputs"] if i["first_ts"]]
    want = (min(i["first_ts"] for i in inputs), max(i["last_ts"] for i in inputs))
    assert (job["data_first_ts"], job["data_last_ts"], job["data_range_executions"]) == (*want, 2)
    table = runner.invoke(app, ["jobs", "--bucket", gcs], env={"COLUMNS": "200"})
    assert "j-cli" in table.output and want[0][:19].replace("T", " ") in table.output

    out = tmp_path / "res"
    html = tmp_path / "report.html"
    res = runner.invoke(
        app, ["fetch", "j-cli", "--bucket", gcs, "--out", str(out), "--json", "--html", str(html)]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["status"] == "ok" and [n["status"] for n in doc["nodes"]] == ["ok", "ok"]
    assert doc["merged_dir"] == str(out / "merged") and html.is_file()

    res = runner.invoke(
        app, ["fetch", "j-cli", "--bucket", gcs, "--out", str(out), "--expect-node", "node-z"]
    )
    assert res.exit_code == ExitCode.PARTIAL, res.output
    assert "node-z" in res.output and "missing" in res.output and "PARTIAL" in res.output
    assert "Top paths" in res.output  # the summary tables follow the node table
    assert "Node processing" in res.output and "slowest: node-" in res.output  # how each node's run went

    report = runner.invoke(app, ["report", str(out)])  # a fetch --out dir: reports its merged result
    assert report.exit_code == ExitCode.PARTIAL, report.output
    assert "Status codes" in report.output and "node-z" in report.output

    missing = runner.invoke(app, ["fetch", "j-none", "--bucket", gcs, "--out", str(tmp_path / "x")])
    assert missing.exit_code == ExitCode.USAGE and "edgelog jobs" in missing.output
    assert "Traceback" not in missing.output


def test_local_bucket_is_the_default(node_results: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    """With no --bucket and no $EDGELOG_BUCKET, fetch reads the embedded local bucket."""
    monkeypatch.delenv("EDGELOG_BUCKET", raising=False)
    monkeypatch.setenv("EDGELOG_HOME", str(tmp_path / "home"))
    from edgelog.settings import default_bucket_url

    bucket = open_bucket(default_bucket_url())
    publish_plain(
        bucket, stage_execution(node_results["node-a"], tmp_path / "sa"), "edgelog/j-local/node-a/e-a"
    )
    res = runner.invoke(app, ["fetch", "j-local", "--out", str(tmp_path / "o"), "--no-summary"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "merged" / "manifest.json").is_file()
    shutil.rmtree(tmp_path / "o" / "merged")
    res = runner.invoke(app, ["fetch", "j-local", "--out", str(tmp_path / "o"), "--json"])
    assert json.loads(res.stdout)["skipped"] == json.loads(res.stdout)["nodes"][0]["files"]
