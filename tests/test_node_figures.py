"""Per job, per node: how each run went (phases, throughput, memory), so an operator sees who held a job back.

Every figure comes from real `edgelog analyze`/`merge` runs through the CLI. The spread and slowest-node
arithmetic is also checked on figures set by hand in a merged manifest, where the expected text is known.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from support.results import copy_sample, write_wide_log
from typer.testing import CliRunner

from edgelog import resultdir
from edgelog.cli.main import app
from edgelog.resultdir import Manifest

runner = CliRunner()
ANALYZE_PHASES = ["setup", "discover", "parse", "reports", "write"]
MERGE_PHASES = ["setup", "read", "reports", "write"]


def _manifest(result_dir: Path) -> dict:
    return json.loads((result_dir / "manifest.json").read_text())


def _analyze(inputs: Path, out: Path, node: str, execution: str, *extra: str) -> dict:
    res = runner.invoke(
        app,
        ["analyze", str(inputs), "--out", str(out), "--job-id", "j-fig", "--execution-id", execution, *extra],
    )
    assert res.exit_code == 0, res.output
    return _manifest(out)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> dict[str, Path]:
    """Three nodes' real results: two small samples and one node with a hundred times the lines."""
    root = tmp_path_factory.mktemp("figures")
    copy_sample(samples_dir, "nginx_small.log", root / "in-a", "node-a", "20261122T232500Z")
    copy_sample(samples_dir, "apache_small.log", root / "in-b", "node-b", "20261122T232500Z")
    write_wide_log(root / "in-c", "node-c", lines=50_000)
    out = {}
    for node in ("node-a", "node-b", "node-c"):
        out[node] = root / f"out-{node}"
        _analyze(root / f"in-{node[-1]}", out[node], node, f"e-{node[-1]}")
    return out


@pytest.fixture(scope="module")
def merged(nodes: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("merged") / "m"
    res = runner.invoke(app, ["merge", *(str(p) for p in nodes.values()), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


# -- the manifest records them ----------------------------------------------------------------------


def test_analyze_records_phases_throughput_bytes_memory_and_duckdb_settings(
    tmp_path: Path, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGELOG_THREADS", "1")
    monkeypatch.setenv("EDGELOG_MEMORY_LIMIT", "512MB")
    inputs = tmp_path / "in"
    copy_sample(samples_dir, "nginx_small.log", inputs, "node-a", "20261122T232500Z")
    copy_sample(samples_dir, "apache_small.log", inputs, "node-a", "20261122T233000Z")
    (inputs / "error-node-a-20261122T232500Z.log").write_text("x\n")  # skipped: not read, not counted
    m = _analyze(inputs, tmp_path / "out", "node-a", "e-1")

    p = m["processing"]
    assert list(m)[list(m).index("duration_s") + 1] == "processing"  # beside the run's duration
    assert list(p["phases_s"]) == ANALYZE_PHASES
    assert all(isinstance(v, float) and v >= 0 for v in p["phases_s"].values())
    assert p["phases_s"]["parse"] > 0 and p["phases_s"]["reports"] > 0 and p["phases_s"]["write"] > 0
    # the phases are disjoint parts of the run that account for all of it
    assert sum(p["phases_s"].values()) == pytest.approx(m["duration_s"], abs=0.005)
    read = [i for i in m["inputs"] if i["status"] != "skipped"]
    assert p["bytes_read"] == sum(i["size"] for i in read) == 100954 + 99931
    assert p["lines_per_s"] == pytest.approx(m["totals"]["lines_read"] / m["duration_s"], rel=0.01)
    assert p["peak_rss_bytes"] > 20 * 1024 * 1024  # a Python process with DuckDB loaded
    assert p["duckdb_peak_memory_bytes"] > 0
    assert p["duckdb_peak_spill_bytes"] == 0  # two small files never spill
    assert (p["duckdb_threads"], p["duckdb_memory_limit"]) == (1, "488.2 MiB")  # 512 MB as DuckDB says it
    assert p["workspace"] == "memory"
    # not a new schema: an edgelog that predates these keys still reads the result (and keeps them)
    assert m["schema"] == resultdir.SCHEMA_V1


def test_new_figures_round_trip_and_older_manifests_stay_byte_identical(merged: Path) -> None:
    text = (merged / "manifest.json").read_text()
    m = Manifest.loads(text)
    assert m.processing is not None and m.runs is not None and not m.extra
    assert m.dumps() == text
    golden = Path(__file__).parent / "fixtures" / "manifest"
    for name in ("analyze.json", "merge.json", "fetched.json", "analyze-parts.json"):
        old = (golden / name).read_text()
        parsed = Manifest.loads(old)
        assert parsed.processing is None and parsed.runs is None
        assert parsed.dumps() == old


def test_a_wrong_type_in_the_figures_is_named() -> None:
    m = Manifest(kind="analyze", status="ok", run_id="r").to_dict()
    m["processing"] = {"phases_s": {"parse": "fast"}}
    with pytest.raises(resultdir.ManifestError, match=r"processing\.phases_s"):
        Manifest.from_dict(m)


def test_merge_carries_every_nodes_figures_and_its_own(nodes: dict[str, Path], merged: Path) -> None:
    m = _manifest(merged)
    assert list(m["processing"]["phases_s"]) == MERGE_PHASES
    assert m["processing"]["bytes_read"] >= sum(
        o["size"]
        for d in nodes.values()
        for o in _manifest(d)["outputs"]
        if o["path"].startswith("partials/")
    )
    runs = m["runs"]
    assert [r["node_id"] for r in runs] == ["node-a", "node-b", "node-c"]
    for run, (_node, d) in zip(runs, nodes.items(), strict=True):
        node = _manifest(d)
        # traceable: the run is the node's manifest, named by its sha256, its figures copied as they were
        assert run["manifest_sha256"] == hashlib.sha256((d / "manifest.json").read_bytes()).hexdigest()
        assert run["manifest_sha256"] in {f["manifest_sha256"] for f in m["merged_from"]}
        for key in ("run_id", "execution_id", "job_id", "status", "started_at", "finished_at", "duration_s"):
            assert run[key] == node[key], key
        assert run["processing"] == node["processing"]


def test_merge_of_merges_keeps_every_analyze_run_once(nodes: dict[str, Path], tmp_path: Path) -> None:
    first = tmp_path / "m1"
    res = runner.invoke(app, ["merge", str(nodes["node-a"]), str(nodes["node-b"]), "--out", str(first)])
    assert res.exit_code == 0, res.output
    top = tmp_path / "m2"
    res = runner.invoke(app, ["merge", str(first), str(nodes["node-c"]), "--out", str(top)])
    assert res.exit_code == 0, res.output
    runs = _manifest(top)["runs"]
    assert [r["node_id"] for r in runs] == ["node-a", "node-b", "node-c"]
    assert runs[:2] == _manifest(first)["runs"]  # concatenated as they were: exact at any depth
    assert [m["kind"] for m in _manifest(top)["merged_from"]] == ["merge", "analyze"]
