"""`run-local --engine docker` without a Docker engine: how specs turn into container limits, and its errors.

The engine itself runs against a real daemon in tests/test_images.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgelog.errors import ConfigError, UsageError
from edgelog.jobs.docker import (
    DEFAULT_CPU,
    DEFAULT_MEMORY,
    NODE_BACALHAU_UID,
    _container,
    docker_cli,
    parse_bytes,
    parse_cpu,
)
from edgelog.jobs.local import LocalRunner
from edgelog.jobs.spec import load_spec

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1Gb", 10**9),
        ("1GB", 10**9),
        ("512Mb", 512 * 10**6),
        ("1Gi", 2**30),
        ("1.5Gib", 3 * 2**29),
        ("100", 100),
    ],
)
def test_memory_is_read_as_go_humanize_reads_it(text: str, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("1", 1.0), ("500m", 0.5), ("250m", 0.25), ("2", 2.0)])
def test_cpu_is_a_kubernetes_quantity(text: str, expected: float) -> None:
    assert parse_cpu(text) == expected


@pytest.mark.parametrize("text", ["1 gigabyte", "-1Gb", "Gb", ""])
def test_bad_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_bytes(text)


def test_the_specs_ask_for_one_cpu_a_gigabyte_and_no_network() -> None:
    for name in ("access-log-report", "access-log-report-batch"):
        container = _container(load_spec(name, {"bucket": "b", "image": "reg/job:1", "region": "r1"}))
        assert (container.image, container.network, container.cpus, container.memory) == (
            "reg/job:1",
            "none",
            1.0,
            10**9,
        )


def test_unset_resources_get_the_node_defaults_and_default_network_is_bridge(tmp_path: Path) -> None:
    text = (REPO / "jobs" / "access-log-report.yaml").read_text()
    text = re.sub(r"\n    Resources:\n(      .*\n)+", "\n", text)
    text = re.sub(r"\n    Network:\n(      .*\n)+", "\n", text)
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    container = _container(load_spec(str(path), {"bucket": "b", "image": "i:1"}))
    assert container.network == "bridge"
    assert container.cpus == parse_cpu(DEFAULT_CPU) == 0.5
    assert container.memory == parse_bytes(DEFAULT_MEMORY) == 512 * 10**6


def test_http_network_and_gpus_are_refused(tmp_path: Path) -> None:
    text = (REPO / "jobs" / "access-log-report.yaml").read_text()
    for old, new, field in (
        ("Type: None", "Type: HTTP\n      Domains: [example.com]", "Network.Type"),
        ("Disk: 2Gb", 'Disk: 2Gb\n      GPU: "1"', "Resources.GPU"),
    ):
        path = tmp_path / "spec.yaml"
        path.write_text(text.replace(old, new))
        with pytest.raises(ConfigError) as err:
            _container(load_spec(str(path), {"bucket": "b", "image": "i:1"}))
        assert field in str(err.value)


def test_node_uid_is_the_terraform_bacalhau_uid_and_the_job_images_user() -> None:
    tf = (REPO / "terraform" / "compute.tf").read_text()
    assert re.search(rf"^\s*bacalhau_uid\s*=\s*{NODE_BACALHAU_UID}\s*$", tf, re.M)
    assert f"ARG EDGELOG_JOB_UID={NODE_BACALHAU_UID}\n" in (REPO / "jobs" / "Dockerfile").read_text()


def test_missing_docker_cli_and_unknown_engine_are_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGELOG_DOCKER", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UsageError, match="docker CLI"):
        docker_cli()
    spec = load_spec("access-log-report", {"bucket": "b", "image": "i:1"})
    with pytest.raises(UsageError, match="docker CLI"):
        LocalRunner(spec, bucket_url="file:///nonexistent", engine="docker")
    with pytest.raises(UsageError, match="unknown engine 'podman'"):
        LocalRunner(spec, bucket_url="file:///nonexistent", engine="podman")
