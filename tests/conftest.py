"""Shared fixtures: repository paths, the real-server samples, and real-tool requirements."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_SAMPLES = REPO_ROOT.parent / "shared" / "samples"


def require_tool(name: str) -> str:
    """Return the path of a real tool a test needs.

    In CI (``CI`` set) a missing tool fails the test, because ``.ci/run`` installs every tool; on a developer
    machine it skips with a reason, so a partial setup still runs the rest of the suite.
    """
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not on PATH (scripts/test.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The nginx and Apache logs captured from real servers (read-only)."""
    if not (SHARED_SAMPLES / "nginx_small.log").is_file():
        pytest.fail(f"shared samples missing at {SHARED_SAMPLES}")
    return SHARED_SAMPLES
