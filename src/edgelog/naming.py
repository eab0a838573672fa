"""Names of rotated log files: one scheme shared by logrotate, the generator's backfill and the analyzer.

A rotated file is ``access-<node>-YYYYmmddTHHMMSSZ.log`` (optionally ``.gz``). The timestamp is the UTC
time the file was *closed* by rotation, so it holds records from before that instant. Names sort by time,
are unique per node and second, and carry the node that wrote them. Files whose name starts with ``.``
are temporary (being written or copied) and are never read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

ROTATED_RE = re.compile(
    r"^(?P<stream>[a-z]+)-(?P<node>[A-Za-z0-9][A-Za-z0-9_.-]*?)-(?P<ts>\d{8}T\d{6}Z)(?P<ext>\.[A-Za-z0-9]+)(?P<gz>\.gz)?$"
)
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
NODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class RotatedName:
    """The parts of a rotated file name."""

    stream: str  # "access", "error", "app"
    node: str
    rotated_at: datetime  # UTC, when the file was closed
    ext: str  # ".log", ".jsonl", ".csv"
    gzip: bool

    @property
    def name(self) -> str:
        return rotated_name(self.node, self.rotated_at, stream=self.stream, ext=self.ext, gzip=self.gzip)


def rotated_name(
    node: str, rotated_at: datetime, *, stream: str = "access", ext: str = ".log", gzip: bool = False
) -> str:
    """Build the file name logrotate gives a file closed at ``rotated_at``."""
    if not NODE_RE.match(node):
        raise ValueError(f"node name {node!r} must match {NODE_RE.pattern}")
    if rotated_at.tzinfo is None:
        raise ValueError("rotated_at must be timezone-aware")
    stamp = rotated_at.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    return f"{stream}-{node}-{stamp}{ext}{'.gz' if gzip else ''}"


def parse_rotated_name(name: str) -> RotatedName | None:
    """Return the parts of a rotated file name, or None when it is not one (live or foreign files)."""
    m = ROTATED_RE.match(name)
    if not m:
        return None
    ts = datetime.strptime(m["ts"], TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    return RotatedName(m["stream"], m["node"], ts, m["ext"], m["gz"] is not None)


def is_temporary(name: str) -> bool:
    """Files being written or copied have a leading dot and must not be read."""
    return name.startswith(".")
