"""The terminal report: the main panels as rich tables, readable over ssh.

Every value from the logs is wrapped in :class:`rich.text.Text`, never interpolated into markup, so a path
like ``/[bold]x`` or a user agent full of brackets prints literally instead of restyling the output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from edgelog.results.format import (
    SEVERITY_COLORS,
    STATUS_COLORS,
    duration,
    fmt,
    human_bytes,
    pct,
    rate,
    seconds,
    sparkline,
)
from edgelog.results.runs import node_processing
from edgelog.results.tables import QueryResult, ResultData, Row, load_result

if TYPE_CHECKING:
    from edgelog.results.fetch import FetchResult

Col = tuple[str, str, Callable[[Any], str] | None]
BUCKET = timedelta(minutes=5)  # time_5min and error_rate buckets
QUERY_ROWS_SHOWN = 20


def _table(title: str, rows: Sequence[Row], cols: Sequence[Col], *, limit: int = 10) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, expand=False)
    for key, label, _ in cols:
        numeric = any(isinstance(r.get(key), int | float) and not isinstance(r.get(key), bool) for r in rows)
        table.add_column(label, justify="right" if numeric else "left", overflow="fold", max_width=70)
    for row in rows[:limit]:
        table.add_row(
            *(Text(f(row.get(k)) if f and row.get(k) is not None else fmt(row.get(k))) for k, _, f in cols)
        )
    if not rows:
        table.add_row(*(Text("–") for _ in cols))
    if len(rows) > limit:
        table.caption = f"top {limit} of {len(rows)}"
    return table


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


def _status_text(status: str) -> Text:
    return Text(status, style=f"bold {STATUS_COLORS.get(status, 'white')}")


def render_summary(data: ResultData, console: Console) -> None:
    """Print the loaded result's main panels."""
    m = data.manifest
    s = data.one("summary")
    job = m.job_id or (m.fetch.job_id if m.fetch else None)
    header = Text("edgelog report", style="bold")
    if job:
        header.append(f"  job {job}")
    header.append("  status ")
    header.append_text(_status_text(data.status))
    console.print(header)
    if data.integrity_problems:  # said first, as the HTML's banner: every number below comes from these files
        files = len(data.integrity_problems)
        console.print(
            Text(
                f"  the numbers below cannot be trusted: {files} file problem(s) against the manifest "
                f"({data.integrity_problems[0]}{', ...' if files > 1 else ''}; see Data quality)",
                style="bold red",
            )
        )

    overview = Table(box=box.SIMPLE_HEAD, show_header=False, show_edge=False)
    overview.add_column("metric", style="dim")
    overview.add_column("value", justify="right")
    overview.add_column("metric", style="dim")
    overview.add_column("value", justify="right")
    sessions = data.one("sessions")
    pairs = [
        ("total requests", fmt(s.get("total_lines"))),
        ("valid requests", fmt(s.get("valid_requests"))),
        ("unique visitors", fmt(s.get("unique_visitors"))),
        ("bandwidth", human_bytes(s.get("bandwidth_bytes"))),
        ("not found (404)", fmt(s.get("not_found_requests"))),
        ("static requests", fmt(s.get("static_requests"))),
        ("quarantined lines", fmt(s.get("quarantined_lines"))),
        ("failed files", fmt(s.get("failed_files"))),
        ("sessions", fmt(sessions.get("sessions"))),
        ("bounce rate", pct(sessions.get("bounce_rate"))),
        ("first request", fmt(s.get("first_ts"))),
        ("last request", fmt(s.get("last_ts"))),
    ]
    for i in range(0, len(pairs), 2):
        (k1, v1), (k2, v2) = pairs[i], pairs[i + 1]
        overview.add_row(k1, Text(v1), k2, Text(v2))
    console.print(overview)
    print_time_series(data, console)

    console.print(
        _table(
            "Status codes",
            data.rows("status_codes"),
            [("status", "status", str), ("status_class", "class", None), ("hits", "requests", None)],
        )
    )
    path_cols: list[Col] = [
        ("path", "path", None),
        ("hits", "requests", None),
        ("visitors", "visitors", None),
    ]
    console.print(_table("Top paths", data.rows("top_paths"), path_cols))
    console.print(_table("Not found (404)", data.rows("not_found"), path_cols, limit=8))
    for name, key, title in (
        ("browsers", "browser", "Browsers"),
        ("operating_systems", "os", "Operating systems"),
        ("crawlers", "crawler", "Crawlers"),
    ):
        console.print(_table(title, data.rows(name), [(key, key, None), ("hits", "requests", None)], limit=6))
    console.print(
        _table(
            "Referring sites",
            data.rows("referring_sites"),
            [("site", "site", None), ("hits", "requests", None)],
            limit=6,
        )
    )
    console.print(
        _table(
            "Tags",
            data.rows("tags"),
            [
                ("tag", "tag", None),
                ("hits", "requests", None),
                ("visitors", "visitors", None),
                ("errors", "errors", None),
            ],
        )
    )
    console.print(
        Text(
            f"Sessions: {fmt(sessions.get('sessions'))}, avg {duration(sessions.get('avg_duration_s'))}, "
            f"{fmt(sessions.get('avg_pages'))} pages, bounce {pct(sessions.get('bounce_rate'))}"
        )
    )

    if data.rows("latency_paths"):  # formats that log a request time
        console.print(
            _table(
                "Latency by path (ms, nearest rank)",
                data.rows("latency_paths"),
                [("path", "path", None), ("requests", "timed", None)]
                + [(k, k.removesuffix("_ms"), None) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")],
                limit=8,
            )
        )
    if data.rows("vhosts"):  # formats that name the virtual host
        console.print(
            _table(
                "Virtual hosts",
                data.rows("vhosts"),
                [
                    ("vhost", "vhost", None),
                    ("hits", "requests", None),
                    ("visitors", "visitors", None),
                    ("errors_5xx", "5xx", None),
                    ("p95_ms", "p95 ms", None),
                ],
                limit=8,
            )
        )

    anomalies = sorted(data.rows("anomalies"), key=lambda r: -(r.get("score") or 0))
    table = Table(title="Anomalies", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for label in ("severity", "score", "kind", "subject", "when (UTC)", "detail"):
        table.add_column(
            label,
            justify="right" if label == "score" else "left",
            overflow="fold",
            no_wrap=label != "detail",
            max_width=60 if label == "detail" else 40,
        )
    for r in anomalies[:10]:
        sev = str(r.get("severity"))
        table.add_row(
            Text(sev, style=f"bold {SEVERITY_COLORS.get(sev, 'white')}"),
            Text(fmt(r.get("score"))),
            Text(fmt(r.get("kind"))),
            Text(fmt(r.get("subject"))),
            Text(
                r["ts"].astimezone(UTC).strftime("%m-%d %H:%M") if isinstance(r.get("ts"), datetime) else "–"
            ),
            Text(fmt(r.get("detail"))),
        )
    if not anomalies:
        table.add_row(Text("none"), *(Text("") for _ in range(5)))
    console.print(table)

    render_streams(data, console)

    nodes = Table(title="Nodes", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for label in ("node", "status", "files", "failed", "access lines", "valid", "quarantined"):
        nodes.add_column(label, justify="left" if label in ("node", "status") else "right")
    for r in data.rows("nodes"):
        nodes.add_row(
            Text(fmt(r.get("node_id"))),
            _status_text(str(r.get("status"))),
            *(
                Text(fmt(r.get(k)))
                for k in ("files", "files_failed", "lines_read", "valid_requests", "quarantined_lines")
            ),
        )
    console.print(nodes)
    print_node_processing(data, console)
    print_queries(data.queries, console)
    print_quality(data, console)


def _series(rows: list[Row], key: str, value: Callable[[Row], float]) -> tuple[list[datetime], list[float]]:
    """Every 5-minute bucket from the first to the last (buckets without requests are 0, not skipped)."""
    points = {r[key]: value(r) for r in rows if isinstance(r.get(key), datetime)}
    if not points:
        return [], []
    first, last = min(points), max(points)
    times = [first + i * BUCKET for i in range(int((last - first) / BUCKET) + 1)]
    return times, [points.get(t, 0.0) for t in times]


def print_time_series(data: ResultData, console: Console) -> None:
    """Requests and errors per 5 minutes as sparklines, then requests, visitors and errors per hour."""
    times, hits = _series(data.rows("time_5min"), "bucket", lambda r: float(r.get("hits") or 0))
    title = Text("Requests over time", style="italic")
    if not times:
        console.print(title.append(": no requests"))
        return
    peak = max(range(len(hits)), key=lambda i: hits[i])
    title.append(
        f" (UTC, 5-minute buckets, {times[0]:%Y-%m-%d %H:%M} → {times[-1] + BUCKET:%Y-%m-%d %H:%M}; "
        f"peak {fmt(int(hits[peak]))} at {times[peak]:%H:%M})",
        style="",
    )
    console.print(title)
    width = max(10, min(len(hits), console.width - 12))
    errors_by_bucket = {
        r["bucket"]: float((r.get("errors_4xx") or 0) + (r.get("errors_5xx") or 0))
        for r in data.rows("error_rate")
        if isinstance(r.get("bucket"), datetime)
    }
    errors = [errors_by_bucket.get(t, 0.0) for t in times]
    lines = Table.grid(padding=(0, 1))
    lines.add_column(style="dim", no_wrap=True)
    lines.add_column(no_wrap=True)
    lines.add_row("requests", Text(sparkline(hits, width), style="cyan"))
    lines.add_row("4xx+5xx", Text(sparkline(errors, width), style="red"))
    console.print(lines)

    hourly: dict[datetime, Row] = {}
    for r in data.rows("time_hourly"):
        if isinstance(r.get("hour"), datetime):
            hourly[r["hour"]] = {
                "hour": r["hour"],
                "hits": r.get("hits"),
                "visitors": r.get("visitors"),
                "errors": 0,
            }
    for t, n in errors_by_bucket.items():
        hour = t.replace(minute=0, second=0, microsecond=0)
        if hour in hourly:
            hourly[hour]["errors"] += int(n)
    rows = [hourly[h] for h in sorted(hourly)]
    for r in rows:
        r["error_rate"] = r["errors"] / r["hits"] if r.get("hits") else None
    table = _table(
        "Per hour (UTC)",
        rows,
        [
            ("hour", "hour", lambda v: f"{v:%Y-%m-%d %H:00}"),
            ("hits", "requests", None),
            ("visitors", "visitors", None),
            ("errors", "4xx+5xx", None),
            ("error_rate", "error rate", pct),
        ],
        limit=24,
    )
    if len(rows) > 24:
        table.caption = f"first 24 of {len(rows)} hours (all of them: edgelog report --html)"
    console.print(table)


def print_queries(
    queries: list[QueryResult], console: Console, *, limit: int = QUERY_ROWS_SHOWN, cell_chars: int = 200
) -> None:
    """Each user --query: its first ``limit`` rows (cells cut at ``cell_chars``), or why it has none."""
    for q in queries:
        if q.entry.status != "ok" or q.table is None:
            console.print(Text(f"Query {q.name}: failed (the error is under Data quality)", style="yellow"))
            continue
        table = Table(
            title=f"Query {q.name}", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, expand=False
        )
        for name in q.columns:
            numeric = any(
                isinstance(r.get(name), int | float) and not isinstance(r.get(name), bool) for r in q.rows
            )
            table.add_column(name, justify="right" if numeric else "left", overflow="fold", max_width=60)
        for row in q.rows[:limit]:
            table.add_row(*(Text(_clip(fmt(row.get(name)), cell_chars)) for name in q.columns))
        shown = min(limit, len(q.rows))
        more = f", first {shown} shown" if q.total_rows > shown else ""
        console.print(table)
        # A line of its own, not the table's caption: a caption folds to the width of a narrow table.
        console.print(
            Text(f"{fmt(q.total_rows)} row(s){more} · {q.entry.file} · all rows in {q.table}", style="dim")
        )


def print_node_processing(data: ResultData, console: Console) -> None:
    """How each node's run went (slowest first, highlighted), the spread, and the merge's own figures."""
    np = node_processing(data.manifest)
    if np.empty:
        console.print(Text("no processing figures recorded (an older edgelog wrote this result)", "dim"))
        return
    cols: list[Col] = [("node_id", "node", None), ("duration_s", "time", seconds)]
    cols += [(f"{name}_s", name, seconds) for name in np.phases]
    cols += [
        ("lines_per_s", "lines/s", rate),
        ("bytes_read", "read", human_bytes),
        ("peak_rss_bytes", "peak RSS", human_bytes),
        ("duckdb_peak_memory_bytes", "DuckDB peak", human_bytes),
    ]
    if any(r.get("duckdb_peak_spill_bytes") for r in np.rows):
        cols.append(("duckdb_peak_spill_bytes", "spilled", human_bytes))
    shared = {k: np.uniform(k) for k in ("duckdb_threads", "duckdb_memory_limit", "workspace")}
    labels = {"duckdb_threads": "threads", "duckdb_memory_limit": "memory limit", "workspace": "workspace"}
    cols += [(k, labels[k], None) for k, v in shared.items() if v is None]
    cells = [[f(r[k]) if f and r.get(k) is not None else fmt(r.get(k)) for k, _, f in cols] for r in np.rows]
    shown = _fitting(cols, cells, console.width)
    table = Table(title="Node processing", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for i in shown:
        key, label, _ = cols[i]
        table.add_column(label, justify="left" if key == "node_id" else "right", no_wrap=True)
    for r, row in zip(np.rows, cells, strict=True):
        table.add_row(*(Text(row[i]) for i in shown), style="bold yellow" if r.get("slowest") else None)
    left_out = [cols[i][1] for i in range(len(cols)) if i not in shown]
    if left_out:
        table.caption = f"too narrow for: {', '.join(left_out)} (--html shows every figure)"
    console.print(table)
    if all(v is not None for v in shared.values()):
        where = "in memory" if shared["workspace"] == "memory" else "on disk"
        threads = shared["duckdb_threads"]
        console.print(
            Text(
                f"DuckDB: {threads} thread{'s' if threads != 1 else ''}, "
                f"{shared['duckdb_memory_limit']} memory limit, {where} (every node)",
                style="dim",
            )
        )
    if np.spread is not None:
        s = np.spread
        console.print(
            Text(f"spread: min {seconds(s.min_s)}, median {seconds(s.median_s)}, max {seconds(s.max_s)}")
        )
        line = Text("slowest: ")
        line.append(str(s.slowest["node_id"]), style="bold yellow")
        ratio = f" ({s.ratio:.1f}x)" if s.ratio else ""
        line.append(f" {seconds(s.max_s)}, held the job back {seconds(s.held_back_s)} over the median{ratio}")
        if s.main_phase:
            name, secs = s.main_phase
            line.append(f"; most in {name} {seconds(secs)} ({secs / s.max_s:.0%})")
        console.print(line)
    if np.without_figures:
        console.print(Text(f"{np.without_figures} run(s) recorded no figures (older edgelog)", style="dim"))
    if np.merge is not None:
        phases = ", ".join(f"{k} {seconds(v)}" for k, v in np.merge.phases_s.items())
        console.print(
            Text(
                f"merge: {seconds(np.merge_duration_s)} ({phases}), read {human_bytes(np.merge.bytes_read)}, "
                f"peak RSS {human_bytes(np.merge.peak_rss_bytes)}",
                style="dim",
            )
        )


# Which node-processing columns stay when the terminal is narrow: the node, its time and where it went first.
_KEEP_FIRST = ("node_id", "duration_s", "parse_s", "reports_s", "write_s", "peak_rss_bytes")


def _fitting(cols: list[Col], cells: list[list[str]], width: int) -> list[int]:
    """The indexes of the columns that fit in ``width`` (in their order), adding them by priority: the ones
    in :data:`_KEEP_FIRST`, then the rest from left to right. Cells never wrap: a folded number misreads.
    A column takes its widest cell plus one space each side and one between columns."""
    need = [max(len(label), *(len(row[i]) for row in cells)) + 3 for i, (_, label, _) in enumerate(cols)]
    order = sorted(range(len(cols)), key=lambda i: (cols[i][0] not in _KEEP_FIRST, i))
    shown: list[int] = []
    used = 0
    for i in order:
        if used + need[i] <= width or not shown:
            shown.append(i)
            used += need[i]
    return sorted(shown)


def render_streams(data: ResultData, console: Console) -> None:
    """The error log's and the application log's panels, for the streams the result read."""
    s = data.one("error_summary")
    patterns = data.rows("error_patterns")
    if data.has_stream("error"):
        console.print(
            Text(
                f"Error log: {fmt(s.get('nginx_events'))} entries, {fmt(s.get('nginx_errors'))} errors "
                f"({fmt(s.get('upstream_failures'))} upstream failures), {fmt(s.get('nginx_warnings'))} "
                f"warnings, {fmt(s.get('error_log_quarantined'))} lines quarantined",
                style="bold",
            )
        )
        cols: list[Col] = [
            ("level", "level", None),
            ("module", "module", None),
            ("pattern", "pattern", None),
            ("events", "entries", None),
        ]
        cols.append(("busiest", "busiest hour", None))
        nginx = _with_busiest_hour(data, [r for r in patterns if r.get("source") == "nginx"])
        console.print(_table("Error-log patterns (warn and worse)", nginx, cols, limit=8))
        console.print(
            _table(
                "Upstream failures",
                data.rows("upstream_failures"),
                [
                    ("upstream", "upstream", None),
                    ("host", "host", None),
                    ("failures", "failures", None),
                    ("refused", "refused", None),
                    ("timed_out", "timed out", None),
                    ("closed", "closed", None),
                ],
                limit=6,
            )
        )
    if data.has_stream("app"):
        console.print(
            Text(
                f"Application log: {fmt(s.get('app_events'))} entries, {fmt(s.get('app_errors'))} errors, "
                f"{fmt(s.get('app_warnings'))} warnings, {fmt(s.get('app_log_quarantined'))} lines "
                "quarantined",
                style="bold",
            )
        )
        app_rows = _with_busiest_hour(data, [r for r in patterns if r.get("source") == "app"])
        cols = [("level", "level", None), ("module", "service", None), ("pattern", "pattern", None),
                ("events", "entries", None), ("busiest", "busiest hour", None)]  # fmt: skip
        console.print(_table("Application-log patterns (WARN and worse)", app_rows, cols, limit=8))


def _with_busiest_hour(data: ResultData, patterns: list[Row]) -> list[Row]:
    """The patterns with the hour of error_pattern_timeline that had most of each (the earliest of equals);
    none for a pattern outside its stream's top 10."""
    busiest: dict[tuple[object, ...], tuple[int, datetime]] = {}
    for r in data.rows("error_pattern_timeline"):
        key = (r.get("source"), r.get("level"), r.get("module"), r.get("pattern"))
        n, hour = int(r.get("events") or 0), r.get("hour")
        if isinstance(hour, datetime) and (
            key not in busiest or (-n, hour) < (-busiest[key][0], busiest[key][1])
        ):
            busiest[key] = (n, hour)
    out = []
    for r in patterns:
        peak = busiest.get((r.get("source"), r.get("level"), r.get("module"), r.get("pattern")))
        label = f"{peak[1].astimezone(UTC):%Y-%m-%d %H}:00 UTC ({peak[0]:,})" if peak else None
        out.append({**r, "busiest": label})
    return out


def print_quality(data: ResultData, console: Console) -> None:
    """Say plainly what the numbers above do not include."""
    totals = data.manifest.totals
    line = Text("Data quality: ")
    line.append(
        f"{fmt(totals.files)} files, {fmt(totals.files_failed)} failed, "
        f"{fmt(totals.lines_read)} lines read, {fmt(totals.lines_quarantined)} quarantined; "
        f"{data.verified_files}/{len(data.manifest.outputs)} outputs verified"
    )
    console.print(line)
    for node in data.manifest.fetch.nodes if data.manifest.fetch else []:
        if node.status != "ok":
            warn = Text("  node ", style="yellow")
            warn.append(node.node_id)
            warn.append(f": {node.status} — {node.reason or ''}")
            console.print(warn)
    for inp in data.manifest.failed_inputs:
        warn = Text("  failed file ", style="yellow")
        warn.append(f"{inp.name}: {inp.error or ''}")
        console.print(warn)
    for reason in data.quarantine_reasons[:5]:
        console.print(
            Text(f"  quarantined: {fmt(reason.get('lines'))} line(s): {reason.get('reason')}", style="dim")
        )
    for problem in data.integrity_problems:
        console.print(Text(f"  integrity: {problem}", style="bold red"))
    if data.missing:
        console.print(Text(f"  missing report tables: {', '.join(data.missing)}", style="yellow"))
    for q in [*data.failed_reports, *data.failed_queries]:
        kind = "query" if q.kind == "user" else "report"
        console.print(Text(f"  failed {kind} {q.name}: {q.error or q.status}", style="yellow"))
    uncounted = data.uncounted
    if uncounted:
        console.print(
            Text(f"PARTIAL RESULT (status {data.status}): totals are lower bounds.", style="bold yellow")
        )
    elif data.partial and not data.integrity_problems:
        failed = [
            f"{'query' if q.kind == 'user' else 'report'} {q.name}"
            for q in (*data.failed_reports, *data.failed_queries)
        ]
        missing = [
            f"report table {n}" for n in data.missing if n not in {q.name for q in data.failed_reports}
        ]
        console.print(
            Text(
                f"INCOMPLETE RESULT (status {data.status}): {', '.join([*failed, *missing])} failed or "
                "missing; every input was read, so every total shown is complete.",
                style="bold yellow",
            )
        )


def print_summary(result_dir: str | Path, console: Console | None = None) -> ResultData:
    """Print the main report panels for ``result_dir``; return the loaded data (for the caller's verdict)."""
    data = load_result(result_dir)
    render_summary(data, console or Console())
    return data


def print_fetch(result: FetchResult, console: Console) -> None:
    """Per-node statuses of a fetch, then the verdict: what is in the merged result and what is not."""
    table = Table(
        title=f"Job {result.job_id}: nodes", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False
    )
    for label in ("node", "execution", "status", "files", "downloaded", "resumed", "reason"):
        table.add_column(
            label,
            justify="right" if label in ("files", "downloaded", "resumed") else "left",
            overflow="fold",
            max_width=70,
        )
    for node in result.nodes:
        table.add_row(
            Text(node.node_id),
            Text(node.execution_id or "-"),
            _status_text(node.status),
            Text(fmt(node.files)),
            Text(fmt(node.downloaded)),
            Text(fmt(node.skipped)),
            Text(node.reason or ""),
        )
    console.print(table)
    for problem in result.problems:
        console.print(Text(f"problem: {problem}", style="yellow"))
    for warning in result.warnings:
        console.print(Text(f"warning: {warning}", style="dim"))
    verdict = Text("fetch ")
    verdict.append_text(_status_text(result.status))
    ok = sum(1 for n in result.nodes if n.status == "ok")
    used = sum(1 for n in result.nodes if n.usable)
    verdict.append(
        f": {used}/{len(result.nodes)} node(s) merged ({ok} ok), {result.downloaded} file(s) downloaded "
        f"({human_bytes(result.bytes_downloaded)}), {result.skipped} already verified, {result.retries} retr"
        f"{'y' if result.retries == 1 else 'ies'}, {result.duration_s:.1f}s"
    )
    console.print(verdict)
    if result.merged_dir:
        console.print(Text(f"merged result: {result.merged_dir}"))
    if result.partial and result.merged_dir:
        left_out = [n.node_id for n in result.nodes if not n.usable]
        console.print(
            Text(
                "The merged result is PARTIAL: "
                + (
                    f"node(s) {', '.join(left_out)} are not in it."
                    if left_out
                    else "every node is in it, with what the reasons above say is missing."
                ),
                style="bold yellow",
            )
        )
