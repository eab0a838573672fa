"""Support code (no tests) for tests/test_images.py: a private Docker daemon, the base image, image builds.

Debian's ``docker.io`` runs here as a private daemon (own data root, exec root, pid file and socket) that
touches nothing on the host network: no ``docker0`` bridge, no iptables rules (``--bridge=none
--iptables=false``). Builds use the host network (``docker build --network host``); test containers need
none, as on a node. Docker Hub is unreachable, so the pinned base ``python:3.11.7-slim-bookworm`` is replaced
by a stand-in built from ``debootstrap --variant=minbase bookworm`` + Debian's python3 in a venv at
``/usr/local`` (``python``/``pip`` first on PATH, as in the official image), trusting the host's CA
certificates so pip verifies PyPI through this machine's egress proxy. The stand-in is cached as a
``docker save`` tarball keyed by the hash of its recipe; nothing is ever pulled.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from support.tools import REPO_ROOT

# The CLI of Debian's docker.io package: BuildKit built in. A newer CLI without buildx may come first on PATH
# (/usr/local/bin/docker) and would fall back to the legacy builder, which ignores <Dockerfile>.dockerignore.
DOCKER = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"
DEBOOTSTRAP = "/usr/sbin/debootstrap"
GENERATOR_DOCKERFILE = "log-generator/Dockerfile"
JOB_DOCKERFILE = "jobs/Dockerfile"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEBIAN_MIRROR = "http://deb.debian.org/debian"


def base_image_name() -> str:
    """The pinned base of both Dockerfiles (every FROM line names the same image)."""
    names = set()
    for dockerfile in (GENERATOR_DOCKERFILE, JOB_DOCKERFILE):
        text = (REPO_ROOT / dockerfile).read_text()
        names |= {m.group(1) for m in re.finditer(r"^FROM\s+(\S+)", text, re.M)}
    assert len(names) == 1, f"the Dockerfiles use different base images: {sorted(names)}"
    return names.pop()


def cache_dir() -> Path:
    """Where the stand-in base tarball is kept between runs ($EDGELOG_TEST_CACHE, else ~/.cache)."""
    root = os.environ.get("EDGELOG_TEST_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "edgelog-tests"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Timings:
    """What the container tests measured, printed in pytest's terminal summary."""

    lines: list[str] = field(default_factory=list)
    started: float | None = None  # time.monotonic() when the daemon started

    def add(self, line: str) -> None:
        self.lines.append(line)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:  # a pytest hook (registered plugin)
        if self.lines:
            terminalreporter.section("container images")
            for line in self.lines:
                terminalreporter.write_line(line)


class DockerDaemon:
    """A private dockerd for one test session; stopped by its PID.

    Its data root is a tmpfs of at most ``data_size`` (about 1 GB is used): image layers written to a disk
    mounted with ``discard`` take minutes to delete again (a few ms per file), and nothing there outlives the
    session anyway.
    """

    def __init__(self, root: Path, *, data_size: str = "4g"):
        self.root = root
        self.data = root / "data"
        self.data_size = data_size
        self.socket = root / "docker.sock"
        self.pidfile = root / "dockerd.pid"
        self.log = root / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.data_mounted = False

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(
            DOCKER_HOST=f"unix://{self.socket}",
            DOCKER_BUILDKIT="1",
            DOCKER_CONFIG=str(self.root / "cli-config"),  # never the user's ~/.docker (credentials, contexts)
        )
        return env

    def start(self, timeout: float = 60) -> float:
        """Start dockerd and wait (bounded) until it answers; returns the seconds it took."""
        for sub in ("data", "exec", "cli-config"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        subprocess.run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={self.data_size},mode=0711",
                "edgelog-dockerd",
                str(self.data),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        self.data_mounted = True
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    DOCKERD,
                    "--data-root",
                    str(self.data),
                    "--exec-root",
                    str(self.root / "exec"),
                    "-p",
                    str(self.pidfile),
                    "-H",
                    f"unix://{self.socket}",
                    "--bridge=none",
                    "--iptables=false",
                    "--ip6tables=false",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dockerd exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.socket.exists():
                res = self.run("version", "--format", "{{.Server.Version}}", check=False, timeout=10)
                if res.returncode == 0:
                    return time.monotonic() - t0
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"dockerd did not answer within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def run(
        self,
        *args: str,
        timeout: float = 120,
        check: bool = True,
        input: bytes | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """One docker CLI command; with check, a failure raises with the command's output."""
        res = subprocess.run(
            [DOCKER, *args],
            env=self.env,
            capture_output=True,
            timeout=timeout,
            check=False,
            input=input,
        )
        out = subprocess.CompletedProcess(
            res.args, res.returncode, res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args[:3])} ... exited {res.returncode}:\n{out.stderr[-4000:]}"
            )
        return out

    def stop(self, timeout: float = 60) -> None:
        """Remove all containers, SIGTERM dockerd by its PID (SIGKILL after ``timeout``), unmount its data."""
        try:
            self._stop_daemon(timeout)
        finally:
            if self.data_mounted:
                res = subprocess.run(["umount", str(self.data)], capture_output=True, timeout=60, check=False)
                if res.returncode != 0:  # something still mounted below it: detach it all
                    subprocess.run(
                        ["umount", "--recursive", "--lazy", str(self.data)], timeout=60, check=False
                    )
                self.data_mounted = False

    def _stop_daemon(self, timeout: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired, AssertionError):
            ids = self.run("ps", "-aq", check=False, timeout=30).stdout.split()
            if ids:
                self.run("rm", "-f", *ids, check=False, timeout=120)
        pid = int(self.pidfile.read_text()) if self.pidfile.exists() else self.proc.pid
        assert pid == self.proc.pid, f"pid file names {pid}, we started {self.proc.pid}"
        os.kill(pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    # --- containers and images ------------------------------------------------------------------------------

    def inspect(self, name: str) -> dict[str, Any]:
        return json.loads(self.run("inspect", name).stdout)[0]

    def image_size(self, image: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", image).stdout)

    def has_image(self, image: str) -> bool:
        return self.run("image", "inspect", image, check=False).returncode == 0

    def wait_health(self, name: str, status: str = "healthy", timeout: float = 60) -> float:
        """Wait (bounded) until the container's health is ``status``; returns the seconds waited."""
        t0 = time.monotonic()
        last: dict[str, Any] = {}
        while time.monotonic() < t0 + timeout:
            last = self.inspect(name)["State"]
            if not last.get("Running"):
                raise AssertionError(f"{name} stopped: {last}\n{self.logs(name)}")
            if (last.get("Health") or {}).get("Status") == status:
                return time.monotonic() - t0
            time.sleep(0.2)
        raise AssertionError(f"{name} not {status} within {timeout}s: {last.get('Health')}")

    def logs(self, name: str) -> str:
        res = self.run("logs", name, check=False)
        return res.stdout + res.stderr


# --- the stand-in base image --------------------------------------------------------------------------------

BASE_PACKAGES = ("ca-certificates", "netbase", "tzdata", "python3-venv")
DEBIAN_SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# What debian:bookworm-slim (debuerreotype), and so the python slim images, configure: no apt caches or
# package lists left in layers, compressed indexes, no docs/man pages/locales from packages installed later.
SLIM_CONFIG = {
    "etc/apt/apt.conf.d/docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
        '/var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "etc/apt/apt.conf.d/docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "etc/apt/apt.conf.d/docker-no-languages": 'Acquire::Languages "none";\n',
    "etc/apt/apt.conf.d/docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
    "etc/dpkg/dpkg.cfg.d/docker": "".join(
        f"{rule}\n"
        for rule in (
            "path-exclude /usr/share/doc/*",
            "path-include /usr/share/doc/*/copyright",
            "path-exclude /usr/share/man/*",
            "path-exclude /usr/share/groff/*",
            "path-exclude /usr/share/info/*",
            "path-exclude /usr/share/lintian/*",
            "path-exclude /usr/share/linda/*",
            "path-exclude /usr/share/locale/*",
        )
    ),
}
BASE_CHANGES = (
    "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


def _build_base_rootfs(rootfs: Path, log: Path) -> None:
    """debootstrap minbase + python3-venv; a venv at /usr/local; the host's CA bundle; apt caches removed."""
    with log.open("ab") as out:
        subprocess.run(
            [
                DEBOOTSTRAP,
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                "bookworm",
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=900,
        )
        subprocess.run(
            ["chroot", str(rootfs), "/usr/bin/python3", "-m", "venv", "/usr/local"],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=300,
        )
    for script in (rootfs / "usr/local/bin").glob("[Aa]ctivate*"):
        script.unlink()
    for junk in ("var/cache/apt", "var/lib/apt/lists"):
        for child in (rootfs / junk).iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    for rel, text in SLIM_CONFIG.items():
        (rootfs / rel).write_text(text)
    # What the dpkg excludes would have kept out, had they been there during debootstrap (slimify).
    for folder in ("man", "groff", "info", "lintian", "linda", "locale"):
        for child in (rootfs / "usr/share" / folder).glob("*"):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    for doc in (rootfs / "usr/share/doc").rglob("*"):
        if not doc.is_dir() and doc.name != "copyright":
            doc.unlink()
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(DEBIAN_SOURCES)
    # Test stand-in only: trust this machine's CAs (its egress proxy re-signs PyPI), for apt and for pip.
    shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
    (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")


def base_recipe_key() -> str:
    """Hash of everything the stand-in is made from: the recipe's code and constants, and the host CAs."""
    h = hashlib.sha256()
    h.update(inspect.getsource(_build_base_rootfs).encode())
    h.update(
        repr(
            (BASE_PACKAGES, DEBIAN_SOURCES, SLIM_CONFIG, BASE_CHANGES, DEBIAN_MIRROR, base_image_name())
        ).encode()
    )
    h.update(HOST_CA_BUNDLE.read_bytes())
    return h.hexdigest()[:16]


def ensure_base_image(daemon: DockerDaemon, work: Path) -> tuple[str, float]:
    """Load the cached stand-in, or build and cache it; returns (what happened, seconds)."""
    image = base_image_name()
    key = base_recipe_key()
    tarball = cache_dir() / f"{image.replace(':', '-').replace('/', '_')}-standin-{key}.tar"
    t0 = time.monotonic()
    if tarball.is_file():
        daemon.run("load", "--input", str(tarball), timeout=600)
        return f"loaded from {tarball}", time.monotonic() - t0
    rootfs = work / "rootfs"
    log = work / "base-image.log"
    try:
        _build_base_rootfs(rootfs, log)
        tar = subprocess.Popen(
            ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE
        )
        changes = [arg for change in BASE_CHANGES for arg in ("--change", change)]
        imported = subprocess.run(
            [DOCKER, "import", *changes, "-", image],
            stdin=tar.stdout,
            env=daemon.env,
            capture_output=True,
            timeout=600,
            check=False,
        )
        assert tar.stdout is not None
        tar.stdout.close()
        assert tar.wait(timeout=600) == 0 and imported.returncode == 0, imported.stderr.decode()
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    partial = tarball.with_name(f".{tarball.name}.{os.getpid()}")
    daemon.run("save", "--output", str(partial), image, timeout=600)
    partial.rename(tarball)  # atomic: a concurrent run sees the whole tarball or none
    for stale in tarball.parent.glob(f"{tarball.name.split('-standin-')[0]}-standin-*.tar"):
        if stale != tarball:
            stale.unlink(missing_ok=True)
    return f"built (cache miss, saved to {tarball})", time.monotonic() - t0


# --- build context and builds -------------------------------------------------------------------------------


def export_tracked_tree(dest: Path, repo: Path = REPO_ROOT) -> int:
    """Copy the working tree's tracked files (git ls-files) to ``dest``: nothing untracked can leak in."""
    res = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached"], capture_output=True, check=True, timeout=60
    )
    count = 0
    for rel in res.stdout.decode().split("\0"):
        if not rel:
            continue
        src, dst = repo / rel, dest / rel
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the working tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dst)
        count += 1
    return count


def build_image(daemon: DockerDaemon, context: Path, dockerfile: str, tag: str, log: Path) -> float:
    """``docker build`` with BuildKit from ``context``; never pulls. Returns seconds; raises with the log."""
    t0 = time.monotonic()
    res = daemon.run(
        "build",
        "--network",
        "host",
        "--progress",
        "plain",
        "--file",
        str(context / dockerfile),
        "--tag",
        tag,
        str(context),
        timeout=1200,
        check=False,
    )
    log.write_text(res.stdout + res.stderr)
    if res.returncode != 0:
        tail = "\n".join((res.stdout + res.stderr).splitlines()[-40:])
        raise AssertionError(f"docker build -f {dockerfile} failed ({res.returncode}):\n{tail}")
    return time.monotonic() - t0


# --- docker-compose.yml services as plain `docker run` ------------------------------------------------------

_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose-spec interpolation: ${VAR}, $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $$ -> $."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        present = name in env
        val = env.get(name, "")
        if op in (":-", "-"):
            use_default = (not present) or (op == ":-" and val == "")
            return arg if use_default else val
        if op in (":?", "?"):
            if (not present) or (op == ":?" and val == ""):
                raise AssertionError(f"compose: required variable {name} is not set: {arg}")
            return val
        if op in (":+", "+"):
            use_alt = present and (op == "+" or val != "")
            return arg if use_alt else ""
        return val

    return _VAR.sub(sub, value)


def load_compose(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The compose file after YAML merge keys and interpolation, as docker compose would see it."""
    data = yaml.safe_load(path.read_text())
    return {k: v for k, v in interpolate(data, env).items() if not str(k).startswith("x-")}


def duration_seconds(text: str) -> float:
    """A compose duration (``1m30s``, ``15s``, ``10m``, ``500ms``) in seconds."""
    total, rest = 0.0, str(text).strip()
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", rest):
        total += float(number) * units[unit]
    assert re.fullmatch(r"(\d+(\.\d+)?(ms|us|h|m|s))+", rest), f"not a compose duration: {text!r}"
    return total


# The service keys the translation understands; any other key fails the test rather than being dropped.
_SERVICE_KEYS = {
    "image",
    "build",
    "user",
    "init",
    "restart",
    "read_only",
    "tmpfs",
    "cap_drop",
    "security_opt",
    "volumes",
    "logging",
    "command",
    "stop_grace_period",
    "environment",
    "depends_on",
    "healthcheck",
}


def compose_run_args(
    project: str, name: str, service: Mapping[str, Any], base_dir: Path, *, health_interval: str | None = None
) -> list[str]:
    """``docker run -d`` arguments equivalent to one compose service (the keys docker-compose.yml uses).

    ``health_interval`` shortens the health-check interval for a test (the check itself is unchanged).
    """
    unknown = set(service) - _SERVICE_KEYS
    assert not unknown, f"service {name}: no docker run translation for {sorted(unknown)}"
    args = [
        "run",
        "--detach",
        "--name",
        f"{project}-{name}-1",
        "--label",
        f"com.docker.compose.project={project}",
    ]
    if "user" in service:
        args += ["--user", str(service["user"])]
    if service.get("init"):
        args.append("--init")
    if "restart" in service:
        args += ["--restart", str(service["restart"])]
    if service.get("read_only"):
        args.append("--read-only")
    for path in service.get("tmpfs") or []:
        args += ["--tmpfs", str(path)]
    for cap in service.get("cap_drop") or []:
        args += ["--cap-drop", str(cap)]
    for opt in service.get("security_opt") or []:
        args += ["--security-opt", str(opt)]
    for volume in service.get("volumes") or []:
        source, target, *mode = str(volume).split(":")
        if source.startswith((".", "/")):
            source = str((base_dir / source).resolve())
            spec = f"type=bind,source={source},target={target}"
        else:
            spec = f"type=volume,source={project}_{source},target={target}"
        if mode == ["ro"]:
            spec += ",readonly"
        args += ["--mount", spec]
    logging = service.get("logging") or {}
    if logging:
        args += ["--log-driver", str(logging["driver"])]
        for key, value in (logging.get("options") or {}).items():
            args += ["--log-opt", f"{key}={value}"]
    if "stop_grace_period" in service:
        args += ["--stop-timeout", str(round(duration_seconds(service["stop_grace_period"])))]
    for key, value in (service.get("environment") or {}).items():
        args += ["--env", f"{key}={'' if value is None else value}"]
    health = service.get("healthcheck") or {}
    if health:
        kind, *command = health["test"]
        assert kind == "CMD-SHELL" and len(command) == 1, health["test"]
        args += ["--health-cmd", command[0]]
        for key, flag in (("timeout", "--health-timeout"), ("start_period", "--health-start-period")):
            if key in health:
                args += [flag, str(health[key])]
        if "retries" in health:
            args += ["--health-retries", str(health["retries"])]
    interval = health_interval or health.get("interval")
    if interval:
        args += ["--health-interval", str(interval)]
    args.append(str(service["image"]))
    args += [str(c) for c in service.get("command") or []]
    return args


def service_order(services: Mapping[str, Any]) -> list[str]:
    """Services in depends_on order (compose starts dependencies first)."""
    order: list[str] = []

    def visit(name: str, path: Iterable[str] = ()) -> None:
        assert name not in path, f"depends_on cycle at {name}"
        if name in order:
            return
        for dep in services[name].get("depends_on") or {}:
            visit(dep, (*path, name))
        order.append(name)

    for name in services:
        visit(name)
    return order


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for p in (path, *path.rglob("*")):
        os.chown(p, uid, gid, follow_symlinks=False)


def new_tempdir(prefix: str) -> Path:
    """A short path under /tmp (the daemon's sockets live below it and must stay under 108 bytes)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
