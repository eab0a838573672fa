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


def stacked_hbars(
    rows: Sequence[Row],
    key: str,
    segments: Sequence[tuple[str, str, str]],
    *,
    label: str,
    width: int = 560,
    limit: int = 30,
    unit: str = "s",
    total: str | None = None,
) -> str:
    """One horizontal bar per row, split into ``segments`` (row key, name, color), in row order; a legend.

    For parts of a whole per item, e.g. a node's run time by phase: the bar's length is the sum of its parts.
    Its label is that sum, or the row's ``total`` when given (the figure the tables show for the item).
    """
    rows = [r for r in rows if sum(float(r.get(k) or 0) for k, _, _ in segments) > 0][:limit]
    if not rows:
        return '<p class="empty">No data.</p>'
    longest = max(min(len(fmt(r.get(key))), 22) for r in rows)
    row_h, label_w = 24, max(40, min(150, 7 * longest + 14))
    height = row_h * len(rows) + 8
    peak = max(sum(float(r.get(k) or 0) for k, _, _ in segments) for r in rows)
    scale = (width - label_w - 70) / peak
    parts = [
        f'<svg class="chart" data-chart="{esc(label)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(label)}">'
    ]
    for i, r in enumerate(rows):
        y = 4 + i * row_h
        name = fmt(r.get(key))
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.append(
            f'<text class="blabel" x="{label_w - 6}" y="{y + 15}" text-anchor="end">{esc(short)}'
            f"<title>{esc(name)}</title></text>"
        )
        x = float(label_w)
        whole = sum(float(r.get(k) or 0) for k, _, _ in segments)
        for k, seg, color in segments:
            value = float(r.get(k) or 0)
            if value <= 0:
                continue
            w = value * scale
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="{row_h - 8}" '
                f'fill="{color}"><title>{esc(name)} {esc(seg)}: {value:.2f}{unit} ({esc(pct(value / whole))})'
                "</title></rect>"
            )
            x += w
        shown = float(r[total]) if total and isinstance(r.get(total), int | float) else whole
        parts.append(f'<text class="bval" x="{x + 6:.1f}" y="{y + 15}">{shown:.2f}{unit}</text>')
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{c}"></i>{esc(n)}</span>' for _, n, c in segments)
    return f'<div class="chartbox">{"".join(parts)}<div class="legend">{legend}</div></div>'
