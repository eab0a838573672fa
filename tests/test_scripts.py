"""Operator scripts in scripts/ (wait-for-nodes.sh, submit-and-fetch.sh), run with bash.

The bacalhau CLI cannot be downloaded here, so wait-for-nodes.sh is pointed (via $BACALHAU) at a stand-in that
prints `bacalhau node list --output json` documents shaped like Bacalhau's NodeState model
(Info.NodeType/Labels, Connection, Membership). submit-and-fetch.sh reads real Terraform outputs (a state
produced by `terraform apply` of a provider-free configuration) and is checked against the real edgelog CLI.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from support.tools import REPO_ROOT, require_tool

# Every test here drives a real tool (see tests/support/tools.py); the fast lane deselects them.
pytestmark = pytest.mark.needs_tool("bash", "jq")


SCRIPTS = REPO_ROOT / "scripts"
WAIT = SCRIPTS / "wait-for-nodes.sh"
SUBMIT = SCRIPTS / "submit-and-fetch.sh"
TF_ENV = {**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null", "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


def node(
    node_id: str, *, kind: str = "Compute", conn: str = "CONNECTED", member: str = "APPROVED", **labels: str
):
    return {
        "Info": {"NodeID": node_id, "NodeType": kind, "Labels": {"name": node_id, **labels}},
        "Connection": conn,
        "Membership": member,
        "ConnectionState": {"Status": conn},
    }


def bacalhau_stand_in(tmp_path: Path, listings: list[Any]) -> Path:
    """A `bacalhau` answering successive `node list --output json` calls with `listings` (the last repeats).

    A listing of None makes that call fail like an unreachable orchestrator.
    """
    state = tmp_path / "calls"
    state.write_text("0")
    for number, listing in enumerate(listings):
        (tmp_path / f"listing{number}.json").write_text("FAIL" if listing is None else json.dumps(listing))
    script = tmp_path / "bacalhau"
    script.write_text(
        f"""#!/usr/bin/env bash
set -euo pipefail
[[ "$*" == "node list --output json" ]] || {{ echo "unexpected arguments: $*" >&2; exit 64; }}
n=$(<{shlex.quote(str(state))})
echo $((n + 1)) >{shlex.quote(str(state))}
last={len(listings) - 1}
file={shlex.quote(str(tmp_path))}/listing$(( n < last ? n : last )).json
if [[ $(<"$file") == FAIL ]]; then echo "Error: connection refused" >&2; exit 1; fi
cat "$file"
"""
    )
    script.chmod(0o755)
    return script


def wait(args: list[str], bacalhau: Path | None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    require_tool("bash")
    require_tool("jq")
    env = {**os.environ}
    if bacalhau is not None:
        env["BACALHAU"] = str(bacalhau)
    return subprocess.run(
        ["bash", str(WAIT), *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_wait_help_and_usage_errors(tmp_path: Path) -> None:
    result = wait(["--help"], None)
    assert result.returncode == 0 and "Usage: scripts/wait-for-nodes.sh" in result.stdout
    assert "Example" in result.stdout
    stand_in = bacalhau_stand_in(tmp_path, [[]])
    for args in [
        [],
        ["zero"],
        ["0"],
        ["2", "3"],
        ["--timeout", "x", "2"],
        ["--label", "role", "2"],
        ["--nope", "1"],
    ]:
        result = wait(args, stand_in)
        assert result.returncode == 2, (args, result.stderr)
        assert "Try 'scripts/wait-for-nodes.sh --help'" in result.stderr
    assert (tmp_path / "calls").read_text().strip() == "0", "usage errors must not poll"


def test_wait_returns_when_enough_compute_nodes_joined(tmp_path: Path) -> None:
    listing = [
        node("orchestrator", kind="Requester", role="orchestrator"),
        node("edgelog-dev-node-us-east1-c-1", role="log-node", region="us-east1"),
        node("edgelog-dev-node-us-east1-b-1", role="log-node", region="us-east1"),
    ]
    result = wait(["--interval", "1", "2"], bacalhau_stand_in(tmp_path, [listing]))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        "edgelog-dev-node-us-east1-b-1",
        "edgelog-dev-node-us-east1-c-1",
    ]
    assert "role=log-node" in lines[0]


def test_wait_polls_until_nodes_connect(tmp_path: Path) -> None:
    joining = [node("n1", conn="DISCONNECTED"), node("n2", member="PENDING")]
    joined = [node("n1"), node("n2")]
    stand_in = bacalhau_stand_in(tmp_path, [None, joining, joined])
    started = time.monotonic()
    result = wait(["--interval", "1", "--timeout", "30", "2"], stand_in)
    assert result.returncode == 0, result.stderr
    assert "orchestrator not answering yet" in result.stderr
    assert "0/2 compute node(s)" in result.stderr and "2/2 compute node(s)" in result.stderr
    assert (tmp_path / "calls").read_text().strip() == "3"
    assert time.monotonic() - started < 20


def test_wait_counts_only_nodes_with_the_requested_labels(tmp_path: Path) -> None:
    listing = [node("a", role="log-node"), node("b", role="other"), node("c", role="log-node", region="eu")]
    result = wait(
        ["--label", "role=log-node", "--label", "region=eu", "--interval", "1", "1"],
        bacalhau_stand_in(tmp_path, [listing]),
    )
    assert result.returncode == 0 and result.stdout.split("\t")[0] == "c"


def test_wait_reads_connection_state_and_writes_the_expected_nodes(tmp_path: Path) -> None:
    """v1.9's NodeState carries the connection in ConnectionState.Status (Connection is deprecated);
    --nodes-out keeps every labelled compute node, in any state, for `edgelog fetch --expect-nodes`."""
    from edgelog.jobs.network import read_expected_nodes

    current = node("a", role="log-node")
    del current["Connection"]
    listing = [
        current,
        node("b", role="log-node", conn="DISCONNECTED"),
        node("c", role="other"),
        node("orch", kind="Requester", role="log-node"),
    ]
    out = tmp_path / "log-nodes.json"
    result = wait(
        ["--label", "role=log-node", "--nodes-out", str(out), "--interval", "1", "1"],
        bacalhau_stand_in(tmp_path, [listing]),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\t")[0] == "a"
    assert read_expected_nodes(out) == {
        "a": "connected, approved when listed",
        "b": "disconnected, approved when listed",
    }


def test_wait_times_out_with_status_1(tmp_path: Path) -> None:
    started = time.monotonic()
    result = wait(
        ["--timeout", "2", "--interval", "1", "3"], bacalhau_stand_in(tmp_path, [[node("a"), node("b")]])
    )
    assert result.returncode == 1
    assert "timed out after 2s waiting for 3 compute node(s)" in result.stderr
    assert sorted(line.split("\t")[0] for line in result.stdout.splitlines()) == ["a", "b"]
    assert time.monotonic() - started < 15


@pytest.fixture(scope="module")
def tf_outputs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Terraform state whose outputs have the names and shapes terraform/outputs.tf produces."""
    terraform = require_tool("terraform")
    directory = tmp_path_factory.mktemp("tfstate")
    (directory / "outputs.tf").write_text(
        """
output "edgelog_fetch_bucket" { value = "gs://example-project-edgelog-dev-results" }
output "bacalhau_api_host" { value = "127.0.0.1" }
output "bacalhau_api_port" { value = 1234 }
output "pre_pulled_images" {
  value = ["reg.example/edgelog-generator:1", "reg.example/job:1", "reg.example/edgelog-job:0.1.0"]
}
output "job_template_vars" {
  value = {
    bucket        = "example-project-edgelog-dev-results"
    bucket_region = "us"
    endpoint      = "https://storage.googleapis.com"
    prefix        = "edgelog"
    role          = "log-node"
  }
}
"""
    )
    for command in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        result = subprocess.run(
            [terraform, *command], cwd=directory, capture_output=True, text=True, env=TF_ENV, timeout=120
        )
        assert result.returncode == 0, result.stderr
    return directory


def test_outputs_used_by_submit_and_fetch_exist_in_the_module() -> None:
    outputs = (REPO_ROOT / "terraform" / "outputs.tf").read_text()
    names = ["edgelog_fetch_bucket", "bacalhau_api_host", "bacalhau_api_port", "job_template_vars"]
    for name in [*names, "pre_pulled_images"]:
        assert f'output "{name}"' in outputs
        assert name in SUBMIT.read_text()


def recorder(tmp_path: Path) -> Path:
    """An `edgelog` that records its arguments and the environment the script set up, then exits 3."""
    script = tmp_path / "edgelog"
    script.write_text(
        f"""#!/usr/bin/env bash
printf '%s\\0' "$@" >{shlex.quote(str(tmp_path / "argv"))}
printf '%s\\n' "$BACALHAU_API_HOST" "$BACALHAU_API_PORT" "$EDGELOG_BUCKET" "$EDGELOG_PRE_PULLED_IMAGES" \\
  >{shlex.quote(str(tmp_path / "env"))}
exit 3
"""
    )
    script.chmod(0o755)
    return script


def recorded(tmp_path: Path) -> dict[str, Any]:
    host, port, bucket, pre_pulled = (tmp_path / "env").read_text().splitlines()
    argv = (tmp_path / "argv").read_bytes().decode().split("\0")[:-1]
    return {"argv": argv, "host": host, "port": port, "bucket": bucket, "pre_pulled": pre_pulled}


def submit(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    require_tool("bash")
    require_tool("jq")
    return subprocess.run(["bash", str(SUBMIT), *args], capture_output=True, text=True, env=env, timeout=120)


def test_submit_and_fetch_builds_the_edgelog_command_from_terraform_outputs(
    tf_outputs_dir: Path, tmp_path: Path
) -> None:
    env = {**TF_ENV, "EDGELOG": str(recorder(tmp_path)), "BACALHAU_API_KEY": "example-key"}
    env.pop("BACALHAU_API_HOST", None)
    args = ["--tf-dir", str(tf_outputs_dir), "--image", "reg.example/job:1", "--out", str(tmp_path / "out")]
    args += ["--var", "since=2026-11-23T08:00:00Z", "access-log-report", "--", "--poll-interval", "5"]
    result = submit(args, env)
    assert result.returncode == 3, "the edgelog exit status is passed through"
    record = recorded(tmp_path)
    assert record["host"] == "127.0.0.1" and record["port"] == "1234"
    assert record["bucket"] == "gs://example-project-edgelog-dev-results"
    # the images the nodes pull at boot, which `edgelog job submit` checks the spec's image against
    assert (
        record["pre_pulled"]
        == "reg.example/edgelog-generator:1 reg.example/job:1 reg.example/edgelog-job:0.1.0"
    )
    argv = record["argv"]
    assert argv[:3] == ["job", "submit", "access-log-report"]
    pairs = [argv[i + 1] for i, a in enumerate(argv) if a == "--var"]
    assert pairs == [
        "bucket=example-project-edgelog-dev-results",
        "bucket_region=us",
        "endpoint=https://storage.googleapis.com",
        "prefix=edgelog",
        "role=log-node",
        "image=reg.example/job:1",
        "since=2026-11-23T08:00:00Z",
    ]
    assert argv[-7:] == [
        "--fetch",
        "--timeout",
        "1800",
        "--out",
        str(tmp_path / "out"),
        "--poll-interval",
        "5",
    ]


def test_submit_and_fetch_arguments_are_accepted_by_the_real_edgelog_cli(tf_outputs_dir: Path) -> None:
    edgelog = REPO_ROOT / ".venv" / "bin" / "edgelog"
    if not edgelog.is_file():
        pytest.skip("edgelog is not installed in .venv")
    env = {**TF_ENV, "EDGELOG": str(edgelog), "BACALHAU_API_KEY": "example-key"}
    args = ["--tf-dir", str(tf_outputs_dir), "--image", "reg.example/job:1", "--out", "/nonexistent/out"]
    result = submit([*args, "--", "--help"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Usage: edgelog job submit" in result.stdout


def test_submit_and_fetch_usage_errors(tf_outputs_dir: Path, tmp_path: Path) -> None:
    env = {**TF_ENV, "EDGELOG": str(recorder(tmp_path))}
    env.pop("EDGELOG_JOB_IMAGE", None)
    help_result = submit(["--help"], env)
    assert help_result.returncode == 0 and "Example" in help_result.stdout
    cases = [
        ([], "--image is required"),
        (["--image", "x", "--tf-dir", str(tmp_path / "missing")], "does not exist"),
        (["--image", "x", "--timeout", "soon"], "positive integer"),
        (["--image", "x", "--var", "novalue"], "NAME=VALUE"),
        (["--image", "x", "a", "b"], "one SPEC only"),
        (["--image", "x", "--tf-dir", str(tmp_path)], "edgelog_fetch_bucket is missing"),
    ]
    for args, message in cases:
        result = submit(args, env)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
    assert not (tmp_path / "argv").exists(), "edgelog must not run after a usage error"
