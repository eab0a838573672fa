"""The CLI's shared behaviour: version, help, and how user errors become exit codes."""

from __future__ import annotations

import subprocess
import sys

import typer
from typer.testing import CliRunner

from edgelog import __version__
from edgelog.cli.main import EdgelogGroup, app
from edgelog.errors import ConfigError, ExitCode, IntegrityError

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"edgelog {__version__}"


def test_no_args_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage" in result.output


def test_every_command_has_help_with_an_example() -> None:
    """Each command's --help says what it does and shows an example invocation."""
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)

    def walk(group: typer.core.TyperGroup, prefix: list[str]) -> list[list[str]]:
        found = []
        for name, cmd in group.commands.items():
            if isinstance(cmd, typer.core.TyperGroup):
                found += walk(cmd, [*prefix, name])
            else:
                found.append([*prefix, name])
        return found

    commands = walk(root, [])
    assert commands, "no commands registered"
    for path in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Example" in result.output, f"`edgelog {' '.join(path)} --help` shows no example"


def test_user_error_exit_code_and_no_traceback() -> None:
    probe = typer.Typer(cls=EdgelogGroup)

    @probe.command()
    def bad() -> None:
        raise ConfigError("conf.yaml", "rates.requests_per_second", "must be >= 0, got -1", hint="set a rate")

    @probe.command()
    def corrupt() -> None:
        raise IntegrityError("checksum mismatch for node-1/summary.parquet")

    result = runner.invoke(probe, ["bad"])
    assert result.exit_code == ExitCode.USAGE
    assert "conf.yaml: rates.requests_per_second: must be >= 0" in result.output
    assert "fix: set a rate" in result.output
    assert "Traceback" not in result.output

    result = runner.invoke(probe, ["corrupt"])
    assert result.exit_code == ExitCode.INTEGRITY


def test_module_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "edgelog", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("edgelog ")
