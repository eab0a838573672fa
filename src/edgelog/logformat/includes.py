"""Expanding a config file's ``include`` argument the way the servers do (relative to a root, globbed)."""

from __future__ import annotations

import glob
from pathlib import Path


def expand(pattern: str, root: Path) -> list[Path]:
    """Files an include pattern names: relative patterns resolve against ``root``; globs sorted by name."""
    path = Path(pattern) if Path(pattern).is_absolute() else root / pattern
    if not glob.has_magic(str(path)):
        return [path]
    anchor = Path(path.anchor)
    return sorted(anchor.glob(str(path.relative_to(anchor))))
