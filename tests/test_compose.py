"""log-generator/docker-compose.yml without Compose: its schema, and its services as `docker run` arguments.

Debian bookworm ships no Compose v2 (its docker-compose 1.29 rejects the top-level `name:`), so the file is
validated against the Compose Specification's own JSON schema (vendored in tests/fixtures/compose-spec) and
tests/test_images.py runs its services with plain `docker run`, translated by tests/support/docker.py.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from support.docker import compose_run_args, duration_seconds, interpolate, load_compose, service_order

REPO = Path(__file__).resolve().parent.parent
LG = REPO / "log-generator"
COMPOSE = LG / "docker-compose.yml"


def _env_example() -> dict[str, str]:
    pairs = (line.partition("=") for line in (LG / ".env.example").read_text().splitlines())
    return {name: value for name, sep, value in pairs if sep and not name.startswith("#")}


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    schema = json.loads((REPO / "tests" / "fixtures" / "compose-spec" / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    data = interpolate(yaml.safe_load(COMPOSE.read_text()), _env_example())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, errors
    assert data["services"]["rotator"]["healthcheck"]["test"][1].startswith("last=$(cat ")  # $$ -> $
    # The schema can fail: an unknown service key and a scalar where a list belongs are rejected.
    bad = copy.deepcopy(data)
    bad["services"]["generator"]["stop_grace"] = "15s"
    bad["services"]["rotator"]["cap_drop"] = "ALL"
    assert len(list(validator.iter_errors(bad))) == 2


def test_interpolation_follows_the_compose_specification() -> None:
    env = {"SET": "v", "EMPTY": ""}
    cases = {
        "${SET}": "v",
        "$SET/x": "v/x",
        "${UNSET:-d}": "d",
        "${EMPTY:-d}": "d",
        "${EMPTY-d}": "",
        "${UNSET-d}": "d",
        "${SET:+alt}": "alt",
        "${EMPTY:+alt}": "",
        "$${SET}": "${SET}",
    }
    for text, expected in cases.items():
        assert interpolate(text, env) == expected, text
    with pytest.raises(AssertionError, match="UNSET"):
        interpolate("${UNSET:?needed}", env)


def test_services_translate_to_docker_run_with_every_setting(tmp_path: Path) -> None:
    env = {**_env_example(), "EDGELOG_LIVE_VOLUME": str(tmp_path / "app"), "EDGELOG_ROTATE_INTERVAL": "2"}
    compose = load_compose(COMPOSE, env)
    services = compose["services"]
    assert service_order(services) == ["generator", "rotator"]  # depends_on
    rotator = compose_run_args(compose["name"], "rotator", services["rotator"], LG)
    joined = " ".join(rotator)
    for expected in (
        "--name edgelog-rotator-1",
        "--user 10001:10001",
        "--init",
        "--read-only",
        "--tmpfs /tmp",
        "--cap-drop ALL",
        "--security-opt no-new-privileges:true",
        f"--mount type=bind,source={tmp_path / 'app'},target=/var/log/app",
        "--mount type=volume,source=edgelog_edgelog-output,target=/var/log/logs_to_process",
        f"--mount type=bind,source={LG},target=/etc/edgelog/config,readonly",
        "--stop-timeout 60",
        "--env EDGELOG_ROTATE_INTERVAL=2",
        "--health-start-period 10m",
        "--log-opt max-file=3",
    ):
        assert expected in joined, expected
    assert rotator[-2:] == ["edgelog-generator:local", "rotate-loop"]
    assert re.search(r"--health-cmd last=\$\(cat ", joined)
    generator = compose_run_args(
        compose["name"], "generator", services["generator"], LG, health_interval="1s"
    )
    assert "--health-interval 1s" in " ".join(generator) and "--stop-timeout 15" in " ".join(generator)
    # A compose key the translation does not know fails instead of being dropped.
    with pytest.raises(AssertionError, match="privileged"):
        compose_run_args("p", "x", {**services["generator"], "privileged": True}, LG)


def test_durations() -> None:
    assert (
        duration_seconds("1m30s") == 90 and duration_seconds("15s") == 15 and duration_seconds("10m") == 600
    )
    with pytest.raises(AssertionError):
        duration_seconds("soon")
