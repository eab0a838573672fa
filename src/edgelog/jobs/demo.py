"""``edgelog demo``: the whole pipeline on one machine, with no cloud account and no arguments.

Backfill rotated logs (access, nginx error and application logs) for a few simulated nodes (what logrotate
leaves in /var/log/logs_to_process), run the real ``jobs/access-log-report.yaml`` on every node with the local
runner, publish to the local bucket in Bacalhau's layout, then fetch, verify, merge and report exactly as for
a real network.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from edgelog.errors import ExitCode, UsageError
from edgelog.generator.formats import GCP_LOAD_BALANCER
from edgelog.jobs.local import LocalExecution, LocalNode, LocalRun, run_local
from edgelog.jobs.spec import load_spec, log_format_vars
from edgelog.logformat import LogFormat
from edgelog.naming import parse_rotated_name
from edgelog.results import fetch_job, print_summary, render_html
from edgelog.settings import data_home, default_bucket_url

DEMO_SPEC = "access-log-report"
DEMO_FORMATS = ("combined", "error", "app")  # the streams every node writes
# Placeholders for the two required spec variables that only matter on a real network.
DEMO_VARS = {"bucket": "edgelog-demo", "image": "edgelog-job:local"}


@dataclass
class DemoResult:
    """Where everything went, and how it ended."""

    workdir: Path
    job_id: str
    bucket_url: str
    merged_dir: Path
    html: Path
    exit_code: ExitCode
    message: str
    duration_s: float


def demo_bucket_url(bucket_url: str | None) -> str:
    """The demo publishes locally unless asked otherwise, even when $EDGELOG_BUCKET names a cloud bucket."""
    if bucket_url:
        return bucket_url
    default = default_bucket_url()
    return default if not default.startswith("gs://") else (data_home() / "bucket").as_uri()


def run_demo(
    *,
    workdir: Path | None = None,
    nodes: int = 3,
    hours: float = 1.0,
    bucket_url: str | None = None,
    console: Console | None = None,
    out: Console | None = None,
    now: datetime | None = None,
    log_format: LogFormat | None = None,
    trusted_proxies: str | None = None,
) -> DemoResult:
    """Backfill logs for ``nodes`` nodes, run the job on them, fetch and merge, write the HTML report.

    With ``log_format`` the nodes' logs are written in that definition and the job reads them with it;
    ``trusted_proxies`` is passed to the job (default for formats that log X-Forwarded-For: the load
    balancer the generator simulates, so the report counts the clients behind it).
    """
    from edgelog.generator import backfill, load_config

    if nodes < 1:
        raise UsageError(f"--nodes must be at least 1, got {nodes}")
    if hours <= 0:
        raise UsageError(f"--hours must be positive, got {hours}")
    log = console or Console(stderr=True)
    out = out or Console()
    started = time.monotonic()
    root = (workdir or data_home() / "demo").expanduser().resolve()
    logs_root = root / "nodes"
    bucket = demo_bucket_url(bucket_url)

    # 1. logs: complete 5-minute rotated files ending at the last 5-minute boundary
    end = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    end -= timedelta(minutes=end.minute % 5)
    duration = timedelta(hours=hours)
    config = load_config(None)
    node_list: list[LocalNode] = []
    log.print(
        f"[bold]1/4[/] backfilling {hours:g} h of 5-minute rotated logs for {nodes} nodes in {logs_root}"
    )
    for i in range(1, nodes + 1):
        node_id = f"node-{i}"
        folder = logs_root / node_id
        _remove_old_logs(folder)
        files = [  # what a node writes: the access log (in --log-format's definition, if given), nginx's
            # error log and the application log
            path
            for fmt in [log_format or DEMO_FORMATS[0], *DEMO_FORMATS[1:]]
            for path in backfill(
                config, folder, node=node_id, start=end - duration, duration=duration, fmt=fmt, seed=i
            )
        ]
        size = sum(f.stat().st_size for f in files)
        log.print(f"    {node_id}: {len(files)} files, {size / 1e6:.1f} MB")
        node_list.append(LocalNode(node_id, folder))

    # 2. the real spec, validated as for a network, run on every node
    variables = dict(DEMO_VARS)
    if log_format is not None:
        variables.update(log_format_vars(log_format))
        if trusted_proxies is None and log_format.has("http_x_forwarded_for"):
            trusted_proxies = GCP_LOAD_BALANCER
            log.print(f"    trusting the simulated load balancer: --trusted-proxies {trusted_proxies}")
    if trusted_proxies:
        variables["trusted_proxies"] = trusted_proxies
    spec = load_spec(DEMO_SPEC, variables)
    log.print(f"[bold]2/4[/] running {spec.path.name} (ops job) on {nodes} nodes, publishing to {bucket}")

    def event(execution: LocalExecution) -> None:
        if execution.state in ("Completed", "Failed"):
            extra = (
                f"exit {execution.exit_code} in {execution.duration_s:.1f}s"
                if execution.state == "Completed"
                else execution.message
            )
            log.print(f"    {execution.node.node_id} {execution.execution_id}: {execution.state} ({extra})")

    run: LocalRun = run_local(spec, node_list, bucket_url=bucket, on_event=event)
    status = run.status

    # 3. fetch, verify and merge exactly as for a real job
    results = root / "results" / run.job_id
    log.print(f"[bold]3/4[/] fetching, verifying and merging job {run.job_id}")
    fetched = fetch_job(
        bucket,
        run.job_id,
        results,
        expected_nodes=[n.node_id for n in node_list],
        console=log,
    )
    if fetched.merged_dir is None:
        raise UsageError(
            f"job {run.job_id}: no node produced usable results ({status.summary()})",
            hint=f"see the node outputs under {results}",
        )

    # 4. report
    log.print("[bold]4/4[/] report")
    print_summary(fetched.merged_dir, out)
    html = render_html(
        fetched.merged_dir, root / "report.html", title=f"edgelog demo: {nodes} nodes, {hours:g} h"
    )
    if status.exit_code() == ExitCode.OK and fetched.exit_code == ExitCode.OK:
        code = ExitCode.OK
    elif fetched.exit_code == ExitCode.INTEGRITY:
        code = ExitCode.INTEGRITY
    else:
        code = ExitCode.PARTIAL  # a merged result exists, but not from every node
    message = f"{status.summary()}; fetch {fetched.status}"
    return DemoResult(
        workdir=root,
        job_id=run.job_id,
        bucket_url=bucket,
        merged_dir=fetched.merged_dir,
        html=html,
        exit_code=code,
        message=message,
        duration_s=time.monotonic() - started,
    )


def _remove_old_logs(folder: Path) -> None:
    """Drop a previous demo run's rotated files (and only those), so each run analyses one fresh window."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.is_file() and parse_rotated_name(path.name) is not None:
            path.unlink()
