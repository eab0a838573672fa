"""Shared fixtures: the real-server samples, one GCS emulator per session, and the needs_tool marker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import tools
from support.gcs import running_emulator
from support.tools import REPO_ROOT, SHARED_SAMPLES, find_tool, missing_tool


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
