"""CLI commands for the results area: `edgelog fetch`, `edgelog jobs`, `edgelog report` (wired in main)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edgelog.errors import ExitCode
from edgelog.interrupts import deferred, stop_on_signals
from edgelog.settings import RESULTS_PREFIX, default_bucket_url

BucketOpt = Annotated[
    str | None,
    typer.Option(
        "--bucket",
        "-b",
        help="Where results are: gs://BUCKET, gs://BUCKET/ROOT, file:///dir or a directory. "
        "Default: $EDGELOG_BUCKET, else the local embedded bucket.",
        show_default=False,
    ),
]
PrefixOpt = Annotated[str, typer.Option("--prefix", help="Key prefix the job specs publish under.")]


def _out_console(as_json: bool) -> Console:
    """Tables go to stdout, except with --json, where stdout carries only the JSON document."""
    return Console(stderr=as_json, highlight=False)


def fetch(
    job_id: Annotated[str, typer.Argument(help="The job id (j-...), as `edgelog jobs` lists it.")],
    bucket: BucketOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Directory for node results and the merged result.", show_default=False
        ),
    ] = None,
    prefix: PrefixOpt = RESULTS_PREFIX,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable result on stdout.")
    ] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Parallel downloads.")] = 8,
    expect_node: Annotated[
        list[str] | None,
        typer.Option(
            "--expect-node", help="A node that must have results (repeat); absent ones count as missing."
        ),
    ] = None,
    expect_nodes: Annotated[
        Path | None,
        typer.Option(
            "--expect-nodes",
            help="File of nodes that must have results: `bacalhau node list --labels ... --output json` "
            "(taken when the job was submitted: `edgelog job submit --nodes-out FILE`) or one id per line.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the HTML report of the merged result here.")
    ] = None,
    summary: Annotated[bool, typer.Option("--summary/--no-summary", help="Print the report tables.")] = True,
) -> None:
    """Download every node's results for a job, verify them, merge them, and print the summary.

    Each file is checked against the bucket's checksums and its node's manifest (sha256).
    A rerun skips files already downloaded and verified, so an interrupted fetch resumes.
    A node that published nothing is invisible in the bucket: name the nodes the job should have covered
    with --expect-nodes (or --expect-node) so a missing one makes the result partial.
    Exit codes: 0 all nodes ok, 3 partial (missing/failed/partial nodes), 4 a file did not verify or a
    node's results name another node, 1 nothing usable, 130/143 stopped by Ctrl-C/SIGTERM (within a second;
    a rerun resumes).

    Example: [bold]edgelog fetch j-6f1c2a9e --bucket gs://acme-edgelog --out results/[/]
    """
    from edgelog.jobs.network import read_expected_nodes

    with deferred():  # DuckDB's extension initialises here: a Ctrl-C must not land inside it
        from edgelog.results import fetch_job, render_html
    from edgelog.results.terminal import print_fetch, print_summary

    console = _out_console(as_json)
    progress = Console(stderr=True)
    target = out if out is not None else Path("edgelog-results") / job_id
    expected = read_expected_nodes(expect_nodes) if expect_nodes is not None else {}
    expected.update({node: expected.get(node) for node in expect_node or ()})
    with stop_on_signals():  # Ctrl-C and SIGTERM end the downloads and the merge within a second
        result = fetch_job(
            bucket or default_bucket_url(),
            job_id,
            target,
            prefix=prefix,
            workers=workers,
            expected_nodes=expected,
            console=progress if progress.is_terminal or not as_json else None,
        )
    if html is not None and result.merged_dir is not None:
        render_html(result.merged_dir, html)
    if as_json:
        document = result.to_json()
        document["html"] = str(html) if html is not None and result.merged_dir is not None else None
        typer.echo(json.dumps(document, indent=2, default=str))
    else:
        print_fetch(result, console)
        if summary and result.merged_dir is not None:
            console.print()
            print_summary(result.merged_dir, console)
        if html is not None and result.merged_dir is not None:
            console.print(f"HTML report: {html}")
    raise typer.Exit(int(result.exit_code))


def jobs(
    bucket: BucketOpt = None,
    prefix: PrefixOpt = RESULTS_PREFIX,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List the job ids that have results in the bucket: nodes, size, publish times and the data's time range.

    The data range (first and last record time) is read from the listing alone, from the data-range object
    each node's results carry; "n of m" says how many executions named one (gzip-encoded or older results
    do not).

    Example: [bold]edgelog jobs --bucket gs://acme-edgelog[/]
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from edgelog.results import list_jobs
    from edgelog.results.format import fmt, human_bytes

    url = bucket or default_bucket_url()
    found = list_jobs(url, prefix=prefix)
    if as_json:
        typer.echo(json.dumps([j.to_json() for j in found], indent=2))
        return
    console = _out_console(False)
    if not found:
        console.print(Text(f"no jobs under {url} (prefix {prefix!r})"))
        return
    # Job ids are what people copy into `edgelog fetch`: never cut or wrapped. The other columns wrap, and a
    # terminal too narrow for all of them gets the essential ones (--json has everything).
    id_width = max(len(j.job_id) for j in found)
    spare = console.width - id_width - 3
    labels = (
        ["nodes", "executions", "objects", "size", "first", "last", "from", "to", "covers"]
        if spare >= 110
        else ["nodes", "size", "last", "from", "to"]
        if spare >= 60
        else ["nodes", "from", "to"]
        if spare >= 30
        else ["to"]
    )
    headings = {
        "first": "first published (UTC)",
        "last": "last published (UTC)",
        "from": "data from (UTC)",
        "to": "data to (UTC)",
        "covers": "range covers",
    }
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("job", no_wrap=True, overflow="ignore", min_width=id_width)
    for label in labels:
        if label in ("first", "last", "from", "to"):
            table.add_column(headings[label], overflow="fold", min_width=10)
        else:
            table.add_column(headings.get(label, label), justify="right", overflow="fold")
    for job in found:
        cells = {
            "nodes": fmt(job.nodes),
            "executions": fmt(job.executions),
            "objects": fmt(job.objects),
            "size": human_bytes(job.bytes),
            "first": f"{job.first_updated:%Y-%m-%d %H:%M:%S}" if job.first_updated else "–",
            "last": f"{job.last_updated:%Y-%m-%d %H:%M:%S}" if job.last_updated else "–",
            "from": _record_time(job.data_first_ts),
            "to": _record_time(job.data_last_ts),
            "covers": f"{job.data_range_executions} of {job.executions}",
        }
        partly = job.data_range_executions < job.executions  # some executions' range is not in the listing
        table.add_row(
            Text(job.job_id),
            *(
                Text(cells[k], style="yellow" if partly and k in ("from", "to", "covers") else "")
                for k in labels
            ),
        )
    console.print(table)


def _record_time(iso: str | None) -> str:
    """A record time as the table shows it: to the second (the heading says UTC; the JSON keeps the
    milliseconds)."""
    return iso[:19].replace("T", " ") if iso else "–"


def report(
    result_dir: Annotated[
        Path,
        typer.Argument(
            help="A result directory (from analyze, merge or fetch; a fetch --out dir works too)."
        ),
    ],
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the self-contained HTML report here.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not print the terminal tables.")] = False,
) -> None:
    """Show a result as tables in the terminal and, with --html, as one self-contained HTML page.

    Exit codes: 0 complete result, 3 partial result (missing nodes or failed files),
    4 files do not match the manifest.

    Example: [bold]edgelog report edgelog-results/j-6f1c2a9e --html report.html[/]
    """
    from edgelog.resultdir import locate
    from edgelog.results.html import write_html
    from edgelog.results.tables import load_result
    from edgelog.results.terminal import print_quality, render_summary

    data = load_result(locate(result_dir))  # a `fetch --out` directory: its merged result
    console = _out_console(False)
    if not quiet:
        render_summary(data, console)
    elif data.partial or data.integrity_problems:
        print_quality(data, console)
    if html is not None:
        write_html(data, html)
        console.print(f"HTML report: {html}")
    if data.integrity_problems:
        raise typer.Exit(int(ExitCode.INTEGRITY))
    if data.partial:
        raise typer.Exit(int(ExitCode.PARTIAL))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("fetch")(fetch)
    app.command("jobs")(jobs)
    app.command("report")(report)
