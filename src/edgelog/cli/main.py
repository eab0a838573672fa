"""The ``edgelog`` entry point: builds the app from each area's commands and maps errors to exit codes.

Each area (generate, analyze, results, job) lives in its own module with a ``register(app)`` function, so the
CLI stays a thin layer over the library and the modules do not step on each other. Those modules import the
library inside their commands, so ``edgelog --help`` and ``--version`` load neither DuckDB nor the generator
nor the GCS client (tests/test_cli_startup.py).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

import edgelog
from edgelog import interrupts
from edgelog.errors import EdgelogError

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
_stop_reported = False  # the line saying what stopped the command is printed once


def report_error(exc: EdgelogError) -> None:
    """Print a user error the same way from every command: one line, an optional fix, no traceback."""
    err_console.print(f"[bold red]error:[/] {escape(exc.message)}")
    if exc.hint:
        err_console.print(f"  [bold]fix:[/] {escape(exc.hint)}")


class EdgelogGroup(typer.core.TyperGroup):
    """A command group that turns :class:`EdgelogError` into its message and exit code."""

    def invoke(self, ctx: Any) -> Any:  # Any: the base class types it with typer's private vendored click
        global _stop_reported
        _stop_reported = False  # one command per invocation (CliRunner runs many in one process)
        try:
            try:
                return super().invoke(ctx)
            except Exception as exc:
                if interrupts.stopping.is_set() and not isinstance(exc, typer.Exit):
                    raise interrupts.stop_exception() from None  # whatever the interrupt broke
                raise
        except EdgelogError as exc:
            report_error(exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt as exc:  # SIGINT or SIGTERM (Terminated)
            raise typer.Exit(report_stop(exc)) from None


def report_stop(exc: KeyboardInterrupt) -> int:
    """Print the one line that says a stop signal ended the command (once), and return its exit code."""
    global _stop_reported
    if not _stop_reported:
        _stop_reported = True
        err_console.print(interrupts.describe(exc))
    return interrupts.exit_code(exc)


app = typer.Typer(
    name="edgelog",
    cls=EdgelogGroup,
    help="Analyse web access logs where they are written: generate, rotate, analyze, fetch and report.\n\n"
    "Example: [bold]edgelog demo[/] runs the whole pipeline on this machine (no cloud account); then\n"
    "[bold]edgelog generate backfill -d 1h --out ./logs[/] and "
    "[bold]edgelog analyze ./logs --out ./result[/].",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgelog {edgelog.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Analyse web access logs where they are written.

    Example: [bold]edgelog demo[/] runs the whole pipeline on this machine with no cloud account.
    """


def _register_all() -> None:
    from edgelog.cli import analyze, generate, job, results

    for module in (generate, analyze, results, job):
        module.register(app)


_register_all()


# Set by a command whose process has nothing left to clean up when it returns (`generate live`): the console
# script then ends without the interpreter's teardown, which frees the generator's pools object by object
# (0.3-1 s), so a container stops within a second of SIGTERM. Never set under CliRunner (tests).
skip_teardown = False


def main() -> None:
    """Run the CLI in this process (``edgelog/__main__.py`` calls this once the stop handler is installed)."""
    global skip_teardown, _stop_reported
    skip_teardown = False  # only the command this process runs may set it
    _stop_reported = False
    try:
        try:
            sys.exit(app(standalone_mode=True) or 0)
        except KeyboardInterrupt as exc:  # a stop raised after typer's own handling (its exit, our teardown)
            sys.exit(report_stop(exc))
        except SystemExit as exc:
            # A stop raised outside the command (typer parsing the arguments) is turned into exit 130 by
            # typer, silently, and a SIGTERM's too: say what stopped the command, with its own code.
            if interrupts.stopping.is_set() and exc.code in (interrupts.EXIT_SIGINT, interrupts.EXIT_SIGTERM):
                sys.exit(report_stop(interrupts.stop_exception()))
            raise
    except SystemExit as exc:
        if not skip_teardown:
            raise
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exc.code if isinstance(exc.code, int) else 1)
