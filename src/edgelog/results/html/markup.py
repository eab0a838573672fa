"""HTML building blocks of the report page: escaping, sortable tables, cards, panels and badges.

Log data is hostile, so every value reaches the page through :func:`esc`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from edgelog.results.format import fmt
from edgelog.results.tables import Row


def esc(value: object) -> str:
    """Escape for HTML text and quoted attributes alike."""
    return html.escape(value if isinstance(value, str) else fmt(value), quote=True)


def sort_key(value: object) -> str:
    """A raw value for the table sorter: numbers and times sort numerically, text alphabetically."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(float(value))
    if isinstance(value, datetime):
        return repr(value.timestamp())
    return ""


Column = tuple[str, str, Callable[[Any], str] | None]  # (row key, heading, formatter)


def table(
    rows: Sequence[Row],
    columns: Sequence[Column],
    *,
    limit: int = 25,
    bar: str | None = None,
    highlight: str | None = None,
) -> str:
    """A sortable table; ``bar`` names a numeric column drawn as an inline share bar, ``highlight`` a key
    whose truthy rows are marked (e.g. the slowest node)."""
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
            sort = sort_key(value)
            attr = f' data-v="{esc(sort)}"' if sort else ""
            extra = ""
            if bar and key == bar and top > 0 and isinstance(value, int | float):
                extra = f'<span class="share" style="width:{max(1.0, 100 * float(value) / top):.1f}%"></span>'
            klass = "num" if isinstance(value, int | float) and not isinstance(value, bool) else "txt"
            cells.append(f'<td class="{klass}"{attr}>{extra}<span class="cell">{esc(text)}</span></td>')
        mark = ' class="hl"' if highlight and row.get(highlight) else ""
        body.append(f"<tr{mark}>{''.join(cells)}</tr>")
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


def card(key: str, value: str, sub: str = "", color: str | None = None) -> str:
    style = f' style="border-top-color:{color}"' if color else ""
    sub_html = f'<div class="s">{esc(sub)}</div>' if sub else ""
    inner = f'<div class="k">{esc(key)}</div><div class="v">{esc(value)}</div>{sub_html}'
    return f'<div class="card"{style}>{inner}</div>'


def panel(anchor: str, title: str, desc: str, body: str) -> str:
    head = f'<h2>{esc(title)}</h2><p class="desc">{esc(desc)}</p>'
    return f'<section class="panel" id="{anchor}">{head}{body}</section>'


def badge(text: str, color: str) -> str:
    return f'<span class="badge" style="background:{color}">{esc(text)}</span>'
