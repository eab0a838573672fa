"""How values look in every report: numbers, bytes, shares, durations, and the colours of statuses.

The terminal and the HTML report both format through here, so the same value reads the same in both.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

SEVERITY_COLORS = {"critical": "#d7263d", "high": "#f46036", "medium": "#e2b714", "low": "#2e86ab"}
STATUS_COLORS = {
    "ok": "#3bb273",
    "partial": "#e2b714",
    "failed": "#d7263d",
    "missing": "#9c9c9c",
    "corrupt": "#d7263d",
}
CLASS_COLORS = {"1xx": "#9c9c9c", "2xx": "#3bb273", "3xx": "#2e86ab", "4xx": "#e2b714", "5xx": "#d7263d"}
PALETTE = ("#2e86ab", "#3bb273", "#e2b714", "#f46036", "#8e6c8a", "#4ecdc4", "#d7263d", "#9c9c9c", "#5c6bc0")


def fmt(value: object) -> str:
    """A cell value as text: thousands separators, 2 decimals below 1,000, UTC times, "–" for nothing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def human_bytes(value: object) -> str:
    """A byte count in binary units (KiB, MiB, ...)."""
    if not isinstance(value, int | float):
        return fmt(value)
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TiB"


def pct(value: object) -> str:
    """A 0..1 share as a percentage with one decimal."""
    return f"{float(value) * 100:.1f}%" if isinstance(value, int | float) else fmt(value)


def duration(seconds: object) -> str:
    """Seconds as "42s", "3m 07s" or "2h 05m"."""
    if not isinstance(seconds, int | float):
        return fmt(seconds)
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def seconds(value: object) -> str:
    """A measured run time: "0.42s", "12.30s"; from a minute on as :func:`duration` does ("3m 07s")."""
    if not isinstance(value, int | float):
        return fmt(value)
    return f"{float(value):.2f}s" if value < 60 else duration(value)


def rate(value: object) -> str:
    """A throughput such as lines per second: whole units with separators."""
    return f"{float(value):,.0f}" if isinstance(value, int | float) else fmt(value)


def compact(value: float) -> str:
    """3 significant digits with a k/M/G suffix (chart axes and bar labels)."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{value / div:.3g}{suffix}"
    return f"{value:.3g}" if value % 1 else f"{int(value)}"


SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int) -> str:
    """Values as one line of block characters at most ``width`` wide (neighbours summed to fit).

    Zero is a blank, so a gap in traffic shows as a gap; any value above zero draws at least the lowest block.
    """
    if not values or width < 1:
        return ""
    per = math.ceil(len(values) / width)
    sums = [sum(values[i : i + per]) for i in range(0, len(values), per)]
    top = max(sums)
    if top <= 0:
        return " " * len(sums)
    levels = len(SPARK_BLOCKS)
    steps = [min(levels - 1, max(0, math.ceil(v / top * levels) - 1)) for v in sums]
    return "".join(" " if v <= 0 else SPARK_BLOCKS[step] for v, step in zip(sums, steps, strict=True))
