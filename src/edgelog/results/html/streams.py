"""The HTML report's sections on nginx's error log and the application log, shown only when they were read."""

from __future__ import annotations

from edgelog.results.format import PALETTE, fmt, pct
from edgelog.results.html.charts import time_chart
from edgelog.results.html.markup import Column, card, panel, table
from edgelog.results.tables import ResultData, Row

PATTERN_COLUMNS: list[Column] = [
    ("level", "Level", None),
    ("module", "Module", None),
    ("pattern", "Pattern", None),
    ("events", "Entries", None),
    ("first_ts", "First", fmt),
    ("last_ts", "Last", fmt),
    ("example", "Example", None),
]


def sections(data: ResultData) -> list[tuple[str, str]]:
    """The (anchor, title) of each stream section this result has."""
    out = []
    if data.has_stream("error"):
        out.append(("errorlog", "Error log"))
    if data.has_stream("app"):
        out.append(("applog", "Application log"))
    return out


def panels(data: ResultData) -> list[str]:
    """The stream sections' HTML, in the order of :func:`sections`."""
    out = []
    if data.has_stream("error"):
        out.append(_error_log(data))
    if data.has_stream("app"):
        out.append(_app_log(data))
    return out


def _levels(data: ResultData, source: str) -> list[Row]:
    """error_levels summed over hours: one row per (level, module)."""
    totals: dict[tuple[str, str], int] = {}
    for r in data.rows("error_levels"):
        if r.get("source") == source:
            key = (str(r.get("level")), str(r.get("module")))
            totals[key] = totals.get(key, 0) + int(r.get("events") or 0)
    return [
        {"level": level, "module": module, "events": n}
        for (level, module), n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _pattern_chart(data: ResultData, source: str, label: str) -> str:
    """error_pattern_timeline's 5 top patterns of a stream as stacked bars per hour, every hour of the
    stream's entries drawn (0 where a pattern had none)."""
    rows = [r for r in data.rows("error_pattern_timeline") if r.get("source") == source]
    top = sorted({int(r.get("rank") or 0) for r in rows})[:5]
    names = {int(r.get("rank") or 0): f"{r.get('level')} {r.get('module')}: {r.get('pattern')}" for r in rows}
    hours: dict[object, Row] = {
        r.get("hour"): {"hour": r.get("hour")} for r in data.rows("error_levels") if r.get("source") == source
    }
    for r in rows:
        if int(r.get("rank") or 0) in top:
            hours.setdefault(r.get("hour"), {"hour": r.get("hour")})[f"p{r.get('rank')}"] = r.get("events")
    series = [(f"p{k}", _short(names[k]), PALETTE[i % len(PALETTE)]) for i, k in enumerate(top)]
    return time_chart(list(hours.values()), "hour", series, kind="stacked", label=label)


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_log(data: ResultData) -> str:
    s = data.one("error_summary")
    timeline = data.rows("error_timeline")
    requests = sum(int(r.get("requests") or 0) for r in timeline)
    cards = "".join(
        [
            card("Entries", fmt(s.get("nginx_events")), f"{fmt(s.get('error_log_lines'))} lines"),
            card("Errors", fmt(s.get("nginx_errors")), "error, crit, alert, emerg", "#d7263d"),
            card("Warnings", fmt(s.get("nginx_warnings")), "", "#e2b714"),
            card(
                "Upstream failures",
                fmt(s.get("upstream_failures")),
                pct((s.get("upstream_failures") or 0) / requests) + " of requests" if requests else "",
                "#d7263d" if s.get("upstream_failures") else None,
            ),
            card("Quarantined lines", fmt(s.get("error_log_quarantined")), "did not parse", "#e2b714"),
        ]
    )
    body = f'<div class="cards">{cards}</div>'
    body += time_chart(
        timeline,
        "bucket",
        [
            ("nginx_server_errors", "server errors", "#d7263d"),
            ("upstream_failures", "upstream failures", "#7b2cbf"),
            ("errors_5xx", "5xx in the access log", "#1f2430"),
        ],
        label="Error-log errors and access-log 5xx per 5 minutes",
    )
    patterns = [r for r in data.rows("error_patterns") if r.get("source") == "nginx"]
    body += "<h3>Message patterns (warn and worse)</h3>" + table(patterns, PATTERN_COLUMNS, bar="events")
    body += "<h3>When the top patterns happened</h3>" + _pattern_chart(
        data, "nginx", "Top error-log patterns per hour"
    )
    body += '<div class="grid2"><div><h3>Upstream failures</h3>' + table(
        data.rows("upstream_failures"),
        [
            ("upstream", "Upstream", None),
            ("host", "Host", None),
            ("failures", "Failures", None),
            ("refused", "Refused", None),
            ("timed_out", "Timed out", None),
            ("closed", "Closed", None),
            ("no_live", "No live", None),
            ("other", "Other", None),
            ("last_ts", "Last", fmt),
        ],
        bar="failures",
    )
    body += "</div><div><h3>Levels and modules</h3>" + table(
        _levels(data, "nginx"),
        [("level", "Level", None), ("module", "Module", None), ("events", "Entries", None)],
        bar="events",
    )
    body += "</div></div>"
    return panel(
        "errorlog",
        "nginx error log",
        "What nginx itself reported, next to the 5xx the access log shows in the same 5 minutes (UTC).",
        body,
    )


def _app_log(data: ResultData) -> str:
    s = data.one("error_summary")
    cards = "".join(
        [
            card("Entries", fmt(s.get("app_events")), f"{fmt(s.get('app_log_lines'))} lines"),
            card("Errors", fmt(s.get("app_errors")), "ERROR, CRITICAL, FATAL", "#d7263d"),
            card("Warnings", fmt(s.get("app_warnings")), "", "#e2b714"),
            card("Quarantined lines", fmt(s.get("app_log_quarantined")), "did not parse", "#e2b714"),
        ]
    )
    body = f'<div class="cards">{cards}</div>'
    body += time_chart(
        data.rows("error_timeline"),
        "bucket",
        [("app_errors", "application errors", "#d7263d"), ("errors_5xx", "5xx in the access log", "#1f2430")],
        label="Application errors and access-log 5xx per 5 minutes",
    )
    patterns = [r for r in data.rows("error_patterns") if r.get("source") == "app"]
    columns = [(k, "Service" if k == "module" else label, f) for k, label, f in PATTERN_COLUMNS]
    body += "<h3>Message patterns (WARN and worse)</h3>" + table(patterns, columns, bar="events")
    body += "<h3>When the top patterns happened</h3>" + _pattern_chart(
        data, "app", "Top application-log patterns per hour"
    )
    body += "<h3>Levels and services</h3>" + table(
        _levels(data, "app"),
        [("level", "Level", None), ("module", "Service", None), ("events", "Entries", None)],
        bar="events",
    )
    return panel(
        "applog",
        "Application log",
        "The application's own log: errors next to the 5xx the access log shows in the same 5 minutes (UTC).",
        body,
    )
