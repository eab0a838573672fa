"""YAML that edgelog loads (tag rules, job specs) is bounded in size, and no error message formats an
unbounded value: a few hundred bytes of YAML aliases expand to billions of list items when repr'd."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.errors import ExitCode

runner = CliRunner()

# 9**8 = 43 million strings behind 8 levels of aliases; its repr alone is hundreds of megabytes.
BOMB = (
    "[&a [x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], "
    "&d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], &f [*e,*e,*e,*e,*e,*e,*e,*e,*e], "
    "&g [*f,*f,*f,*f,*f,*f,*f,*f,*f], &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]]"
)
LOG = '10.0.0.1 - - [23/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n'


def edgelog(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """A bomb runs in a child process: were it expanded, the memory and time it took would be that child's,
    not the test process's (the size checks run through the CLI runner)."""
    t0 = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "edgelog", *args], capture_output=True, text=True, timeout=120
    )
    return run, time.monotonic() - t0


def logs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.log").write_text(LOG)
    return d


def test_a_yaml_bomb_in_the_tag_rules_is_refused_quickly(tmp_path: Path) -> None:
    rules = tmp_path / "tags.yaml"
    rules.write_text(f"version: 1\ntags:\n  - name: {BOMB}\n    path: '^/x$'\n")
    run, took = edgelog("analyze", str(logs(tmp_path)), "--out", str(tmp_path / "out"), "--tags", str(rules))
    assert run.returncode == ExitCode.USAGE, run.stderr[-2000:]
    assert "tags[0].name" in run.stderr and len(run.stderr) < 2000
    assert took < 20


def test_oversized_tag_rules_are_refused(tmp_path: Path) -> None:
    rules = tmp_path / "tags.yaml"
    rules.write_text("version: 1\ntags: []\n" + "# padding\n" * 200_000)
    run = runner.invoke(
        app, ["analyze", str(logs(tmp_path)), "--out", str(tmp_path / "out"), "--tags", str(rules)]
    )
    assert run.exit_code == ExitCode.USAGE and "larger than" in run.output, run.output


def test_a_yaml_bomb_in_a_job_spec_is_refused_quickly(tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(
        f"Name: bomb\nType: {BOMB}\nTasks:\n  - Name: t\n    Engine:\n      Type: docker\n"
        "      Params:\n        Image: x\n        Entrypoint: *h\n"
    )
    run, took = edgelog("job", "validate", str(spec))
    assert run.returncode == ExitCode.USAGE, run.stderr[-2000:]
    assert "Type" in run.stderr and len(run.stdout + run.stderr) < 4000
    assert took < 20


def test_oversized_job_specs_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text("Name: big\nType: batch\n" + "# padding\n" * 200_000)
    run = runner.invoke(app, ["job", "validate", str(spec)])
    assert run.exit_code == ExitCode.USAGE and "larger than" in run.output, run.output
