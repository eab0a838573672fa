"""A merge whose partials are larger than DuckDB's memory limit still merges, with the same tables.

A fleet's node results each hold one row per (path, visitor) and per visitor fragment; nodes see mostly their
own visitors, so a merge of many nodes aggregates tens of millions of distinct keys (1,000 nodes of the
merge bench with their own visitors: 57M top_paths rows). DuckDB's hash aggregate and window operators did
not fit such a merge into the 1 GB default: ``top_paths`` and ``sessions`` failed with "Out of Memory" and
the merge ended ``partial``. Here two nodes of 100k lines, every line its own path and client, overflow a
64 MiB limit the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.results import write_wide_log

from edgelog import resultdir
from edgelog.analysis import analyze, merge

LINES = 100_000


@pytest.fixture(scope="module")
def wide_results(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("wide")
    out = []
    for i, node in enumerate(("node-a", "node-b")):
        logs = root / f"in-{node}"
        write_wide_log(logs, node, lines=LINES, seed=7 + i)
        out.append(analyze([logs], root / f"out-{node}").out)
    return out


def parquet_bytes(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*.parquet"))}


def test_a_merge_larger_than_its_memory_limit_is_complete_and_equal_to_one_with_room(
    wide_results: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roomy = merge(wide_results, tmp_path / "roomy")
    assert roomy.status == "ok"
    monkeypatch.setenv("EDGELOG_MEMORY_LIMIT", "64MiB")
    tight = merge(wide_results, tmp_path / "tight")
    failed = {q.name: q.error for q in tight.manifest.queries if q.status != "ok"}
    assert tight.status == "ok", failed
    assert parquet_bytes(tight.out) == parquet_bytes(roomy.out)
    # every (path, visitor) is its own row, on either node: the merged partial is as large as both inputs
    rows = {o.path: o.rows for o in tight.manifest.outputs}
    assert rows[resultdir.partial_table("top_paths")] == 2 * LINES
