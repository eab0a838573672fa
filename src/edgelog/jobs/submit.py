"""Submit a job with the real ``bacalhau`` CLI and follow it honestly to a terminal state.

``bacalhau job run`` exits 0 even when the job fails and stops following it after 5 minutes, so edgelog
submits with ``--wait=false --id-only`` and polls ``bacalhau job describe ID --output json`` itself. That JSON
is ``apimodels.GetJobResponse``: ``Job.State.StateType`` is a string (``JobStateType`` implements
MarshalText), while ``Executions.Items[].ComputeState.StateType`` is the bare integer of
``ExecutionStateType`` (it has no MarshalText). Both forms are accepted here. A task that exits non-zero is
still a *Completed* execution in Bacalhau; edgelog reads ``RunOutput.ExitCode`` so such a node counts as
failed (or partial for exit 3).

An ops job ``Completed`` says nothing about the nodes it never ran on. So a job is judged node by node against
the expected set taken from ``bacalhau node list`` at submit time (:mod:`edgelog.jobs.network`): a node that
declined (``AskForBidRejected``/``BidRejected``) or has no execution at all (disconnected, unapproved, not
selected) makes the result partial, and is named.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgelog.errors import EdgelogError, ExitCode, UsageError
from edgelog.jobs.network import NetworkNode, parse_node_list
from edgelog.jobs.spec import RenderedSpec

# pkg/models/job.go (JobStateType) and pkg/models/execution.go (ExecutionStateType), in enum order.
JOB_STATES = ("Undefined", "Pending", "Queued", "Running", "Completed", "Failed", "Stopped")
EXECUTION_STATES = (
    "Undefined",
    "New",
    "AskForBid",
    "AskForBidAccepted",
    "AskForBidRejected",
    "BidAccepted",
    "Running",
    "Publishing",
    "BidRejected",
    "Completed",
    "Failed",
    "Cancelled",
)
TERMINAL_JOB_STATES = frozenset({"Completed", "Failed", "Stopped"})
REJECTED_STATES = frozenset({"AskForBidRejected", "BidRejected"})
FAILED_STATES = frozenset({"Failed", "Cancelled"})
# A node's outcome is its best execution's (a retried execution may have succeeded), or missing.
OUTCOME_RANK = {"ok": 0, "partial": 1, "active": 2, "failed": 3, "rejected": 4}


def state_name(value: Any, names: tuple[str, ...]) -> str:
    """A state as its name, whether the JSON carried the name or the enum integer."""
    if isinstance(value, bool):
        return "Undefined"
    if isinstance(value, int):
        return names[value] if 0 <= value < len(names) else f"Unknown({value})"
    if isinstance(value, str):
        for name in names:
            if name.lower() == value.strip().lower():
                return name
        return value
    return "Undefined"


@dataclass
class ExecutionStatus:
    """One execution (one node's attempt) as ``job describe`` reports it."""

    execution_id: str
    node_id: str
    state: str
    message: str = ""
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    error: str = ""
    published: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """``ok``, ``partial`` (edgelog exit 3), ``failed``, ``rejected`` (node declined) or ``active``."""
        if self.state == "Completed":
            if self.exit_code in (0, None):
                return "ok"
            return "partial" if self.exit_code == ExitCode.PARTIAL else "failed"
        if self.state in FAILED_STATES:
            return "failed"
        if self.state in REJECTED_STATES:
            return "rejected"
        return "active"


@dataclass
class NodeOutcome:
    """One node's part in a job: its best execution's outcome, or ``missing`` (expected, but no execution)."""

    node_id: str
    outcome: str  # ok | partial | failed | rejected | active | missing
    reason: str = ""
    execution_id: str | None = None
    expected: bool = False  # in the node list taken at submit time


@dataclass
class JobStatus:
    """A job and its executions at one poll, judged against the nodes expected to run it (if known)."""

    job_id: str
    name: str
    job_type: str
    state: str
    message: str = ""
    executions: list[ExecutionStatus] = field(default_factory=list)
    job_count: int = 0  # Count: executions a batch/service job asks for (0 for ops/daemon)
    expected: dict[str, NetworkNode] | None = None  # ops/daemon: the node list at submit time

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_JOB_STATES

    @property
    def per_node(self) -> bool:
        """Whether every node must run it (ops/daemon) rather than Count of them (batch/service)."""
        return self.job_type.lower() in ("ops", "daemon")

    def count(self, outcome: str) -> int:
        return sum(1 for e in self.executions if e.outcome == outcome)

    def nodes(self) -> list[NodeOutcome]:
        """Every node with an execution or in the expected set, with its outcome and why it is not ok."""
        by_node: dict[str, list[ExecutionStatus]] = {}
        for e in self.executions:
            by_node.setdefault(e.node_id, []).append(e)
        expected = self.expected or {}
        out = []
        for node_id in sorted(set(by_node) | set(expected)):
            executions = sorted(by_node.get(node_id, []), key=lambda e: OUTCOME_RANK[e.outcome])
            if not executions:
                out.append(NodeOutcome(node_id, "missing", expected[node_id].absence(), expected=True))
                continue
            best = executions[0]
            reason = best.message or best.error
            if best.outcome == "rejected":
                reason = f"declined the job ({best.state}): {reason or 'no reason given'}"
            elif best.outcome in ("failed", "partial") and not reason:
                reason = f"exit code {best.exit_code}" if best.exit_code else best.state
            out.append(NodeOutcome(node_id, best.outcome, reason, best.execution_id, node_id in expected))
        return out

    def exit_code(self) -> ExitCode:
        """OK when the job covered every node it should have; PARTIAL when some results exist; else FAILED.

        ops/daemon: every expected node (and every node that got an execution) must end ok; a declined or
        missing node makes the result partial. batch/service: Count executions must end ok (another node may
        take over a declined bid), and none may have failed.
        """
        ok, partial, failed = self.count("ok"), self.count("partial"), self.count("failed")
        if self.per_node:
            outcomes = [n.outcome for n in self.nodes()]
            complete = bool(outcomes) and all(o == "ok" for o in outcomes)
        else:
            complete = ok >= max(1, self.job_count) and not partial and not failed
        if self.state == "Completed" and complete:
            return ExitCode.OK
        if ok or partial:
            return ExitCode.PARTIAL
        return ExitCode.FAILED

    def summary(self) -> str:
        order = ("ok", "partial", "failed", "rejected", "missing", "active")
        if self.per_node:
            outcomes = [n.outcome for n in self.nodes()]
            parts = [f"{outcomes.count(o)} {o}" for o in order if outcomes.count(o)]
            what = "nodes"
        else:
            parts = [f"{self.count(o)} {o}" for o in order if self.count(o)]
            what = "executions"
        text = f"job {self.job_id} {self.state}: " + (", ".join(parts) if parts else f"no {what}")
        return f"{text} ({self.message})" if self.message and self.state != "Completed" else text


def parse_describe(data: dict[str, Any]) -> JobStatus:
    """``bacalhau job describe --output json`` -> :class:`JobStatus`."""
    job = data.get("Job") or {}
    state = job.get("State") or {}
    items = (data.get("Executions") or {}).get("Items") or []
    executions = []
    for item in items:
        compute = item.get("ComputeState") or {}
        run = item.get("RunOutput") or {}
        executions.append(
            ExecutionStatus(
                execution_id=str(item.get("ID", "")),
                node_id=str(item.get("NodeID", "")),
                state=state_name(compute.get("StateType"), EXECUTION_STATES),
                message=str(compute.get("Message") or ""),
                exit_code=run.get("ExitCode") if run and _has_run(item) else None,
                stdout=str(run.get("Stdout") or ""),
                stderr=str(run.get("stderr") or ""),  # sic: lower-case JSON key in RunCommandResult
                error=str(run.get("ErrorMsg") or ""),
                published=item.get("PublishedResult") or {},
            )
        )
    executions.sort(key=lambda e: (e.node_id, e.execution_id))
    count = job.get("Count")
    return JobStatus(
        job_id=str(job.get("ID", "")),
        name=str(job.get("Name", "")),
        job_type=str(job.get("Type", "")),
        state=state_name(state.get("StateType"), JOB_STATES),
        message=str(state.get("Message") or ""),
        executions=executions,
        job_count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
    )


def _has_run(item: dict[str, Any]) -> bool:
    """RunOutput is meaningful only once the task ran (Normalize fills an empty one with ExitCode 0)."""
    state = state_name((item.get("ComputeState") or {}).get("StateType"), EXECUTION_STATES)
    return state in ("Publishing", "Completed")


class BacalhauCLI:
    """The real ``bacalhau`` client on PATH (or an explicit binary)."""

    def __init__(self, binary: str | None = None, *, api_host: str | None = None, timeout: float = 120.0):
        found = binary or shutil.which("bacalhau")
        if not found:
            raise UsageError(
                "the bacalhau CLI is not on PATH, so jobs cannot be submitted to a network",
                hint="install it (https://docs.bacalhau.org) and point it at your orchestrator, or run the "
                "same "
                "spec on this machine with: edgelog job run-local NAME --node DIR",
            )
        self.binary = found
        self.api_host = api_host
        self.timeout = timeout

    def _run(self, args: list[str]) -> str:
        cmd = [self.binary, *args]
        if self.api_host:
            cmd += ["--api-host", self.api_host]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise EdgelogError(
                f"`bacalhau {' '.join(args)}` did not answer within {self.timeout:.0f}s"
            ) from None
        except OSError as exc:
            raise EdgelogError(f"cannot run {self.binary}: {exc.strerror}") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise EdgelogError(
                f"`bacalhau {' '.join(args)}` failed (exit {proc.returncode}): "
                f"{' '.join(detail[-3:]) or 'no output'}",
                hint="check the orchestrator address (BACALHAU_API_HOST) and `bacalhau node list`",
            )
        return proc.stdout

    def run(self, spec_file: Path) -> str:
        """Submit without waiting; returns the job ID."""
        out = self._run(["job", "run", "--wait=false", "--id-only", "--no-template", str(spec_file)])
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        if not lines:
            raise EdgelogError("bacalhau job run printed no job ID")
        return lines[-1]

    def node_list(self, selector: str) -> list[NetworkNode]:
        """``bacalhau node list --labels SELECTOR --output json``: the nodes it matches, in any state."""
        args = ["node", "list", *(["--labels", selector] if selector else []), "--output", "json"]
        out = self._run(args)
        try:
            data = json.loads(out)
        except json.JSONDecodeError as exc:
            raise EdgelogError(f"bacalhau node list printed invalid JSON: {exc}") from None
        return parse_node_list(data)

    def describe(self, job_id: str) -> JobStatus:
        out = self._run(["job", "describe", job_id, "--output", "json"])
        try:
            data = json.loads(out)
        except json.JSONDecodeError as exc:
            raise EdgelogError(f"bacalhau job describe {job_id} printed invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise EdgelogError(f"bacalhau job describe {job_id} printed unexpected JSON")
        return parse_describe(data)


def unique_name(base: str, now: datetime | None = None) -> str:
    """A job Name for one run: resubmitting a Name would update (or refuse to change) the existing job."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dt%H%M%Sz")
    return f"{base}-{stamp}-{secrets.token_hex(2)}"  # two submits in one second still differ


def submit(spec: RenderedSpec, cli: BacalhauCLI, *, name: str | None = None) -> tuple[str, str]:
    """Submit a rendered, validated spec under a unique Name; returns (job ID, Name)."""
    base = spec.spec.name or spec.path.stem
    final = spec.with_name(name or unique_name(base))
    with tempfile.TemporaryDirectory(prefix="edgelog-submit-") as tmp:
        path = Path(tmp) / f"{spec.path.stem}.yaml"
        path.write_text(final.text, encoding="utf-8")
        job_id = cli.run(path)
    return job_id, final.spec.name


def wait(
    cli: BacalhauCLI,
    job_id: str,
    *,
    expected: dict[str, NetworkNode] | None = None,
    poll_interval: float = 2.0,
    timeout: float = 3600.0,
    on_update: Callable[[JobStatus], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> JobStatus:
    """Poll until the job reaches Completed, Failed or Stopped; raise after ``timeout`` seconds.

    ``expected``: the node list taken at submit time, which each status is judged against (ops/daemon jobs).
    """
    deadline = clock() + timeout
    while True:
        status = cli.describe(job_id)
        status.expected = expected if status.per_node else None
        if on_update:
            on_update(status)
        if status.terminal:
            return status
        remaining = deadline - clock()
        if remaining <= 0:
            raise EdgelogError(
                f"job {job_id} is still {status.state} after {timeout:.0f}s; it keeps running on the network",
                hint=f"follow it with: bacalhau job describe {job_id} (or wait longer with --timeout)",
            )
        sleep(min(poll_interval, remaining))
