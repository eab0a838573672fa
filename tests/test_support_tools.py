"""The needs_tool contract of tests/support/tools.py: a real-tool test is marked, or require_tool fails it."""

from __future__ import annotations

import pytest
from support import tools


def test_an_unmarked_test_cannot_get_a_tool() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"not marked @pytest\.mark\.needs_tool"):
        tools.require_tool("bash")


@pytest.mark.needs_tool("bash")
def test_a_marked_test_gets_the_tool() -> None:
    assert tools.require_tool("bash").endswith("bash")


@pytest.mark.needs_tool("bash")
def test_a_missing_tool_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="not on PATH"):
        tools.require_tool("no-such-tool-edgelog")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        tools.require_tool("no-such-tool-edgelog")
