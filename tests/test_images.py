"""Both images built and run in a real container engine (Debian's docker.io, a private daemon per session).

The images are built from the tracked files of the working tree (nothing untracked can leak in) on a stand-in
for the pinned base image (tests/support/docker.py). Then: versions and users; the compose services run with
plain `docker run` (generator live into bind mounts, health check, a clean stop, the rotation sidecar
publishing with zero loss); the job image run the way Bacalhau's docker executor runs it, against `edgelog
analyze` on the host; `edgelog job run-local --engine docker`; pinned build dependencies, no cron, sizes.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from support.docker import (
    DEBOOTSTRAP,
    DOCKER,
    DOCKERD,
    GENERATOR_DOCKERFILE,
    JOB_DOCKERFILE,
    DockerDaemon,
    Timings,
    base_image_name,
    build_image,
    chown_tree,
    compose_run_args,
    ensure_base_image,
    export_tracked_tree,
    load_compose,
    new_tempdir,
    service_order,
)
from support.rotation import VENV_BIN, all_lines, check_published, json_request_ids, make_layout, read_lines
from support.tools import missing_tool

# dockerd, debootstrap and the docker.io CLI (/usr/bin/docker, checked by the fixture: PATH may hold another).
pytestmark = [pytest.mark.needs_tool("dockerd", "debootstrap", "docker"), pytest.mark.docker]

REPO = Path(__file__).resolve().parent.parent
GENERATOR_UID = 10001  # log-generator/Dockerfile EDGELOG_UID
JOB_UID = 10002  # jobs/Dockerfile EDGELOG_JOB_UID = the nodes' bacalhau uid (terraform/compute.tf)
GENERATOR_TAG = "edgelog-generator:test"
JOB_TAG = "edgelog-job:test"
EDGELOG = str(VENV_BIN / "edgelog")


@dataclass
class Images:
    generator: str
    job: str
    base: str
    context: Path


@pytest.fixture(scope="session")
def timings(request: pytest.FixtureRequest) -> Timings:
    t = Timings()
    request.config.pluginmanager.register(t, "edgelog-container-timings")
    return t


@pytest.fixture(scope="session")
def docker(timings: Timings) -> Iterator[DockerDaemon]:
    """A private dockerd for the session (needs root, as dockerd does)."""
    for tool in (DOCKERD, DOCKER, DEBOOTSTRAP):
        if not Path(tool).is_file():
            missing_tool(f"{tool} is missing (scripts/test.sh installs docker.io and debootstrap)")
    if os.geteuid() != 0:
        missing_tool("dockerd and debootstrap need root")
    daemon = DockerDaemon(new_tempdir("edgelog-dockerd-"))
    timings.started = time.monotonic()
    seconds = daemon.start()
    timings.add(f"dockerd started in {seconds:.1f}s ({daemon.root})")
    try:
        yield daemon
    finally:
        t0 = time.monotonic()
        daemon.stop()
        shutil.rmtree(daemon.root, ignore_errors=True)
        timings.add(f"dockerd stopped and its data root removed in {time.monotonic() - t0:.0f}s")


@pytest.fixture(scope="module", autouse=True)
def _module_clock(timings: Timings) -> Iterator[None]:
    """The full cycle: daemon start, base image, both builds and every test of this module."""
    yield
    if timings.started is not None:
        timings.add(f"full cycle (daemon, base, builds, tests): {time.monotonic() - timings.started:.0f}s")


@pytest.fixture(scope="session")
def images(docker: DockerDaemon, timings: Timings) -> Iterator[Images]:
    """The stand-in base (cached), then both images built from the tracked files of the working tree."""
    work = new_tempdir("edgelog-images-")
    try:
        what, seconds = ensure_base_image(docker, work)
        base = base_image_name()
        timings.add(f"base {base} (stand-in): {what} in {seconds:.0f}s")
        context = work / "context"
        files = export_tracked_tree(context)
        for dockerfile, tag in ((GENERATOR_DOCKERFILE, GENERATOR_TAG), (JOB_DOCKERFILE, JOB_TAG)):
            seconds = build_image(docker, context, dockerfile, tag, work / f"{tag.split(':')[0]}.build.log")
            timings.add(f"{tag}: built from {files} tracked files in {seconds:.0f}s")
        yield Images(generator=GENERATOR_TAG, job=JOB_TAG, base=base, context=context)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(docker: DockerDaemon, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return docker.run("run", "--rm", "--network", "none", *args, timeout=timeout, check=False)


# --- versions, users, pins, packages, sizes -----------------------------------------------------------------


def test_both_images_print_the_version_and_run_as_their_non_root_users(
    docker: DockerDaemon, images: Images
) -> None:
    version = f"edgelog {md.version('edgelog')}"
    res = _run(docker, images.generator, "edgelog", "--version")  # the entrypoint passes other commands on
    assert res.returncode == 0 and res.stdout.strip() == version, res.stdout + res.stderr
    res = _run(docker, images.job, "--version")  # ENTRYPOINT ["edgelog"]
    assert res.returncode == 0 and res.stdout.strip() == version, res.stdout + res.stderr
    for image, uid in ((images.generator, GENERATOR_UID), (images.job, JOB_UID)):
        assert docker.inspect(image)["Config"]["User"] == f"{uid}:{uid}"
        res = _run(docker, "--entrypoint", "id", image)
        assert res.stdout.split()[:2] == [f"uid={uid}(edgelog)", f"gid={uid}(edgelog)"], res.stdout


def _pins(path: Path) -> dict[str, str]:
    """NAME==VERSION lines of a requirements/constraints file, by canonical name."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


_DISTS = """
import importlib.metadata as m, json
try:
    wheel = m.distribution("edgelog").read_text("WHEEL")
except m.PackageNotFoundError:
    wheel = None
print(json.dumps({"wheel": wheel, "dists": {d.metadata["Name"]: d.version for d in m.distributions()}}))
"""


def _installed(docker: DockerDaemon, image: str) -> dict:
    res = _run(docker, "--entrypoint", "python", image, "-c", _DISTS)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_build_dependencies_and_runtime_dependencies_are_pinned(docker: DockerDaemon, images: Images) -> None:
    """edgelog's wheel was built by the pinned setuptools (no isolated, unpinned build env); every installed
    distribution is pinned by constraints.txt or comes with the base, so no build tool is left behind."""
    build = _pins(REPO / "log-generator" / "build-requirements.txt")
    build_requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    for requirement in build_requires:
        req = Requirement(requirement)
        pinned = build.get(canonicalize_name(req.name))
        assert pinned and req.specifier.contains(pinned), f"build-requirements.txt does not satisfy {req}"
    runtime = _pins(REPO / "log-generator" / "constraints.txt")
    base = _installed(docker, images.base)["dists"]
    problems = []
    for image in (images.generator, images.job):
        info = _installed(docker, image)
        generator = re.search(r"^Generator: (\S+) \((\S+)\)$", info["wheel"] or "", re.M)
        tool, version = (
            (canonicalize_name(generator.group(1)), generator.group(2)) if generator else ("?", "?")
        )
        if build.get(tool) != version:
            problems.append(
                f"{image}: edgelog's wheel was built by {tool} {version}, build-requirements.txt pins "
                f"{build.get(tool)} (an unpinned, isolated build environment?)"
            )
        for name, version in info["dists"].items():
            key = canonicalize_name(name)
            expected = md.version("edgelog") if key == "edgelog" else runtime.get(key, base.get(name))
            if version != expected:
                problems.append(f"{image}: {name} {version} is neither pinned ({expected}) nor the base's")
    assert not problems, "\n".join(problems)


def test_generator_image_has_logrotate_but_no_cron(docker: DockerDaemon, images: Images) -> None:
    """logrotate Depends on `cron | anacron | cron-daemon | systemd-sysv`; the rotation sidecar is the
    scheduler, so no cron daemon (nor its setgid crontab) may come with it, and dpkg stays consistent."""
    status = (
        "dpkg-query -W -f='${Package} ${db:Status-Status}\\n' logrotate cron anacron systemd-sysv 2>/dev/null"
    )
    res = _run(docker, "--entrypoint", "sh", images.generator, "-c", status)
    installed = {line.split()[0] for line in res.stdout.splitlines() if line.endswith(" installed")}
    assert "logrotate" in installed, res.stdout + res.stderr
    assert not installed & {"cron", "anacron", "systemd-sysv"}, res.stdout
    res = _run(
        docker, "--user", "0", "--entrypoint", "sh", images.generator, "-c", "apt-get check && dpkg --audit"
    )
    assert res.returncode == 0, res.stdout + res.stderr
    res = _run(docker, "--entrypoint", "sh", images.generator, "-c", "logrotate --version")
    assert res.returncode == 0 and "logrotate 3.21.0" in res.stdout + res.stderr


def _documented_bounds() -> dict[str, int]:
    """The size bounds in docs/containers.md: `| <image> | <MB over the base> |` rows of its size table."""
    text = (REPO / "docs" / "containers.md").read_text()
    section = text.split("## Image sizes", 1)[1].split("\n## ", 1)[0]
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^\| `([\w-]+)` \| \d+ MB \| (\d+) MB \|", section, re.M)
    }


def test_image_sizes_stay_within_the_documented_bounds(
    docker: DockerDaemon, images: Images, timings: Timings
) -> None:
    bounds = _documented_bounds()
    assert set(bounds) == {"edgelog-generator", "edgelog-job"}, bounds
    base = docker.image_size(images.base)
    timings.add(f"{images.base} (stand-in) is {base / 1e6:.0f} MB")
    problems = []
    for image in (images.generator, images.job):
        size = docker.image_size(image)
        added = (size - base) / 1e6
        bound = bounds[image.split(":")[0]]
        timings.add(f"{image}: {size / 1e6:.0f} MB, {added:.0f} MB over the base (bound {bound} MB)")
        if added > bound:
            problems.append(f"{image} adds {added:.0f} MB to its base, over the documented {bound} MB")
    assert not problems, problems


# --- the compose services, run with plain docker run --------------------------------------------------------


def test_compose_services_generate_rotate_and_stop_without_losing_a_line(
    docker: DockerDaemon, images: Images, tmp_path: Path, timings: Timings
) -> None:
    """docker-compose.yml's generator + rotator as `docker run`: live into bind mounts, healthy, a clean
    stop within a second, and every line the generator counted published once in a complete .gz file."""
    layout = make_layout(tmp_path, tmp_path, node="c1", ext=".jsonl")
    for folder in (layout.live, layout.out, layout.state):
        chown_tree(folder, GENERATOR_UID, GENERATOR_UID)
    env = {
        "EDGELOG_IMAGE": images.generator,
        "EDGELOG_NODE": "c1",
        "EDGELOG_FORMAT": "json",
        "EDGELOG_RATE": "1000",
        "EDGELOG_FLAT": "1",
        "EDGELOG_SEED": "11",
        "EDGELOG_ROTATE_INTERVAL": "2",
        "EDGELOG_GZIP_LEVEL": "1",
        "EDGELOG_LIVE_VOLUME": str(layout.live),
        "EDGELOG_OUTPUT_VOLUME": str(layout.out),
        "EDGELOG_STATE_VOLUME": str(layout.state),
    }
    compose_dir = images.context / "log-generator"
    compose = load_compose(compose_dir / "docker-compose.yml", env)
    services = compose["services"]
    names = {}
    for name in service_order(services):
        docker.run(
            *compose_run_args(compose["name"], name, services[name], compose_dir, health_interval="1s")
        )
        names[name] = f"{compose['name']}-{name}-1"
    generator, rotator = names["generator"], names["rotator"]
    try:
        healthy_after = docker.wait_health(generator, timeout=90)
        t_start = time.monotonic()
        docker.wait_health(rotator, timeout=60)  # a rotation succeeded
        time.sleep(max(0.0, 10 - (time.monotonic() - t_start)))
        assert len(layout.published()) >= 2, docker.logs(rotator)
        t0, since = time.monotonic(), f"{time.time() - 1:.3f}"
        docker.run("stop", generator, timeout=60)
        stop_seconds = time.monotonic() - t0  # includes the CLI's own start and teardown
        state = docker.inspect(generator)["State"]
        assert state["ExitCode"] == 0 and not state["OOMKilled"], (state, docker.logs(generator))
        kill_at, exited_after = _signal_to_exit(docker, generator, since)
        final = json.loads(layout.status_file.read_text())
        status_after = final["updated_ts"] - kill_at  # the final status is its last write
        assert final["state"] == "stopped" and final["write_errors"] == 0, final
        assert final.get("dropped_lines", 0) == 0, final
        assert f"wrote {final['lines']} lines" in docker.logs(generator)  # its last words were flushed
        # The last file: one more run of the same wrapper (docs/rotation.md: rotate now).
        res = docker.run("exec", rotator, "/opt/edgelog/rotation/edgelog-rotate", check=False, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        docker.run("stop", rotator, timeout=120)
        rotator_state = docker.inspect(rotator)["State"]
        assert rotator_state["ExitCode"] == 0, docker.logs(rotator)
        assert "stopping on signal" in docker.logs(rotator)
    finally:
        docker.run("rm", "-f", generator, rotator, check=False)
    timings.add(
        f"compose services: generator healthy after {healthy_after:.1f}s, "
        f"final status {status_after:.2f}s and exit {exited_after:.2f}s after docker stop's SIGTERM "
        f"(the command took {stop_seconds:.2f}s), "
        f"{final['lines']} lines in {len(layout.published())} published files"
    )
    assert exited_after < 1.0, (
        f"the generator exited {exited_after:.2f}s after docker stop's SIGTERM "
        f"(its final status was written after {status_after:.2f}s; the rest is process exit)"
    )
    # The container writes nginx's error log and the application log beside the access log (EDGELOG_STREAMS).
    streams = {"access": ".jsonl", "error": ".log", "app": ".log"}
    files = check_published(layout, gz=True, streams=streams)
    assert len(files) >= 3 * len(streams), [f.name for f in files]
    assert list(layout.staging.iterdir()) == []
    on_disk = all_lines(layout)
    ids = json_request_ids({k: v for k, v in on_disk.items() if Path(k).name.startswith("access-")})
    assert len(ids) == final["lines"] > 0, f"{len(ids)} lines on disk, generator wrote {final['lines']}"
    assert len(set(ids)) == len(ids), "a line appears twice"
    for st in final["streams"][1:]:  # every other stream: each line it wrote is in one published file
        name, ext = st["stream"], streams[st["stream"]]
        paths = [p for p in files if p.name.startswith(f"{name}-")] + [layout.live / f"{name}-c1{ext}"]
        lines = sum(len(read_lines(p)) for p in paths if p.exists())
        assert lines == st["lines"] > 0, (name, lines, st)


def _signal_to_exit(docker: DockerDaemon, name: str, since: str) -> tuple[float, float]:
    """When the daemon sent `docker stop`'s SIGTERM (`kill` event, Unix time) and seconds until `die`."""
    res = docker.run(
        "events",
        "--since",
        since,
        "--until",
        f"{time.time():.3f}",
        "--filter",
        f"container={name}",
        "--format",
        "{{.Action}} {{.TimeNano}}",
    )
    events = [line.rsplit(" ", 1) for line in res.stdout.splitlines()]  # actions may hold spaces
    kill = next(int(t) for action, t in events if action == "kill")
    die = next(int(t) for action, t in events if action == "die")
    return kill / 1e9, (die - kill) / 1e9


# --- the job image, as Bacalhau's docker executor runs it ---------------------------------------------------


@pytest.fixture(scope="module")
def node_logs(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """One node's /var/log/logs_to_process: an hour of rotated .gz files, another stream, a real nginx log."""
    folder = tmp_path_factory.mktemp("node") / "logs_to_process"
    folder.mkdir()
    subprocess.run(
        [
            EDGELOG,
            "generate",
            "backfill",
            "--out",
            str(folder),
            "--duration",
            "1h",
            "--start",
            "2026-11-23T08:00Z",
            "--node",
            "n1",
            "--gzip",
            "-f",
            "combined",
            "-f",
            "error",
            "--seed",
            "3",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    shutil.copyfile(samples_dir / "nginx_small.log", folder / "access-n1-20261123T090500Z.log")
    for p in (folder.parent, folder, *folder.iterdir()):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return folder


EXECUTION_ENV = {
    "BACALHAU_EXECUTION_ID": "e-11111111-2222-3333-4444-555555555555",
    "BACALHAU_JOB_ID": "j-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    "BACALHAU_JOB_TYPE": "ops",
    "BACALHAU_PARTITION_COUNT": "0",
    "BACALHAU_PARTITION_INDEX": "0",
    "TZ": "UTC",
}


def _bacalhau_run_args(image: str, inputs: Path, outputs: Path, *, hardened: bool) -> list[str]:
    """The container bacalhau v1.9 creates for jobs/access-log-report.yaml (pkg/executor/docker/executor.go
    newDockerJobContainer + makeContainerMounts, network.go, pkg/compute/envvars.go): image's own user,
    read-only bind of the local input at /inputs, read-write bind of results/outputs at /outputs, Memory and
    NanoCPUs from Resources, NetworkMode none, Entrypoint/Cmd/WorkingDir/Env from the spec, executor labels.
    Bacalhau itself sets no --read-only, --tmpfs, --cap-drop or no-new-privileges; ``hardened`` adds them to
    show the image needs none of what they take away."""
    args = [
        "run",
        "--name",
        f"bacalhau-node-{EXECUTION_ENV['BACALHAU_JOB_ID']}-{EXECUTION_ENV['BACALHAU_EXECUTION_ID']}-executor",
        "--label",
        "bacalhau-executor=node",
        "--label",
        f"bacalhau-jobID=node{EXECUTION_ENV['BACALHAU_JOB_ID']}",
        "--label",
        f"bacalhau-executionID=node{EXECUTION_ENV['BACALHAU_EXECUTION_ID']}",
        "--network",
        "none",
        "--memory",
        "1000000000",  # Memory: 1Gb (go-humanize: 10^9 bytes)
        "--cpus",
        "1",  # CPU: "1" -> NanoCPUs 10^9
        "--mount",
        f"type=bind,source={inputs},target=/inputs,readonly",
        "--mount",
        f"type=bind,source={outputs},target=/outputs",
        "--workdir",
        "/tmp",
        "--entrypoint",
        "edgelog",
    ]
    for key, value in sorted(EXECUTION_ENV.items()):
        args += ["--env", f"{key}={value}"]
    if hardened:
        args += ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    return [*args, image, "analyze", "/inputs", "--out", "/outputs"]


def _execution_dir(root: Path, owner: int) -> Path:
    """results/outputs as the compute node makes it: mode 0755, owned by the user bacalhau runs as."""
    outputs = root / "results" / "outputs"
    outputs.mkdir(parents=True)
    outputs.chmod(0o755)
    os.chown(outputs, owner, owner)
    return outputs


def _result_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


_VOLATILE = {"run_id", "started_at", "finished_at", "duration_s"}


def _comparable_manifest(data: bytes, inputs: Path) -> dict:
    manifest = {k: v for k, v in json.loads(data).items() if k not in _VOLATILE}
    # how the run went is measured (times, memory; DuckDB's threads and limit follow the container's cgroup):
    # what it did is not
    p = manifest["processing"]
    manifest["processing"] = {
        "phases": list(p["phases_s"]),
        "bytes_read": p["bytes_read"],
        "ws": p["workspace"],
    }
    for entry in manifest.get("inputs", []):
        entry["path"] = str(Path(entry["path"]).relative_to(inputs))
    # The tag rules are /opt/edgelog/queries/tags.yaml in the image, the checkout's file here: same sha256.
    manifest["tag_rules"]["file"] = Path(manifest["tag_rules"]["file"]).name
    return manifest


def test_job_image_as_bacalhau_runs_it_gives_the_host_analyze_results_byte_for_byte(
    docker: DockerDaemon, images: Images, node_logs: Path, tmp_path: Path, timings: Timings
) -> None:
    host_out = tmp_path / "host"
    env = {**os.environ, **EXECUTION_ENV}
    host = subprocess.run(
        [EDGELOG, "analyze", str(node_logs), "--out", str(host_out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert host.returncode == 0, host.stderr
    expected = _result_files(host_out)
    assert any(name.startswith("reports/") for name in expected)
    before = {p.name: p.stat().st_mtime_ns for p in node_logs.iterdir()}
    for hardened in (False, True):
        outputs = _execution_dir(tmp_path / f"exec-{hardened}", JOB_UID)
        t0 = time.monotonic()
        res = docker.run(
            *_bacalhau_run_args(images.job, node_logs, outputs, hardened=hardened), check=False, timeout=600
        )
        seconds = time.monotonic() - t0
        docker.run("rm", "-f", _container_of(res), check=False)
        assert res.returncode == 0, res.stdout + res.stderr
        assert res.stdout.startswith("analyze ok:") and "-> /outputs" in res.stdout, res.stdout
        got = _result_files(outputs)
        assert set(got) == set(expected)
        for rel, data in expected.items():
            if rel == "manifest.json":
                assert _comparable_manifest(got[rel], Path("/inputs")) == _comparable_manifest(
                    data, node_logs
                )
            else:
                assert got[rel] == data, f"{rel} differs between the container and the host"
        assert all(p.stat().st_uid == JOB_UID for p in outputs.rglob("*"))
        timings.add(f"job image ({'hardened' if hardened else 'bacalhau flags'}): analyze in {seconds:.1f}s")
    assert {p.name: p.stat().st_mtime_ns for p in node_logs.iterdir()} == before


def _container_of(res: subprocess.CompletedProcess[str]) -> str:
    """The container a `docker run --name NAME` created (its name is in the argv)."""
    argv = list(res.args)
    return argv[argv.index("--name") + 1]


def test_unwritable_outputs_is_a_clear_error_with_exit_code_2(
    docker: DockerDaemon, images: Images, node_logs: Path, tmp_path: Path
) -> None:
    """A node whose bacalhau user has another uid than the image (here: root owns /outputs, mode 0755)."""
    outputs = _execution_dir(tmp_path / "exec", 0)
    args = _bacalhau_run_args(images.job, node_logs, outputs, hardened=True)
    args[args.index("--name") + 1] += "-unwritable"
    res = docker.run(*args, check=False, timeout=300)
    docker.run("rm", "-f", _container_of(res), check=False)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    assert "error: cannot write results to /outputs" in res.stderr, res.stderr
    assert f"uid {JOB_UID}" in res.stderr, res.stderr
    assert list(outputs.iterdir()) == []


# --- edgelog job run-local --engine docker ------------------------------------------------------------------


def _run_local(docker: DockerDaemon, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**docker.env, "EDGELOG_DOCKER": DOCKER, "COLUMNS": "200"}
    return subprocess.run(
        [EDGELOG, "job", "run-local", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _published(bucket: Path) -> dict[str, Path]:
    """node id -> the execution's published directory (plain encoding) in a local bucket."""
    out = {}
    for exit_code in bucket.rglob("exitCode"):
        out[exit_code.parent.parent.name] = exit_code.parent
    return out


def test_run_local_docker_engine_gives_the_subprocess_engines_results(
    docker: DockerDaemon, images: Images, node_logs: Path, tmp_path: Path
) -> None:
    results = {}
    for engine in ("subprocess", "docker"):
        bucket = tmp_path / f"bucket-{engine}"
        args = [
            "access-log-report",
            "--node",
            f"n1={node_logs}",
            "--bucket",
            str(bucket),
            "--var",
            f"image={images.job}",
        ]
        if engine == "docker":
            args += ["--engine", "docker"]
        res = _run_local(docker, *args, cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        (published,) = _published(bucket).values()
        assert (published / "exitCode").read_text() == "0"
        results[engine] = _result_files(published / "outputs")
    assert set(results["docker"]) == set(results["subprocess"])
    for rel, data in results["subprocess"].items():
        if rel.startswith(("reports/", "partials/")):
            assert results["docker"][rel] == data, rel
    assert not list(docker.run("ps", "-aq").stdout.split()), "run-local left a container behind"


PROBE_SCRIPT = r"""
set -u
echo "uid=$(id -u)"
echo "outputs=$(stat -c '%u %a' /outputs)"
if touch /inputs/probe 2>/dev/null; then echo inputs=writable; else echo inputs=read-only; fi
echo "nets=$(ls /sys/class/net | tr '\n' ' ')"
if [ -f /sys/fs/cgroup/memory.max ]; then echo "memory=$(cat /sys/fs/cgroup/memory.max)";
else echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"; fi
if [ -f /sys/fs/cgroup/cpu.max ]; then echo "cpu=$(cut -d' ' -f1 /sys/fs/cgroup/cpu.max)";
else echo "cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)"; fi
echo "query=$(cat /query/q.sql)"
env | grep -E '^(BACALHAU_|PROBE_|TZ=)' | sort
echo "wrote" > /outputs/probe.txt
"""


def test_run_local_docker_engine_applies_bacalhaus_mounts_limits_and_environment(
    docker: DockerDaemon, images: Images, node_logs: Path, tmp_path: Path
) -> None:
    """A task that reports what it sees from inside the container."""
    spec = {
        "Name": "probe",
        "Type": "batch",
        "Count": 1,
        "Tasks": [
            {
                "Name": "probe",
                "Engine": {
                    "Type": "docker",
                    "Params": {
                        "Image": images.job,
                        "Entrypoint": ["/bin/sh", "-c"],
                        "Parameters": [PROBE_SCRIPT],
                        "EnvironmentVariables": ["TZ=UTC", "PROBE_ENGINE=set"],
                        "WorkingDirectory": "/tmp",
                    },
                },
                "Env": {"PROBE_TASK": "task-env"},
                "InputSources": [
                    {
                        "Alias": "logs",
                        "Target": "/inputs",
                        "Source": {
                            "Type": "local",
                            "Params": {"SourcePath": "/var/log/logs_to_process", "ReadWrite": False},
                        },
                    },
                    {
                        "Alias": "query",
                        "Target": "/query/q.sql",
                        "Source": {
                            "Type": "inline",
                            "Params": {"URL": "data:text/plain;base64,U0VMRUNUIDQyOw=="},
                        },
                    },
                ],
                "ResultPaths": [{"Name": "outputs", "Path": "/outputs"}],
                "Publisher": {
                    "Type": "s3",
                    "Params": {"Bucket": "b", "Key": "p/{jobID}/{nodeID}/{executionID}", "Encoding": "plain"},
                },
                "Resources": {"CPU": "500m", "Memory": "256Mb"},
                "Network": {"Type": "None"},
                "Timeouts": {"ExecutionTimeout": 300},
            }
        ],
    }
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    bucket = tmp_path / "bucket"
    res = _run_local(
        docker,
        str(path),
        "--node",
        f"n1={node_logs}",
        "--bucket",
        str(bucket),
        "--engine",
        "docker",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    (published,) = _published(bucket).values()
    seen = dict(line.split("=", 1) for line in (published / "stdout").read_text().splitlines() if "=" in line)
    assert seen["uid"] == str(JOB_UID)
    assert seen["outputs"] == f"{JOB_UID} 755"
    assert seen["inputs"] == "read-only"
    assert seen["nets"].split() == ["lo"]
    assert seen["memory"] == "256000000"
    assert seen["cpu"] == "50000"
    assert seen["query"] == "SELECT 42;"
    assert seen["PROBE_ENGINE"] == "set" and seen["PROBE_TASK"] == "task-env" and seen["TZ"] == "UTC"
    assert seen["BACALHAU_JOB_TYPE"] == "batch" and seen["BACALHAU_PARTITION_COUNT"] == "1"
    assert seen["BACALHAU_JOB_ID"].startswith("j-") and seen["BACALHAU_EXECUTION_ID"].startswith("e-")
    assert (published / "outputs" / "probe.txt").read_text() == "wrote\n"
    assert not (node_logs / "probe").exists()


def test_run_local_docker_engine_names_a_missing_image(
    docker: DockerDaemon, node_logs: Path, tmp_path: Path
) -> None:
    res = _run_local(
        docker,
        "access-log-report",
        "--node",
        f"n1={node_logs}",
        "--bucket",
        str(tmp_path / "b"),
        "--engine",
        "docker",
        "--var",
        "image=edgelog-job:missing",
        cwd=tmp_path,
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "image edgelog-job:missing is not in the local Docker engine" in res.stderr, res.stderr
    assert "docker build -f jobs/Dockerfile -t edgelog-job:missing ." in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "b").exists()


def test_run_local_docker_engine_without_root_hands_outputs_over_through_a_container(
    docker: DockerDaemon, images: Images, node_logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A developer in the docker group cannot chown /outputs to the nodes' uid: a root container of the same
    image does it, and gives the results back afterwards (here the caller's uid is faked; Docker is real)."""
    from edgelog.jobs.local import run_local
    from edgelog.jobs.spec import load_spec

    for key, value in docker.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EDGELOG_DOCKER", DOCKER)
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    monkeypatch.setattr(os, "getegid", lambda: 4243)
    spec = load_spec("access-log-report", {"bucket": "b", "image": images.job})
    workdir = tmp_path / "work"
    workdir.mkdir()
    seen: list[tuple[int, int]] = []

    def event(execution) -> None:  # the result directory while it is published: given back to the caller
        if execution.state == "Publishing":
            outputs = next(workdir.rglob("outputs"))
            seen.append((outputs.stat().st_uid, next(outputs.rglob("manifest.json")).stat().st_uid))

    from edgelog.jobs.local import LocalNode

    run = run_local(
        spec,
        [LocalNode("n1", node_logs)],
        bucket_url=str(tmp_path / "bucket"),
        workdir=workdir,
        engine="docker",
        on_event=event,
    )
    assert run.state == "Completed", [(e.state, e.message, e.stderr_tail) for e in run.executions]
    assert run.executions[0].exit_code == 0, run.executions[0].stderr_tail
    assert seen == [(4242, 4242)]
    (published,) = _published(tmp_path / "bucket").values()
    assert (published / "outputs" / "manifest.json").is_file()
