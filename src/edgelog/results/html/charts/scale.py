"""Axis scales shared by the charts."""

from __future__ import annotations

import math
from collections.abc import Sequence

from edgelog.results.tables import Row


def nice_max(value: float) -> float:
    """The axis maximum: the smallest 1, 2, 2.5, 5 or 10 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def ratio_max(pts: Sequence[Row], key: str) -> float:
    """The right-hand axis maximum of a 0..1 ratio line (never above 1)."""
    peak = max((float(p.get(key) or 0) for p in pts), default=0.0)
    return min(1.0, nice_max(peak)) if peak > 0 else 1.0
