"""Shares of a whole as a ring with a legend (inline SVG)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from edgelog.results.format import compact, fmt, pct
from edgelog.results.html.markup import esc


def donut(items: Sequence[tuple[str, float, str]], *, label: str, size: int = 200) -> str:
    """Shares of a whole as a ring, with a legend."""
    items = [i for i in items if i[1] and i[1] > 0]
    if not items:
        return '<p class="empty">No data.</p>'
    total = sum(v for _, v, _ in items)
    r, cx, cy, stroke = size * 0.36, size / 2, size / 2, size * 0.16
    circ = 2 * math.pi * r
    parts = [
        f'<svg class="chart donut" data-chart="{esc(label)}" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="{esc(label)}">'
    ]
    offset = 0.0
    for name, value, color in items:
        length = circ * value / total
        parts.append(
            f'<circle cx="{cx}" cy="{cy}" r="{r:.1f}" fill="none" stroke="{color}" '
            f'stroke-width="{stroke:.1f}" '
            f'stroke-dasharray="{length:.2f} {circ - length:.2f}" stroke-dashoffset="{-offset:.2f}" '
            f'transform="rotate(-90 {cx} {cy})">'
            f"<title>{esc(name)}: {esc(fmt(value))} ({esc(pct(value / total))})</title>"
            "</circle>"
        )
        offset += length
    parts.append(
        f'<text class="donut-total" x="{cx}" y="{cy + 6}" text-anchor="middle">{esc(compact(total))}</text>'
    )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{c}"></i>{esc(n)} {esc(pct(v / total))}</span>' for n, v, c in items
    )
    return f'<div class="chartbox donutbox">{"".join(parts)}<div class="legend">{legend}</div></div>'
