"""The HTML report: one self-contained file in the spirit of GoAccess's report.

Self-contained means it opens from a laptop, an air-gapped box or an email attachment: charts are inline SVG
drawn here in Python, styles are inline, and the only script is a small inline table sorter. Log data is
hostile (paths, referrers and user agents carry ``<script>`` and quotes on purpose), so every value goes
through :func:`html.escape`, and a Content-Security-Policy allows no network access and no script but ours
(pinned by its hash) as a second line of defence.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgelog import __version__
from edgelog.fileio import write_text_atomic
from edgelog.results.tables import ResultData, Row, load_result

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

# -- formatting ------------------------------------------------------------------------------------


def esc(value: object) -> str:
    """Escape for HTML text and quoted attributes alike."""
    return html.escape(value if isinstance(value, str) else fmt(value), quote=True)


def fmt(value: object) -> str:
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
    if not isinstance(value, int | float):
        return fmt(value)
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TiB"


def pct(value: object) -> str:
    return f"{float(value) * 100:.1f}%" if isinstance(value, int | float) else fmt(value)


def duration(seconds: object) -> str:
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


def _sort_key(value: object) -> str:
    """A raw value for the table sorter: numbers and times sort numerically, text alphabetically."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(float(value))
    if isinstance(value, datetime):
        return repr(value.timestamp())
    return ""


# -- tables ----------------------------------------------------------------------------------------

Column = tuple[str, str, Callable[[Any], str] | None]  # (row key, heading, formatter)


def table(rows: Sequence[Row], columns: Sequence[Column], *, limit: int = 25, bar: str | None = None) -> str:
    """A sortable table; ``bar`` names a numeric column drawn as an inline share bar."""
    if not rows:
        return '<p class="empty">No data.</p>'
    top = max((float(r.get(bar) or 0) for r in rows), default=0.0) if bar else 0.0
    head = "".join(
        f'<th data-col="{i}" class="{"num" if _is_numeric(rows, key) else "txt"}">{esc(label)}</th>'
        for i, (key, label, _) in enumerate(columns)
    )
    body = []
    for row in rows[:limit]:
        cells = []
        for key, _label, formatter in columns:
            value = row.get(key)
            text = formatter(value) if formatter and value is not None else fmt(value)
            sort = _sort_key(value)
            attr = f' data-v="{esc(sort)}"' if sort else ""
            extra = ""
            if bar and key == bar and top > 0 and isinstance(value, int | float):
                extra = f'<span class="share" style="width:{max(1.0, 100 * float(value) / top):.1f}%"></span>'
            klass = "num" if isinstance(value, int | float) and not isinstance(value, bool) else "txt"
            cells.append(f'<td class="{klass}"{attr}>{extra}<span class="cell">{esc(text)}</span></td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = (
        f'<p class="more">Showing {limit} of {len(rows):,} rows (report tables keep the top 100).</p>'
        if len(rows) > limit
        else ""
    )
    rows_html = "".join(body)
    return (
        f'<table class="data sortable"><thead><tr>{head}</tr></thead><tbody>{rows_html}</tbody></table>{more}'
    )


def _is_numeric(rows: Sequence[Row], key: str) -> bool:
    return any(isinstance(r.get(key), int | float) and not isinstance(r.get(key), bool) for r in rows)


# -- charts (inline SVG) ---------------------------------------------------------------------------


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _short(value: float) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{value / div:.3g}{suffix}"
    return f"{value:.3g}" if value % 1 else f"{int(value)}"


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
    ymax = _nice_max(peak)
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
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(_short(v))}</text>'
        )
        if line:
            parts.append(
                f'<text class="axis" x="{width - right + 6}" y="{y + 4:.1f}">'
                f"{esc(pct(i / 4 * _ratio_max(pts, line[0])))}</text>"
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
        rmax = _ratio_max(pts, key)
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


def _ratio_max(pts: Sequence[Row], key: str) -> float:
    peak = max((float(p.get(key) or 0) for p in pts), default=0.0)
    return min(1.0, _nice_max(peak)) if peak > 0 else 1.0


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
            f'<text class="bval" x="{label_w + max(w, 1) + 6:.1f}" y="{y + 15}">{esc(_short(value))}</text>'
        )
    parts.append("</svg>")
    return f'<div class="chartbox">{"".join(parts)}</div>'


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
        f'<text class="donut-total" x="{cx}" y="{cy + 6}" text-anchor="middle">{esc(_short(total))}</text>'
    )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{c}"></i>{esc(n)} {esc(pct(v / total))}</span>' for n, v, c in items
    )
    return f'<div class="chartbox donutbox">{"".join(parts)}<div class="legend">{legend}</div></div>'


def _colored(rows: Sequence[Row], key: str, value: str = "hits") -> list[tuple[str, float, str]]:
    return [
        (fmt(r.get(key)), float(r.get(value) or 0), PALETTE[i % len(PALETTE)]) for i, r in enumerate(rows)
    ]


# -- page ------------------------------------------------------------------------------------------

SCRIPT = """
(function () {
  function key(td) {
    var v = td.getAttribute('data-v');
    return v === null ? td.textContent.trim().toLowerCase() : parseFloat(v);
  }
  document.querySelectorAll('table.sortable').forEach(function (tbl) {
    tbl.querySelectorAll('th').forEach(function (th) {
      th.addEventListener('click', function () {
        var col = parseInt(th.getAttribute('data-col'), 10);
        var asc = th.getAttribute('data-sort') !== 'asc';
        tbl.querySelectorAll('th').forEach(function (o) { o.removeAttribute('data-sort'); });
        th.setAttribute('data-sort', asc ? 'asc' : 'desc');
        var body = tbl.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          if (x < y) { return asc ? -1 : 1; }
          if (x > y) { return asc ? 1 : -1; }
          return 0;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var root = document.documentElement;
  root.setAttribute('data-charts', String(document.querySelectorAll('svg.chart').length));
  root.setAttribute('data-tables', String(document.querySelectorAll('table.data').length));
  root.setAttribute('data-ready', '1');
})();
"""

STYLE = """
:root { --bg:#f4f5f7; --panel:#fff; --ink:#1f2430; --muted:#6b7280; --line:#e3e6ea; --accent:#2e86ab; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
       background:var(--bg); color:var(--ink); }
header { background:#1f2430; color:#fff; padding:18px 28px; display:flex; align-items:baseline; gap:24px;
         flex-wrap:wrap; }
header h1 { margin:0; font-size:22px; letter-spacing:.3px; }
header .meta { color:#b8c0cc; font-size:13px; }
nav { position:sticky; top:0; z-index:2; background:#2a3140; padding:6px 28px; display:flex; flex-wrap:wrap;
      gap:4px 14px; }
nav a { color:#cfd6e0; text-decoration:none; font-size:12.5px; }
nav a:hover { color:#fff; }
main { padding:18px 28px 60px; max-width:1480px; margin:0 auto; }
.banner { border-radius:6px; padding:12px 16px; margin:0 0 16px; font-weight:600; }
.banner ul { margin:6px 0 0; font-weight:400; }
.banner.partial { background:#fff4cc; border:1px solid #e2b714; }
.banner.integrity { background:#fde2e4; border:1px solid #d7263d; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(170px,1fr)); gap:12px;
         margin-bottom:18px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:12px 14px;
        border-top:3px solid var(--accent); }
.card .k { color:var(--muted); font-size:11.5px; text-transform:uppercase; letter-spacing:.5px; }
.card .v { font-size:22px; font-weight:650; margin-top:2px; word-break:break-word; }
.card .s { color:var(--muted); font-size:12px; }
section.panel { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:14px 18px;
                margin-bottom:18px; }
section.panel h2 { margin:0 0 4px; font-size:16px; }
section.panel p.desc { margin:0 0 10px; color:var(--muted); font-size:12.5px; }
.grid2 { display:grid; grid-template-columns:minmax(0,1fr) minmax(0,1fr); gap:18px; }
.grid3 { display:grid; grid-template-columns:repeat(3,minmax(0,1fr)); gap:18px; }
@media (max-width: 1000px) { .grid2, .grid3 { grid-template-columns:minmax(0,1fr); } }
.narrow { max-width:760px; }
h3 { font-size:13.5px; margin:4px 0 8px; color:#374151; }
.chartbox { width:100%; }
svg.chart { width:100%; height:auto; display:block; }
svg.donut { max-width:200px; margin:0 auto; }
.donutbox { display:flex; gap:16px; align-items:center; }
.donutbox .legend { flex-direction:column; }
svg .grid { stroke:#eceff3; stroke-width:1; }
svg .axisline { stroke:#9aa3af; stroke-width:1; }
svg .axis { fill:#6b7280; font-size:11px; }
svg .line { stroke-width:2; }
svg .ratio { stroke-dasharray:4 3; }
svg .blabel, svg .bval { fill:#374151; font-size:12px; }
svg .donut-total { font-size:22px; font-weight:650; fill:#1f2430; }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; font-size:12px; color:#374151; margin-top:4px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:5px; }
table.data { width:100%; border-collapse:collapse; font-size:12.5px; table-layout:auto; }
table.data th { text-align:left; color:var(--muted); font-weight:600; border-bottom:2px solid var(--line);
                padding:6px 8px; cursor:pointer; user-select:none; white-space:nowrap; }
table.data th.num, table.data td.num { text-align:right; }
table.data th[data-sort=asc]::after { content:" ▲"; }
table.data th[data-sort=desc]::after { content:" ▼"; }
table.data td { border-bottom:1px solid #f0f2f4; padding:5px 8px; position:relative; vertical-align:top; }
table.data td.txt .cell { word-break:break-all; }
table.data td .share { position:absolute; left:0; top:3px; bottom:3px; background:#2e86ab1f;
                       border-radius:2px; }
table.data td .cell { position:relative; }
table.data tr:hover td { background:#f8fafc; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-size:11.5px;
          font-weight:600; }
p.empty { color:var(--muted); font-style:italic; }
p.more { color:var(--muted); font-size:12px; margin:6px 0 0; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:20px; }
"""

SECTIONS = (
    ("overview", "Overview"),
    ("traffic", "Requests"),
    ("errors", "Errors"),
    ("status", "Status codes"),
    ("paths", "Top paths"),
    ("notfound", "404s"),
    ("static", "Static files"),
    ("hosts", "Visitors"),
    ("referrers", "Referrers"),
    ("clients", "Browsers & OS"),
    ("sessions", "Sessions"),
    ("tags", "Tags"),
    ("anomalies", "Anomalies"),
    ("nodes", "Nodes"),
    ("quality", "Data quality"),
)


def _card(key: str, value: str, sub: str = "", color: str | None = None) -> str:
    style = f' style="border-top-color:{color}"' if color else ""
    sub_html = f'<div class="s">{esc(sub)}</div>' if sub else ""
    inner = f'<div class="k">{esc(key)}</div><div class="v">{esc(value)}</div>{sub_html}'
    return f'<div class="card"{style}>{inner}</div>'


def _panel(anchor: str, title: str, desc: str, body: str) -> str:
    head = f'<h2>{esc(title)}</h2><p class="desc">{esc(desc)}</p>'
    return f'<section class="panel" id="{anchor}">{head}{body}</section>'


def _badge(text: str, color: str) -> str:
    return f'<span class="badge" style="background:{color}">{esc(text)}</span>'


def _banners(data: ResultData) -> str:
    out = []
    if data.integrity_problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in data.integrity_problems[:20])
        out.append(
            '<div class="banner integrity">Integrity check failed: these files do not match the manifest, '
            f"so the numbers below cannot be trusted.<ul>{items}</ul></div>"
        )
    reasons = []
    m = data.manifest
    for node in m.fetch.nodes if m.fetch else []:
        if node.status != "ok":
            reasons.append(f"node {node.node_id}: {node.status} — {node.reason or ''}".strip())
    reasons += m.fetch.problems if m.fetch else []
    if m.totals.files_failed:
        reasons.append(f"{m.totals.files_failed} input file(s) failed to parse (see Data quality)")
    for q in m.queries:
        if q.status != "ok":
            reasons.append(f"query {q.name}: {q.status} {q.error or ''}".strip())
    if data.missing:
        reasons.append(f"report tables missing: {', '.join(data.missing)}")
    if data.status != "ok" or reasons:
        items = "".join(f"<li>{esc(r)}</li>" for r in reasons[:30])
        out.append(
            f'<div class="banner partial">Partial result (status: {esc(data.status)}): some inputs or nodes '
            f"are not included, so totals are lower bounds.<ul>{items}</ul></div>"
        )
    return "".join(out)


def _overview(data: ResultData) -> str:
    s = data.one("summary")
    sessions = data.one("sessions")
    nodes = data.rows("nodes")
    valid = s.get("valid_requests")
    total = s.get("total_lines")
    span = ""
    if isinstance(s.get("first_ts"), datetime) and isinstance(s.get("last_ts"), datetime):
        span = duration((s["last_ts"] - s["first_ts"]).total_seconds())
    cards = [
        _card("Total requests", fmt(total), "lines read"),
        _card("Valid requests", fmt(valid), pct(valid / total) if isinstance(valid, int) and total else ""),
        _card("Quarantined lines", fmt(s.get("quarantined_lines")), "did not parse", "#e2b714"),
        _card("Failed files", fmt(s.get("failed_files")), "", "#d7263d" if s.get("failed_files") else None),
        _card("Unique visitors", fmt(s.get("unique_visitors")), "ip + day + user agent"),
        _card("Bandwidth", human_bytes(s.get("bandwidth_bytes"))),
        _card("Requested files", fmt(s.get("unique_files")), "unique paths"),
        _card("Not found", fmt(s.get("not_found_requests")), "404 responses", "#e2b714"),
        _card("Static requests", fmt(s.get("static_requests"))),
        _card("Sessions", fmt(sessions.get("sessions")), f"bounce {pct(sessions.get('bounce_rate'))}"),
        _card("Nodes", fmt(len(nodes)), f"{sum(1 for n in nodes if n.get('status') == 'ok')} ok"),
        _card("Time span", span or "–", f"{fmt(s.get('first_ts'))} → {fmt(s.get('last_ts'))}"),
    ]
    return f'<div class="cards" id="overview">{"".join(cards)}</div>'


def _traffic(data: ResultData) -> str:
    five = data.rows("time_5min")
    hourly = data.rows("time_hourly")
    body = time_chart(
        five,
        "bucket",
        [("hits", "requests", "#2e86ab"), ("visitors", "visitors", "#3bb273")],
        label="Requests per 5 minutes",
    )
    body += '<div class="grid2"><div><h3>Per hour</h3>' + time_chart(
        hourly,
        "hour",
        [("hits", "requests", "#2e86ab")],
        kind="stacked",
        label="Requests per hour",
        width=460,
        height=220,
    )
    body += "</div><div><h3>Per hour (table)</h3>" + table(
        hourly,
        [
            ("hour", "Hour", fmt),
            ("hits", "Requests", None),
            ("visitors", "Visitors", None),
            ("bytes", "Bytes", human_bytes),
        ],
        limit=48,
        bar="hits",
    )
    body += "</div></div>"
    return _panel(
        "traffic", "Requests over time", "Valid requests and visitors per 5-minute bucket (UTC).", body
    )


def _errors(data: ResultData) -> str:
    rows = data.rows("error_rate")
    body = time_chart(
        rows,
        "bucket",
        [("errors_4xx", "4xx", "#e2b714"), ("errors_5xx", "5xx", "#d7263d")],
        kind="stacked",
        line=("error_rate", "error rate", "#1f2430"),
        label="Errors per 5 minutes",
    )
    worst = sorted(rows, key=lambda r: (-(r.get("error_rate") or 0), str(r.get("bucket"))))[:10]
    body += "<h3>Worst buckets</h3>" + table(
        worst,
        [
            ("bucket", "Bucket", fmt),
            ("hits", "Requests", None),
            ("errors_4xx", "4xx", None),
            ("errors_5xx", "5xx", None),
            ("error_rate", "Error rate", pct),
        ],
        limit=10,
        bar="error_rate",
    )
    return _panel(
        "errors", "Errors over time", "4xx and 5xx responses per 5 minutes; dashed line: error rate.", body
    )


def _status(data: ResultData) -> str:
    rows = data.rows("status_codes")
    by_class: dict[str, float] = {}
    for r in rows:
        by_class[str(r.get("status_class"))] = by_class.get(str(r.get("status_class")), 0) + float(
            r.get("hits") or 0
        )
    ring = donut(
        [(k, v, CLASS_COLORS.get(k, "#9c9c9c")) for k, v in sorted(by_class.items())], label="Status classes"
    )
    bars = hbars(
        [
            (
                fmt(r.get("status")),
                float(r.get("hits") or 0),
                CLASS_COLORS.get(str(r.get("status_class")), "#9c9c9c"),
            )
            for r in rows
        ],
        label="Status codes",
        width=380,
        limit=15,
    )
    body = f'<div class="grid3"><div>{ring}</div><div>{bars}</div><div>' + table(
        rows,
        [
            ("status", "Status", str),
            ("status_class", "Class", None),
            ("hits", "Requests", None),
            ("bytes", "Bytes", human_bytes),
        ],
        bar="hits",
    )
    return _panel("status", "HTTP status codes", "Responses by status code and class.", body + "</div></div>")


def _paths_panel(anchor: str, title: str, desc: str, rows: list[Row], with_bytes: bool) -> str:
    columns: list[Column] = [
        ("path", "Path", None),
        ("hits", "Requests", None),
        ("visitors", "Visitors", None),
    ]
    if with_bytes:
        columns.append(("bytes", "Bytes", human_bytes))
    body = '<div class="grid2"><div>' + hbars(_colored(rows, "path"), label=title) + "</div><div>"
    body += table(rows, columns, bar="hits") + "</div></div>"
    return _panel(anchor, title, desc, body)


def _hosts(data: ResultData) -> str:
    rows = data.rows("hosts")
    body = '<div class="grid2"><div>' + table(
        rows,
        [
            ("ip", "Client IP", None),
            ("hits", "Requests", None),
            ("visitors", "Visitors", None),
            ("bytes", "Bytes", human_bytes),
            ("first_ts", "First seen", fmt),
            ("last_ts", "Last seen", fmt),
        ],
        bar="hits",
    )
    body += "</div><div><h3>Methods and protocols</h3>" + table(
        data.rows("methods_protocols"),
        [("method", "Method", None), ("protocol", "Protocol", None), ("hits", "Requests", None)],
        bar="hits",
    )
    return _panel(
        "hosts", "Visitors and hosts", "Top client addresses, methods and protocols.", body + "</div></div>"
    )


def _referrers(data: ResultData) -> str:
    sites = data.rows("referring_sites")
    urls = data.rows("referring_urls")
    body = '<div class="grid2"><div><h3>Referring sites</h3>' + hbars(
        _colored(sites, "site"), label="Referring sites"
    )
    body += table(
        sites,
        [("site", "Site", None), ("hits", "Requests", None), ("visitors", "Visitors", None)],
        bar="hits",
    )
    body += "</div><div><h3>Referring URLs</h3>" + table(
        urls,
        [("referrer", "Referrer", None), ("hits", "Requests", None), ("visitors", "Visitors", None)],
        bar="hits",
    )
    return _panel(
        "referrers",
        "Referrers",
        "Where visitors came from (own-site referrers excluded by the analysis).",
        body + "</div></div>",
    )


def _clients(data: ResultData) -> str:
    parts = []
    for name, key, title in (
        ("browsers", "browser", "Browsers"),
        ("operating_systems", "os", "Operating systems"),
        ("crawlers", "crawler", "Crawlers"),
    ):
        rows = data.rows(name)
        parts.append(
            f"<div><h3>{esc(title)}</h3>"
            + hbars(_colored(rows, key), label=title, limit=8, width=380)
            + table(
                rows,
                [(key, title.rstrip("s"), None), ("hits", "Requests", None), ("visitors", "Visitors", None)],
                limit=12,
                bar="hits",
            )
            + "</div>"
        )
    return _panel(
        "clients",
        "Browsers, operating systems and crawlers",
        "Parsed from user agents.",
        f'<div class="grid3">{"".join(parts)}</div>',
    )


def _sessions(data: ResultData) -> str:
    s = data.one("sessions")
    cards = "".join(
        [
            _card("Sessions", fmt(s.get("sessions")), "30 min inactivity"),
            _card("Avg duration", duration(s.get("avg_duration_s"))),
            _card("Avg pages", fmt(s.get("avg_pages"))),
            _card("Bounce rate", pct(s.get("bounce_rate")), "one-page sessions"),
            _card("Abandonment", pct(s.get("abandonment_rate"))),
        ]
    )
    body = f'<div class="cards">{cards}</div><div class="grid2"><div><h3>Entry pages</h3>'
    body += table(
        data.rows("entry_pages"),
        [("path", "Path", None), ("sessions", "Sessions", None)],
        limit=15,
        bar="sessions",
    )
    body += "</div><div><h3>Exit pages</h3>"
    body += table(
        data.rows("exit_pages"),
        [("path", "Path", None), ("sessions", "Sessions", None)],
        limit=15,
        bar="sessions",
    )
    return _panel(
        "sessions", "Sessions", "Visits reconstructed per client (ip + user agent).", body + "</div></div>"
    )


def _tags(data: ResultData) -> str:
    rows = data.rows("tags")
    body = '<div class="grid2"><div>' + hbars(_colored(rows, "tag"), label="Tags") + "</div><div>"
    body += table(
        rows,
        [
            ("tag", "Tag", None),
            ("hits", "Requests", None),
            ("visitors", "Visitors", None),
            ("bytes", "Bytes", human_bytes),
            ("errors", "Errors", None),
        ],
        bar="hits",
    )
    return _panel("tags", "Tags", "Requests grouped by the tag rules.", body + "</div></div>")


def _anomalies(data: ResultData) -> str:
    rows = sorted(data.rows("anomalies"), key=lambda r: (-(r.get("score") or 0), str(r.get("ts"))))
    if not rows:
        return _panel(
            "anomalies",
            "Anomalies",
            "Unusual traffic, errors or clients.",
            '<p class="empty">No anomalies found.</p>',
        )
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r.get("severity"))] = counts.get(str(r.get("severity")), 0) + 1
    summary = " ".join(
        _badge(f"{sev}: {counts[sev]}", SEVERITY_COLORS.get(sev, "#9c9c9c"))
        for sev in SEVERITY_COLORS
        if sev in counts
    )
    body_rows = []
    for r in rows[:50]:
        sev = str(r.get("severity"))
        body_rows.append(
            "<tr>"
            f'<td class="txt">{_badge(sev, SEVERITY_COLORS.get(sev, "#9c9c9c"))}</td>'
            f'<td class="num" data-v="{esc(_sort_key(r.get("score")))}">{esc(fmt(r.get("score")))}</td>'
            f'<td class="txt">{esc(fmt(r.get("kind")))}</td>'
            f'<td class="txt"><span class="cell">{esc(fmt(r.get("subject")))}</span></td>'
            f'<td class="txt" data-v="{esc(_sort_key(r.get("ts")))}">{esc(fmt(r.get("ts")))}</td>'
            f'<td class="num">{esc(fmt(r.get("value")))}</td>'
            f'<td class="num">{esc(fmt(r.get("baseline")))}</td>'
            f'<td class="txt"><span class="cell">{esc(fmt(r.get("detail")))}</span></td>'
            "</tr>"
        )
    heads = ("Severity", "Score", "Kind", "Subject", "When", "Value", "Baseline", "Detail")
    head = "".join(
        f'<th data-col="{i}" class="{"num" if h in ("Score", "Value", "Baseline") else "txt"}">{esc(h)}</th>'
        for i, h in enumerate(heads)
    )
    body = (
        f'<p>{summary}</p><table class="data sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body_rows)}</tbody></table>"
    )
    return _panel("anomalies", "Anomalies", "Unusual traffic, errors or clients, scored 0-100.", body)


def _nodes(data: ResultData) -> str:
    rows = data.rows("nodes")
    bars = hbars(
        [
            (
                fmt(r.get("node_id")),
                float(r.get("valid_requests") or 0),
                STATUS_COLORS.get(str(r.get("status")), "#9c9c9c"),
            )
            for r in rows
        ],
        label="Requests per node",
        limit=30,
    )
    body = f'<div class="narrow">{bars}</div>' + table(
        rows,
        [
            ("node_id", "Node", None),
            ("status", "Status", None),
            ("files", "Files", None),
            ("files_failed", "Failed files", None),
            ("lines_read", "Lines", None),
            ("valid_requests", "Valid", None),
            ("quarantined_lines", "Quarantined", None),
            ("bytes", "Bytes", human_bytes),
            ("first_ts", "First", fmt),
            ("last_ts", "Last", fmt),
        ],
        limit=100,
        bar="valid_requests",
    )
    fetch_nodes = [asdict(n) for n in data.manifest.fetch.nodes] if data.manifest.fetch else []
    if fetch_nodes:
        body += "<h3>Fetch status per node</h3>" + table(
            fetch_nodes,
            [
                ("node_id", "Node", None),
                ("execution_id", "Execution", None),
                ("status", "Status", None),
                ("files", "Files verified", None),
                ("reason", "Reason", None),
            ],
            limit=200,
        )
    return _panel("nodes", "Per-node breakdown", "What each node contributed to this result.", body)


def _quality(data: ResultData) -> str:
    m = data.manifest
    totals = m.totals
    read = totals.lines_read
    quarantined = totals.lines_quarantined
    cards = "".join(
        [
            _card(
                "Result status",
                data.status,
                m.kind,
                STATUS_COLORS.get(data.status, "#9c9c9c"),
            ),
            _card("Input files", fmt(totals.files)),
            _card("Failed files", fmt(totals.files_failed), "", "#d7263d" if totals.files_failed else None),
            _card("Lines read", fmt(read)),
            _card("Lines parsed", fmt(totals.lines_parsed)),
            _card(
                "Quarantined",
                fmt(quarantined),
                pct(quarantined / read) if read else "",
                "#e2b714" if quarantined else None,
            ),
            _card(
                "Outputs verified",
                f"{data.verified_files}/{len(m.outputs)}",
                "sha256 vs manifest",
                "#d7263d" if data.integrity_problems else "#3bb273",
            ),
        ]
    )
    inputs = [asdict(i) for i in sorted(m.inputs, key=lambda i: (i.status == "ok", i.name))]
    body = f'<div class="cards">{cards}</div><h3>Input files (problems first)</h3>' + table(
        inputs,
        [
            ("name", "File", None),
            ("status", "Status", None),
            ("format", "Format", None),
            ("lines_read", "Lines", None),
            ("lines_parsed", "Parsed", None),
            ("lines_quarantined", "Quarantined", None),
            ("size", "Size", human_bytes),
            ("error", "Error", None),
        ],
        limit=60,
    )
    if data.quarantine_reasons:
        body += '<div class="grid2"><div><h3>Why lines were quarantined</h3>' + table(
            data.quarantine_reasons, [("reason", "Reason", None), ("lines", "Lines", None)], bar="lines"
        )
        body += "</div><div><h3>Quarantined lines (sample)</h3>" + table(
            data.quarantine_sample,
            [
                ("file", "File", None),
                ("line_no", "Line", None),
                ("reason", "Reason", None),
                ("raw", "Raw line", None),
            ],
            limit=20,
        )
        body += "</div></div>"
    merged = [asdict(f) for f in m.merged_from or []]
    if merged:
        body += "<h3>Merged from</h3>" + table(
            merged,
            [("node_id", "Node", None), ("execution_id", "Execution", None), ("status", "Status", None)],
            limit=200,
        )
    queries = [asdict(q) for q in m.queries]
    if queries:
        body += "<h3>Queries</h3>" + table(
            queries,
            [("name", "Query", None), ("status", "Status", None), ("error", "Error", None)],
            limit=100,
        )
    if data.integrity_problems or data.missing:
        problems = [*data.integrity_problems, *(f"missing report table: {n}" for n in data.missing)]
        body += "<h3>Problems</h3><ul>" + "".join(f"<li>{esc(p)}</li>" for p in problems) + "</ul>"
    return _panel(
        "quality",
        "Data quality",
        "Files read, lines that did not parse, failed files and partial results.",
        body,
    )


def build_html(data: ResultData, *, title: str | None = None) -> str:
    """The whole report page as one string."""
    m = data.manifest
    job = m.job_id or (m.fetch.job_id if m.fetch else None)
    heading = title or (f"edgelog report — job {job}" if job else "edgelog report")
    meta = (
        f"{m.kind or 'result'} · status {data.status} · finished {m.finished_at or '?'}"
        f" · edgelog {__version__}"
    )
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in SECTIONS)
    panels = [
        _banners(data),
        _overview(data),
        _traffic(data),
        _errors(data),
        _status(data),
        _paths_panel(
            "paths",
            "Top requested paths",
            "Most requested paths.",
            data.rows("top_paths"),
            True,
        ),
        _paths_panel(
            "notfound",
            "Not found (404)",
            "Paths that answered 404: broken links and scanners.",
            data.rows("not_found"),
            False,
        ),
        _paths_panel(
            "static", "Static files", "Most requested static assets.", data.rows("static_files"), True
        ),
        _hosts(data),
        _referrers(data),
        _clients(data),
        _sessions(data),
        _tags(data),
        _anomalies(data),
        _nodes(data),
        _quality(data),
    ]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(heading)}</title><style>{STYLE}</style></head><body>"
        f'<header><h1>{esc(heading)}</h1><span class="meta">{esc(meta)}</span></header>'
        f"<nav>{nav}</nav><main>{''.join(panels)}</main>"
        f"<footer>Generated {esc(generated)} by edgelog {esc(__version__)} from {esc(str(data.dir))}</footer>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def render_html(result_dir: str | Path, html_path: str | Path, *, title: str | None = None) -> Path:
    """Write the self-contained HTML report for ``result_dir`` to ``html_path``; return the path."""
    return write_html(load_result(result_dir), html_path, title=title)


def write_html(data: ResultData, html_path: str | Path, *, title: str | None = None) -> Path:
    """Write the report page for already loaded data (atomically: a viewer never sees half a page)."""
    page = build_html(data, title=title)
    target = Path(html_path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, page)
    return target
