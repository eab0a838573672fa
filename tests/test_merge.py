"""Exact merge: merging per-node results equals analysing the union of their inputs, for every report."""

from __future__ import annotations

import json
import random
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.tools import REPO_ROOT
from typer.testing import CliRunner

from edgelog.analysis import analyze, merge, workspace
from edgelog.cli.main import app
from edgelog.errors import ExitCode, IntegrityError, UsageError
from edgelog.generator import backfill, load_config

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
GARBAGE = [
    "this is not an access log line",
    "",
    '10.9.9.9 - - [23/Nov/2026:08:03:00 +0000] "GET /bad-status HTTP/1.1" 2000 5 "-" "x"',
]
# Lines of the error and application logs that are quarantined wherever they land: each starts an entry (so no
# line is glued to them or they to another), and none is valid.
STREAM_GARBAGE = {
    "error": [
        "2026/11/23 08:03:00 [bogus] 1#1: an unknown level",
        "2026/11/23 08:03:01 [ERROR] 1#1: not nginx's",
    ],
    "app": ["2026-11-23T08:03:00Z LOUD web an unknown level", "2026-11-23T99:00:00Z INFO web no such hour"],
}
EXTENSIONS = {"combined": ("access", ".log"), "json": ("access", ".jsonl"), "error": ("error", ".log"),
              "app": ("app", ".log")}  # fmt: skip
HEADS = {
    "error": re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \["),
    "app": re.compile(r"^\d{4}-\d{2}-\d{2}T"),
}


def entries(text: str, kind: str) -> list[str]:
    """A log's entries: a line, or for the error and application logs a line with its continuation lines
    (nginx and applications write an entry in one write, so real files never split one)."""
    units: list[str] = []
    for line in text.splitlines():
        if units and kind in HEADS and not HEADS[kind].match(line):
            units[-1] += "\n" + line
        else:
            units.append(line)
    return units


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> dict[str, list[str]]:
    """Combined and JSON lines from the generator (45 minutes), real-server sample lines and garbage; the
    generator's error and application logs of the same traffic, a real nginx's error log, and garbage."""
    gen = tmp_path_factory.mktemp("gen")
    cfg = load_config(None)
    combined: list[str] = []
    for p in backfill(
        cfg, gen / "c", node="g", start=START, duration=timedelta(minutes=45), seed=7, rate=2.0
    ):
        combined += p.read_text().splitlines()
    jsonl: list[str] = []
    for p in backfill(
        cfg,
        gen / "j",
        node="g",
        start=START + timedelta(minutes=20),
        duration=timedelta(minutes=10),
        fmt="json",
        seed=8,
        rate=2.0,
    ):
        jsonl += p.read_text().splitlines()
    samples = (samples_dir / "nginx_small.log").read_text().splitlines()
    samples += (samples_dir / "apache_small.log").read_text().splitlines()
    assert len(combined) > 2000 and len(jsonl) > 300
    streams: dict[str, list[str]] = {}
    for kind in ("error", "app"):
        files = backfill(
            cfg, gen / kind, node="g", start=START, duration=timedelta(minutes=45), fmt=kind, seed=7, rate=2.0
        )
        streams[kind] = [u for p in files for u in entries(p.read_text(), kind)] + STREAM_GARBAGE[kind]
    # The real nginx's error log: every level, multi-line debug entries, raw client bytes.
    real = (REPO_ROOT / "tests" / "fixtures" / "nginx-errors" / "error.log").read_bytes()
    streams["error"] += entries(real.decode("utf-8", "surrogateescape"), "error")
    assert len(streams["error"]) > 200 and len(streams["app"]) > 1000
    return {"combined": combined + samples + GARBAGE, "json": jsonl, **streams}


def write_split(corpus: dict[str, list[str]], root: Path, nodes: int, seed: int) -> list[Path]:
    """Deal every line to one of `nodes` nodes at random (keeping order), as rotated files per node."""
    rng = random.Random(seed)
    dirs = [root / f"node{i}" for i in range(nodes)]
    buckets: dict[tuple[int, str], list[str]] = {}
    for kind, lines in corpus.items():
        for line in lines:
            buckets.setdefault((rng.randrange(nodes), kind), []).append(line)
    for d in dirs:
        d.mkdir(parents=True)
    for (i, kind), lines in buckets.items():
        # Split each node's share over two rotated files, at a random point.
        cut = rng.randrange(len(lines) + 1)
        stream, ext = EXTENSIONS[kind]
        for part, chunk in enumerate((lines[:cut], lines[cut:])):
            stamp = (START + timedelta(hours=1, minutes=5 * part)).strftime("%Y%m%dT%H%M%SZ")
            data = "".join(x + "\n" for x in chunk).encode("utf-8", "surrogateescape")
            (dirs[i] / f"{stream}-n{i}-{stamp}{ext}").write_bytes(data)
    return dirs


def report_tables(out: Path) -> dict[str, list[tuple]]:
    tables = {}
    for p in sorted((out / "reports").glob("*.parquet")):
        tables[p.stem] = duckdb.sql(f"SELECT * FROM '{p}'").fetchall()
    return tables


@pytest.fixture(scope="module")
def single_run(
    corpus: dict[str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[tuple]]:
    """analyze over every line, split over 3 nodes' files, in one run: the reference for every merge."""
    root = tmp_path_factory.mktemp("single")
    dirs = write_split(corpus, root / "in", 3, seed=1)
    result = analyze(dirs, root / "out")
    assert result.status == "ok"
    assert result.manifest.totals.lines_quarantined == len(GARBAGE) + sum(map(len, STREAM_GARBAGE.values()))
    return report_tables(root / "out")


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nodes=st.integers(min_value=1, max_value=8), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_merge_equals_single_run(
    corpus: dict[str, list[str]],
    single_run: dict[str, list[tuple]],
    tmp_path_factory: pytest.TempPathFactory,
    nodes: int,
    seed: int,
) -> None:
    root = tmp_path_factory.mktemp("split")
    dirs = write_split(corpus, root / "in", nodes, seed)
    outs = []
    for i, d in enumerate(dirs):
        r = analyze([d], root / f"out{i}", job_id="j-test", execution_id=f"e-{i}")
        assert r.status == "ok"
        assert r.manifest.node_id == f"n{i}"
        outs.append(root / f"out{i}")
    # Merge in two levels when there are several nodes: merge is itself mergeable.
    if nodes > 2:
        merge(outs[:2], root / "m1")
        merged = merge([root / "m1", *outs[2:]], root / "merged")
    else:
        merged = merge(outs, root / "merged")
    assert merged.status == "ok" and merged.exit_code == ExitCode.OK
    got = report_tables(root / "merged")
    # The single run used 3 nodes; the nodes table differs by design (it lists nodes), and error_summary's
    # file counts (every node writes two files per stream); all else must not.
    expected = dict(single_run)
    assert set(got) == set(expected)
    for name in expected:
        if name == "nodes":
            continue
        if name == "error_summary":
            (row,) = got[name]
            files = [sum(len(list(d.glob(f"{s}-*"))) for d in dirs) for s in ("error", "app")]
            assert (row[0], row[7]) == tuple(files)
            assert row[1:7] + row[8:] == expected[name][0][1:7] + expected[name][0][8:]
            continue
        assert got[name] == expected[name], name
    nodes_rows = got["nodes"]
    assert [r[0] for r in nodes_rows] == sorted(f"n{i}" for i in range(nodes))
    assert sum(r[4] for r in nodes_rows) == sum(r[4] for r in expected["nodes"])  # valid_requests


@pytest.fixture(scope="module")
def node_results(
    corpus: dict[str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Path], list[Path]]:
    """Every line split over 3 nodes' files, each node analysed alone: (input dirs, result dirs), made once
    per module for the tests that merge them or copy them to spoil (none changes them)."""
    root = tmp_path_factory.mktemp("nodes")
    dirs = write_split(corpus, root / "in", 3, seed=1)
    outs = [analyze([d], root / f"o{i}", execution_id=f"e-{i}").out for i, d in enumerate(dirs)]
    return dirs, outs


def test_merge_nodes_table_and_manifest(node_results: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    dirs, outs = node_results
    single = analyze(dirs, tmp_path / "single")
    merged = merge(outs, tmp_path / "merged")
    assert report_tables(tmp_path / "merged") == report_tables(single.out)
    m = merged.manifest
    assert m.kind == "merge" and m.merged_from is not None
    assert [x.node_id for x in m.merged_from] == ["n0", "n1", "n2"]
    assert [x.execution_id for x in m.merged_from] == ["e-0", "e-1", "e-2"]
    assert m.totals == single.manifest.totals
    q_single = duckdb.sql(f"SELECT * FROM '{single.out}/quarantine.parquet' ORDER BY ALL").fetchall()
    q_merged = duckdb.sql(f"SELECT * FROM '{merged.out}/quarantine.parquet' ORDER BY ALL").fetchall()
    assert q_single == q_merged and len(q_merged) == len(GARBAGE) + sum(map(len, STREAM_GARBAGE.values()))


def test_a_process_parses_the_merge_workspace_statements_once(
    node_results: tuple[list[Path], list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tables and views a merge creates before its reports have the same text every merge: a process
    keeps them parsed (workspace.statement) instead of parsing them again each merge."""
    _dirs, outs = node_results
    monkeypatch.setattr(workspace, "_STATEMENTS", {})
    assert merge(outs[:2], tmp_path / "merged").status == "ok"
    kept = [" ".join(text.split()) for text in workspace._STATEMENTS]
    for start in (
        "SET enable_external_file_cache = false",
        "CREATE TABLE requests (",
        "CREATE TABLE errors (",
        "CREATE TABLE app_events (",
        "CREATE TABLE p_files (",
        "CREATE TABLE stored_quarantine (",
        "CREATE VIEW quarantine AS",
    ):
        assert [t for t in kept if t.startswith(start)], start


def test_merge_verifies_checksums(node_results: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    dirs, shared = node_results
    outs = [Path(shutil.copytree(o, tmp_path / f"o{i}")) for i, o in enumerate(shared[:2])]
    target = outs[1] / "partials" / "top_paths.parquet"
    target.write_bytes(target.read_bytes() + b"tampered")
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        merge(outs, tmp_path / "merged")
    result = CliRunner().invoke(app, ["merge", str(outs[0]), str(outs[1]), "--out", str(tmp_path / "m2")])
    assert result.exit_code == ExitCode.INTEGRITY
    assert "checksum mismatch" in result.output
    with pytest.raises(UsageError, match=r"no manifest\.json"):
        merge([dirs[0].parent], tmp_path / "m3")


def test_merge_of_a_partial_node_is_partial(
    node_results: tuple[list[Path], list[Path]], tmp_path: Path
) -> None:
    dirs, outs = node_results
    broken = Path(shutil.copytree(dirs[1], tmp_path / "in" / "node1"))  # node n1's files, and a corrupt one
    (broken / "access-n1-20261123T100000Z.log.gz").write_bytes(b"\x1f\x8b\x08\x00corrupt")
    partial = analyze([broken], tmp_path / "o1").out
    assert json.loads((partial / "manifest.json").read_text())["status"] == "partial"
    merged = merge([outs[0], partial], tmp_path / "merged")
    assert merged.status == "partial" and merged.exit_code == ExitCode.PARTIAL
    nodes = duckdb.sql(
        f"SELECT node_id, files_failed, status FROM '{merged.out}/reports/nodes.parquet'"
    ).fetchall()
    assert nodes == [("n0", 0, "ok"), ("n1", 1, "partial")]
    summary = duckdb.sql(f"SELECT failed_files FROM '{merged.out}/reports/summary.parquet'").fetchall()
    assert summary == [(1,)]


def test_merge_cli(corpus: dict[str, list[str]], tmp_path: Path) -> None:
    # the commands' wiring, on 200 entries of every kind (the merge's arithmetic is the tests' above)
    dirs = write_split({kind: lines[:200] for kind, lines in corpus.items()}, tmp_path / "in", 2, seed=5)
    runner = CliRunner()
    for i, d in enumerate(dirs):
        r = runner.invoke(app, ["analyze", str(d), "--out", str(tmp_path / f"o{i}")])
        assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["merge", str(tmp_path / "o0"), str(tmp_path / "o1"), "--out", str(tmp_path / "m")]
    )
    assert r.exit_code == 0, r.output
    assert "merge ok" in r.output
    assert (tmp_path / "m" / "reports" / "summary.parquet").is_file()
