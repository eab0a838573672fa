"""The job image (jobs/Dockerfile): lint-clean, pinned, non-root, every COPY source in the build context."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import duckdb
import pytest
from support.tools import require_tool

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "jobs" / "Dockerfile"
IGNORE = REPO / "jobs" / "Dockerfile.dockerignore"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.mark.needs_tool("hadolint")
def test_hadolint_passes() -> None:
    hadolint = require_tool("hadolint")
    proc = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_copy_sources_exist_and_are_in_the_build_context() -> None:
    allowed = [line[1:] for line in IGNORE.read_text().splitlines() if line.startswith("!")]
    assert "*" in IGNORE.read_text().splitlines()  # allow-list: nothing else is sent to the daemon
    copies = [rest for word, rest in _instructions() if word == "COPY"]
    assert copies
    stages = [rest.split()[-1] for word, rest in _instructions() if word == "FROM" and " AS " in rest]
    for rest in copies:
        if rest.startswith("--from="):  # the wheel from the build stage, not the build context
            assert rest.split()[0].removeprefix("--from=") in stages, rest
            continue
        *sources, _dest = rest.split()
        for source in sources:
            assert not source.startswith("--"), "no COPY --chown needed"
            assert (REPO / source).exists(), f"COPY source {source} does not exist (context = repo root)"
            top = source.rstrip("/")
            assert any(top == a or top.startswith(a.rstrip("/") + "/") for a in allowed), (
                f"{source} is ignored"
            )


def test_base_image_pinned_and_user_non_root() -> None:
    instructions = _instructions()
    # One pinned base for every stage.
    (base,) = {rest.split()[0] for word, rest in instructions if word == "FROM"}
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    users = [rest for word, rest in instructions if word == "USER"]
    assert users, "the image must switch to a non-root user"
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    uid = users[-1].split(":")[0]
    uid = args.get(uid.strip("${}"), uid)
    assert uid.isdigit() and int(uid) >= 1000


def test_duckdb_is_pinned_to_the_tested_version() -> None:
    constraints = (REPO / "log-generator" / "constraints.txt").read_text()
    assert f"duckdb=={duckdb.__version__}\n" in constraints
    assert f"'{duckdb.__version__}'" in DOCKERFILE.read_text()  # the build fails if pip resolved another one
