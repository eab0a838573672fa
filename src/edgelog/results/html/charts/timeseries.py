"""Values over time: overlaid areas, stacked or grouped bars, and an optional ratio line (inline SVG)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from edgelog.results.format import compact, fmt, pct
from edgelog.results.html.charts.scale import nice_max, ratio_max
from edgelog.results.html.markup import esc
from edgelog.results.tables import Row


def time_chart(
    points: Sequence[Row],
    x_key: str,
    series: Sequence[tuple[str, str, str]],  # (key, label, color)
    *,
    kind: str = "area",  # "area": overlaid areas; "stacked": stacked bars
    line: tuple[str, str, str] | None = None,  # a 0..1 ratio drawn as a line on a right-hand percent axis
    label: str,
    width: int = 920,
    height: int = 260,
) -> str:
    """Values over time, with axes, gridlines and a tooltip (``<title>``) per point."""
    pts = [p for p in points if isinstance(p.get(x_key), datetime)]
    pts.sort(key=lambda p: p[x_key])
    if not pts:
        return '<p class="empty">No data.</p>'
    left, right, top, bottom = 56, 56 if line else 16, 16, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    if kind == "stacked":
        peak = max(sum(float(p.get(k) or 0) for k, _, _ in series) for p in pts)
    else:
        peak = max(float(p.get(k) or 0) for p in pts for k, _, _ in series)
    ymax = nice_max(peak)
    n = len(pts)
    if n < 3 and kind == "area":
        kind = "grouped"  # one or two buckets make no line: draw them as side-by-side bars
    step = plot_w / max(n - 1, 1) if kind == "area" else plot_w / n

    def x_at(i: int) -> float:
        return left + (i * step if kind == "area" else i * step + step / 2)

    def y_at(v: float) -> float:
        return top + plot_h - plot_h * (v / ymax)

    parts = [
        f'<svg class="chart" data-chart="{esc(label)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(label)}" preserveAspectRatio="xMidYMid meet">'
    ]
    for i in range(5):  # gridlines and left axis
        v = ymax * i / 4
        y = y_at(v)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(compact(v))}</text>'
        )
        if line:
            parts.append(
                f'<text class="axis" x="{width - right + 6}" y="{y + 4:.1f}">'
                f"{esc(pct(i / 4 * ratio_max(pts, line[0])))}</text>"
            )
    same_day = pts[0][x_key].date() == pts[-1][x_key].date()
    ticks = sorted({round(i * (n - 1) / 6) for i in range(7)}) if n > 1 else [0]
    for i in ticks:
        ts = pts[i][x_key].astimezone(UTC)
        text = ts.strftime("%H:%M") if same_day else ts.strftime("%m-%d %H:%M")
        parts.append(
            f'<text class="axis" x="{x_at(i):.1f}" y="{height - 12}" text-anchor="middle">{esc(text)}</text>'
        )
    if kind == "grouped":
        bar_w = min(48.0, step * 0.8 / len(series))
        for i, p in enumerate(pts):
            for j, (key, name, color) in enumerate(series):
                v = float(p.get(key) or 0)
                x = x_at(i) - bar_w * len(series) / 2 + j * bar_w
                parts.append(
                    f'<rect class="bar" x="{x:.1f}" y="{y_at(v):.1f}" width="{bar_w:.1f}" '
                    f'height="{max(0.5, y_at(0) - y_at(v)):.1f}" fill="{color}"><title>{esc(fmt(p[x_key]))}: '
                    f"{esc(name)} {esc(fmt(p.get(key)))}</title></rect>"
                )
    elif kind == "stacked":
        bar_w = min(48.0, max(1.0, step * 0.8))
        for i, p in enumerate(pts):
            base = 0.0
            for key, name, color in series:
                v = float(p.get(key) or 0)
                if v <= 0:
                    continue
                y0, y1 = y_at(base), y_at(base + v)
                parts.append(
                    f'<rect class="bar" x="{x_at(i) - bar_w / 2:.1f}" y="{y1:.1f}" width="{bar_w:.1f}" '
                    f'height="{max(0.5, y0 - y1):.1f}" fill="{color}"><title>{esc(fmt(p[x_key]))}: '
                    f"{esc(name)} {esc(fmt(p.get(key)))}</title></rect>"
                )
                base += v
    else:
        for key, name, color in series:
            coords = [(x_at(i), y_at(float(p.get(key) or 0))) for i, p in enumerate(pts)]
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            if n > 1:
                area = f"{coords[0][0]:.1f},{y_at(0):.1f} {path} {coords[-1][0]:.1f},{y_at(0):.1f}"
                parts.append(f'<polygon class="area" points="{area}" fill="{color}" fill-opacity="0.18"/>')
                parts.append(f'<polyline class="line" points="{path}" stroke="{color}" fill="none"/>')
            radius = 2.5 if n < 80 else 1.5
            for (x, y), p in zip(coords, pts, strict=True):
                parts.append(
                    f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{color}">'
                    f"<title>{esc(fmt(p[x_key]))}: {esc(name)} {esc(fmt(p.get(key)))}</title></circle>"
                )
    if line:
        key, name, color = line
        rmax = ratio_max(pts, key)
        coords = [
            (x_at(i), top + plot_h - plot_h * (float(p.get(key) or 0) / rmax if rmax else 0))
            for i, p in enumerate(pts)
        ]
        parts.append(
            f'<polyline class="line ratio" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in coords)}" '
            f'stroke="{color}" fill="none"/>'
        )
        for (x, y), p in zip(coords, pts, strict=True):
            parts.append(
                f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{color}">'
                f"<title>{esc(fmt(p[x_key]))}: "
                f"{esc(name)} {esc(pct(p.get(key)))}</title></circle>"
            )
    parts.append(
        f'<line class="axisline" x1="{left}" x2="{width - right}" y1="{y_at(0):.1f}" y2="{y_at(0):.1f}"/>'
    )
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{c}"></i>{esc(n)}</span>' for _, n, c in series)
    if line:
        legend += f'<span><i style="background:{line[2]}"></i>{esc(line[1])} (right axis)</span>'
    return f'<div class="chartbox">{"".join(parts)}<div class="legend">{legend}</div></div>'
