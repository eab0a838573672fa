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
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from edgelog import __version__
from edgelog.fileio import write_text_atomic
from edgelog.results.format import (
    CLASS_COLORS,
    PALETTE,
    SEVERITY_COLORS,
    STATUS_COLORS,
    duration,
    fmt,
    human_bytes,
    pct,
    rate,
    seconds,
)
from edgelog.results.html import streams
from edgelog.results.html.assets import SCRIPT, STYLE
from edgelog.results.html.charts import colored, donut, hbars, stacked_hbars, time_chart
from edgelog.results.html.markup import Column, badge, card, esc, panel, sort_key, table
from edgelog.results.runs import node_processing, phase_label
from edgelog.results.tables import QUERY_ROWS, ResultData, Row, load_result

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
    ("latency", "Latency"),
    ("vhosts", "Virtual hosts"),
    ("nodes", "Nodes"),
    ("quality", "Data quality"),
)


def _banners(data: ResultData) -> str:
    out = []
    if data.integrity_problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in data.integrity_problems[:20])
        out.append(
            '<div class="banner integrity">Integrity check failed: these files do not match the manifest, '
            f"so the numbers below cannot be trusted.<ul>{items}</ul></div>"
        )
    failed = [
        f"{'query' if q.kind == 'user' else 'report'} {q.name} failed: {q.error or q.status}"
        for q in (*data.failed_reports, *data.failed_queries)
    ]
    failed_reports = {q.name for q in data.failed_reports}
    failed += [f"report table missing: {n}" for n in data.missing if n not in failed_reports]
    uncounted = data.uncounted
    if uncounted:
        items = "".join(f"<li>{esc(r)}</li>" for r in [*uncounted, *failed][:30])
        out.append(
            f'<div class="banner partial">Partial result (status: {esc(data.status)}): some inputs or nodes '
            f"are not included, so totals are lower bounds.<ul>{items}</ul></div>"
        )
    elif failed:
        items = "".join(f"<li>{esc(r)}</li>" for r in failed[:30])
        out.append(
            f'<div class="banner partial">Incomplete result (status: {esc(data.status)}): every input was '
            f"read, so every total shown is complete, but these are missing:<ul>{items}</ul></div>"
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
        card("Total requests", fmt(total), "lines read"),
        card("Valid requests", fmt(valid), pct(valid / total) if isinstance(valid, int) and total else ""),
        card("Quarantined lines", fmt(s.get("quarantined_lines")), "did not parse", "#e2b714"),
        card("Failed files", fmt(s.get("failed_files")), "", "#d7263d" if s.get("failed_files") else None),
        card("Unique visitors", fmt(s.get("unique_visitors")), "ip + day + user agent"),
        card("Bandwidth", human_bytes(s.get("bandwidth_bytes"))),
        card("Requested files", fmt(s.get("unique_files")), "unique paths"),
        card("Not found", fmt(s.get("not_found_requests")), "404 responses", "#e2b714"),
        card("Static requests", fmt(s.get("static_requests"))),
        card("Sessions", fmt(sessions.get("sessions")), f"bounce {pct(sessions.get('bounce_rate'))}"),
        card("Nodes", fmt(len(nodes)), f"{sum(1 for n in nodes if n.get('status') == 'ok')} ok"),
        card("Time span", span or "–", f"{fmt(s.get('first_ts'))} → {fmt(s.get('last_ts'))}"),
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
    return panel(
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
    return panel(
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
    return panel("status", "HTTP status codes", "Responses by status code and class.", body + "</div></div>")


def _pathspanel(anchor: str, title: str, desc: str, rows: list[Row], with_bytes: bool) -> str:
    columns: list[Column] = [
        ("path", "Path", None),
        ("hits", "Requests", None),
        ("visitors", "Visitors", None),
    ]
    if with_bytes:
        columns.append(("bytes", "Bytes", human_bytes))
    body = '<div class="grid2"><div>' + hbars(colored(rows, "path"), label=title) + "</div><div>"
    body += table(rows, columns, bar="hits") + "</div></div>"
    return panel(anchor, title, desc, body)


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
    return panel(
        "hosts", "Visitors and hosts", "Top client addresses, methods and protocols.", body + "</div></div>"
    )


def _ms(value: object) -> str:
    return "-" if value is None else f"{value:,} ms"


def _latency(data: ResultData) -> str:
    """p50/p95/p99 over time and per path; only when the format logs a request time."""
    over_time = data.rows("latency_time")
    if not over_time:
        return ""
    body = time_chart(
        over_time,
        "bucket",
        [("p99_ms", "p99", "#d7263d"), ("p95_ms", "p95", "#e2b714"), ("p50_ms", "p50", "#2e86ab")],
        label="Latency percentiles per 5 minutes (ms)",
    )
    body += "<h3>Slowest paths by p95</h3>" + table(
        sorted(data.rows("latency_paths"), key=lambda r: (-(r.get("p95_ms") or 0), str(r.get("path")))),
        [
            ("path", "Path", None),
            ("requests", "Timed requests", None),
            ("p50_ms", "p50", _ms),
            ("p95_ms", "p95", _ms),
            ("p99_ms", "p99", _ms),
            ("max_ms", "Max", _ms),
        ],
        bar="p95_ms",
    )
    return panel(
        "latency",
        "Latency",
        "Request time percentiles (nearest rank, exact at millisecond resolution, also after merging nodes).",
        body,
    )


def _vhosts(data: ResultData) -> str:
    """Traffic per virtual host; only when the format names one."""
    rows = data.rows("vhosts")
    if not rows:
        return ""
    body = '<div class="grid2"><div>' + hbars(colored(rows, "vhost"), label="Virtual hosts") + "</div><div>"
    body += table(
        rows,
        [
            ("vhost", "Virtual host", None),
            ("hits", "Requests", None),
            ("visitors", "Visitors", None),
            ("bytes", "Bytes", human_bytes),
            ("errors_4xx", "4xx", None),
            ("errors_5xx", "5xx", None),
            ("p50_ms", "p50", _ms),
            ("p95_ms", "p95", _ms),
        ],
        bar="hits",
    )
    return panel(
        "vhosts", "Virtual hosts", "Requests, visitors, errors and latency per host.", body + "</div></div>"
    )


def _referrers(data: ResultData) -> str:
    sites = data.rows("referring_sites")
    urls = data.rows("referring_urls")
    body = '<div class="grid2"><div><h3>Referring sites</h3>' + hbars(
        colored(sites, "site"), label="Referring sites"
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
    return panel(
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
            + hbars(colored(rows, key), label=title, limit=8, width=380)
            + table(
                rows,
                [(key, title.rstrip("s"), None), ("hits", "Requests", None), ("visitors", "Visitors", None)],
                limit=12,
                bar="hits",
            )
            + "</div>"
        )
    return panel(
        "clients",
        "Browsers, operating systems and crawlers",
        "Parsed from user agents.",
        f'<div class="grid3">{"".join(parts)}</div>',
    )


def _sessions(data: ResultData) -> str:
    s = data.one("sessions")
    cards = "".join(
        [
            card("Sessions", fmt(s.get("sessions")), "30 min inactivity"),
            card("Avg duration", duration(s.get("avg_duration_s"))),
            card("Avg pages", fmt(s.get("avg_pages"))),
            card("Bounce rate", pct(s.get("bounce_rate")), "one-page sessions"),
            card("Abandonment", pct(s.get("abandonment_rate"))),
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
    return panel(
        "sessions", "Sessions", "Visits reconstructed per client (ip + user agent).", body + "</div></div>"
    )


def _tags(data: ResultData) -> str:
    rows = data.rows("tags")
    body = '<div class="grid2"><div>' + hbars(colored(rows, "tag"), label="Tags") + "</div><div>"
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
    return panel("tags", "Tags", "Requests grouped by the tag rules.", body + "</div></div>")


def _anomalies(data: ResultData) -> str:
    rows = sorted(data.rows("anomalies"), key=lambda r: (-(r.get("score") or 0), str(r.get("ts"))))
    if not rows:
        return panel(
            "anomalies",
            "Anomalies",
            "Unusual traffic, errors or clients.",
            '<p class="empty">No anomalies found.</p>',
        )
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r.get("severity"))] = counts.get(str(r.get("severity")), 0) + 1
    summary = " ".join(
        badge(f"{sev}: {counts[sev]}", SEVERITY_COLORS.get(sev, "#9c9c9c"))
        for sev in SEVERITY_COLORS
        if sev in counts
    )
    body_rows = []
    for r in rows[:50]:
        sev = str(r.get("severity"))
        body_rows.append(
            "<tr>"
            f'<td class="txt">{badge(sev, SEVERITY_COLORS.get(sev, "#9c9c9c"))}</td>'
            f'<td class="num" data-v="{esc(sort_key(r.get("score")))}">{esc(fmt(r.get("score")))}</td>'
            f'<td class="txt">{esc(fmt(r.get("kind")))}</td>'
            f'<td class="txt"><span class="cell">{esc(fmt(r.get("subject")))}</span></td>'
            f'<td class="txt" data-v="{esc(sort_key(r.get("ts")))}">{esc(fmt(r.get("ts")))}</td>'
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
    return panel("anomalies", "Anomalies", "Unusual traffic, errors or clients, scored 0-100.", body)


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
            ("lines_read", "Access-log lines", None),
            ("valid_requests", "Valid", None),
            ("quarantined_lines", "Quarantined", None),
            ("bytes", "Bytes served", human_bytes),
            ("first_ts", "First", fmt),
            ("last_ts", "Last", fmt),
        ],
        limit=100,
        bar="valid_requests",
    )
    body += _node_processing(data)
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
    desc = "What each node contributed to this result, and how its run went."
    return panel("nodes", "Per-node breakdown", desc, body)


def _node_processing(data: ResultData) -> str:
    """How each node's run went: the slowest and the spread as cards, time by phase, every figure."""
    np = node_processing(data.manifest)
    head = "<h3>Processing per node</h3>"
    if np.empty:
        return head + '<p class="empty">No processing figures recorded (an older edgelog wrote it).</p>'
    body = head
    s = np.spread
    if s is not None:
        where = ""
        if s.main_phase:
            where = f"; most in {s.main_phase[0]} ({s.main_phase[1] / s.max_s:.0%})"
        body += (
            '<div class="cards">'
            + "".join(
                [
                    card("Slowest node", str(s.slowest["node_id"]), seconds(s.max_s), "#f46036"),
                    card("Median", seconds(s.median_s), f"min {seconds(s.min_s)} · max {seconds(s.max_s)}"),
                    card(
                        "Held back by",
                        seconds(s.held_back_s),
                        (f"{s.ratio:.1f}x the median" if s.ratio else "over the median") + where,
                        "#e2b714" if s.held_back_s > 0 else None,
                    ),
                    card("Runs", fmt(len(np.rows)), f"{np.without_figures} without figures"),
                ]
            )
            + "</div>"
        )
    segments = [(f"{name}_s", name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(np.phases)]
    chart = stacked_hbars(np.rows, "node_id", segments, label="Time per node by phase", total="duration_s")
    body += f'<div class="narrow">{chart}</div>'
    columns: list[Column] = [("node_id", "Node", None), ("duration_s", "Time", seconds)]
    columns += [(f"{name}_s", phase_label(name), seconds) for name in np.phases]
    columns += [
        ("lines_per_s", "Lines/s", rate),
        ("bytes_read", "Read", human_bytes),
        ("peak_rss_bytes", "Peak RSS", human_bytes),
        ("duckdb_peak_memory_bytes", "DuckDB peak", human_bytes),
        ("duckdb_peak_spill_bytes", "Spilled", human_bytes),
        ("duckdb_threads", "Threads", None),
        ("duckdb_memory_limit", "Memory limit", None),
        ("workspace", "Workspace", None),
        ("execution_id", "Execution", None),
    ]
    body += table(np.rows, columns, limit=500, bar="duration_s", highlight="slowest")
    notes = []
    if np.merge is not None:
        phases = ", ".join(f"{k} {seconds(v)}" for k, v in np.merge.phases_s.items())
        m = np.merge
        notes.append(
            f"This merge: {seconds(np.merge_duration_s)} ({phases}); read {human_bytes(m.bytes_read)}, "
            f"peak RSS {human_bytes(m.peak_rss_bytes)}."
        )
    if np.without_figures:
        notes.append(f"{np.without_figures} run(s) recorded no figures (an older edgelog).")
    notes.append(
        "Time per phase is wall time; peak RSS is the analysing process's high-water mark, DuckDB peak its "
        "largest sampled buffer use. A job ends when its slowest node does."
    )
    body += "".join(f'<p class="desc">{esc(n)}</p>' for n in notes)
    return body


def _queries(data: ResultData) -> str:
    """The user's --query results: first rows of each (fetch adds node_id), or why a query has none."""
    parts = []
    for q in data.queries:
        heading = f"<h3>{esc(q.name)}</h3>"
        if q.entry.status != "ok" or q.table is None:
            error = q.entry.error or "its result table is missing"
            parts.append(f'{heading}<div class="banner partial">Failed: {esc(error)}</div>')
            continue
        shown = min(len(q.rows), QUERY_ROWS)
        note = f"{q.total_rows:,} row(s)" + (f", the first {shown} shown" if q.total_rows > shown else "")
        parts.append(
            f'{heading}<p class="desc">{esc(note)} · {esc(q.entry.file)} · all rows in {esc(q.table)}</p>'
            + table(q.rows, [(c, c, None) for c in q.columns], limit=QUERY_ROWS)
        )
    return panel(
        "queries", "Your queries", "Results of the --query SQL files this run was given.", "".join(parts)
    )


def _quality(data: ResultData) -> str:
    m = data.manifest
    totals = m.totals
    read = totals.lines_read
    quarantined = totals.lines_quarantined
    cards = "".join(
        [
            card(
                "Result status",
                data.status,
                m.kind,
                STATUS_COLORS.get(data.status, "#9c9c9c"),
            ),
            card("Input files", fmt(totals.files)),
            card("Failed files", fmt(totals.files_failed), "", "#d7263d" if totals.files_failed else None),
            card("Lines read", fmt(read)),
            card("Lines parsed", fmt(totals.lines_parsed)),
            card(
                "Quarantined",
                fmt(quarantined),
                pct(quarantined / read) if read else "",
                "#e2b714" if quarantined else None,
            ),
            card(
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
    return panel(
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
    sections = list(SECTIONS)
    after_errors = [a for a, _ in sections].index("errors") + 1
    sections[after_errors:after_errors] = streams.sections(data)  # only the streams this result read
    if data.queries:
        sections.insert(len(sections) - 1, ("queries", "Queries"))
    hidden = {"latency": not data.rows("latency_time"), "vhosts": not data.rows("vhosts")}
    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in sections if not hidden.get(a))
    panels = [
        _banners(data),
        _overview(data),
        _traffic(data),
        _errors(data),
        *streams.panels(data),
        _status(data),
        _pathspanel(
            "paths",
            "Top requested paths",
            "Most requested paths.",
            data.rows("top_paths"),
            True,
        ),
        _pathspanel(
            "notfound",
            "Not found (404)",
            "Paths that answered 404: broken links and scanners.",
            data.rows("not_found"),
            False,
        ),
        _pathspanel(
            "static", "Static files", "Most requested static assets.", data.rows("static_files"), True
        ),
        _hosts(data),
        _referrers(data),
        _clients(data),
        _sessions(data),
        _tags(data),
        _anomalies(data),
        _latency(data),
        _vhosts(data),
        _nodes(data),
        _queries(data) if data.queries else "",
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
