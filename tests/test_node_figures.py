"""Per job, per node: how each run went (phases, throughput, memory), so an operator sees who held a job back.

Every figure comes from real `edgelog analyze`/`merge` runs through the CLI. The spread and slowest-node
arithmetic is also checked on figures set by hand in a merged manifest, where the expected text is known.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import threading
import time
from io import StringIO
from pathlib import Path

import duckdb
import pytest
from rich.console import Console
from support.results import copy_sample, write_wide_log
from typer.testing import CliRunner

from edgelog import resultdir
from edgelog.analysis.runstats import DuckDBMemory, PhaseClock
from edgelog.cli.main import app
from edgelog.resultdir import Manifest
from edgelog.results import print_summary

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
    """Three nodes' real results: two small samples (~490 lines each) and one node with twenty times the
    lines (the slowest)."""
    root = tmp_path_factory.mktemp("figures")
    copy_sample(samples_dir, "nginx_small.log", root / "in-a", "node-a", "20261122T232500Z")
    copy_sample(samples_dir, "apache_small.log", root / "in-b", "node-b", "20261122T232500Z")
    write_wide_log(root / "in-c", "node-c", lines=10_000)
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
    (inputs / "audit-node-a-20261122T232500Z.log").write_text("x\n")  # skipped: not a stream analyze reads
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


def test_duckdb_peak_is_sampled_while_the_run_works_not_only_at_its_end() -> None:
    """A table held for a while then dropped: only the sampling thread can have seen it."""
    con = duckdb.connect()

    def in_use() -> int:
        row = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
        return int(row[0] or 0) if row else 0

    with DuckDBMemory(con, interval_s=0.05) as mem:
        con.execute("CREATE TABLE held AS SELECT range AS i, 'row ' || range AS s FROM range(3000000)")
        held = in_use()
        time.sleep(0.5)  # ten sampling intervals
        con.execute("DROP TABLE held")
        deadline = time.monotonic() + 10
        while in_use() > held // 10 and time.monotonic() < deadline:  # DuckDB frees it shortly after
            time.sleep(0.05)
        at_end = in_use()
    assert held > 20 * 1024 * 1024 and at_end < held // 10
    assert mem.peak_memory >= held * 0.9, (mem.peak_memory, held, at_end)
    con.close()


def test_a_phase_counts_on_the_clocks_own_thread_only() -> None:
    """A merge writes tables on several threads at once while its own thread waits in ``write``: the
    workers' phases must neither add their overlapping seconds nor break the main thread's nesting."""
    clock = PhaseClock(("reports", "write"))

    def worker() -> None:
        with clock.phase("write"), clock.phase("elsewhere"):
            time.sleep(0.05)

    with clock.phase("reports"):
        started = time.monotonic()
        with clock.phase("write"):
            threads = [threading.Thread(target=worker) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        waited = time.monotonic() - started
        time.sleep(0.02)
    seconds = clock.seconds()
    assert list(seconds) == ["reports", "write"], seconds
    # the three workers' 0.15 s would exceed the wall time the main thread waited
    assert 0.05 <= seconds["write"] <= waited + 0.001 and seconds["reports"] >= 0.02, (seconds, waited)


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


# -- the report shows them --------------------------------------------------------------------------


def _report(result_dir: Path) -> str:
    res = runner.invoke(app, ["report", str(result_dir)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


def test_report_shows_each_nodes_processing_and_the_slowest(merged: Path) -> None:
    runs = _manifest(merged)["runs"]
    slowest = max(runs, key=lambda r: r["duration_s"])
    text = _report(merged)
    assert "Node processing" in text
    section = text[text.index("Node processing") :]
    for run in runs:
        row = next(line for line in section.splitlines() if run["node_id"] in line)
        assert f"{run['duration_s']:.2f}s" in row, row
        assert re.search(r"\d+(\.\d)? MiB", row), row  # peak memory
    durations = sorted(r["duration_s"] for r in runs)
    assert f"slowest: {slowest['node_id']}" in section
    assert f"min {durations[0]:.2f}s" in section and f"max {durations[-1]:.2f}s" in section
    assert f"median {statistics.median(durations):.2f}s" in section
    merge_line = next(line for line in section.splitlines() if line.startswith("merge: "))
    # the merge's own phases, after the nodes'
    assert all(f"{phase} " in merge_line for phase in MERGE_PHASES), merge_line


def _set_durations(merged: Path, target: Path, durations: dict[str, tuple[float, dict[str, float]]]) -> None:
    """A copy of ``merged`` whose runs took the given (duration, phases): the report's arithmetic, checked."""
    import shutil

    shutil.copytree(merged, target)
    m = resultdir.read(target)
    assert m.runs is not None
    for run in m.runs:
        assert run.processing is not None
        run.duration_s, run.processing.phases_s = durations[run.node_id or ""]
    m.write(target)


def test_the_spread_says_how_much_the_slowest_node_holds_the_job_back(merged: Path, tmp_path: Path) -> None:
    _set_durations(
        merged,
        tmp_path / "m",
        {
            "node-a": (2.0, {"setup": 0.0, "discover": 0.0, "parse": 1.0, "reports": 0.5, "write": 0.5}),
            "node-b": (3.0, {"setup": 0.5, "discover": 0.0, "parse": 1.0, "reports": 1.0, "write": 0.5}),
            "node-c": (11.0, {"setup": 0.5, "discover": 0.0, "parse": 9.0, "reports": 1.0, "write": 0.5}),
        },
    )
    section = _report(tmp_path / "m").split("Node processing", 1)[1]
    flat = " ".join(section.split())
    assert "spread: min 2.00s, median 3.00s, max 11.00s" in flat
    # the job waited for node-c 8 s longer than for a median node (3.7x the median), most of it parsing
    want = "slowest: node-c 11.00s, held the job back 8.00s over the median (3.7x); most in parse 9.00s (82%)"
    assert want in flat


def test_one_node_has_no_spread_and_an_older_result_says_it_has_no_figures(
    nodes: dict[str, Path], tmp_path: Path
) -> None:
    text = _report(nodes["node-a"])  # an analyze result: its own manifest is the one run
    section = text.split("Node processing", 1)[1]
    assert "node-a" in section and "slowest" not in section
    old = tmp_path / "old"
    import shutil

    shutil.copytree(nodes["node-a"], old)
    m = resultdir.read(old)
    m.processing = None
    m.write(old)
    text = _report(old)
    assert "Node processing" not in text
    assert "no processing figures" in text  # said, not silently left out


def test_terminal_summary_marks_the_slowest_row(merged: Path) -> None:
    out = StringIO()
    print_summary(merged, Console(file=out, width=200, force_terminal=True, color_system="truecolor"))
    runs = _manifest(merged)["runs"]
    slowest = max(runs, key=lambda r: r["duration_s"])["node_id"]
    section = out.getvalue().split("Node processing", 1)[1].split("spread:", 1)[0]
    rows = {r["node_id"]: next(line for line in section.splitlines() if r["node_id"] in line) for r in runs}
    assert "\x1b[" in rows[slowest], "the slowest node's row is highlighted"
    assert all("\x1b[" not in line for node, line in rows.items() if node != slowest), rows


def test_html_nodes_panel_shows_processing_the_slowest_and_the_spread(merged: Path, tmp_path: Path) -> None:
    html = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(merged), "--html", str(html), "--quiet"])
    assert res.exit_code == 0, res.output
    page = html.read_text()
    nodes_panel = page[page.index('id="nodes"') : page.index('id="quality"')]
    assert "Processing per node" in nodes_panel
    runs = _manifest(merged)["runs"]
    slowest = max(runs, key=lambda r: r["duration_s"])
    assert f"{slowest['duration_s']:.2f}s" in nodes_panel
    assert "Slowest node" in nodes_panel and slowest["node_id"] in nodes_panel
    for label in ("Median", "Held back by", "Discover", "Parse", "Reports", "Write", "Lines/s", "Peak RSS"):
        assert label in nodes_panel, label
    assert 'data-chart="Time per node by phase"' in nodes_panel
    # the slowest node's row is marked, and only it
    marked = re.findall(r'<tr class="hl">(.*?)</tr>', nodes_panel)
    assert len(marked) == 1 and f">{slowest['node_id']}<" in marked[0], marked
    # each bar is labelled with the run's recorded time (not the rounded sum of its phases)
    chart = nodes_panel[nodes_panel.index('data-chart="Time per node by phase"') :].split("</svg>", 1)[0]
    labels = re.findall(r'class="bval"[^>]*>([^<]+)<', chart)
    assert labels == [f"{r['duration_s']:.2f}s" for r in sorted(runs, key=lambda r: -r["duration_s"])]
    # what a node served is not what its run read: the two byte columns say which is which
    assert ">Bytes served<" in nodes_panel and ">Read<" in nodes_panel


def test_a_narrow_terminal_keeps_whole_numbers_and_says_what_it_left_out(merged: Path) -> None:
    res = runner.invoke(app, ["report", str(merged)], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    section = res.output.split("Node processing", 1)[1].split("spread:", 1)[0]
    assert all(len(line) <= 80 for line in section.splitlines())
    for run in _manifest(merged)["runs"]:  # one line per node, its time whole (a folded number misreads)
        (row,) = [line for line in section.splitlines() if run["node_id"] in line]
        assert f"{run['duration_s']:.2f}s" in row and "parse" not in row
    assert "too narrow for: " in section and "--html shows every figure" in section
    header = section.splitlines()[1]
    assert all(name in header for name in ("time", "parse", "reports", "write"))


def test_the_shared_duckdb_settings_line_says_thread_or_threads(merged: Path, tmp_path: Path) -> None:
    """Small node runs use one DuckDB thread (workspace.SMALL_INPUT_BYTES): "1 thread", not "1 threads"."""
    import shutil

    for threads, words in ((1, "DuckDB: 1 thread,"), (4, "DuckDB: 4 threads,")):
        target = tmp_path / f"t{threads}"
        shutil.copytree(merged, target)
        m = resultdir.read(target)
        assert m.runs is not None
        for run in m.runs:
            assert run.processing is not None
            run.processing.duckdb_threads = threads
        m.write(target)
        assert words in " ".join(_report(target).split())
