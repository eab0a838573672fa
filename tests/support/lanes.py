"""How thorough this run is: the full suite (``--slow``: scripts/test.sh, so CI) or a quick lane.

Property tests draw their full number of examples in the full suite and a quarter of it in a quick lane: a
quick run still exercises every property, the full run keeps the coverage each test was written with.
"""

from __future__ import annotations

FULL = False  # set by conftest's pytest_configure from --slow


def examples(full: int) -> int:
    """Hypothesis ``max_examples``: ``full`` in the full suite, a quarter of it (at least 10) otherwise."""
    return full if FULL else max(10, full // 4)
