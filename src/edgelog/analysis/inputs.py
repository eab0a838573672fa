"""What an analyze run reads: the files under its input paths, their node, and the --since/--until window."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edgelog.analysis.parse import FileCounts
from edgelog.errors import UsageError
from edgelog.naming import ANALYSED_STREAMS, is_temporary, parse_rotated_name
from edgelog.resultdir import InputEntry

ROTATION_SLACK = timedelta(seconds=60)  # records may be stamped up to this long after their file's window


@dataclass
class InputFile:
    """One input file while a run reads it; becomes the manifest's :class:`InputEntry`."""

    path: Path
    name: str
    node_id: str | None
    rotated_at: datetime | None
    status: str = "ok"  # ok | failed | skipped
    error: str | None = None
    fmt: str | None = None
    counts: FileCounts = field(default_factory=FileCounts)
    size: int | None = None
    sha256: str | None = None
    parse_cache: str | None = None
    analysable: bool = True  # False: a kind of file analyze cannot read (another log stream)

    @property
    def selected(self) -> bool:
        return self.status != "skipped"

    def fail(self, error: str) -> None:
        self.status, self.error, self.counts = "failed", error, FileCounts()

    def entry(self) -> InputEntry:
        c = self.counts
        return InputEntry(
            name=self.name,
            path=str(self.path),
            node_id=self.node_id,
            size=self.size,
            sha256=self.sha256,
            format=self.fmt,
            status=self.status,
            error=self.error,
            lines_read=c.lines_read,
            lines_parsed=c.lines_parsed,
            lines_quarantined=c.lines_quarantined,
            lines_outside_window=c.lines_outside_window,
            first_ts=c.first_ts,
            last_ts=c.last_ts,
            parse_cache=self.parse_cache,
        )


def parse_time(value: str | datetime | None, option: str) -> datetime | None:
    """Parse a --since/--until value; empty means no bound (job templates pass empty strings)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strip()
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option}: {value!r} is not an ISO-8601 time", hint=f"e.g. {option} 2026-11-23T08:00:00Z"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def discover_inputs(inputs: Sequence[Path | str], exclude: Path | None = None) -> list[Path]:
    """Expand directories recursively, skipping dot-files, dot-directories and ``exclude`` (the output
    directory, so re-running into a directory below the input never reads its own results)."""
    found: list[Path] = []
    skip = exclude.resolve() if exclude is not None else None
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(
                    d for d in dirs if not d.startswith(".") and (Path(root) / d).resolve() != skip
                )
                found.extend(Path(root) / f for f in sorted(files) if not is_temporary(f))
        elif p.is_file():
            found.append(p)
        elif not p.exists():
            raise UsageError(f"input {p} does not exist", hint="pass log files or directories that hold them")
        else:
            raise UsageError(f"input {p} is not a regular file or directory")
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def plan_inputs(paths: Sequence[Path], node_id: str | None) -> list[InputFile]:
    """Each path as an input file: its node (``node_id``, else its rotated name's) and whether it is read."""
    files = []
    for p in paths:
        rn = parse_rotated_name(p.name)
        f = InputFile(p, p.name, node_id or (rn.node if rn else None), rn.rotated_at if rn else None)
        if rn is not None and rn.stream not in ANALYSED_STREAMS:
            f.status, f.error, f.analysable = "skipped", f"{rn.stream} log stream is not analysed", False
        files.append(f)
    return files


def select_window(files: list[InputFile], since: datetime | None, until: datetime | None) -> None:
    """Mark rotated files that cannot hold records in [since, until) as skipped, by their name's stamp.

    A file stamped T holds records written before T, after the previous rotation of the same node and stream.
    Files without a rotation stamp are always read; records are filtered by time afterwards either way.
    """
    groups: dict[tuple[str, str], list[InputFile]] = {}
    for f in files:
        rn = parse_rotated_name(f.name)
        if rn is not None:
            groups.setdefault((rn.stream, rn.node), []).append(f)
    for group in groups.values():
        group.sort(key=lambda f: f.rotated_at or datetime.min.replace(tzinfo=UTC))
        prev: datetime | None = None
        for f in group:
            assert f.rotated_at is not None
            if since is not None and f.rotated_at + ROTATION_SLACK <= since:
                f.status, f.error = "skipped", "rotated before --since"
            elif until is not None and prev is not None and prev - ROTATION_SLACK >= until:
                f.status, f.error = "skipped", "starts after --until"
            prev = f.rotated_at


def run_node(files: list[InputFile], node_id: str | None) -> str | None:
    """The node a run speaks for: the given id, else the one node every read file's name agrees on."""
    if node_id:
        return node_id
    names = {f.node_id for f in files if f.selected and f.node_id}
    return names.pop() if len(names) == 1 else None


def estimated_bytes(files: list[InputFile]) -> int:
    """Uncompressed input size, roughly (gzip'd logs are about 10x smaller), to pick memory or disk."""
    total = 0
    for f in files:
        if not f.selected:
            continue
        try:
            size = f.path.stat().st_size
        except OSError:
            continue
        total += size * 10 if f.name.endswith(".gz") else size
    return total
