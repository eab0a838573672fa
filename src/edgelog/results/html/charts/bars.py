"""Horizontal bars: the top items of a ranking, largest first (inline SVG)."""

from __future__ import annotations

from collections.abc import Sequence

from edgelog.results.format import PALETTE, compact, fmt, pct
from edgelog.results.html.markup import esc
from edgelog.results.tables import Row


def hbars(items: Sequence[tuple[str, float, str]], *, label: str, width: int = 560, limit: int = 10) -> str:
    """Horizontal bars (label, value, color), largest first, with the share of the total as a tooltip."""
    items = [i for i in items if i[1] and i[1] > 0][:limit]
    if not items:
        return '<p class="empty">No data.</p>'
    total = sum(v for _, v, _ in items)
    longest = max(min(len(name), 22) for name, _, _ in items)
    row_h, label_w = 24, max(40, min(150, 7 * longest + 14))  # room for the labels, no more
    height = row_h * len(items) + 8
    peak = max(v for _, v, _ in items)
    parts = [
        f'<svg class="chart" data-chart="{esc(label)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(label)}">'
    ]
    for i, (name, value, color) in enumerate(items):
        y = 4 + i * row_h
        w = (width - label_w - 70) * value / peak
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.append(
            f'<text class="blabel" x="{label_w - 6}" y="{y + 15}" text-anchor="end">{esc(short)}'
            f"<title>{esc(name)}</title></text>"
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 8}" '
            f'fill="{color}">'
            f"<title>{esc(name)}: {esc(fmt(value))} ({esc(pct(value / total))})</title></rect>"
            f'<text class="bval" x="{label_w + max(w, 1) + 6:.1f}" y="{y + 15}">{esc(compact(value))}</text>'
        )
    parts.append("</svg>")
    return f'<div class="chartbox">{"".join(parts)}</div>'


def colored(rows: Sequence[Row], key: str, value: str = "hits") -> list[tuple[str, float, str]]:
    return [
        (fmt(r.get(key)), float(r.get(value) or 0), PALETTE[i % len(PALETTE)]) for i, r in enumerate(rows)
    ]
