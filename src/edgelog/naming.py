"""Node ids and the names of rotated log files: one rule each, shared by every layer and the rotation shell.

A node id is what names a node everywhere: in rotated file names, the generator's ``--node``, analyze's
``--node-id``/``$EDGELOG_NODE_ID``, the local runner's ``--node ID=DIR`` and results' ``node_id``. It is 1-63
letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit (a GCE instance name fits).

A rotated file is ``access-<node>-YYYYmmddTHHMMSSZ.log`` (optionally ``.gz``). The timestamp is the UTC
time the file was *closed* by rotation, so it holds records from before that instant. Names sort by time,
are unique per node and second, and carry the node that wrote them. Files whose name starts with ``.``
are temporary (being written or copied) and are never read.

The patterns are written in the common subset of Python's ``re`` and POSIX ERE, so the rotation scripts use
the very same string (``EDGELOG_ROTATED_RE`` in log-generator/rotation/edgelog-rotate-lib.sh; a test keeps
them equal and checks bash reads names as Python does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from edgelog.errors import UsageError

NODE_ID_PATTERN = "[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
NODE_RE = re.compile(f"^{NODE_ID_PATTERN}$")
# Groups: 1 stream, 2 node id, 3 UTC stamp, 4 extension, 5 ".gz" (or empty).
ROTATED_PATTERN = f"^([a-z]+)-({NODE_ID_PATTERN})-([0-9]{{8}}T[0-9]{{6}}Z)(\\.[A-Za-z0-9]+)(\\.gz)?$"
ROTATED_RE = re.compile(ROTATED_PATTERN)
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
# The generator's output formats and the stream and extension of their files (access-<node>-<stamp>.jsonl);
# here rather than in the generator so the CLI can name them without importing it.
FORMAT_FILES: dict[str, tuple[str, str]] = {
    "combined": ("access", ".log"),
    "common": ("access", ".log"),
    "json": ("access", ".jsonl"),
    "csv": ("access", ".csv"),
    "app": ("app", ".log"),
    "error": ("error", ".log"),
    # the log format presets (edgelog.logformat.PRESETS) beyond combined and common
    "nginx-main": ("access", ".log"),
    "vhost_combined": ("access", ".log"),
    "combined_timing": ("access", ".log"),
}
# The streams a node writes and analyze reads: the access log, nginx's error log, the application log.
ANALYSED_STREAMS = ("access", "error", "app")


def check_node_id(node_id: str, *, source: str = "node id") -> str:
    """``node_id`` if it follows the rule, else a usage error naming where it came from and the rule."""
    if not NODE_RE.match(node_id):
        raise UsageError(
            f"{source} {node_id!r} is not a valid node id",
            hint="use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return node_id


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
        raise ValueError(f"node id {node!r} must match {NODE_RE.pattern}")
    if rotated_at.tzinfo is None:
        raise ValueError("rotated_at must be timezone-aware")
    stamp = rotated_at.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    return f"{stream}-{node}-{stamp}{ext}{'.gz' if gzip else ''}"


def parse_rotated_name(name: str) -> RotatedName | None:
    """Return the parts of a rotated file name, or None when it is not one (live or foreign files)."""
    m = ROTATED_RE.match(name)
    if not m:
        return None
    stream, node, stamp, ext, gz = m.groups()
    try:  # the digits of TIMESTAMP_FORMAT, as strptime reads them (strptime costs ~10x: a merge of 1,000
        # nodes reads ~12,000 names)
        ts = datetime(
            int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]),
            int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15]), tzinfo=UTC,
        )  # fmt: skip
    except ValueError:  # 20261399T...: shaped like a stamp, but no time
        return None
    return RotatedName(stream, node, ts, ext, gz is not None)


def is_temporary(name: str) -> bool:
    """Files being written or copied have a leading dot and must not be read."""
    return name.startswith(".")
