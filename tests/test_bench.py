"""The benchmark scripts keep working: each runs end to end on a tiny size (the figures are not checked).

Performance is measured by ``bench/`` (docs/analysis.md), never by a timed test; these only catch a script
broken by a change elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.tools import REPO_ROOT


def run_bench(script: str, *args: str, cache: Path) -> str:
    env = {**os.environ, "EDGELOG_BENCH_CACHE": str(cache)}
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / script), *args],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.needs_tool("time")
def test_merge_bench_runs(tmp_path: Path) -> None:
    for visitors in ([], ["--shared-visitors"]):
        out = run_bench(
            "merge.py", "--sizes", "2,3", "--bases", "2", "--rate", "1", *visitors, cache=tmp_path
        )
        curve = out[out.index("marginal") :].splitlines()[1:3]
        assert [row.split()[0] for row in curve] == ["2", "3"]
        assert "3 nodes:" in out
        assert ("shared by every tenth node" in out) is bool(visitors)


@pytest.mark.needs_tool("time", "goaccess")
def test_analyze_bench_against_goaccess_runs(tmp_path: Path) -> None:
    out = run_bench("analyze.py", "--lines", "3000", cache=tmp_path)
    assert "edgelog (plain) vs goaccess:" in out and "edgelog (gzip) vs goaccess:" in out


@pytest.mark.slow
@pytest.mark.needs_tool("time")
def test_analyze_bench_modes_run(tmp_path: Path) -> None:
    files = run_bench("analyze.py", "--files", "6", "--per-file", "20", "--tiny", "12", cache=tmp_path)
    assert "overhead per file beyond parsing" in files and "12 tiny files" in files
    cached = run_bench("analyze.py", "--cache", "--per-file", "3", cache=tmp_path)
    assert "outputs byte-identical: True" in cached
    scale = run_bench(
        "analyze.py", "--scale", "1000,2000", "--scratch", str(tmp_path / "scale"), cache=tmp_path
    )
    assert "1.00x" in scale and not list((tmp_path / "scale").glob("*.log"))  # generated logs removed


@pytest.mark.slow
@pytest.mark.needs_tool("time")
def test_analyze_bench_cache_curve_runs(tmp_path: Path) -> None:
    out = run_bench("analyze.py", "--cache", "--lines-per-day", "1728,864", cache=tmp_path)
    curve = out[out.index("lines a day") :].splitlines()[1:]
    assert [row.split()[0] for row in curve[:2]] == ["864", "1,728"]  # smallest first
    assert all(row.split()[-1] == "True" for row in curve[:2])  # outputs byte-identical at each size
    assert "merge of the cold result alone" in out  # the floor a cache that writes these outputs meets


@pytest.mark.needs_tool("time")
def test_analyze_bench_log_formats_run(tmp_path: Path) -> None:
    out = run_bench(
        "analyze.py",
        "--lines",
        "2000",
        "--skip-goaccess",
        "--log-formats",
        "combined,nginx-main",
        cache=tmp_path,
    )
    assert "--log-format combined vs built-in combined" in out
    assert "--log-format nginx-main (--trusted-proxies: the generator's load balancer) vs built-in" in out


STARTUP_ROWS = {"python -c pass", "import typer, rich.console", "edgelog --version", "edgelog --help"}


def _rows(out: str, title: str, figures: int) -> set[str]:
    """The names of the rows under the table header that follows the line starting with ``title`` (each
    row ends in ``figures`` figures), up to the next blank line."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 2
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return {line.rsplit(maxsplit=figures)[0] for line in lines[start:end]}


def test_startup_bench_runs(tmp_path: Path) -> None:
    out = run_bench("startup.py", "--runs", "1", cache=tmp_path)
    assert _rows(out, "1 runs each", 4) == STARTUP_ROWS


@pytest.mark.slow
def test_startup_bench_small_runs_against_another_interpreter(tmp_path: Path) -> None:
    out = run_bench("startup.py", "--runs", "1", "--against", sys.executable, cache=tmp_path)
    small = {"edgelog analyze (50 lines)", "edgelog merge (2 x 50 lines)"}
    assert _rows(out, "1 runs each", 4) == STARTUP_ROWS | small | {f"{name} [against]" for name in small}
    calls = {name.removeprefix("edgelog ") for name in small}
    assert _rows(out, "in process", 2) == calls | {f"{name} [against]" for name in calls}
    assert "edgelog analyze (50 lines) as a process:" in out and "merge (2 x 50 lines) in process:" in out
