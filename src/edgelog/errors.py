"""Errors users can act on, and the exit codes scripts can rely on.

Every layer raises these instead of printing; the CLI turns them into one clear message (no traceback)
and the matching exit code. Codes are stable and documented in README.md.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Process exit codes shared by every ``edgelog`` command."""

    OK = 0
    FAILED = 1  # nothing useful was produced (every input failed, the job failed, ...)
    USAGE = 2  # bad arguments, config, job spec or SQL file: the user must fix something
    PARTIAL = 3  # results were produced but some inputs, nodes or queries failed: see the manifest
    INTEGRITY = 4  # a checksum or manifest did not verify: results cannot be trusted as they are


class EdgelogError(Exception):
    """An error with a message meant for a person and an exit code meant for a script."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None, exit_code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class UsageError(EdgelogError):
    """The user asked for something that cannot work as asked."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A config, job spec, rule or SQL file is invalid: names the file, the field and the fix."""

    def __init__(self, path: str | Path | None, field: str | None, problem: str, *, hint: str | None = None):
        where = str(path) if path is not None else "<config>"
        if field:
            where = f"{where}: {field}"
        super().__init__(f"{where}: {problem}", hint=hint)
        self.path = str(path) if path is not None else None
        self.field = field
        self.problem = problem


class IntegrityError(EdgelogError):
    """Data did not verify against its manifest or checksum."""

    exit_code = ExitCode.INTEGRITY
