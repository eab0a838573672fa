"""shellcheck on every shell script in the repository and on the shell embedded in the rendered cloud-init.

Scripts are found by extension (`.sh`) or by a bash/sh shebang, anywhere in the tree except virtualenvs, git
metadata and caches. The cloud-init templates are rendered with Terraform's templatefile() (see
test_cloud_init.py); every write_files entry that is a shell script and every shell-string runcmd or bootcmd
entry is checked too.
"""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from support.tools import REPO_ROOT, require_tool

# Every test here drives a real tool (see tests/support/tools.py); the fast lane deselects them.
pytestmark = pytest.mark.needs_tool("shellcheck")


SKIP_DIRS = {
    ".git",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "node_modules",
    ".terraform",
}
SHEBANG = re.compile(rb"^#!\s*(?:/usr/bin/env\s+(?:-S\s+)?)?(?:/usr)?(?:/bin/)?(bash|sh|dash|ksh)\b")


def is_skipped_dir(name: str) -> bool:
    return name in SKIP_DIRS or name.startswith(".venv")


def shell_scripts(root: Path = REPO_ROOT) -> list[Path]:
    """Every shell script below root: *.sh, or a file whose first line is a bash/sh shebang."""
    found = []
    stack = [root]
    while stack:
        directory = stack.pop()
        for entry in sorted(directory.iterdir()):
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if not is_skipped_dir(entry.name):
                    stack.append(entry)
                continue
            if not entry.is_file():
                continue
            if entry.suffix == ".sh":
                found.append(entry)
                continue
            with entry.open("rb") as fh:
                head = fh.readline(200)
            if SHEBANG.match(head):
                found.append(entry)
    return sorted(found)


def run_shellcheck(path: Path, shell: str | None = None) -> subprocess.CompletedProcess[str]:
    shellcheck = require_tool("shellcheck")
    cmd = [shellcheck, "--external-sources", "--source-path=SCRIPTDIR", "--format=gcc"]
    if shell:
        cmd.append(f"--shell={shell}")
    return subprocess.run([*cmd, str(path)], capture_output=True, text=True, timeout=120, cwd=path.parent)


def test_finds_the_scripts_it_should(tmp_path: Path) -> None:
    (tmp_path / "a.sh").write_text("echo hi\n")
    (tmp_path / "b").write_text("#!/usr/bin/env bash\necho hi\n")
    (tmp_path / "c").write_text("#!/bin/sh\necho hi\n")
    (tmp_path / "d.py").write_text("#!/usr/bin/env python3\nprint(1)\n")
    (tmp_path / ".venv-x").mkdir()
    (tmp_path / ".venv-x" / "e.sh").write_text("echo hi\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "hook").write_text("#!/bin/bash\n")
    assert [p.name for p in shell_scripts(tmp_path)] == ["a.sh", "b", "c"]
    names = {p.relative_to(REPO_ROOT).as_posix() for p in shell_scripts()}
    for expected in [
        "scripts/test.sh",
        "scripts/wait-for-nodes.sh",
        "scripts/submit-and-fetch.sh",
        "cloud-init/files/edgelog-fetch-secret",
        "cloud-init/files/edgelog-install-bacalhau",
        "cloud-init/files/edgelog-bacalhau-secrets",
        "cloud-init/files/edgelog-pull-images",
    ]:
        assert expected in names


def test_shellcheck_fails_on_a_real_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nfor f in $(ls *.log); do rm $f; done\n")
    assert run_shellcheck(bad).returncode != 0


@pytest.mark.parametrize("path", shell_scripts(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_repository_script_is_shellcheck_clean(path: Path) -> None:
    result = run_shellcheck(path)
    assert result.returncode == 0, (
        f"shellcheck {path.relative_to(REPO_ROOT)}:\n{result.stdout}{result.stderr}"
    )


def embedded_shell() -> list[tuple[str, str, str, dict[str, str]]]:
    """(id, shell, source, sibling files) of every piece of shell in the rendered cloud-init templates.

    The siblings are every file written to the same directory, so `source lib.sh` next to a script resolves.
    """
    from support.cloud_init import rendered_templates

    pieces = []
    for name, text in rendered_templates().items():
        config = yaml.safe_load(text)
        decoded: dict[str, str] = {}
        for entry in config.get("write_files", []):
            content = entry.get("content", "")
            if entry.get("encoding") in ("b64", "base64"):
                content = base64.b64decode(content).decode()
            decoded[entry["path"]] = content
        for path, content in decoded.items():
            match = SHEBANG.match(content.encode())
            if match:
                directory = path.rsplit("/", 1)[0]
                siblings = {
                    p.rsplit("/", 1)[1]: c for p, c in decoded.items() if p.rsplit("/", 1)[0] == directory
                }
                shell = "bash" if match.group(1) == b"bash" else "sh"
                pieces.append((f"{name}:{path}", shell, content, siblings))
        for key in ("bootcmd", "runcmd"):
            for index, command in enumerate(config.get(key, [])):
                if isinstance(command, str):
                    pieces.append((f"{name}:{key}[{index}]", "sh", command + "\n", {}))
                elif command[:2] in (["sh", "-c"], ["bash", "-c"], ["/bin/sh", "-c"], ["/bin/bash", "-c"]):
                    shell = command[0].rsplit("/", 1)[-1]
                    pieces.append((f"{name}:{key}[{index}]", shell, command[2] + "\n", {}))
    return pieces


def test_embedded_shell_in_rendered_cloud_init_is_shellcheck_clean(tmp_path: Path) -> None:
    pieces = embedded_shell()
    ids = [piece[0] for piece in pieces]
    assert "compute:/usr/local/sbin/edgelog-bootstrap" in ids
    assert "compute:/usr/local/sbin/edgelog-pull-images" in ids
    assert "orchestrator:/usr/local/sbin/edgelog-bootstrap" in ids
    assert "compute:/opt/edgelog/rotation/edgelog-rotate" in ids
    problems = []
    for number, (piece_id, shell, source, siblings) in enumerate(pieces):
        directory = tmp_path / f"piece{number}"
        directory.mkdir()
        for sibling, content in siblings.items():
            (directory / sibling).write_text(content)
        path = directory / (piece_id.rsplit("/", 1)[-1] if siblings else "snippet")
        path.write_text(source)
        result = run_shellcheck(path, shell=shell)
        if result.returncode != 0:
            problems.append(f"{piece_id}:\n{result.stdout}{result.stderr}")
    assert not problems, "\n".join(problems)
