"""Defaults that make every command work on a fresh machine with no cloud account."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from edgelog.errors import UsageError

BUCKET_ENV = "EDGELOG_BUCKET"
RESULTS_PREFIX = "edgelog"  # <prefix>/<jobID>/<nodeID>/<executionID>/... inside the bucket


def data_home() -> Path:
    """Where edgelog keeps local state: ``$EDGELOG_HOME`` or ``$XDG_DATA_HOME/edgelog``."""
    if env := os.environ.get("EDGELOG_HOME"):
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "edgelog"


def default_bucket_url() -> str:
    """The bucket used when none is given: ``$EDGELOG_BUCKET`` or a local directory (the embedded default)."""
    return os.environ.get(BUCKET_ENV) or (data_home() / "bucket").as_uri()


def package_data_dir(name: str, *, marker: str, env: str) -> Path:
    """``edgelog/data/<name>`` of the installed package: the report library (``queries``) or job specs.

    In a checkout and an editable install these are symlinks to the top-level ``queries/`` and ``jobs/`` (the
    one copy in git); a wheel carries the files themselves. ``marker`` is a file that must be there; ``env``
    is the variable that overrides the location, named in the error.
    """
    found = resources.files("edgelog") / "data" / name
    path = Path(str(found)).resolve()  # a checkout: the top-level directory the link points to
    if not isinstance(found, Path) or not (path / marker).is_file():
        raise UsageError(
            f"cannot find edgelog's {name}/ (looked for {marker} in the package data at {found})",
            hint=f"reinstall edgelog (its wheel ships {name}/), or set {env} to a {name}/ directory",
        )
    return path
