"""Shared fixtures: the real-server samples, one GCS emulator per session, the needs_tool marker and the
opt-in for the slow tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.testing
from support import lanes, tools
from support.gcs import running_emulator
from support.tools import REPO_ROOT, SHARED_SAMPLES, find_tool, missing_tool

# Rich fixes a console's width when it is created (at CLI import) if $COLUMNS is set; pytest-xdist workers
# and some terminals export COLUMNS=80, which would cut the tables that tests read (each test that needs a
# width passes COLUMNS to the CLI runner itself).
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

# A test run starts ~140 Python processes (pytest's workers, `python -m edgelog`, live generators, the local
# job runner's nodes) that import the same modules. With PYTHONDONTWRITEBYTECODE set in the environment (as on
# the team's machine) nothing is cached: every pytest process rewrites the asserts of all test modules again
# (~2.6 s of CPU each) and every child compiles edgelog again. The suite writes the caches Python writes by
# default (`__pycache__/`, ignored by git) for itself and the processes it starts.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        help="also run the tests marked slow (the longest end-to-end runs); scripts/test.sh (CI) passes it",
    )


def pytest_configure(config: pytest.Config) -> None:
    lanes.FULL = bool(config.getoption("--slow"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the slow tests unless asked for: ``--slow``, a ``-m`` expression that names ``slow``, or the
    test's own node id on the command line. The skip says how to run them, so none is left out silently."""
    if config.getoption("--slow") or "slow" in (config.getoption("-m") or ""):
        return
    named = [arg for arg in config.args if "::" in arg]
    skip = pytest.mark.skip(reason="slow: run with --slow (scripts/test.sh and CI do)")
    for item in items:
        base = item.nodeid.split("[", 1)[0]  # a parametrized test named without its parameters
        if "slow" in item.keywords and not any(arg.endswith((item.nodeid, base)) for arg in named):
            item.add_marker(skip)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Check a marked test's tools before its fixtures start, and remember the test for require_tool."""
    tools.current_item = item
    marker = item.get_closest_marker("needs_tool")
    if marker is not None:
        for name in marker.args:
            if find_tool(name) is None:
                missing_tool(f"{name} is not on PATH (scripts/test.sh installs it)")


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    tools.current_item = None


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The nginx and Apache logs captured from real servers (read-only)."""
    if not (SHARED_SAMPLES / "nginx_small.log").is_file():
        pytest.fail(f"shared samples missing at {SHARED_SAMPLES}")
    return SHARED_SAMPLES


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """One real gcp-storage-emulator for the whole session (tests make their own buckets); its endpoint."""
    with running_emulator() as endpoint:
        yield endpoint


@pytest.fixture
def stub_bacalhau(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Put the stand-in bacalhau CLI (tests/fixtures/bacalhau/bin) first on PATH; ``use(scenario)`` picks the
    scenario it replays and returns the directory where it records calls and submitted specs."""
    fixtures = REPO_ROOT / "tests" / "fixtures" / "bacalhau"
    state = tmp_path / "stub-state"
    # The stand-in starts as `#!/usr/bin/env python3`, once per bacalhau call (~70 in the pure-Python lane).
    # Where `python3` on PATH is a version manager's shim (pyenv's: a bash script that runs `pyenv exec`),
    # each start costs ~0.13 CPU s instead of ~0.01: `python3` names this test's interpreter instead.
    python = tmp_path / "stub-python"
    python.mkdir()
    (python / "python3").symlink_to(sys.executable)
    path = os.pathsep.join([str(fixtures / "bin"), str(python), os.environ["PATH"]])
    monkeypatch.setenv("PATH", path)
    monkeypatch.setenv("BACALHAU_STUB_STATE", str(state))

    def use(scenario: str) -> Path:
        monkeypatch.setenv("BACALHAU_STUB_DIR", str(fixtures / scenario))
        return state

    return use


@pytest.fixture(scope="session", autouse=True)
def cli_built_once() -> Iterator[None]:
    """typer's CliRunner turns the app into a click command at every ``invoke`` (~20 ms of signature
    inspection, ~300 times in the pure-Python lane); an app's commands do not change once defined, so each app
    is built once per session (an app given commands after its first ``invoke`` would need a new Typer)."""
    original = typer.testing._get_command
    built: dict[int, tuple[typer.Typer, Any]] = {}  # by id; the app is kept so its id is never reused

    def get_command(app: typer.Typer) -> Any:
        if id(app) not in built:
            built[id(app)] = (app, original(app))
        return built[id(app)][1]

    typer.testing._get_command = get_command
    yield
    typer.testing._get_command = original
