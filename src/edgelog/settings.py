"""Defaults that make every command work on a fresh machine with no cloud account."""

from __future__ import annotations

import os
from pathlib import Path

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
