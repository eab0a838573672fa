"""The cloud-init templates rendered with Terraform's own templatefile() and example variables.

Shared by test_cloud_init.py, test_shellcheck.py and test_terraform.py. The variables are shaped exactly like
the ones terraform/{compute,orchestrator}.tf pass; rendering needs only `terraform console` (no provider).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support.tools import REPO_ROOT, require_tool

CLOUD_INIT_DIR = REPO_ROOT / "cloud-init"
FILES_DIR = CLOUD_INIT_DIR / "files"
TF_DIR = REPO_ROOT / "terraform"
GENERATOR_DIR = REPO_ROOT / "log-generator"
ROTATION_DIR = GENERATOR_DIR / "rotation"
SCHEMA_FILE = Path("/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json")
TF_ENV = {**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null", "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}

# Example values. None of them is a real secret or checksum: the test only needs well-formed values.
EXAMPLE_SHA256 = hashlib.sha256(b"edgelog test archive").hexdigest()
ORCHESTRATOR_IP = "10.20.0.2"
NODE_NAME = "edgelog-dev-node-us-east1-b-1"
GENERATOR_IMAGE = "us-east1-docker.pkg.dev/example-project/edgelog/edgelog:0.1.0"
SCRIPTS = [
    "edgelog-fetch-secret",
    "edgelog-install-bacalhau",
    "edgelog-bacalhau-secrets",
    "edgelog-pull-images",
    "edgelog-install-monitoring",
]
JOB_IMAGE = "us-east1-docker.pkg.dev/example-project/edgelog/edgelog-job:0.1.0"
# node_exporter's textfile directory on Debian/Ubuntu (the package's default --collector.textfile.directory).
METRICS_DIR = "/var/lib/prometheus/node-exporter"


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def rotation_files() -> dict[str, dict[str, str]]:
    """Same selection and modes as local.rotation_files in terraform/compute.tf."""
    files = {}
    for path in sorted(ROTATION_DIR.iterdir()):
        name = path.name
        if not path.is_file() or name.startswith(".") or name.endswith((".cron", ".logrotate")):
            continue
        mode = "0755" if path.read_bytes().startswith(b"#!") else "0644"
        files[name] = {"b64": b64(path), "mode": mode}
    return files


def common_vars() -> dict[str, Any]:
    return {
        "bacalhau_version": "v1.9.3",
        "bacalhau_url": "https://github.com/bacalhau-project/bacalhau/releases/download/v1.9.3/"
        "bacalhau_v1.9.3_linux_amd64.tar.gz",
        "bacalhau_sha256": EXAMPLE_SHA256,
        "token_secret": "projects/example-project/secrets/edgelog-dev-bacalhau-token",
        "api_port": 1234,
        "nats_port": 4222,
        "fetch_secret_script": b64(FILES_DIR / "edgelog-fetch-secret"),
        "install_bacalhau_script": b64(FILES_DIR / "edgelog-install-bacalhau"),
        "bacalhau_secrets_script": b64(FILES_DIR / "edgelog-bacalhau-secrets"),
    }


def orchestrator_vars() -> dict[str, Any]:
    return {
        **common_vars(),
        "node_name": "edgelog-dev-orchestrator",
        "api_key_secret": "projects/example-project/secrets/edgelog-dev-bacalhau-api-key",
        "default_publisher": {
            "Type": "s3",
            "Params": {
                "Bucket": "example-project-edgelog-dev-results",
                "Key": "edgelog/{jobID}/{nodeID}/{executionID}",
                "Endpoint": "https://storage.googleapis.com",
                "Region": "us",
                "Encoding": "plain",
            },
        },
        "bacalhau_labels": {
            "role": "orchestrator",
            "environment": "dev",
            "region": "us-east1",
            "zone": "us-east1-b",
        },
    }


# What Terraform's local.generator_settings sets; EDGELOG_NODE is not among them: the template sets it from
# node_name, the same value Bacalhau gets as its node id.
GENERATOR_SETTINGS = {
    "EDGELOG_IMAGE": GENERATOR_IMAGE,
    "EDGELOG_UID": "10001",
    "EDGELOG_GID": "10001",
    "EDGELOG_LIVE_VOLUME": "/var/log/app",
    "EDGELOG_STATE_VOLUME": "/var/lib/edgelog",
    "EDGELOG_OUTPUT_VOLUME": "/var/log/logs_to_process",
    "EDGELOG_CONFIG_DIR": "/etc/edgelog/generator",
}


def generator_env() -> str:
    """.env.example with the node's values substituted in place, as local.generator_env does."""
    lines = []
    for line in (GENERATOR_DIR / ".env.example").read_text().strip().split("\n"):
        key = re.match(r"([A-Z][A-Z0-9_]*)=", line)
        lines.append(
            f"{key[1]}={GENERATOR_SETTINGS[key[1]]}" if key and key[1] in GENERATOR_SETTINGS else line
        )
    return "\n".join(lines)


def compute_vars() -> dict[str, Any]:
    return {
        **common_vars(),
        "node_name": NODE_NAME,
        "hmac_secret": "projects/example-project/secrets/edgelog-dev-publisher-hmac-secret",
        "pull_images_script": b64(FILES_DIR / "edgelog-pull-images"),
        "install_monitoring_script": b64(FILES_DIR / "edgelog-install-monitoring"),
        "metrics_dir": METRICS_DIR,
        "node_exporter_version": "1.7.0*",
        "ops_agent_version": "2.70.0",
        "job_images": [JOB_IMAGE, "ghcr.io/example/edgelog-job:0.1.0"],
        "hmac_access_id": "GOOG1EXAMPLEACCESSIDFORTESTSONLY",
        "orchestrator_address": ORCHESTRATOR_IP,
        "reject_networked_jobs": True,
        "bacalhau_labels": {
            "role": "log-node",
            "environment": "dev",
            "region": "us-east1",
            "zone": "us-east1-b",
        },
        "rotation_files": rotation_files(),
        "rotate_env": "\n".join(
            [
                f"EDGELOG_METRICS_DIR={METRICS_DIR}",
                "EDGELOG_LIVE_DIR=/var/log/app",
                "EDGELOG_STAGING_DIR=/var/log/app/rotated",
                "EDGELOG_OUTPUT_DIR=/var/log/logs_to_process",
                "EDGELOG_STATUS_FILE=/var/lib/edgelog/generator.json",
                "EDGELOG_STATE_DIR=/var/lib/edgelog-rotate",
            ]
        ),
        "rotate_cron": b64(ROTATION_DIR / "edgelog-rotate.cron"),
        "rotate_logrotate": b64(ROTATION_DIR / "edgelog-rotate.logrotate"),
        "generator_compose": b64(GENERATOR_DIR / "docker-compose.yml"),
        "generator_env": generator_env(),
        "generator_image": GENERATOR_IMAGE,
        "generator_uid": 10001,
        "bacalhau_uid": 10002,
        "generator_gid": 10001,
    }


TEMPLATES = {"orchestrator": orchestrator_vars, "compute": compute_vars}


def console(expression: str, tmp_dir: Path) -> str:
    """Evaluate one expression with Terraform's own functions (an empty directory: no provider needed)."""
    terraform = require_tool("terraform")
    result = subprocess.run(
        [terraform, "console"],
        input=expression + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_dir,
        env=TF_ENV,
        timeout=120,
    )
    assert result.returncode == 0, f"terraform console failed:\n{result.stderr}"
    return result.stdout.strip()


def render(name: str, variables: dict[str, Any], tmp_dir: Path) -> str:
    """templatefile() with the variables read from a JSON file (console input lines are limited to 64 KiB)."""
    path = CLOUD_INIT_DIR / f"{name}.yaml.tftpl"
    vars_file = tmp_dir / f"{name}-vars.json"
    vars_file.write_text(json.dumps(variables))
    expression = (
        f"base64encode(templatefile({json.dumps(str(path))}, jsondecode(file({json.dumps(str(vars_file))}))))"
    )
    return base64.b64decode(json.loads(console(expression, tmp_dir))).decode()


@functools.cache
def rendered_text(name: str) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return render(name, TEMPLATES[name](), Path(tmp))


def rendered_templates() -> dict[str, str]:
    """Every template rendered with the example variables (used by test_shellcheck.py too)."""
    return {name: rendered_text(name) for name in sorted(TEMPLATES)}


def write_files(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """write_files entries by path, with their content decoded."""
    files = {}
    for entry in config["write_files"]:
        content = entry.get("content", "")
        if entry.get("encoding") in ("b64", "base64"):
            content = base64.b64decode(content).decode()
        files[entry["path"]] = {**entry, "decoded": content}
    return files


def ops_agent_config() -> dict[str, Any]:
    files = write_files(yaml.safe_load(rendered_text("compute")))
    return yaml.safe_load(files["/etc/edgelog/ops-agent.yaml"]["decoded"])
