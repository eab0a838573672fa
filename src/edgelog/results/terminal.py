"""The terminal report: the main panels as rich tables, readable over ssh.

Every value from the logs is wrapped in :class:`rich.text.Text`, never interpolated into markup, so a path
like ``/[bold]x`` or a user agent full of brackets prints literally instead of restyling the output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from edgelog.results.fetch import FetchResult
from edgelog.results.format import SEVERITY_COLORS, STATUS_COLORS, duration, fmt, human_bytes, pct
from edgelog.results.tables import ResultData, Row, load_result

Col = tuple[str, str, Callable[[Any], str] | None]


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
        Text(
            f"Sessions: {fmt(sessions.get('sessions'))}, avg {duration(sessions.get('avg_duration_s'))}, "
            f"{fmt(sessions.get('avg_pages'))} pages, bounce {pct(sessions.get('bounce_rate'))}"
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
    print_quality(data, console)


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
    if data.partial:
        console.print(
            Text(f"PARTIAL RESULT (status {data.status}): totals are lower bounds.", style="bold yellow")
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
        console.print(
            Text(
                "The merged result is PARTIAL: nodes above that are not ok are not in it.",
                style="bold yellow",
            )
        )
