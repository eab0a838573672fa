"""CLI commands for Bacalhau jobs (``edgelog job ...``) and the one-command demo (``edgelog demo``).

Commands only parse options and call :mod:`edgelog.jobs`; errors are ``EdgelogError`` and the root maps them
to messages and exit codes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgelog.errors import EdgelogError, ExitCode, UsageError
from edgelog.interrupts import deferred, stop_on_signals
from edgelog.jobs.model import DEFAULT_ALLOW_LIST

if TYPE_CHECKING:
    from edgelog.jobs.network import NetworkNode
    from edgelog.jobs.spec import RenderedSpec

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

job_app = typer.Typer(
    help="Bacalhau job specs: render, validate, submit to a network, or run them on this machine.\n\n"
    "Example: [bold]edgelog job run-local access-log-report --node ./logs/node-1[/]",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

VarOpt = Annotated[
    list[str] | None,
    typer.Option("--var", "-V", help="Template variable NAME=VALUE (Bacalhau's -V); repeat for more."),
]
SqlOpt = Annotated[
    Path | None,
    typer.Option(
        "--sql", help="SQL file for adhoc-query (sets the sql_b64 variable).", exists=True, dir_okay=False
    ),
]
LogFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        help="The servers' log format for analyze: an nginx log_format / Apache LogFormat definition or a "
        "preset (sets log_format, or log_format_b64 when the spec cannot quote it).",
    ),
]
LogFormatFromOpt = Annotated[
    Path | None,
    typer.Option(
        "--log-format-from",
        help="Read the definition from an nginx or Apache config here (includes followed) and hand it to "
        "the job.",
        exists=True,
        dir_okay=False,
    ),
]
LogFormatNameOpt = Annotated[
    str | None, typer.Option("--log-format-name", help="Which log_format / LogFormat of --log-format-from.")
]
TrustedOpt = Annotated[
    str | None,
    typer.Option("--trusted-proxies", help="CIDRs of the proxies in front of the servers (trusted_proxies)."),
]
PrePulledOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--pre-pulled-image",
        help="An image the compute nodes pull at boot (terraform output pre_pulled_images); repeatable. The "
        "spec's image must be one of them. Default: $EDGELOG_PRE_PULLED_IMAGES, else the shipped job image "
        "REGISTRY/edgelog-job:<edgelog version>.",
    ),
]
AllowOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-listed-path",
        help="The nodes' Compute.AllowListedLocalPaths entry (path[:ro|:rw], doublestar globs); repeatable. "
        f"Default: {', '.join(DEFAULT_ALLOW_LIST)}.",
    ),
]


def _checked_spec(
    spec: str, values: dict[str, str], allow_listed_path: list[str] | None, pre_pulled_image: list[str] | None
) -> RenderedSpec:
    """A spec rendered and validated against the nodes' allow-list, whose image the nodes pre-pull."""
    from edgelog.jobs.spec import load_spec
    from edgelog.jobs.validate import check_image, pre_pulled_images

    rendered = load_spec(spec, values, allow_list=tuple(allow_listed_path or DEFAULT_ALLOW_LIST))
    check_image(rendered.path, rendered.spec.task.image, pre_pulled_images(pre_pulled_image))
    return rendered


def _vars(
    var: list[str] | None,
    sql: Path | None,
    log_format: str | None = None,
    log_format_from: Path | None = None,
    log_format_name: str | None = None,
    trusted_proxies: str | None = None,
) -> dict[str, str]:
    from edgelog.jobs.spec import format_options_vars, parse_vars, sql_var

    values = parse_vars(var or [])
    if sql is not None:
        values.update(sql_var(sql))
    options = format_options_vars(log_format, log_format_from, log_format_name, trusted_proxies)
    taken = set(options)
    if taken - {"trusted_proxies"}:  # a format option replaces every way a spec takes a format
        taken |= {"log_format", "log_format_b64", "log_format_name"}
    if clash := sorted(taken & values.keys()):
        raise UsageError(
            f"--var {clash[0]} and the --log-format/--trusted-proxies options both set {clash[0]}",
            hint="pass one of them",
        )
    return {**values, **options}


@job_app.command("list")
def list_cmd() -> None:
    """List the job specs in jobs/ with their type and template variables.

    Example: [bold]edgelog job list[/]
    """
    from edgelog.jobs.spec import JOBS_DIR_ENV, describe_specs, jobs_dir

    infos = describe_specs()
    if not infos:
        raise UsageError(
            f"no job specs (*.yaml) in {jobs_dir()}",
            hint=f"unset {JOBS_DIR_ENV} to use the specs installed with edgelog, or set it to a jobs/ dir",
        )
    table = Table(title="job specs", title_justify="left")
    for col in ("name", "type", "required variables", "optional variables", "what"):
        table.add_column(col, overflow="fold")
    for info in infos:
        table.add_row(
            escape(info.name),
            escape(info.job_type),
            escape(", ".join(sorted(info.required))),
            escape(", ".join(sorted(info.optional))),
            escape(info.summary),
        )
    console.print(table)


@job_app.command("render")
def render_cmd(
    spec: Annotated[str, typer.Argument(help="Spec name in jobs/ (e.g. access-log-report) or a YAML file.")],
    var: VarOpt = None,
    sql: SqlOpt = None,
    log_format: LogFormatOpt = None,
    log_format_from: LogFormatFromOpt = None,
    log_format_name: LogFormatNameOpt = None,
    trusted_proxies: TrustedOpt = None,
) -> None:
    """Print the spec after template rendering: exactly the YAML Bacalhau would parse.

    Unset required variables are an error (Go's missingkey=error), naming the variable.

    Example: [bold]edgelog job render access-log-report --var bucket=results --var image=REG/job:0.1[/]
    """
    from edgelog.jobs.spec import render_spec

    rendered = render_spec(
        spec, _vars(var, sql, log_format, log_format_from, log_format_name, trusted_proxies)
    )
    typer.echo(rendered.text, nl=not rendered.text.endswith("\n"))


@job_app.command("validate")
def validate_cmd(
    spec: Annotated[
        str, typer.Argument(help="Spec name in jobs/ or a YAML file (rendered first if templated).")
    ],
    var: VarOpt = None,
    sql: SqlOpt = None,
    log_format: LogFormatOpt = None,
    log_format_from: LogFormatFromOpt = None,
    log_format_name: LogFormatNameOpt = None,
    trusted_proxies: TrustedOpt = None,
    allow_listed_path: AllowOpt = None,
    pre_pulled_image: PrePulledOpt = None,
) -> None:
    """Check a job spec against Bacalhau's v1 job model and edgelog's result layout; one error per problem.

    Checks fields, enum values, ops Count, the publisher Key's {jobID}/{nodeID} placeholders and plain
    Encoding, lower-case constraint operators, Env names, input/result paths, resources, timeouts, that every
    local SourcePath is allow-listed on the nodes, and that the image is one the nodes pre-pull.
    Exit 2 when anything is wrong.

    Example: [bold]edgelog job validate jobs/access-log-report.yaml --var bucket=b --var image=job:0.1[/]
    """
    rendered = _checked_spec(
        spec,
        _vars(var, sql, log_format, log_format_from, log_format_name, trusted_proxies),
        allow_listed_path,
        pre_pulled_image,
    )
    job = rendered.spec
    console.print(
        f"OK: {escape(str(rendered.path))} is a valid Bacalhau v1 {escape(job.type)} job "
        f"(Name {escape(job.name or '(the job ID)')})"
    )


@job_app.command("submit")
def submit_cmd(
    spec: Annotated[str, typer.Argument(help="Spec name in jobs/ or a YAML file.")],
    var: VarOpt = None,
    sql: SqlOpt = None,
    log_format: LogFormatOpt = None,
    log_format_from: LogFormatFromOpt = None,
    log_format_name: LogFormatNameOpt = None,
    trusted_proxies: TrustedOpt = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Job Name to use as is (default: the spec's Name plus a timestamp)."),
    ] = None,
    fetch: Annotated[
        bool, typer.Option("--fetch", help="Fetch, verify and merge the results when the job ends.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where --fetch writes (default ./results/JOB_ID).")
    ] = None,
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket", help="Bucket URL --fetch reads (default gs://BUCKET of the spec's publisher)."
        ),
    ] = None,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.1, max=600, help="Seconds between polls.")
    ] = 2.0,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=1, max=7 * 86400, help="Give up waiting after this many seconds."),
    ] = 3600,
    allow_listed_path: AllowOpt = None,
    bacalhau: Annotated[
        str | None, typer.Option("--bacalhau", help="Path of the bacalhau CLI (default: found on PATH).")
    ] = None,
    api_host: Annotated[
        str | None,
        typer.Option(
            "--api-host", help="Orchestrator address for bacalhau (default: its config/BACALHAU_API_HOST)."
        ),
    ] = None,
    pre_pulled_image: PrePulledOpt = None,
    nodes_out: Annotated[
        Path | None,
        typer.Option(
            "--nodes-out",
            help="Also write the node list taken at submit time here (JSON) for a later "
            "`edgelog fetch JOB --expect-nodes FILE`.",
        ),
    ] = None,
) -> None:
    """Submit a spec to a Bacalhau network with the real bacalhau CLI and follow it to the end.

    Renders and validates the spec (its image must be one the nodes pre-pull), takes the nodes it should
    run on from the network
    (`bacalhau node list --labels SELECTOR --output json`, the selector from the spec's Constraints), gives it
    a unique Name (resubmitting a Name would update the old job), submits with
    `bacalhau job run --wait=false --id-only`, then polls `bacalhau job describe ID --output json`.
    An ops job is judged node by node: a listed node that declined the job (AskForBidRejected) or got no
    execution (disconnected, unapproved) is named, and makes the result partial; --fetch expects every one.
    Exit 0 when every node succeeded, 3 when some did not, 1 when none did.

    Example: [bold]edgelog job submit access-log-report --var bucket=results --var image=REG/j:1 --fetch[/]
    """
    import json

    from edgelog.fileio import write_text_atomic
    from edgelog.jobs.network import expected_nodes, node_list_json
    from edgelog.jobs.submit import BacalhauCLI, submit, wait

    rendered = _checked_spec(
        spec,
        _vars(var, sql, log_format, log_format_from, log_format_name, trusted_proxies),
        allow_listed_path,
        pre_pulled_image,
    )
    job = rendered.spec
    publisher = job.task.publisher
    # Where --fetch will look, decided (and refused if it cannot be) before anything runs.
    fetch_from = (bucket or publisher.bucket_url, publisher.results_prefix) if fetch else None
    selector = job.label_selector
    cli = BacalhauCLI(bacalhau, api_host=api_host)
    expected = expected_nodes(cli.node_list(selector))
    if not expected:
        raise EdgelogError(
            f"no compute node matches the job's constraints ({selector or 'none'}): nothing would run it",
            hint="check the nodes' labels (bacalhau node list --show labels) or wait for them to join "
            "(scripts/wait-for-nodes.sh)",
        )
    if nodes_out is not None:
        write_text_atomic(nodes_out, json.dumps(node_list_json(expected), indent=2) + "\n")
    _print_expected(expected, selector)
    job_id, job_name = submit(rendered, cli, name=name)
    err_console.print(f"submitted [bold]{escape(job_id)}[/] (Name {escape(job_name)})")
    seen: dict[str, str] = {}
    last_job_state = [""]

    def show(status: object) -> None:
        from edgelog.jobs.submit import JobStatus

        assert isinstance(status, JobStatus)
        if status.state != last_job_state[0]:
            err_console.print(f"job {escape(job_id)}: [bold]{escape(status.state)}[/]")
            last_job_state[0] = status.state
        for execution in status.executions:
            label = execution.state + (
                f" (exit {execution.exit_code})" if execution.state == "Completed" else ""
            )
            if seen.get(execution.execution_id) != label:
                seen[execution.execution_id] = label
                err_console.print(
                    f"  {escape(execution.node_id)} {escape(execution.execution_id)}: {escape(label)}"
                )

    spinner = (
        err_console.status(f"waiting for {job_id}") if err_console.is_terminal else contextlib.nullcontext()
    )
    try:
        with spinner:
            status = wait(
                cli,
                job_id,
                expected=expected if job.runs_on_every_node else None,
                poll_interval=poll_interval,
                timeout=timeout,
                on_update=show,
            )
    except KeyboardInterrupt:
        err_console.print(
            f"stopped following {escape(job_id)}; it keeps running on the network "
            f"(bacalhau job describe {escape(job_id)}, or bacalhau job stop {escape(job_id)})"
        )
        raise
    _print_status_table(status)
    code = status.exit_code()
    if fetch_from is not None and code != ExitCode.FAILED:
        # Every node that should have published: a declined or missing one is then named by fetch too.
        nodes: dict[str, str | None] = {}
        for outcome in status.nodes():
            if outcome.outcome in ("ok", "partial"):
                nodes[outcome.node_id] = None
            elif outcome.expected:
                nodes[outcome.node_id] = f"{outcome.outcome} at submit: {outcome.reason}"
        fetched = _fetch_after_submit(fetch_from, job_id, out, nodes)
        if code == ExitCode.OK and fetched != ExitCode.OK:
            raise EdgelogError(
                f"job {job_id} completed, but its results did not fetch cleanly", exit_code=fetched
            )
    if code != ExitCode.OK:
        raise EdgelogError(status.summary(), exit_code=code, hint=f"details: bacalhau job describe {job_id}")


def _print_expected(expected: Mapping[str, NetworkNode], selector: str) -> None:
    """Which nodes the job should cover, and which of them cannot run it right now."""
    listed = list(expected.values())
    down = [n for n in listed if not n.schedulable]
    err_console.print(
        f"expecting results from {len(listed)} node(s) matching {escape(selector or '(any labels)')}"
        + (f", {len(down)} of them not schedulable now" if down else "")
    )
    for node in down:
        err_console.print(f"  {escape(node.node_id)}: {escape(node.state)}")


def _fetch_after_submit(
    fetch_from: tuple[str, str], job_id: str, out: Path | None, nodes: dict[str, str | None]
) -> ExitCode:
    """Fetch, verify and merge a finished job's results from (bucket URL, prefix) its spec published to."""
    with deferred():  # DuckDB's extension initialises here: a Ctrl-C must not land inside it
        from edgelog.results import fetch_job

    bucket_url, prefix = fetch_from
    target = out or Path("results") / job_id
    with stop_on_signals():  # as `edgelog fetch`: a stop cancels the queued downloads and the merge
        result = fetch_job(
            bucket_url, job_id, target, prefix=prefix, expected_nodes=nodes, console=err_console
        )
    if result.exit_code != ExitCode.OK:
        # name each node that left the result short, and why, as `edgelog fetch` does
        from edgelog.results.terminal import print_fetch

        print_fetch(result, err_console)
    console.print(
        f"fetched {escape(job_id)}: {result.status} -> {escape(str(result.merged_dir or result.out_dir))}"
    )
    return result.exit_code


def _print_status_table(status: object) -> None:
    """One row per execution, then the reason and stderr tail of every execution that did not succeed."""
    from edgelog.jobs.submit import JobStatus

    assert isinstance(status, JobStatus)
    table = Table(title=f"job {status.job_id} ({status.name or '-'}): {status.state}", title_justify="left")
    for col in ("node", "execution", "state", "exit", "result"):
        table.add_column(col, overflow="fold")
    for e in status.executions:
        exit_code = "" if e.exit_code is None else str(e.exit_code)
        table.add_row(escape(e.node_id), escape(e.execution_id), escape(e.state), exit_code, e.outcome)
    missing = [n for n in status.nodes() if n.outcome == "missing"]
    for n in missing:
        table.add_row(escape(n.node_id), "-", "no execution", "", "missing")
    console.print(table)
    for n in missing:
        console.print(f"[bold]{escape(n.node_id)}[/]: missing: {escape(n.reason)}")
    for e in status.executions:
        if e.outcome in ("ok", "active"):
            continue
        reason = e.message or e.error or (f"exit code {e.exit_code}" if e.exit_code else e.state)
        console.print(f"[bold]{escape(e.node_id)}[/] {escape(e.execution_id)}: {e.outcome}: {escape(reason)}")
        stream, tail = ("stderr", e.stderr.rstrip()) if e.stderr.strip() else ("stdout", e.stdout.rstrip())
        if tail:
            console.print(f"  {stream} (tail):")
            console.print("\n".join(f"    {line}" for line in tail.splitlines()), markup=False)


@job_app.command("run-local")
def run_local_cmd(
    spec: Annotated[str, typer.Argument(help="Spec name in jobs/ or a YAML file.")],
    node: Annotated[
        list[str],
        typer.Option(
            "--node", help="A directory standing in for one node's SourcePath (DIR or NODE_ID=DIR); repeat."
        ),
    ],
    bucket: Annotated[
        str | None,
        typer.Option(
            "--bucket", help="Bucket URL to publish to (default: $EDGELOG_BUCKET or the local bucket)."
        ),
    ] = None,
    var: VarOpt = None,
    sql: SqlOpt = None,
    log_format: LogFormatOpt = None,
    log_format_from: LogFormatFromOpt = None,
    log_format_name: LogFormatNameOpt = None,
    trusted_proxies: TrustedOpt = None,
    allow_listed_path: AllowOpt = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="subprocess: run the task's command here; docker: run it in the spec's image with the "
            "mounts, limits and user Bacalhau's docker executor gives it (the image must be built locally).",
        ),
    ] = "subprocess",
) -> None:
    """Run a spec on this machine with no Bacalhau, publishing like the real S3 publisher.

    Each --node directory plays one node's /var/log/logs_to_process. The task's command runs as a subprocess
    with /inputs and /outputs mapped, Bacalhau's environment and the ExecutionTimeout (or, with --engine
    docker, in its image as Bacalhau's docker executor runs it); results go to
    <prefix>/<jobID>/<nodeID>/<executionID> in the bucket. `bucket` and `image` variables default to
    placeholders (`image` to edgelog-job:local for --engine docker). Exit 0 ok, 3 some nodes failed, 1 all
    failed.

    Example: [bold]edgelog job run-local access-log-report --node n1=./logs/n1 --node n2=./logs/n2[/]
    """
    from edgelog.jobs.local import parse_nodes, run_local
    from edgelog.jobs.spec import load_spec

    values = {
        "bucket": "local",
        "image": "edgelog-job:local",
        **_vars(var, sql, log_format, log_format_from, log_format_name, trusted_proxies),
    }
    rendered = load_spec(spec, values, allow_list=tuple(allow_listed_path or DEFAULT_ALLOW_LIST))
    nodes = parse_nodes(node)
    with stop_on_signals():  # a SIGTERM, like Ctrl-C, cancels the tasks: they run in their own sessions
        run = run_local(rendered, nodes, bucket_url=bucket, on_event=_print_event, engine=engine)
    _print_status_table(run.status)
    console.print(f"results: {escape(run.bucket_url)} job [bold]{escape(run.job_id)}[/]")
    code = run.status.exit_code()
    if code != ExitCode.OK:
        raise EdgelogError(run.status.summary(), exit_code=code)


def _print_event(execution: object) -> None:
    from edgelog.jobs.local import LocalExecution

    assert isinstance(execution, LocalExecution)
    extra = ""
    if execution.state == "Completed":
        extra = f" exit {execution.exit_code} in {execution.duration_s:.1f}s"
    elif execution.state == "Failed":
        extra = f": {execution.message}"
    err_console.print(
        f"  {escape(execution.node.node_id)} {escape(execution.execution_id)}: "
        f"{execution.state}{escape(extra)}"
    )


def demo_cmd(
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Where logs, results and the report go (default: data home/demo)."),
    ] = None,
    nodes: Annotated[int, typer.Option("--nodes", min=1, max=16, help="Simulated nodes.")] = 3,
    hours: Annotated[
        float, typer.Option("--hours", min=0.1, max=24, help="Hours of logs to backfill per node.")
    ] = 1.0,
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Bucket URL (default: the local bucket).")
    ] = None,
    open_report: Annotated[bool, typer.Option("--open", help="Open the HTML report in a browser.")] = False,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="Write the nodes' logs in this nginx/Apache definition or preset (e.g. nginx-main, "
            "combined_timing, vhost_combined) and analyse them with it.",
        ),
    ] = None,
    log_format_from: Annotated[
        str | None, typer.Option("--log-format-from", help="Take the definition from an nginx/Apache config.")
    ] = None,
    log_format_name: Annotated[
        str | None, typer.Option("--log-format-name", help="Which definition of --log-format-from.")
    ] = None,
    trusted_proxies: Annotated[
        str | None,
        typer.Option(
            "--trusted-proxies",
            help="Passed to the job (default for formats with X-Forwarded-For: the simulated load balancer).",
        ),
    ] = None,
) -> None:
    """Run the whole pipeline on this machine: logs for 3 nodes, the access-log-report job, fetch, report.

    Backfills 5-minute rotated logs per simulated node, runs jobs/access-log-report.yaml on every node with
    the local runner, fetches, verifies and merges the results, prints the summary and the HTML report's path.

    Example: [bold]edgelog demo[/]
    """
    with deferred():  # DuckDB's extension initialises here: a Ctrl-C must not land inside it
        from edgelog.jobs.demo import run_demo
    from edgelog.logformat import resolve
    from edgelog.logformat.definitions import check_analysable
    from edgelog.logformat.realip import parse_networks

    fmt = resolve(log_format, log_format_from, log_format_name)
    if fmt is not None:
        check_analysable(fmt)
    parse_networks(trusted_proxies)
    with stop_on_signals():  # Ctrl-C and SIGTERM cancel the jobs' tasks, the downloads and the merge
        result = run_demo(
            workdir=workdir,
            nodes=nodes,
            hours=hours,
            bucket_url=bucket,
            console=err_console,
            out=console,
            log_format=fmt,
            trusted_proxies=trusted_proxies,
        )
    console.print(f"\nHTML report: [bold]{escape(str(result.html))}[/]")
    if open_report:
        import webbrowser

        webbrowser.open(result.html.as_uri())
    if result.exit_code != ExitCode.OK:
        raise EdgelogError(result.message, exit_code=result.exit_code)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(job_app, name="job")
    app.command("demo")(demo_cmd)
