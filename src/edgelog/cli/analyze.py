"""CLI commands for the analyze area: ``edgelog analyze`` and ``edgelog merge``, thin library wrappers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edgelog.interrupts import deferred, stop_on_signals

if TYPE_CHECKING:  # the analysis (DuckDB) is imported by the commands that run it, not by `edgelog --help`
    from edgelog.analysis import RunResult

# In a job, stdout and stderr are objects the publisher uploads next to the results, so what analyze and merge
# print is bounded whatever the input: one summary line, at most MAX_WARNINGS warnings of at most
# MAX_LINE_CHARS each, then a count (the manifest lists every failed file and query); then the first
# QUERY_ROWS_PRINTED rows of each --query, every cell cut to a fifth of MAX_LINE_CHARS.
MAX_WARNINGS = 20
MAX_LINE_CHARS = 500

MaxObjectBytesOpt = Annotated[
    str | None,
    typer.Option(
        "--max-object-bytes",
        help="Every file written stays below this size (bytes, or KiB/MiB); larger tables are split into "
        "parts. Default $EDGELOG_MAX_OBJECT_BYTES or 4MiB (below Bacalhau's 5 MiB multipart upload, which "
        "GCS rejects).",
        show_default=False,
    ),
]


def _line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 3] + "..."


SKIPPED_NAMES = 5  # file names listed per skip reason
QUERY_ROWS_PRINTED = 10  # first rows of each --query result analyze prints (all of them: edgelog report)


def _summary(result: RunResult) -> None:
    """One short report line and the first rows of each --query on stdout, problems on stderr: jobs keep
    stdout as the execution log."""
    from rich.console import Console

    from edgelog.results.tables import load_queries
    from edgelog.results.terminal import print_queries

    m = result.manifest
    t = m.totals
    typer.echo(
        _line(
            f"{m.kind} {result.status}: {t.files} files ({t.files_failed} failed), "
            f"{t.lines_read} lines, {t.lines_parsed} parsed, {t.lines_quarantined} quarantined "
            f"-> {result.out}"
        )
    )
    warnings = [f"{entry.name}: {entry.error}" for entry in m.failed_inputs]
    warnings += [f"query {q.error}" for q in m.failed_queries]
    warnings += result.warnings
    for text in warnings[:MAX_WARNINGS]:
        typer.echo(_line(f"warning: {text}"), err=True)
    if len(warnings) > MAX_WARNINGS:
        typer.echo(
            f"warning: ... and {len(warnings) - MAX_WARNINGS} more (manifest.json lists every one)", err=True
        )
    _skipped(result)
    if any(q.kind == "user" and q.status == "ok" for q in m.queries):
        print_queries(
            [q for q in load_queries(result.out, m) if q.entry.status == "ok"],
            Console(highlight=False),
            limit=QUERY_ROWS_PRINTED,
            cell_chars=MAX_LINE_CHARS // 5,
        )


def _skipped(result: RunResult) -> None:
    """Which files were not read and why (a few names per reason), and an error when none could be."""
    skipped: dict[str, list[str]] = {}
    for entry in result.manifest.inputs:
        if entry.status == "skipped":
            skipped.setdefault(entry.error or "skipped", []).append(entry.name)
    if not skipped:
        return
    count = sum(len(names) for names in skipped.values())
    typer.echo(f"skipped {count} file{'s' if count != 1 else ''}:", err=True)
    for reason, names in list(skipped.items())[:MAX_WARNINGS]:
        more = f" and {len(names) - SKIPPED_NAMES} more" if len(names) > SKIPPED_NAMES else ""
        typer.echo(_line(f"  {reason}: {', '.join(names[:SKIPPED_NAMES])}{more}"), err=True)
    if len(skipped) > MAX_WARNINGS:
        typer.echo(
            f"  ... and {len(skipped) - MAX_WARNINGS} more reasons (manifest.json lists every file)", err=True
        )
    if result.status == "failed" and result.manifest.totals.files == 0:
        typer.echo(
            "error: no analysable input: every file found was skipped; analyze reads access logs "
            "(combined, common, JSON lines, CSV)",
            err=True,
        )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""

    @app.command("analyze")
    def analyze_cmd(
        inputs: Annotated[
            list[Path],
            typer.Argument(help="Log files or directories (scanned recursively; dot-files skipped)."),
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="Results directory to write.")],
        fmt: Annotated[
            str,
            typer.Option(
                "--format",
                help="auto, combined, common, json, csv, error (nginx error log) or app (application "
                "log); auto detects per file, and rotated error-* and app-* files are always read as their "
                "stream.",
            ),
        ] = "auto",
        log_format: Annotated[
            str | None,
            typer.Option(
                "--log-format",
                help="The server's own log format, verbatim: an nginx log_format string (escape=json/none "
                'allowed), an Apache LogFormat string (with \\" as in the config), or a preset: combined, '
                "common, nginx-main, vhost_combined, combined_timing. Every input is parsed with it.",
            ),
        ] = None,
        log_format_from: Annotated[
            str | None,
            typer.Option(
                "--log-format-from",
                help="Read the definition from an nginx or Apache config file (includes followed).",
            ),
        ] = None,
        log_format_name: Annotated[
            str | None,
            typer.Option(
                "--log-format-name", help="Which log_format / LogFormat of --log-format-from to use."
            ),
        ] = None,
        trusted_proxies: Annotated[
            str | None,
            typer.Option(
                "--trusted-proxies",
                help="Comma-separated CIDRs of your proxies/load balancers: client_ip becomes the right-most "
                "untrusted X-Forwarded-For address, as nginx's realip module finds it.",
            ),
        ] = None,
        since: Annotated[
            str | None, typer.Option(help="Only records at or after this ISO-8601 time (empty: no bound).")
        ] = None,
        until: Annotated[
            str | None, typer.Option(help="Only records before this ISO-8601 time (empty: no bound).")
        ] = None,
        query: Annotated[
            list[Path] | None,
            typer.Option(
                "--query",
                "-q",
                help="SQL file with one SELECT over `requests`, run in a sandbox (repeatable).",
            ),
        ] = None,
        tags: Annotated[
            Path | None, typer.Option(help="YAML tag rules (default: queries/tags.yaml).")
        ] = None,
        job_id: Annotated[
            str | None, typer.Option(help="Job id for the manifest (default $BACALHAU_JOB_ID).")
        ] = None,
        node_id: Annotated[
            str | None,
            typer.Option(help="Node id for every input (default: each file's from its rotated name)."),
        ] = None,
        execution_id: Annotated[
            str | None, typer.Option(help="Execution id (default $BACALHAU_EXECUTION_ID).")
        ] = None,
        max_object_bytes: MaxObjectBytesOpt = None,
        parse_cache: Annotated[
            Path | None,
            typer.Option(
                help="Parse cache directory: each file is parsed once, later runs read its verified entry "
                "(default $EDGELOG_PARSE_CACHE; none when unset)."
            ),
        ] = None,
    ) -> None:
        """Analyse access logs with DuckDB: reports, mergeable partials, quarantined lines and a manifest.

        Exit codes: 0 ok, 3 partial (some files or queries failed, see manifest.json), 1 nothing usable,
        2 bad arguments, 130/143 stopped by Ctrl-C/SIGTERM (no manifest written).

        Example: [bold]edgelog analyze /var/log/logs_to_process --out /tmp/out --since 2026-11-23T08:00Z[/]
        """
        with deferred():  # DuckDB's extension initialises here: a Ctrl-C must not land inside it
            from edgelog.analysis import analyze

        with stop_on_signals():
            result = analyze(
                inputs,
                out,
                fmt=fmt,
                since=since,
                until=until,
                queries=query or (),
                job_id=job_id,
                node_id=node_id,
                execution_id=execution_id,
                tags=tags,
                max_object_bytes=max_object_bytes,
                parse_cache=parse_cache,
                log_format=log_format,
                log_format_from=log_format_from,
                log_format_name=log_format_name,
                trusted_proxies=trusted_proxies,
            )
        _summary(result)
        if result.exit_code:
            raise typer.Exit(int(result.exit_code))

    @app.command("merge")
    def merge_cmd(
        dirs: Annotated[list[Path], typer.Argument(help="Results directories written by analyze or merge.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Merged results directory to write.")],
        max_object_bytes: MaxObjectBytesOpt = None,
    ) -> None:
        """Merge per-node results exactly: the same reports analyze would give over all their input files.

        Every input directory's checksums, and its manifest's numbers against its tables, are verified first
        (exit 4 on a mismatch); a directory, run or input file given twice is refused (exit 2).

        Example: [bold]edgelog merge results/node-1 results/node-2 --out results/merged[/]
        """
        with deferred():  # DuckDB's extension initialises here: a Ctrl-C must not land inside it
            from edgelog.analysis import merge

        with stop_on_signals():
            result = merge(dirs, out, max_object_bytes=max_object_bytes)
        _summary(result)
        if result.exit_code:
            raise typer.Exit(int(result.exit_code))
