"""`edgelog --help` and `--version` start fast because they import nothing heavy.

Not a timed test (timings on a shared machine prove nothing): each command runs in a fresh interpreter with
``python -X importtime``, and the modules it imported are checked against the ones that make startup slow.
Every command then imports what it needs when it runs.
"""

from __future__ import annotations

import subprocess
import sys

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


def _run(*args: str, exit_code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "edgelog", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == exit_code, proc.stderr[-2000:]
    return proc


def _modules(proc: subprocess.CompletedProcess[str]) -> set[str]:
    return {
        line.split("|")[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _imported(*args: str, exit_code: int = 0) -> set[str]:
    return _modules(_run(*args, exit_code=exit_code))


@pytest.fixture(scope="module")
def version_run() -> subprocess.CompletedProcess[str]:
    """`edgelog --version` in a fresh interpreter (-X importtime writes to stderr only): what it imports and
    prints, for the two tests that read it."""
    return _run("--version")


@pytest.fixture(scope="module")
def analyze_modules(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """What a real `edgelog analyze` run of one line imports (two tests read it)."""
    tmp_path = tmp_path_factory.mktemp("analyze")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access-n1-20261123T080500Z.log").write_text(
        '10.0.0.1 - - [23/Nov/2026:08:01:02 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.0"\n'
    )
    return _imported("analyze", str(logs), "--out", str(tmp_path / "out"))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(("args", "exit_code"), [(["--help"], 0), (["--version"], 0), ([], 2)])
def test_help_and_version_import_nothing_heavy(
    args: list[str], exit_code: int, version_run: subprocess.CompletedProcess[str]
) -> None:
    # no arguments: the help, as a usage error
    modules = _modules(version_run) if args == ["--version"] else _imported(*args, exit_code=exit_code)
    assert "edgelog.cli.main" in modules  # the check sees the CLI's own imports
    assert _heavy(modules) == []


def test_version_is_the_installed_distributions(version_run: subprocess.CompletedProcess[str]) -> None:
    """The one version string (edgelog/__init__.py) is what the build wrote into the package metadata."""
    from importlib.metadata import version

    proc = version_run
    assert proc.stdout.strip() == f"edgelog {version('edgelog')}"
    assert proc.stdout.strip() == f"edgelog {edgelog.__version__}"


def test_the_check_sees_heavy_imports(analyze_modules: set[str]) -> None:
    """A command that runs the analysis does import DuckDB: the check above can fail."""
    assert "duckdb" in _heavy(analyze_modules)


# What `edgelog analyze` has no use for: the merge, fetching, the HTML report and storage (a node runs a small
# analyze every few minutes, and the package __init__ files imported all of them: ~0.1 s a process).
NOT_FOR_ANALYZE = (
    "edgelog.analysis.merger",
    "edgelog.results.fetch",
    "edgelog.results.html",
    "edgelog.storage",
)


def test_analyze_imports_neither_merge_nor_fetch_nor_html(analyze_modules: set[str]) -> None:
    modules = analyze_modules
    assert "edgelog.analysis.analyzer" in modules and "edgelog.results.tables" in modules  # it did run
    assert sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_FOR_ANALYZE)) == []
