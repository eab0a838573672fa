"""Repository paths and the real tools tests drive.

A test that runs a real tool (logrotate, terraform, the GCS emulator, Chromium, ...) is marked statically
with ``@pytest.mark.needs_tool("name", ...)``, so the pure-Python lane can deselect it
(``pytest -m "not needs_tool"``); it gets the tool's path from :func:`require_tool`, which refuses to serve a
test that is not so marked.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_SAMPLES = REPO_ROOT.parent / "shared" / "samples"
VENV_BIN = Path(sys.executable).parent  # tools pip installs next to the interpreter (the emulator, hadolint)

# The test being set up or run (conftest.py keeps it current), so require_tool can check its marker.
current_item: pytest.Item | None = None


def find_tool(name: str) -> str | None:
    """The tool on PATH, else installed beside this interpreter (the .venv), else None."""
    found = shutil.which(name)
    if found:
        return found
    beside = VENV_BIN / name
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def missing_tool(message: str) -> None:
    """Under CI (``CI`` set) a missing tool fails, because .ci/run installs every tool; elsewhere it skips."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_tool(name: str) -> str:
    """The path of a real tool the current test needs (see the module docstring)."""
    item = current_item
    if item is not None and item.get_closest_marker("needs_tool") is None:
        pytest.fail(f"{item.nodeid} runs {name} but is not marked @pytest.mark.needs_tool: mark it")
    path = find_tool(name)
    if path is None:
        missing_tool(f"{name} is not on PATH (scripts/test.sh installs it)")
    assert path is not None
    return path
