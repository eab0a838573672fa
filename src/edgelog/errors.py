"""Errors users can act on, and the exit codes scripts can rely on.

Every layer raises these instead of printing; the CLI turns them into one clear message (no traceback)
and the matching exit code. Codes are stable and documented in README.md.
"""

from __future__ import annotations

import math
import os
import reprlib
from enum import IntEnum
from pathlib import Path
from typing import Any

MAX_SHOWN = 80
"""Characters of a user-supplied value that a message may show (see :func:`shown`)."""

_repr = reprlib.Repr()
_repr.maxlevel = 2
_repr.maxdict = _repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdeque = 4
_repr.maxstring = _repr.maxother = _repr.maxlong = MAX_SHOWN


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """A bounded ``repr`` of a user-supplied value for an error message.

    Never formats more than a few nested items of a container nor more than ``limit`` characters, whatever
    the value is: a YAML alias bomb (a list of lists of lists ... sharing references) reprs to exponentially
    large text, and a multi-megabyte string would flood the terminal. Every layer uses this for values it
    did not produce itself.
    """
    try:
        text = _repr.repr(value)
    except Exception:  # e.g. an int beyond Python's digit limit: say what it is, not what it holds
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


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


def check_number(
    what: str, value: float, *, low: float, high: float, integer: bool = False, low_open: bool = False
) -> float:
    """``value`` if it is a finite number in ``[low, high]`` (``(low, high]`` with ``low_open``), else a
    :class:`UsageError` naming ``what`` (an option such as ``--rate``) and the accepted range."""
    ok = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    ok = ok and not isinstance(value, bool)
    if ok and integer and value != int(value):
        ok = False
    if ok:
        ok = (low < value if low_open else low <= value) and value <= high
    if not ok:
        kind = "a whole number" if integer else "a number"
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise UsageError(f"{what} must be {kind} {bound} and <= {high:g}, got {shown(value)}")
    return value


def env_number(
    name: str, default: float, *, low: float, high: float, integer: bool = False, low_open: bool = False
) -> float:
    """``$name`` as a number checked like an option (:func:`check_number`); ``default`` if unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value: float = int(text) if integer and text.isdigit() else float(text)
    except ValueError:  # not a number, or an integer past Python's digit limit
        value = math.nan
    return check_number(f"${name}", value, low=low, high=high, integer=integer, low_open=low_open)


class IntegrityError(EdgelogError):
    """Data did not verify against its manifest or checksum."""

    exit_code = ExitCode.INTEGRITY
