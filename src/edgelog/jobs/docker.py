"""Run a spec's task in its real image as Bacalhau's docker executor does (``run-local --engine docker``).

Mirrors bacalhau v1.9 ``pkg/executor/docker`` (``newDockerJobContainer``, ``makeContainerMounts``,
``setupNetworkForJob``, the execution handler) and ``pkg/compute/envvars.go``:

* the image's own user (Bacalhau cannot choose one); never pulled (build the image first);
* each ``local`` input bind-mounted at its Target, read-only unless ``ReadWrite``; each ``inline`` input
  materialised as a file (mode 0600) or directory (0700) and bind-mounted;
* each ResultPath a directory ``results/<Name>`` made with mode 0755 and owned by the node's ``bacalhau`` user
  (uid :data:`NODE_BACALHAU_UID`), bind-mounted read-write at its Path;
* ``--memory`` and ``--cpus`` from Resources (the node's job defaults when unset), the network mode from
  Network, Entrypoint/Parameters/WorkingDirectory, the executor's labels and container name;
* environment: the task's Env, then the ``BACALHAU_*`` system variables, then the engine's
  EnvironmentVariables (each later one wins);
* stdout, stderr and exitCode written to the result directory; an OOM-killed container fails the execution
  with "memory limit exceeded"; ExecutionTimeout removes the container.

Bacalhau sets no ``--read-only``, ``--tmpfs``, ``--cap-drop`` or ``no-new-privileges``, so neither does this.
Not emulated: output size limits on stdout/stderr, GPUs, the ``HTTP`` network type (a proxy gateway).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgelog.errors import ConfigError, UsageError
from edgelog.jobs.model import Task
from edgelog.jobs.spec import RenderedSpec

if TYPE_CHECKING:
    from edgelog.jobs.local import LocalExecution, LocalRun

# The uid `bacalhau serve` runs as on the nodes (terraform/compute.tf bacalhau_uid); it owns /outputs, so the
# job image's user must have it (jobs/Dockerfile EDGELOG_JOB_UID).
NODE_BACALHAU_UID = 10002
# The compute node's job defaults when a task sets no Resources (bacalhau pkg/config/defaults.go).
DEFAULT_CPU = "500m"
DEFAULT_MEMORY = "512Mb"

_BYTE_UNITS = {"": 1, "b": 1}
for _i, _prefix in enumerate("kmgtpe", start=1):
    _BYTE_UNITS |= {
        _prefix: 1000**_i,
        f"{_prefix}b": 1000**_i,
        f"{_prefix}i": 1024**_i,
        f"{_prefix}ib": 1024**_i,
    }
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")
_CPU_SUFFIX = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "Ki": 1024.0,
    "Mi": 1024.0**2,
    "Gi": 1024.0**3,
}


def parse_bytes(text: str) -> int:
    """A size as go-humanize's ParseBytes reads Resources.Memory: ``1Gb`` is 10^9 bytes, ``1Gi`` 2^30."""
    m = _QUANTITY.match(str(text))
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _BYTE_UNITS:
        raise UsageError(f"invalid memory value {text!r}", hint="use e.g. 512Mb, 1Gb or 1Gi")
    return int(float(m.group(1)) * _BYTE_UNITS[unit])


def parse_cpu(text: str) -> float:
    """A Kubernetes CPU quantity as Bacalhau reads Resources.CPU: ``500m`` is 0.5 CPUs."""
    m = _QUANTITY.match(str(text))
    if m is None or m.group(2) not in _CPU_SUFFIX:
        raise UsageError(f"invalid CPU value {text!r}", hint='use e.g. "500m" or "1"')
    return float(m.group(1)) * _CPU_SUFFIX[m.group(2)]


def docker_cli() -> str:
    """The docker CLI: ``$EDGELOG_DOCKER``, else ``docker`` on PATH (it honours ``$DOCKER_HOST``)."""
    cli = os.environ.get("EDGELOG_DOCKER") or shutil.which("docker")
    if not cli:
        raise UsageError("--engine docker needs the docker CLI, and it is not on PATH", hint="install Docker")
    return cli


@dataclass(frozen=True)
class _Container:
    """What the spec asks of the container, beyond what the subprocess runner reads."""

    image: str
    network: str
    cpus: float
    memory: int


def _container(spec: RenderedSpec) -> _Container:
    task = spec.spec.task
    if not task.image:
        raise ConfigError(spec.path, "Tasks[0].Engine.Params.Image", "--engine docker needs an Image")
    if task.gpu not in ("", "0"):
        raise ConfigError(spec.path, "Tasks[0].Resources.GPU", "run-local cannot give a container GPUs")
    network = (task.network or "default").lower()
    modes = {"none": "none", "host": "host", "full": "host", "bridge": "bridge", "default": "bridge"}
    if network not in modes:
        raise ConfigError(
            spec.path, "Tasks[0].Network.Type", f"run-local cannot emulate the {network!r} network (a proxy)"
        )
    return _Container(
        image=task.image,
        network=modes[network],
        cpus=parse_cpu(task.cpu or DEFAULT_CPU),
        memory=parse_bytes(task.memory or DEFAULT_MEMORY),
    )


class DockerEngine:
    """Executes one spec's task per node as a container of a local Docker engine."""

    def __init__(self, spec: RenderedSpec, *, node_uid: int = NODE_BACALHAU_UID):
        self.spec = spec
        self.container = _container(spec)
        self.node_uid = node_uid
        self.cli = docker_cli()
        self._lock = threading.Lock()
        self._live: set[str] = set()
        probe = self._docker("image", "inspect", "--format", "{{.Id}}", self.container.image, check=False)
        if probe.returncode != 0:
            if "No such image" not in probe.stderr:
                raise UsageError(f"the Docker engine did not answer: {probe.stderr.strip()[-500:]}")
            raise UsageError(
                f"image {self.container.image} is not in the local Docker engine (run-local never pulls)",
                hint=f"build it: docker build -f jobs/Dockerfile -t {self.container.image} .",
            )

    def _docker(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        try:
            res = subprocess.run(
                [self.cli, *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise UsageError(f"docker {args[0]} did not answer within {timeout:.0f}s") from None
        if check and res.returncode != 0:
            raise UsageError(f"docker {args[0]} failed: {res.stderr.strip()[-500:]}")
        return res

    def run_task(
        self,
        task: Task,
        run: LocalRun,
        execution: LocalExecution,
        index: int,
        partitions: int,
        root: Path,
        results: Path,
        *,
        timeout: int | None,
        cancelled: Callable[[], bool],
    ) -> None:
        """Run one execution; sets its exit code and output tails, raises UsageError when it failed."""
        from edgelog.jobs.local import _inline_file, _tail

        mounts: list[str] = []
        owned: list[Path] = []  # what the node's bacalhau user owns: inline inputs and result directories
        for source in task.inputs:
            if source.is_local:
                readonly = "" if source.read_write else ",readonly"
                mounts.append(f"type=bind,source={execution.node.path},target={source.target}{readonly}")
            elif source.type == "inline":
                data = _inline_file(source.url, root / "inline" / source.target.strip("/"))
                data.chmod(0o700 if data.is_dir() else 0o600)
                mounts.append(f"type=bind,source={data},target={source.target}")
                owned.append(data)
            else:
                raise UsageError(f"run-local supports local and inline input sources, not {source.type!r}")
        results.mkdir(parents=True, exist_ok=True)
        for name, path in task.result_paths:
            folder = results / name
            folder.mkdir(mode=0o755)
            folder.chmod(0o755)
            mounts.append(f"type=bind,source={folder},target={path}")
            owned.append(folder)
        self._give_to_node_user(owned)

        env = {k: self._resolve(k, v) for k, v in task.env.items()}
        env |= {
            "BACALHAU_EXECUTION_ID": execution.execution_id,
            "BACALHAU_JOB_ID": run.job_id,
            "BACALHAU_JOB_TYPE": run.job_type,
            "BACALHAU_PARTITION_INDEX": str(index if partitions else 0),
            "BACALHAU_PARTITION_COUNT": str(partitions),
        }
        env |= dict(item.partition("=")[::2] for item in task.environment_variables)
        node = execution.node.node_id
        name = f"bacalhau-{node}-{run.job_id}-{execution.execution_id}-executor"
        args = ["create", "--name", name, "--network", self.container.network]
        args += ["--label", f"bacalhau-executor={node}", "--label", f"bacalhau-jobID={node}{run.job_id}"]
        args += ["--label", f"bacalhau-executionID={node}{execution.execution_id}"]
        if self.container.network != "none":
            args += ["--add-host", "host.docker.internal:host-gateway"]
        if self.container.memory:
            args += ["--memory", str(self.container.memory)]
        if self.container.cpus:
            args += ["--cpus", repr(self.container.cpus)]
        for mount in mounts:
            args += ["--mount", mount]
        for key in sorted(env):
            args += ["--env", f"{key}={env[key]}"]
        if task.working_directory:
            args += ["--workdir", task.working_directory]
        entrypoint = list(task.entrypoint)
        if entrypoint:
            args += ["--entrypoint", entrypoint[0]]
        args += [self.container.image, *entrypoint[1:], *task.parameters]

        if cancelled():
            raise UsageError("execution cancelled before it started")
        self._docker(*args)
        with self._lock:
            self._live.add(name)
        stdout_path, stderr_path = results / "stdout", results / "stderr"
        try:
            with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
                proc = subprocess.Popen(
                    [self.cli, "start", "--attach", name], stdout=out, stderr=err, stdin=subprocess.DEVNULL
                )
                try:
                    proc.wait(timeout=timeout or None)
                except subprocess.TimeoutExpired:
                    self._remove(name)
                    proc.wait(timeout=60)
                    execution.stdout_tail, execution.stderr_tail = _tail(stdout_path), _tail(stderr_path)
                    raise UsageError(f"execution timed out after {timeout}s (ExecutionTimeout)") from None
            if cancelled():
                raise UsageError("execution cancelled (edgelog was interrupted)")
            state = self._docker(
                "inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", name
            ).stdout
        finally:
            self._remove(name)
            self._take_back(root)
        code_text, oom = state.split()
        code = int(code_text)
        (results / "exitCode").write_text(str(code), encoding="ascii")
        execution.exit_code = code
        execution.stdout_tail, execution.stderr_tail = _tail(stdout_path), _tail(stderr_path)
        if oom == "true":
            raise UsageError("memory limit exceeded")

    def _resolve(self, key: str, value: Any) -> str:
        if isinstance(value, str) and value.startswith("env:"):
            host = value[4:]
            if host not in os.environ:
                raise UsageError(f"Env {key} refers to host variable {host}, which is not set")
            return os.environ[host]
        return str(value)

    def _give_to_node_user(self, paths: list[Path]) -> None:
        """Hand inline inputs and result directories to the node's bacalhau uid, as on a node.

        As root this is a chown; otherwise a root container of the same image does it (a Docker user can).
        """
        if not paths or os.geteuid() == self.node_uid:
            return
        if os.geteuid() == 0:
            for path in paths:
                os.chown(path, self.node_uid, self.node_uid)
            return
        self._chown_in_container(paths, f"{self.node_uid}:{self.node_uid}", recursive=False)

    def _take_back(self, root: Path) -> None:
        """Without root, give the execution's files back to the invoking user to publish and remove them."""
        if os.geteuid() in (0, self.node_uid):
            return
        with contextlib.suppress(UsageError, subprocess.TimeoutExpired):
            self._chown_in_container([root], f"{os.geteuid()}:{os.getegid()}", recursive=True)

    def _chown_in_container(self, paths: list[Path], owner: str, *, recursive: bool) -> None:
        common = Path(os.path.commonpath([str(p.parent if p.is_file() else p) for p in paths]))
        targets = [f"/work/{p.relative_to(common)}" for p in paths]
        res = self._docker(
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "0:0",
            "--entrypoint",
            "chown",
            "--mount",
            f"type=bind,source={common},target=/work",
            self.container.image,
            *(["-R"] if recursive else []),
            owner,
            *targets,
            check=False,
        )
        if res.returncode != 0:
            raise UsageError(
                f"cannot give {paths[0]} to uid {owner} as the node would: {res.stderr.strip()[-300:]}",
                hint="run edgelog as root (sudo) for --engine docker",
            )

    def _remove(self, name: str) -> None:
        with self._lock:
            self._live.discard(name)
        self._docker("rm", "--force", name, check=False)

    def cancel(self) -> None:
        """Remove every running container of this engine (Ctrl-C)."""
        with self._lock:
            live = list(self._live)
        for name in live:
            self._remove(name)
