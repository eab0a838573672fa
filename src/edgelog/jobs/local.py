"""Run a Bacalhau job spec on this machine, with no Docker and no Bacalhau, the way a network would.

Each ``--node`` directory stands in for one node's local ``SourcePath``. The task's Entrypoint + Parameters
run as a subprocess with the spec's container paths mapped to host paths (``/inputs`` -> the node directory,
``/outputs`` -> a fresh result directory), with the environment Bacalhau gives an execution, under the spec's
ExecutionTimeout. The result directory (``outputs/``, ``stdout``, ``stderr``, ``exitCode``) is then published
to the bucket exactly as Bacalhau's S3 publisher lays it out, so ``edgelog fetch`` cannot tell the difference.
States follow Bacalhau: an execution that ran is *Completed* whatever its exit code (edgelog then reads the
exit code), one that could not run or timed out is *Failed* and publishes nothing, and an ops job with any
failed execution is *Failed*.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from edgelog.errors import ConfigError, UsageError
from edgelog.jobs.model import S3_MULTIPART_BYTES, JobSpec
from edgelog.jobs.spec import RenderedSpec
from edgelog.jobs.submit import ExecutionStatus, JobStatus
from edgelog.naming import check_node_id
from edgelog.settings import default_bucket_url
from edgelog.storage import Bucket, open_bucket

if TYPE_CHECKING:
    from edgelog.jobs.docker import DockerEngine

TAIL_LINES = 20


@dataclass(frozen=True)
class LocalNode:
    """A simulated node: its id (the ``{nodeID}`` in result keys) and the directory holding its logs."""

    node_id: str
    path: Path


def parse_nodes(items: Sequence[str]) -> list[LocalNode]:
    """``DIR`` or ``NODE_ID=DIR`` -> nodes; the id defaults to the directory's name and must be unique."""
    nodes: list[LocalNode] = []
    for item in items:
        node_id, sep, path_text = item.partition("=")
        if not sep:
            path_text, node_id = item, ""
        path = Path(path_text).expanduser()
        if not path.is_dir():
            raise UsageError(
                f"--node {item!r}: {path} is not a directory", hint="pass a directory of rotated logs"
            )
        node_id = check_node_id(node_id or path.resolve().name, source=f"--node {item!r}:")
        if any(n.node_id == node_id for n in nodes):
            raise UsageError(f"node id {node_id!r} given twice", hint="name them: --node ID=DIR")
        nodes.append(LocalNode(node_id, path.resolve()))
    if not nodes:
        raise UsageError("no --node given", hint="pass at least one --node DIR (a directory of rotated logs)")
    return nodes


@dataclass
class LocalExecution:
    """What one node's execution did."""

    node: LocalNode
    execution_id: str
    state: str = "New"
    exit_code: int | None = None
    message: str = ""
    stdout_tail: str = ""
    stderr_tail: str = ""
    duration_s: float = 0.0
    published_key: str | None = None
    published_objects: list[str] = field(default_factory=list)

    def status(self) -> ExecutionStatus:
        return ExecutionStatus(
            execution_id=self.execution_id,
            node_id=self.node.node_id,
            state=self.state,
            message=self.message,
            exit_code=self.exit_code,
            stdout=self.stdout_tail,
            stderr=self.stderr_tail,
        )


@dataclass
class LocalRun:
    """A whole local job run: ids, where results went, and the Bacalhau-style status."""

    job_id: str
    name: str
    job_type: str
    bucket_url: str
    executions: list[LocalExecution]
    state: str = "Running"
    message: str = ""

    @property
    def status(self) -> JobStatus:
        return JobStatus(
            job_id=self.job_id,
            name=self.name,
            job_type=self.job_type,
            state=self.state,
            message=self.message,
            executions=[e.status() for e in self.executions],
        )


Event = Callable[[LocalExecution], None]


def check_runnable(spec: RenderedSpec) -> JobSpec:
    """The spec's typed job, if this runner can run it: a docker task with an explicit Entrypoint."""
    job = spec.spec
    if job.task.engine != "docker":
        raise ConfigError(
            spec.path, "Tasks[0].Engine.Type", f"run-local runs docker tasks only, not {job.task.engine!r}"
        )
    if not job.task.entrypoint:
        raise ConfigError(
            spec.path,
            "Tasks[0].Engine.Params.Entrypoint",
            "run-local needs an explicit Entrypoint (it cannot read the image's ENTRYPOINT)",
            hint='e.g. Entrypoint: ["edgelog"]',
        )
    publisher = job.task.publisher.type
    if publisher not in (None, "noop", "s3"):
        raise ConfigError(
            spec.path,
            "Tasks[0].Publisher.Type",
            f"run-local publishes like the s3 publisher; {publisher!r} is not supported",
        )
    return job


def new_job_id() -> str:
    return f"j-{uuid.uuid4()}"


def new_execution_id() -> str:
    return f"e-{uuid.uuid4()}"


def resolve_entrypoint(argv0: str) -> list[str]:
    """``edgelog`` in a spec means this installation's edgelog, even when it is not on PATH."""
    if argv0 == "edgelog":
        beside = Path(sys.executable).parent / "edgelog"
        if beside.is_file() and os.access(beside, os.X_OK):
            return [str(beside)]
        if found := shutil.which("edgelog"):
            return [found]
        return [sys.executable, "-m", "edgelog"]
    if "/" in argv0:
        return [argv0]
    found = shutil.which(argv0)
    if not found:
        raise UsageError(
            f"the task's entrypoint {argv0!r} is not on PATH here", hint="run-local runs it locally"
        )
    return [found]


def map_paths(arg: str, mapping: dict[str, Path]) -> str:
    """Replace container paths (whole path components only) in one argument with their host paths."""
    for target in sorted(mapping, key=len, reverse=True):
        pattern = re.compile(r"(?<![\w./-])" + re.escape(target.rstrip("/")) + r"(?=$|/|[^\w.-])")
        arg = pattern.sub(str(mapping[target]).replace("\\", "\\\\"), arg)  # a backslash is literal
    return arg


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        data = path.read_bytes()[-65536:]
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


class LocalRunner:
    """Executes a rendered spec on simulated nodes and publishes like the S3 publisher."""

    def __init__(
        self,
        spec: RenderedSpec,
        *,
        bucket_url: str | None = None,
        workdir: Path | None = None,
        on_event: Event | None = None,
        max_parallel: int | None = None,
        timeout: int | None = None,
        engine: str = "subprocess",
    ):
        self.spec = spec
        self.job = check_runnable(spec)
        self.task = self.job.task
        self.docker = _docker_engine(spec, engine)
        self.bucket_url = bucket_url or default_bucket_url()
        self.bucket: Bucket = open_bucket(self.bucket_url)
        self.workdir = workdir
        self.on_event = on_event or (lambda _e: None)
        self.max_parallel = max_parallel or max(1, os.cpu_count() or 1)
        self.timeout = timeout if timeout is not None else self.task.execution_timeout
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._cancelled = False

    def run(self, nodes: Sequence[LocalNode], *, job_id: str | None = None) -> LocalRun:
        job_type = self.job.type
        count = self.job.requested_executions
        if count is not None:
            if count > len(nodes):
                raise UsageError(
                    f"the {job_type} job asks for Count {count} executions but only {len(nodes)}"
                    " --node given",
                    hint="pass more --node directories or --var count=N",
                )
            selected = list(nodes[:count])
            partition_count = count
        else:
            selected = list(nodes)
            partition_count = 0  # Bacalhau normalises Count to 0 for ops and daemon jobs
        run = LocalRun(
            job_id=job_id or new_job_id(),
            name=self.job.name,
            job_type=job_type,
            bucket_url=self.bucket.url,
            executions=[LocalExecution(node, new_execution_id()) for node in selected],
        )
        workers = min(self.max_parallel, max(1, len(selected)))
        with (
            tempfile.TemporaryDirectory(prefix="edgelog-run-local-", dir=self.workdir) as tmp,
            ThreadPoolExecutor(max_workers=workers) as pool,
        ):
            futures = [
                pool.submit(self._execute, run, execution, index, partition_count, Path(tmp))
                for index, execution in enumerate(run.executions)
            ]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                self._cancel()  # Ctrl-C: tasks run in their own sessions and would outlive us otherwise
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        failed = [e for e in run.executions if e.state == "Failed"]
        if failed:
            run.state = "Failed"
            run.message = f"{len(failed)} of {len(run.executions)} executions failed"
        else:
            run.state = "Completed"
        return run

    def _execute(
        self, run: LocalRun, execution: LocalExecution, index: int, partitions: int, tmp: Path
    ) -> None:
        started = time.monotonic()
        execution.state = "Running"
        self.on_event(execution)
        root = tmp / execution.execution_id
        results = root / "results"
        try:
            self._run_task(run, execution, index, partitions, root, results)
        except UsageError as exc:
            execution.state, execution.message = "Failed", exc.message
        except OSError as exc:
            execution.state, execution.message = "Failed", f"cannot run the task: {exc}"
        execution.duration_s = time.monotonic() - started
        if execution.state == "Failed":
            self.on_event(execution)
            return
        if self.task.publisher.type == "s3":
            execution.state = "Publishing"
            self.on_event(execution)
            try:
                self._publish(run, execution, results)
            except Exception as exc:  # any upload error fails the execution, as in Bacalhau's executor
                execution.state = "Failed"
                execution.message = f"publishing failed: {exc}"
                self.on_event(execution)
                return
        execution.state = "Completed"
        execution.duration_s = time.monotonic() - started
        self.on_event(execution)

    def _run_task(
        self,
        run: LocalRun,
        execution: LocalExecution,
        index: int,
        partitions: int,
        root: Path,
        results: Path,
    ) -> None:
        if self.docker is not None:
            args = (self.task, run, execution, index, partitions, root, results)
            self.docker.run_task(*args, timeout=self.timeout, cancelled=lambda: self._cancelled)
            return
        mapping: dict[str, Path] = {}
        read_only: list[Path] = []
        for source in self.task.inputs:
            if source.is_local and source.read_write:
                # A node's writable directory (the parse cache): a folder of this node for this run, never
                # the node's (read-only) log directory.
                state = root.parent / "node-state" / execution.node.node_id / source.source_path.strip("/")
                state.mkdir(parents=True, exist_ok=True)
                mapping[source.target] = state
            elif source.is_local:
                mapping[source.target] = execution.node.path
                read_only.append(execution.node.path)
            elif source.type == "inline":
                mapping[source.target] = _inline_file(source.url, root / "inline" / source.target.strip("/"))
            else:
                raise UsageError(f"run-local supports local and inline input sources, not {source.type!r}")
        for name, path in self.task.result_paths:
            folder = results / name
            folder.mkdir(parents=True, exist_ok=True)
            mapping[path] = folder
        results.mkdir(parents=True, exist_ok=True)
        scratch = root / "scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        workdir = scratch
        if self.task.working_directory:
            mapped = map_paths(self.task.working_directory, mapping)
            workdir = Path(mapped) if mapped != self.task.working_directory else scratch
        argv = [map_paths(a, mapping) for a in (*self.task.entrypoint, *self.task.parameters)]
        argv = [*resolve_entrypoint(argv[0]), *argv[1:]]
        # The host's environment (the task runs here, not in its image), minus the BACALHAU_ variables: those
        # are Bacalhau's to set (below, exactly the ones v1.9's pkg/compute/envvars.go sets; no node id).
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACALHAU_")}
        env["TMPDIR"] = str(scratch)
        for item in self.task.environment_variables:
            key, _, value = item.partition("=")
            env[key] = map_paths(value, mapping)
        for key, value in self.task.env.items():
            if isinstance(value, str) and value.startswith("env:"):
                host = value[4:]
                if host not in os.environ:
                    raise UsageError(f"Env {key} refers to host variable {host}, which is not set")
                value = os.environ[host]
            env[key] = str(value)
        env.update(
            {
                "BACALHAU_JOB_ID": run.job_id,
                "BACALHAU_EXECUTION_ID": execution.execution_id,
                "BACALHAU_JOB_TYPE": run.job_type,
                "BACALHAU_PARTITION_INDEX": str(index if partitions else 0),
                "BACALHAU_PARTITION_COUNT": str(partitions),
            }
        )
        if self._cancelled:
            raise UsageError("execution cancelled before it started")
        before = {p: _snapshot(p) for p in read_only}
        stdout_path, stderr_path = results / "stdout", results / "stderr"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=workdir,
                    env=env,
                    stdout=out,
                    stderr=err,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as exc:
                raise UsageError(f"cannot start {argv[0]}: {exc.strerror}") from None
            with self._lock:
                self._running.add(proc)
                cancelled = self._cancelled
            if cancelled:
                _kill_group(proc)
            try:
                code = proc.wait(timeout=self.timeout or None)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                execution.stdout_tail, execution.stderr_tail = _tail(stdout_path), _tail(stderr_path)
                raise UsageError(f"execution timed out after {self.timeout}s (ExecutionTimeout)") from None
            finally:
                with self._lock:
                    self._running.discard(proc)
            if self._cancelled:
                raise UsageError("execution cancelled (edgelog was interrupted)")
        (results / "exitCode").write_text(str(code), encoding="ascii")
        execution.exit_code = code
        execution.stdout_tail, execution.stderr_tail = _tail(stdout_path), _tail(stderr_path)
        for folder, snapshot in before.items():
            if _snapshot(folder) != snapshot:
                raise UsageError(f"the task changed files in its read-only input {folder}")

    def _cancel(self) -> None:
        """Stop every running task (and its children) and start no new one."""
        with self._lock:
            self._cancelled = True
            running = list(self._running)
        for proc in running:
            _kill_group(proc)
        if self.docker is not None:
            self.docker.cancel()

    def _publish(self, run: LocalRun, execution: LocalExecution, results: Path) -> None:
        """Upload the result directory as the S3 publisher does with ``Encoding: plain`` (validation refuses
        gzip), failing like it does against GCS on an object it would upload in parts."""
        publisher = self.task.publisher
        key = publisher.object_key(
            job_id=run.job_id, node_id=execution.node.node_id, execution_id=execution.execution_id
        )
        execution.published_key = key
        if not publisher.is_aws_endpoint:
            for path in sorted(results.rglob("*")):
                size = path.stat().st_size if path.is_file() else 0
                if size >= S3_MULTIPART_BYTES:
                    raise UsageError(
                        f"{path.relative_to(results).as_posix()} is {size} bytes: Bacalhau's S3 publisher "
                        f"uploads objects of {S3_MULTIPART_BYTES} bytes or more in parts with CRC32 checksum "
                        f"trailers, which {publisher.endpoint} (GCS or another S3-compatible store) rejects"
                    )
        execution.published_objects = self.bucket.upload_tree(results, key)


def _docker_engine(spec: RenderedSpec, engine: str) -> DockerEngine | None:
    """``engine="docker"``: the container runner (edgelog.jobs.docker), imported only when asked for."""
    if engine not in ("subprocess", "docker"):
        raise UsageError(f"unknown engine {engine!r}", hint="use subprocess (the default) or docker")
    if engine == "subprocess":
        return None
    from edgelog.jobs.docker import DockerEngine

    return DockerEngine(spec)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _inline_file(url: str, target: Path) -> Path:
    """Materialise an inline source where the task expects it, as Bacalhau does (pkg/storage/inline).

    A ``data:application/gzip`` URL holds a tarball and becomes a directory; anything else becomes one file.
    """
    header, sep, payload = url.partition(",")
    if not url.startswith("data:") or not sep:
        raise UsageError("inline input source needs a data: URL")
    try:
        data = base64.b64decode(payload) if header.endswith(";base64") else unquote_to_bytes(payload)
    except ValueError:
        raise UsageError("inline input source: the data: URL is not valid base64") from None
    media_type = header[len("data:") :].split(";")[0]
    if media_type == "application/gzip":
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(target, filter="data")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def run_local(
    spec: RenderedSpec,
    nodes: Sequence[LocalNode],
    *,
    bucket_url: str | None = None,
    on_event: Event | None = None,
    workdir: Path | None = None,
    max_parallel: int | None = None,
    engine: str = "subprocess",
) -> LocalRun:
    """Run a validated spec on local node directories and publish to ``bucket_url``.

    ``engine="docker"`` runs each task in its image with Bacalhau's mounts and limits (edgelog.jobs.docker).
    """
    runner = LocalRunner(
        spec,
        bucket_url=bucket_url,
        on_event=on_event,
        workdir=workdir,
        max_parallel=max_parallel,
        engine=engine,
    )
    return runner.run(nodes)
