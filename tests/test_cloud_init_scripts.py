"""The node helper scripts in cloud-init/files, run for real with bash, curl, jq, sha256sum and tar.

GCP's metadata server and Secret Manager cannot run here, so edgelog-fetch-secret talks to a small HTTP
stand-in on 127.0.0.1 that answers like those two APIs (token JSON, `payload.data` base64) and checks the
headers the real ones require.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from support.tools import REPO_ROOT, require_tool

# Every test here drives a real tool (see tests/support/tools.py); the fast lane deselects them.
pytestmark = pytest.mark.needs_tool("bash")


FILES = REPO_ROOT / "cloud-init" / "files"
TOKEN = "ya29.example-access-token"
SECRETS = {
    "projects/example-project/secrets/edgelog-dev-bacalhau-token": "Q" * 48,
    "projects/example-project/secrets/edgelog-dev-bacalhau-api-key": "K1" * 24,
    "projects/example-project/secrets/edgelog-dev-publisher-hmac-secret": "abcdEFGH1234+/" * 2
    + "abcdEFGH1234",
    "projects/example-project/secrets/bad-token": 'not"a"token: {}',
}


class StandIn:
    """Metadata token endpoint and Secret Manager `versions/latest:access`; the first `fail_first` fail."""

    def __init__(self) -> None:
        self.fail_first = 0
        self.calls = 0
        self.requests: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                stand_in.calls += 1
                stand_in.requests.append(self.path)
                if stand_in.calls <= stand_in.fail_first:
                    self.reply(503, {"error": "try again"})
                elif self.path == "/token":
                    if self.headers.get("Metadata-Flavor") != "Google":
                        self.reply(403, {"error": "missing Metadata-Flavor"})
                    else:
                        self.reply(200, {"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"})
                elif self.path.startswith("/v1/") and self.path.endswith("/versions/latest:access"):
                    name = self.path[len("/v1/") : -len("/versions/latest:access")]
                    if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                        self.reply(401, {"error": "unauthenticated"})
                    elif name not in SECRETS:
                        self.reply(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
                    else:
                        data = base64.b64encode(SECRETS[name].encode()).decode()
                        self.reply(200, {"name": f"{name}/versions/1", "payload": {"data": data}})
                else:
                    self.reply(404, {"error": "unknown path"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "EDGELOG_METADATA_TOKEN_URL": f"{self.url}/token",
            "EDGELOG_SECRETMANAGER_API": f"{self.url}/v1",
            "EDGELOG_SECRET_RETRY_CAP": "0",
            "EDGELOG_SECRET_ATTEMPTS": "3",
            "EDGELOG_PULL_RETRY_CAP": "0",
        }


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    for tool in ["bash", "curl", "jq", "base64"]:
        require_tool(tool)
    server = StandIn()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", *args], capture_output=True, text=True, env=env, timeout=60)


def test_fetch_secret_prints_the_latest_version(stand_in: StandIn) -> None:
    name = "projects/example-project/secrets/edgelog-dev-publisher-hmac-secret"
    result = run([str(FILES / "edgelog-fetch-secret"), name], stand_in.env())
    assert result.returncode == 0, result.stderr
    assert result.stdout == SECRETS[name]
    assert stand_in.requests == ["/token", f"/v1/{name}/versions/latest:access"]


def test_fetch_secret_retries_transient_failures(stand_in: StandIn) -> None:
    stand_in.fail_first = 2
    name = "projects/example-project/secrets/edgelog-dev-bacalhau-token"
    result = run([str(FILES / "edgelog-fetch-secret"), name], stand_in.env())
    assert result.returncode == 0, result.stderr
    assert result.stdout == SECRETS[name]
    assert result.stderr.count("failed; retrying") == 2


def test_fetch_secret_gives_up_after_bounded_attempts(stand_in: StandIn) -> None:
    name = "projects/example-project/secrets/missing"
    result = run([str(FILES / "edgelog-fetch-secret"), name], stand_in.env())
    assert result.returncode == 1
    assert f"could not read {name} after 3 attempts" in result.stderr
    assert result.stdout == ""
    assert stand_in.calls == 6  # token + access, three times


def test_fetch_secret_usage_errors(stand_in: StandIn) -> None:
    assert run([str(FILES / "edgelog-fetch-secret")], stand_in.env()).returncode == 2
    assert (
        run([str(FILES / "edgelog-fetch-secret"), "projects/p/secrets/a/b"], stand_in.env()).returncode == 2
    )
    assert stand_in.calls == 0


def secrets_env(stand_in: StandIn, tmp_path: Path, token_secret: str) -> dict[str, str]:
    node_env = tmp_path / "edgelog-node"
    node_env.write_text(
        f"EDGELOG_TOKEN_SECRET={token_secret}\n"
        "EDGELOG_API_KEY_SECRET=projects/example-project/secrets/edgelog-dev-bacalhau-api-key\n"
        "EDGELOG_HMAC_SECRET=projects/example-project/secrets/edgelog-dev-publisher-hmac-secret\n"
    )
    return {
        **stand_in.env(),
        "EDGELOG_NODE_ENV": str(node_env),
        "EDGELOG_RUN_DIR": str(tmp_path / "run"),
        "EDGELOG_FETCH_SECRET": str(FILES / "edgelog-fetch-secret"),
        "EDGELOG_SECRETS_GROUP": grp.getgrgid(os.getgid()).gr_name,
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_compute_secrets_are_written_to_run_only_readable_by_the_group(
    stand_in: StandIn, tmp_path: Path
) -> None:
    env = secrets_env(stand_in, tmp_path, "projects/example-project/secrets/edgelog-dev-bacalhau-token")
    result = run([str(FILES / "edgelog-bacalhau-secrets"), "compute"], env)
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "run"
    assert mode(run_dir) == 0o750
    config = yaml.safe_load((run_dir / "secrets.yaml").read_text())
    assert config == {"Compute": {"Auth": {"Token": "Q" * 48}}}
    hmac = SECRETS["projects/example-project/secrets/edgelog-dev-publisher-hmac-secret"]
    assert (run_dir / "publisher.env").read_text() == f"AWS_SECRET_ACCESS_KEY={hmac}\n"
    for name in ["secrets.yaml", "publisher.env"]:
        assert mode(run_dir / name) == 0o640
    assert sorted(p.name for p in run_dir.iterdir()) == ["publisher.env", "secrets.yaml"]


def test_orchestrator_secrets_carry_token_and_api_key(stand_in: StandIn, tmp_path: Path) -> None:
    env = secrets_env(stand_in, tmp_path, "projects/example-project/secrets/edgelog-dev-bacalhau-token")
    result = run([str(FILES / "edgelog-bacalhau-secrets"), "orchestrator"], env)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((tmp_path / "run" / "secrets.yaml").read_text())
    assert config["Orchestrator"]["Auth"]["Token"] == "Q" * 48
    (user,) = config["API"]["Auth"]["Users"]
    assert user["APIKey"] == "K1" * 24
    assert user["Capabilities"] == [{"Actions": ["read:node", "read:agent", "read:job", "write:job"]}]
    assert not (tmp_path / "run" / "publisher.env").exists()


def test_a_malformed_secret_is_refused_and_nothing_is_written(stand_in: StandIn, tmp_path: Path) -> None:
    env = secrets_env(stand_in, tmp_path, "projects/example-project/secrets/bad-token")
    result = run([str(FILES / "edgelog-bacalhau-secrets"), "compute"], env)
    assert result.returncode == 1
    assert "does not look right" in result.stderr and 'not"a"token' not in result.stderr
    assert not (tmp_path / "run" / "secrets.yaml").exists()


def make_release(tmp_path: Path) -> tuple[Path, str]:
    """A tarball shaped like bacalhau_<v>_linux_amd64.tar.gz: one `bacalhau` executable at its root."""
    binary = b"#!/bin/sh\necho 'bacalhau v1.9.3 (test build)'\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("bacalhau")
        info.size = len(binary)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(binary))
    archive = tmp_path / "bacalhau_v1.9.3_linux_amd64.tar.gz"
    archive.write_bytes(buffer.getvalue())
    return archive, hashlib.sha256(buffer.getvalue()).hexdigest()


def install_env(tmp_path: Path, url: str, sha256: str) -> dict[str, str]:
    node_env = tmp_path / "edgelog-node"
    node_env.write_text(f"BACALHAU_VERSION=v1.9.3\nBACALHAU_URL={url}\nBACALHAU_SHA256={sha256}\n")
    return {
        **os.environ,
        "EDGELOG_NODE_ENV": str(node_env),
        "BACALHAU_TARGET": str(tmp_path / "bin" / "bacalhau"),
        "EDGELOG_STAMP_DIR": str(tmp_path / "stamp"),
    }


def test_install_bacalhau_verifies_the_checksum_and_installs(tmp_path: Path) -> None:
    for tool in ["bash", "curl", "sha256sum", "tar"]:
        require_tool(tool)
    archive, sha256 = make_release(tmp_path)
    (tmp_path / "bin").mkdir()
    env = install_env(tmp_path, archive.as_uri(), sha256)
    result = run([str(FILES / "edgelog-install-bacalhau")], env)
    assert result.returncode == 0, result.stderr
    target = tmp_path / "bin" / "bacalhau"
    assert mode(target) == 0o755
    assert (
        subprocess.run([str(target)], capture_output=True, text=True)
        .stdout.strip()
        .startswith("bacalhau v1.9.3")
    )
    again = run([str(FILES / "edgelog-install-bacalhau")], env)
    assert again.returncode == 0 and "already installed" in again.stdout


def test_install_bacalhau_refuses_a_download_with_another_checksum(tmp_path: Path) -> None:
    for tool in ["bash", "curl", "sha256sum", "tar"]:
        require_tool(tool)
    archive, sha256 = make_release(tmp_path)
    (tmp_path / "bin").mkdir()
    wrong = hashlib.sha256(b"something else").hexdigest()
    result = run([str(FILES / "edgelog-install-bacalhau")], install_env(tmp_path, archive.as_uri(), wrong))
    assert result.returncode == 1
    assert f"expected {wrong}, got {sha256}" in result.stderr and "not installing" in result.stderr
    assert not (tmp_path / "bin" / "bacalhau").exists()
    assert not (tmp_path / "stamp").exists()


def test_install_bacalhau_refuses_bad_settings(tmp_path: Path) -> None:
    archive, sha256 = make_release(tmp_path)
    for url, digest, message in [
        ("http://example.invalid/b.tar.gz", sha256, "https://"),
        (archive.as_uri(), sha256.upper(), "64 lower-case hex"),
        (archive.as_uri(), sha256[:-1], "64 lower-case hex"),
    ]:
        result = run([str(FILES / "edgelog-install-bacalhau")], install_env(tmp_path, url, digest))
        assert result.returncode == 2 and message in result.stderr


def docker_stand_in(tmp_path: Path, fail_pulls: int = 0) -> Path:
    """A `docker` (the daemon cannot run here) that records login/pull calls; the first pulls may fail."""
    script = tmp_path / "docker"
    log = tmp_path / "docker.log"
    script.write_text(
        f"""#!/usr/bin/env bash
set -euo pipefail
log={log}
case $1 in
  login) echo "login $* password=$(cat)" >>"$log" ;;
  pull)
    n=$(grep -c '^pull' "$log" 2>/dev/null || true)
    echo "pull $*" >>"$log"
    ((n >= {fail_pulls})) || {{ echo "pull failed" >&2; exit 1; }}
    ;;
  *) exit 64 ;;
esac
"""
    )
    script.chmod(0o755)
    return script


def test_pull_images_logs_in_to_google_registries_once_then_pulls(stand_in: StandIn, tmp_path: Path) -> None:
    env = {**stand_in.env(), "EDGELOG_DOCKER": str(docker_stand_in(tmp_path)), "EDGELOG_PULL_ATTEMPTS": "2"}
    images = [
        "us-east1-docker.pkg.dev/example-project/edgelog/edgelog-generator:0.1.0",
        "us-east1-docker.pkg.dev/example-project/edgelog/edgelog-job:0.1.0",
        "ghcr.io/example/other:1",
    ]
    result = run([str(FILES / "edgelog-pull-images"), *images], env)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "docker.log").read_text().splitlines()
    assert calls == [
        "login login --username oauth2accesstoken --password-stdin https://us-east1-docker.pkg.dev"
        f" password={TOKEN}",
        f"pull pull --quiet {images[0]}",
        f"pull pull --quiet {images[1]}",
        f"pull pull --quiet {images[2]}",
    ]


def test_pull_images_retries_then_fails_clearly(stand_in: StandIn, tmp_path: Path) -> None:
    env = {**stand_in.env(), "EDGELOG_DOCKER": str(docker_stand_in(tmp_path, fail_pulls=10))}
    env["EDGELOG_PULL_ATTEMPTS"] = "2"
    result = run([str(FILES / "edgelog-pull-images"), "ghcr.io/example/other:1"], env)
    assert result.returncode == 1 and "could not pull ghcr.io/example/other:1" in result.stderr
    assert (tmp_path / "docker.log").read_text().count("pull --quiet") == 2


def test_pull_images_without_images_or_with_a_bad_one(stand_in: StandIn, tmp_path: Path) -> None:
    env = {**stand_in.env(), "EDGELOG_DOCKER": str(docker_stand_in(tmp_path))}
    assert run([str(FILES / "edgelog-pull-images")], env).returncode == 0
    bad = run([str(FILES / "edgelog-pull-images"), "no-registry-image"], env)
    assert bad.returncode == 2 and "not a registry/repository" in bad.stderr
    assert not (tmp_path / "docker.log").exists()


def sleep_stand_in(tmp_path: Path) -> tuple[Path, Path]:
    """A `sleep` that records how long the script asked to wait and returns at once."""
    script = tmp_path / "sleep"
    log = tmp_path / "sleep.log"
    script.write_text(f'#!/usr/bin/env bash\necho "$1" >>{log}\n')
    script.chmod(0o755)
    return script, log


def test_pull_images_backs_off_for_minutes_by_default(stand_in: StandIn, tmp_path: Path) -> None:
    """A node whose registry grant or NAT is not ready yet keeps trying for minutes, not ~30 s."""
    sleep, log = sleep_stand_in(tmp_path)
    env = {**stand_in.env(), "EDGELOG_DOCKER": str(docker_stand_in(tmp_path, fail_pulls=1000))}
    env["EDGELOG_SLEEP"] = str(sleep)
    env.pop("EDGELOG_PULL_RETRY_CAP")
    result = run([str(FILES / "edgelog-pull-images"), "ghcr.io/example/other:1"], env)
    assert result.returncode == 1 and "could not pull ghcr.io/example/other:1" in result.stderr
    delays = [int(line) for line in log.read_text().split()]
    assert delays == sorted(delays) and delays[0] <= 10 and delays[-1] <= 300, delays
    assert sum(delays) >= 600, f"only {sum(delays)} s of retries"


def test_pull_images_succeeds_once_the_registry_answers(stand_in: StandIn, tmp_path: Path) -> None:
    sleep, log = sleep_stand_in(tmp_path)
    env = {**stand_in.env(), "EDGELOG_DOCKER": str(docker_stand_in(tmp_path, fail_pulls=4))}
    env["EDGELOG_SLEEP"] = str(sleep)
    result = run([str(FILES / "edgelog-pull-images"), "ghcr.io/example/other:1"], env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "docker.log").read_text().count("pull --quiet") == 5
    assert len(log.read_text().split()) == 4


def test_install_bacalhau_retries_the_download_for_minutes() -> None:
    """curl's own retry: exponential backoff (no fixed --retry-delay) bounded by --retry-max-time."""
    text = (FILES / "edgelog-install-bacalhau").read_text()
    curl = " ".join(
        line.strip().rstrip("\\") for line in text.splitlines() if line.lstrip().startswith("curl ")
    )
    assert "--retry-all-errors" in curl and "--retry-delay" not in curl
    assert int(re.search(r"--retry (\d+)", curl)[1]) >= 10
    assert int(re.search(r"--retry-max-time (\d+)", curl)[1]) >= 600
