"""fetch checks each node's manifest numbers against the node's own tables, not just its checksums.

A node result whose manifest was edited (and its output checksums recomputed, so every file verifies) used to
be fetched as ``ok`` and merged with the edited numbers. Now such a node is ``corrupt``, left out of the
merge, and fetch exits 4; the honest nodes are still merged.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.gcs import new_bucket
from support.results import analyze_node, forge_result, publish_plain, stage_execution, write_hostile_log
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.errors import ExitCode
from edgelog.results import fetch_job
from edgelog.storage import open_bucket

pytestmark = pytest.mark.needs_tool("gcp-storage-emulator")


@pytest.fixture
def gcs(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    return new_bucket(gcs_emulator)


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("honest")
    out = {}
    for k, node in enumerate(("node-a", "node-b")):
        write_hostile_log(root / f"in-{node}", node, repeat=k + 1)
        out[node] = analyze_node(
            root / f"in-{node}", root / f"out-{node}", job_id="j-x", node_id=node, execution_id=f"e-{k}"
        )
    return out


@pytest.mark.parametrize(
    ("label", "edit", "rewrite", "named"),
    [
        (
            "totals",
            lambda m: m["totals"].update(lines_parsed=m["totals"]["lines_parsed"] * 10),
            None,
            "totals",
        ),
        (
            "summary",
            lambda m: None,
            {"reports/summary.parquet": "SELECT * REPLACE (valid_requests + 7 AS valid_requests) FROM {t}"},
            "summary",
        ),
    ],
)
def test_a_node_whose_numbers_do_not_add_up_is_corrupt(
    gcs: str,
    honest: dict[str, Path],
    tmp_path: Path,
    label: str,
    edit: Callable[[dict], None],
    rewrite: dict[str, str] | None,
    named: str,
) -> None:
    bucket = open_bucket(gcs)
    forged = tmp_path / "forged"
    shutil.copytree(honest["node-b"], forged)
    forge_result(forged, edit, rewrite=rewrite)
    publish_plain(bucket, stage_execution(honest["node-a"], tmp_path / "sa"), "edgelog/j-x/node-a/e-0")
    publish_plain(bucket, stage_execution(forged, tmp_path / "sb"), "edgelog/j-x/node-b/e-1")

    result = fetch_job(gcs, "j-x", tmp_path / "out")
    by_node = {n.node_id: n for n in result.nodes}
    assert by_node["node-a"].status == "ok"
    assert by_node["node-b"].status == "corrupt" and named in (by_node["node-b"].reason or "")
    assert result.exit_code == ExitCode.INTEGRITY and result.partial
    merged = json.loads((tmp_path / "out" / "merged" / "manifest.json").read_text())
    assert [m["node_id"] for m in merged["merged_from"]] == ["node-a"]

    cli = CliRunner().invoke(app, ["fetch", "j-x", "--bucket", gcs, "--out", str(tmp_path / "cli")])
    assert cli.exit_code == ExitCode.INTEGRITY, cli.output


def test_honest_nodes_and_their_merge_add_up(gcs: str, honest: dict[str, Path], tmp_path: Path) -> None:
    bucket = open_bucket(gcs)
    publish_plain(bucket, stage_execution(honest["node-a"], tmp_path / "sa"), "edgelog/j-x/node-a/e-0")
    publish_plain(bucket, stage_execution(honest["node-b"], tmp_path / "sb"), "edgelog/j-x/node-b/e-1")
    result = fetch_job(gcs, "j-x", tmp_path / "out")
    assert result.exit_code == ExitCode.OK, result.problems
    assert [n.status for n in result.nodes] == ["ok", "ok"]


def test_a_merge_that_leaves_a_node_out_is_corrupt(
    gcs: str, honest: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merged totals must be the sum of the merged nodes' totals, and the merge must name exactly the
    nodes fetch handed it: a merge that silently drops a node is self-consistent (its tables add up to its
    own manifest), so only comparing it with the nodes' manifests can catch it."""
    import edgelog.analysis

    real_merge = edgelog.analysis.merge

    def drops_the_last_node(dirs: list[Path], out: Path, **kw: object) -> object:
        return real_merge(dirs[:-1], out, **kw)  # type: ignore[arg-type]

    bucket = open_bucket(gcs)
    publish_plain(bucket, stage_execution(honest["node-a"], tmp_path / "sa"), "edgelog/j-x/node-a/e-0")
    publish_plain(bucket, stage_execution(honest["node-b"], tmp_path / "sb"), "edgelog/j-x/node-b/e-1")
    monkeypatch.setattr(edgelog.analysis, "merge", drops_the_last_node)

    result = fetch_job(gcs, "j-x", tmp_path / "out")
    assert [n.status for n in result.nodes] == ["ok", "ok"]
    assert result.merge_status == "corrupt" and result.merged_dir is None
    assert result.exit_code == ExitCode.INTEGRITY and result.status == "failed"
    (problem,) = result.problems
    assert "left out" in problem and "node-b" in problem, problem
    assert "not the sum of its parts' totals" in problem and "lines_read" in problem, problem
    assert not (tmp_path / "out" / "merged").exists()
