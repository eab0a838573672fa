"""`edgelog --help` and `--version` start fast because they import nothing heavy.

Not a timed test (timings on a shared machine prove nothing): each command runs in a fresh interpreter with
``python -X importtime``, and the modules it imported are checked against the ones that make startup slow.
Every command then imports what it needs when it runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import edgelog

# What made `edgelog --help` take over a second: DuckDB, the generator, the GCS client and their friends.
HEAVY = (
    "duckdb",
    "edgelog.analysis",
    "edgelog.generator",
    "edgelog.results.fetch",
    "edgelog.storage",
    "google.cloud.storage",
    "google.auth",
    "faker",
    "yaml",
    "importlib.metadata",  # a quarter of `--version` when the version was read from the installed metadata
)


def _imported(*args: str, exit_code: int = 0) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "edgelog", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == exit_code, proc.stderr[-2000:]
    return {
        line.split("|")[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(("args", "exit_code"), [(["--help"], 0), (["--version"], 0), ([], 2)])
def test_help_and_version_import_nothing_heavy(args: list[str], exit_code: int) -> None:
    modules = _imported(*args, exit_code=exit_code)  # no arguments: the help, as a usage error
    assert "edgelog.cli.main" in modules  # the check sees the CLI's own imports
    assert _heavy(modules) == []


def test_version_is_the_installed_distributions() -> None:
    """The one version string (edgelog/__init__.py) is what the build wrote into the package metadata."""
    from importlib.metadata import version

    proc = subprocess.run(
        [sys.executable, "-m", "edgelog", "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.strip() == f"edgelog {version('edgelog')}"
    assert proc.stdout.strip() == f"edgelog {edgelog.__version__}"


def test_the_check_sees_heavy_imports(tmp_path: Path) -> None:
    """A command that runs the analysis does import DuckDB: the check above can fail."""
    modules = _imported("analyze", str(tmp_path / "missing"), "--out", str(tmp_path / "out"), exit_code=2)
    assert "duckdb" in _heavy(modules)


# What `edgelog analyze` has no use for: the merge, fetching, the HTML report and storage (a node runs a small
# analyze every few minutes, and the package __init__ files imported all of them: ~0.1 s a process).
NOT_FOR_ANALYZE = (
    "edgelog.analysis.merger",
    "edgelog.results.fetch",
    "edgelog.results.html",
    "edgelog.storage",
)


def test_analyze_imports_neither_merge_nor_fetch_nor_html(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access-n1-20261123T080500Z.log").write_text(
        '10.0.0.1 - - [23/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.0"\n'
    )
    modules = _imported("analyze", str(logs), "--out", str(tmp_path / "out"))
    assert "edgelog.analysis.analyzer" in modules and "edgelog.results.tables" in modules  # it did run
    assert sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_FOR_ANALYZE)) == []
