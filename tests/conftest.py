"""Shared fixtures: the real-server samples, one GCS emulator per session, and the needs_tool marker."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import tools
from support.gcs import running_emulator
from support.tools import REPO_ROOT, SHARED_SAMPLES, find_tool, missing_tool

# Rich fixes a console's width when it is created (at CLI import) if $COLUMNS is set; pytest-xdist workers
# and some terminals export COLUMNS=80, which would cut the tables that tests read (each test that needs a
# width passes COLUMNS to the CLI runner itself).
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


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
    monkeypatch.setenv("PATH", f"{fixtures / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("BACALHAU_STUB_STATE", str(state))

    def use(scenario: str) -> Path:
        monkeypatch.setenv("BACALHAU_STUB_DIR", str(fixtures / scenario))
        return state

    return use
