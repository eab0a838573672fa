"""The log-generator container: Dockerfile lint and inputs, compose file, cron file, scripts, health check.

No Docker engine runs here, so the image is checked statically (hadolint, COPY sources, pins) and its
entrypoint roles and HEALTHCHECK command are run directly against the real generator.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from support.rotation import ROTATION_DIR, VENV_BIN, Generator, make_layout, read_lines
from support.tools import require_tool

# Every test here drives a real tool (see tests/support/tools.py); the fast lane deselects them.
pytestmark = pytest.mark.needs_tool("hadolint", "shellcheck")


REPO = Path(__file__).resolve().parent.parent
LG = REPO / "log-generator"
DOCKERFILE = LG / "Dockerfile"
COMPOSE = LG / "docker-compose.yml"
ENV_EXAMPLE = LG / ".env.example"
CRON = ROTATION_DIR / "edgelog-rotate.cron"
ENTRYPOINT = LG / "entrypoint.sh"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        op, _, args = buf.partition(" ")
        out.append((op.upper(), args.strip()))
        buf = ""
    return out


def tool(name: str) -> str:
    """A tool from the venv (pip-installed, e.g. hadolint) or PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    return require_tool(name)


# --- Dockerfile -------------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    res = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint above can fail: an unpinned, root, latest-tagged Dockerfile is rejected."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get update && apt-get install -y logrotate\n")
    res = subprocess.run(
        [tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert res.returncode != 0 and "DL3008" in res.stdout


def _dockerignore_rules(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pat = line[1:] if negate else line
        pat = pat.strip("/")
        regex = ""
        i = 0
        while i < len(pat):
            if pat.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pat.startswith("**", i):
                regex += ".*"
                i += 2
            elif pat[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pat[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(pat[i])
                i += 1
        # A pattern matching a directory excludes everything below it.
        rules.append((negate, re.compile(f"^{regex}(?:/.*)?$")))
    return rules


def _excluded(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    excluded = False
    for negate, rx in rules:
        if rx.match(rel):
            excluded = not negate
    return excluded


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    """Build context = repo root; BuildKit uses log-generator/Dockerfile.dockerignore, others the root one."""
    copies = [args for op, args in dockerfile_instructions() if op in ("COPY", "ADD")]
    assert copies, "no COPY in the Dockerfile"
    stages = [args.split()[-1] for op, args in dockerfile_instructions() if op == "FROM" and " AS " in args]
    for args in [a for a in copies if a.startswith("--from=")]:  # from an earlier stage, not the context
        assert args.split()[0].removeprefix("--from=") in stages, args
    copies = [a for a in copies if not a.startswith("--from=")]
    assert not any(op == "ADD" for op, _ in dockerfile_instructions()), "use COPY, not ADD"
    ignore_files = [REPO / ".dockerignore", LG / "Dockerfile.dockerignore"]
    for ignore in ignore_files:
        assert ignore.is_file(), ignore
        rules = _dockerignore_rules(ignore)
        for args in copies:
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            for src in parts[:-1]:
                path = REPO / src
                assert path.exists(), f"COPY source {src} does not exist"
                files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
                files = [f for f in files if "__pycache__" not in f.parts and ".egg-info" not in str(f)]
                assert files, f"COPY source {src} is empty"
                for f in files:
                    rel = f.relative_to(REPO).as_posix()
                    assert not _excluded(rel, rules), f"{rel} (COPY {src}) is excluded by {ignore.name}"
    # Secrets and local state never enter the context.
    for ignore in ignore_files:
        rules = _dockerignore_rules(ignore)
        for rel in (".git/config", ".venv/bin/python", "log-generator/.env", "terraform/terraform.tfvars"):
            assert _excluded(rel, rules), f"{rel} is not excluded by {ignore.name}"


def test_dockerfile_pins_runs_non_root_and_checks_health() -> None:
    ins = dockerfile_instructions()
    (base,) = {a.split()[0] for op, a in ins if op == "FROM"}  # every stage starts from the one pinned base
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert f"{sys.version_info.major}.{sys.version_info.minor}." in base, (
        "image Python differs from the tested one"
    )
    runs = " ".join(a for op, a in ins if op == "RUN")
    for pkgs in re.findall(r"apt-get install[^&]*?--no-install-recommends ([^&]+)", runs):
        for pkg in pkgs.split():
            assert re.fullmatch(r"[a-z0-9.+-]+=[0-9][A-Za-z0-9.+~:-]*", pkg), (
                f"apt package {pkg} is not pinned"
            )
    assert "--constraint /tmp/edgelog/constraints.txt" in runs and "--no-cache-dir" in runs
    segments = [seg for op, a in ins if op == "RUN" for seg in re.findall(r"pip install ([^&]+)", a)]
    for segment in segments:
        tokens = segment.split()
        for i, tok in enumerate(tokens):
            if tok.startswith("-") or (i and tokens[i - 1] in ("--constraint", "-c")):
                continue
            assert tok.startswith("/") or re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", tok), (
                f"pip package {tok} is not pinned"
            )
    if "--no-build-isolation" not in runs:
        pytest.fail("build isolation would fetch unpinned build dependencies")
    users = [a for op, a in ins if op == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    args = {a.split("=")[0]: a.split("=")[1] for op, a in ins if op == "ARG"}
    assert int(args["EDGELOG_UID"]) >= 1000
    (volumes,) = [json.loads(a) for op, a in ins if op == "VOLUME"]
    assert {"/var/log/app", "/var/log/logs_to_process"} <= set(volumes)
    (health,) = [a for op, a in ins if op == "HEALTHCHECK"]
    assert "edgelog generate health" in health and "$EDGELOG_HEALTH_MAX_SILENCE" in health


def test_debian_pins_match_the_distribution() -> None:
    """The apt pins are the versions Debian bookworm ships (checked on a bookworm machine)."""
    os_release = Path("/etc/os-release")
    if not os_release.exists() or "bookworm" not in os_release.read_text():
        pytest.skip("not a Debian bookworm machine; cannot compare apt pins")
    require_tool("dpkg-query")
    runs = " ".join(a for op, a in dockerfile_instructions() if op == "RUN")
    pins = re.findall(r"\b([a-z0-9.+-]+)=([0-9][A-Za-z0-9.+~:-]*)", runs)
    pins = [(p, v) for p, v in pins if not p.startswith("-")]
    assert pins
    for pkg, version in pins:
        res = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, check=False
        )
        if res.returncode != 0:
            pytest.skip(f"{pkg} is not installed here to compare its version")
        assert res.stdout == version, f"{pkg}: Dockerfile pins {version}, bookworm has {res.stdout}"


def _runtime_closure() -> set[str]:
    seen: set[str] = set()

    def walk(name: str) -> None:
        key = canonicalize_name(name)
        if key in seen:
            return
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            return
        seen.add(key)
        for r in dist.requires or []:
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                walk(req.name)

    for r in md.distribution("edgelog").requires or []:
        req = Requirement(r)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            walk(req.name)
    return seen


def test_constraints_pin_every_runtime_dependency() -> None:
    pins = {}
    for line in (LG / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = version
    missing = _runtime_closure() - set(pins)
    assert not missing, f"log-generator/constraints.txt lacks {sorted(missing)}"
    # Exactly the versions the tests run with (a consistent set: pip resolved it for .venv).
    for name, version in pins.items():
        installed = md.version(name)
        assert installed == version, f"constraints.txt pins {name}=={version}, tests ran with {installed}"
    for r in md.distribution("edgelog").requires or []:
        req = Requirement(r)
        if req.marker is None:
            version = pins[canonicalize_name(req.name)]
            assert req.specifier.contains(version), f"{req.name}=={version} violates pyproject's {req}"


# --- compose ----------------------------------------------------------------------------------------------


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"bad .env.example line: {line}"
            values[name] = value
    return values


def test_compose_parses_and_every_variable_is_documented() -> None:
    text = COMPOSE.read_text()
    data = yaml.safe_load(text)
    assert set(data["services"]) == {"generator", "rotator"}
    # ${VAR}, ${VAR:-default}, ${VAR-default}; $$ is a literal dollar for the container's shell.
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}", text))
    assert used, "compose file takes no settings from the environment"
    example = _env_example()
    env_text = ENV_EXAMPLE.read_text()
    undocumented = sorted(v for v in used if v not in example)
    assert not undocumented, f"used in docker-compose.yml but not in .env.example: {undocumented}"
    unused = sorted(v for v in example if v not in used)
    assert not unused, f"in .env.example but unused by docker-compose.yml: {unused}"
    # Each variable is explained by a comment in its block (a comment may cover a group, e.g. UID and GID).
    commented = False
    for line in env_text.splitlines():
        if not line.strip():
            commented = False
        elif line.startswith("#"):
            commented = True
        else:
            assert commented, f"{line.partition('=')[0]} has no comment above it in .env.example"
    # Defaults in the compose file equal the documented values.
    for name, default in re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}", text):
        assert example[name] == default, (
            f"{name}: compose default {default!r} != .env.example {example[name]!r}"
        )


def test_compose_services_build_the_image_and_run_its_roles() -> None:
    data = yaml.safe_load(COMPOSE.read_text())
    entry = ENTRYPOINT.read_text()
    for name, svc in data["services"].items():
        build = svc["build"]
        assert (LG / build["context"]).resolve() == REPO
        assert (REPO / build["dockerfile"]).resolve() == DOCKERFILE
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in svc["security_opt"]
        assert not str(svc["user"]).startswith("0")
        mounts = {re.sub(r":(ro|rw)$", "", v).rsplit(":", 1)[1] for v in svc["volumes"]}
        assert {"/var/log/app", "/var/log/logs_to_process", "/var/lib/edgelog"} <= mounts, name
        (role,) = svc["command"]
        assert f"\n  {role})" in entry, f"{name}: entrypoint has no {role} role"


# --- cron -------------------------------------------------------------------------------------------------


def test_cron_file_syntax_with_real_crontab(tmp_path: Path) -> None:
    require_tool("crontab")
    text = CRON.read_text()
    assert text.endswith("\n"), "cron ignores a last line without newline"
    jobs = [
        ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#") and "=" not in ln.split()[0]
    ]
    assert len(jobs) == 1
    fields = jobs[0].split(None, 6)
    assert len(fields) == 7, "cron.d lines are: 5 time fields, user, command"
    assert fields[:5] == ["*/5", "*", "*", "*", "*"] and fields[5] == "root"
    command = fields[6].split()[0]
    assert command == "/opt/edgelog/rotation/edgelog-rotate"
    assert (ROTATION_DIR / Path(command).name).is_file()
    assert re.search(r"^PATH=.*/usr/sbin", text, re.M), "logrotate lives in /usr/sbin; cron's PATH lacks it"
    # crontab -n checks the user-crontab format: the line without its user field (dry run, installs nothing).
    user_format = tmp_path / "user.crontab"
    user_format.write_text(text.replace(jobs[0], " ".join([*fields[:5], fields[6]])))
    res = subprocess.run(["crontab", "-n", str(user_format)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    broken = tmp_path / "broken.crontab"
    broken.write_text("*/5 * * * root /bin/true\n")  # a field short: must be rejected
    assert subprocess.run(["crontab", "-n", str(broken)], capture_output=True, check=False).returncode != 0


def test_cron_schedule_fires_every_five_minutes() -> None:
    from datetime import UTC, datetime

    from croniter import croniter

    line = next(ln for ln in CRON.read_text().splitlines() if ln.startswith("*/5"))
    schedule = " ".join(line.split()[:5])
    assert croniter.is_valid(schedule)
    it = croniter(schedule, datetime(2026, 11, 23, 8, 57, 13, tzinfo=UTC))
    fires = [it.get_next(datetime) for _ in range(4)]
    assert [f.strftime("%H:%M:%S") for f in fires] == ["09:00:00", "09:05:00", "09:10:00", "09:15:00"]


def test_cron_d_file_name_rules() -> None:
    """Installed as /etc/cron.d/edgelog-rotate: run-parts naming (no dots) and documented so."""
    installed = CRON.name.removesuffix(".cron")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", installed)
    assert "/etc/cron.d/edgelog-rotate" in (REPO / "docs" / "rotation.md").read_text()


# --- scripts ----------------------------------------------------------------------------------------------


def _shell_scripts() -> list[Path]:
    scripts = []
    for path in sorted(LG.rglob("*")):
        if path.is_file():
            head = path.read_text(errors="replace").splitlines()[:1]
            if path.suffix == ".sh" or (head and re.match(r"#!.*\b(ba)?sh\b", head[0])):
                scripts.append(path)
    return scripts


def test_every_script_passes_shellcheck() -> None:
    shellcheck = tool("shellcheck")
    scripts = _shell_scripts()
    names = {p.name for p in scripts}
    assert {"edgelog-rotate", "edgelog-publish", "edgelog-prune", "edgelog-rotate-loop"} <= names
    assert {"edgelog-rotate-lib.sh", "entrypoint.sh"} <= names
    res = subprocess.run(
        [shellcheck, "-x", "--severity=style", *map(str, scripts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout
    for path in scripts:
        if path.suffix != ".sh" or path == ENTRYPOINT:
            assert os.access(path, os.X_OK), f"{path} is not executable"


def test_shellcheck_catches_a_bad_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/bash\nrm -rf $1/*\n")
    assert subprocess.run([tool("shellcheck"), str(bad)], capture_output=True, check=False).returncode != 0


# --- health check and entrypoint roles, against the real generator ------------------------------------------


def _healthcheck_command() -> list[str]:
    (health,) = [a for op, a in dockerfile_instructions() if op == "HEALTHCHECK"]
    return json.loads(health[health.index("CMD") + 3 :].strip())


def _health(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _healthcheck_command(), env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_healthcheck_healthy_while_writing_unhealthy_when_writes_stop(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path)
    env = layout.env(EDGELOG_HEALTH_MAX_SILENCE="2")
    gen = Generator(layout, rate=100, fmt="combined")
    try:
        gen.wait_running()
        healthy = _health(env)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        gen.pause()  # a hung generator: no writes, no status updates
        time.sleep(3.0)
        hung = _health(env)
        assert hung.returncode == 1, hung.stdout + hung.stderr
        gen.resume()
        time.sleep(1.5)
        assert _health(env).returncode == 0
        gen.stop()
    finally:
        gen.kill()
    time.sleep(2.5)
    stopped = _health(env)
    assert stopped.returncode == 1
    assert (stopped.stdout + stopped.stderr).strip(), "unhealthy without a reason"
    missing = _health(
        layout.env(EDGELOG_STATUS_FILE=str(tmp_path / "none.json"), EDGELOG_HEALTH_MAX_SILENCE="2")
    )
    assert missing.returncode == 1


def test_entrypoint_roles_live_rotate_and_health(tmp_path: Path) -> None:
    """The image's roles without Docker: `live` writes access-<node>.jsonl for json and, by default, the error
    and application logs beside it; `rotate` publishes them under their streams' names."""
    require_tool("logrotate")
    layout = make_layout(tmp_path, tmp_path, node="edge-7", ext=".jsonl")
    env = layout.env(
        EDGELOG_NODE="edge-7",
        EDGELOG_FORMAT="json",
        EDGELOG_RATE="200",
        EDGELOG_FLAT="1",
        EDGELOG_ROTATION_LIB=str(ROTATION_DIR),  # /opt/edgelog/rotation in the image
    )
    del env["EDGELOG_LOG_EXTENSION"]  # the extension must follow EDGELOG_FORMAT
    proc = subprocess.Popen(
        [str(ENTRYPOINT), "live"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (layout.status_file.exists() and layout.live_file.exists()):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
        time.sleep(0.5)
        assert subprocess.run([str(ENTRYPOINT), "health"], env=env, check=False).returncode == 0
        res = subprocess.run(
            [str(ENTRYPOINT), "rotate"], env=env, capture_output=True, text=True, check=False
        )
        assert res.returncode == 0, res.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    status = json.loads(layout.status_file.read_text())
    assert status["node"] == "edge-7" and status["path"] == str(layout.live_file)
    assert [(s["stream"], Path(s["path"]).name) for s in status["streams"]] == [
        ("access", "access-edge-7.jsonl"),
        ("error", "error-edge-7.log"),
        ("app", "app-edge-7.log"),
    ]
    by_stream = {p.name.split("-", 1)[0]: p for p in layout.published()}
    assert set(by_stream) <= {"access", "error", "app"} and {"access", "app"} <= set(
        by_stream
    )  # error: if any
    pub = by_stream["access"]
    assert re.fullmatch(r"access-edge-7-\d{8}T\d{6}Z\.jsonl\.gz", pub.name)
    assert all(json.loads(line)["request_id"] for line in read_lines(pub))
    assert re.fullmatch(r"app-edge-7-\d{8}T\d{6}Z\.log\.gz", by_stream["app"].name)


def test_entrypoint_streams_setting(tmp_path: Path) -> None:
    """EDGELOG_STREAMS empty: the access log alone; an unknown stream: exit 2 with the reason."""
    layout = make_layout(tmp_path, tmp_path, node="edge-8")
    env = layout.env(EDGELOG_NODE="edge-8", EDGELOG_RATE="200", EDGELOG_FLAT="1", EDGELOG_STREAMS="")
    res = subprocess.run([str(ENTRYPOINT), "live", "--max-lines", "50"], env=env, capture_output=True,
                         text=True, timeout=120, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in layout.live.iterdir() if p.is_file()) == ["access-edge-8.log"]
    bad = subprocess.run([str(ENTRYPOINT), "live"], env={**env, "EDGELOG_STREAMS": "error debug"},
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert bad.returncode == 2 and "unknown stream 'debug'" in bad.stderr


def test_entrypoint_passes_other_commands_through(tmp_path: Path) -> None:
    res = subprocess.run(
        [str(ENTRYPOINT), "edgelog", "generate", "--help"],
        env={"PATH": f"{VENV_BIN}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0 and "live" in res.stdout
    assert shutil.which("bash")


def test_rotator_healthcheck_follows_successful_runs(tmp_path: Path) -> None:
    """The sidecar's compose healthcheck: healthy after a recent successful rotation, unhealthy otherwise."""
    svc = yaml.safe_load(COMPOSE.read_text())["services"]["rotator"]
    kind, script = svc["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    script = script.replace("$$", "$")  # compose's escape for a literal dollar
    env = {"PATH": "/usr/bin:/bin", "EDGELOG_STATE_DIR": str(tmp_path), "EDGELOG_ROTATE_INTERVAL": "300"}

    def healthy() -> bool:
        return subprocess.run(["sh", "-c", script], env=env, check=False).returncode == 0

    assert not healthy()  # no successful run yet
    (tmp_path / "rotate.last-ok").write_text(f"{int(time.time()) - 30}\n")
    assert healthy()
    (tmp_path / "rotate.last-ok").write_text(f"{int(time.time()) - 2 * 300 - 200}\n")
    assert not healthy()


def test_entrypoint_and_image_settings_are_documented() -> None:
    documented = set(_env_example()) | set(
        re.findall(r"`(EDGELOG_[A-Z_]+)`", (REPO / "docs" / "rotation.md").read_text())
    )
    used = set(re.findall(r"\b(EDGELOG_[A-Z_]+)\b", ENTRYPOINT.read_text()))
    used |= set(re.findall(r"\b(EDGELOG_[A-Z_]+)=", DOCKERFILE.read_text()))
    build_args = {"EDGELOG_UID", "EDGELOG_GID"}
    missing = sorted(used - documented - build_args)
    assert not missing, f"undocumented settings: {missing}"


def test_cron_job_log_snippet_is_valid_logrotate(tmp_path: Path) -> None:
    """/etc/logrotate.d/edgelog-rotate (rotates the cron job's own log) parses with the real logrotate."""
    require_tool("logrotate")
    text = (ROTATION_DIR / "edgelog-rotate.logrotate").read_text()
    assert "/var/log/edgelog-rotate.log {" in text
    assert "/var/log/edgelog-rotate.log" in CRON.read_text()
    log = tmp_path / "edgelog-rotate.log"
    log.write_text("line\n")
    conf = tmp_path / "snippet.conf"
    conf.write_text(text.replace("/var/log/edgelog-rotate.log", str(log)))
    conf.chmod(0o644)
    res = subprocess.run(
        ["logrotate", "-d", "-f", "-s", str(tmp_path / "state"), str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert f"considering log {log}" in res.stderr and "error" not in res.stderr.lower()
