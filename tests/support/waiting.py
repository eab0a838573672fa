"""Polling with a bound: tests wait for a condition, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_for(predicate: Callable[[], object], timeout: float, *, interval: float = 0.05) -> bool:
    """Whether ``predicate()`` became true within ``timeout`` seconds (checked every ``interval``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def record_polls(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make `job submit`'s waits between polls instant: each is recorded (the list returned) and moves a fake
    clock on by its length, so --timeout still ends the wait as it would in real time."""
    import functools

    from edgelog.jobs import submit

    slept: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(submit, "wait", functools.partial(submit.wait, sleep=sleep, clock=lambda: now[0]))
    return slept
