"""What an analyze run reads: the files under its input paths, their node, and the --since/--until window."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edgelog import interrupts
from edgelog.analysis.parse import FileCounts
from edgelog.errors import UsageError
from edgelog.fileio import CHUNK, hash_file
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


@dataclass(frozen=True)
class Found:
    """One entry under the input paths: a file to read, or why it is not read (``failed`` or ``skipped``)."""

    path: Path
    status: str = "ok"  # ok | failed | skipped
    error: str | None = None


def discover_inputs(inputs: Sequence[Path | str], exclude: Path | None = None) -> list[Found]:
    """Every entry under ``inputs``, each accounted for: regular files to read, everything else with a reason.

    Directories are walked recursively in name order, skipping dot-files, dot-directories and ``exclude``
    (the output directory, so re-running into a directory below the input never reads its own results).
    Nothing is opened here (``stat`` only), so a FIFO or a device can never block or flood a run:

    * a directory that cannot be listed, a symlink loop, a dangling symlink, or any other error examining an
      entry is ``failed`` (the run is partial, exit 3);
    * FIFOs, sockets and devices are ``skipped`` (``not a regular file (FIFO)``), as are links to
      directories (never followed, so a link cannot make the walk loop) and a second path to a file already
      found (a symlink or hard link: the same bytes are read once).
    """
    skip = exclude.resolve() if exclude is not None else None
    found: list[Found] = []
    for item in inputs:
        p = Path(item)
        try:
            st = p.stat()
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) and not p.is_symlink():
                raise UsageError(
                    f"input {p} does not exist", hint="pass log files or directories that hold them"
                ) from None
            raise UsageError(f"input {p}: {_stat_problem(p, exc)}") from None
        if stat.S_ISDIR(st.st_mode):
            _walk(p, skip, found)
        elif stat.S_ISREG(st.st_mode):
            found.append(Found(p))
        else:
            raise UsageError(f"input {p} is not a regular file or directory ({_kind(st.st_mode)})")
    return _read_once(found)


def _walk(top: Path, skip: Path | None, found: list[Found]) -> None:
    """Depth-first, in name order; every error is recorded as a failed entry, never raised or ignored."""
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            found.append(Found(directory, "failed", f"cannot list directory: {exc.strerror or exc}"))
            continue
        subdirs = []
        for entry in entries:
            if is_temporary(entry.name):
                continue
            path = Path(entry.path)
            try:
                st = path.stat()
            except OSError as exc:
                found.append(Found(path, "failed", _stat_problem(path, exc)))
                continue
            if stat.S_ISDIR(st.st_mode):
                if entry.is_symlink():
                    found.append(Found(path, "skipped", "symbolic link to a directory (not followed)"))
                elif skip is None or path.resolve() != skip:
                    subdirs.append(path)
            elif stat.S_ISREG(st.st_mode):
                found.append(Found(path))
            else:
                found.append(Found(path, "skipped", f"not a regular file ({_kind(st.st_mode)})"))
        stack.extend(reversed(subdirs))


def _read_once(found: list[Found]) -> list[Found]:
    """A second path to a file already found (a symlink, a hard link) is skipped, naming the first; the very
    same path given twice (a file and its directory as inputs) is listed once."""
    first: dict[tuple[int, int], Path] = {}
    listed: set[Path] = set()
    result = []
    for f in found:
        absolute = f.path.absolute()
        if absolute in listed:
            continue
        listed.add(absolute)
        if f.status != "ok":
            result.append(f)
            continue
        try:
            st = f.path.stat()
        except OSError as exc:
            result.append(Found(f.path, "failed", _stat_problem(f.path, exc)))
            continue
        key = (st.st_dev, st.st_ino)
        if key in first:
            result.append(Found(f.path, "skipped", f"same file as {first[key]}"))
            continue
        first[key] = f.path
        result.append(f)
    return result


def _stat_problem(path: Path, exc: OSError) -> str:
    """Why an entry could not be examined, in words (a symlink loop and a dangling link say so)."""
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(exc, FileNotFoundError) and path.is_symlink():
        try:
            target = str(path.readlink())
        except OSError:
            target = "?"
        return f"dangling symbolic link (to {target})"
    return f"cannot examine: {exc.strerror or exc}"


def _kind(mode: int) -> str:
    """What a non-regular file is, for the reason it is skipped."""
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return f"mode {stat.S_IFMT(mode):o}"


def plan_inputs(found: Sequence[Found], node_id: str | None) -> list[InputFile]:
    """Each entry as an input file: its node (``node_id``, else its rotated name's) and whether it is read."""
    files = []
    for entry in found:
        p = entry.path
        rn = parse_rotated_name(p.name)
        f = InputFile(p, p.name, node_id or (rn.node if rn else None), rn.rotated_at if rn else None)
        if entry.status != "ok":
            f.status, f.error = entry.status, entry.error
        elif rn is not None and rn.stream not in ANALYSED_STREAMS:
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
        if rn is not None and f.status == "ok":
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


class FileChanged(Exception):
    """An input file changed while it was read (the message says how)."""


class Snapshot:
    """An input file's identity before anything reads it, so the manifest describes exactly the bytes parsed.

    Taking a snapshot opens the file non-blocking, checks that it is a regular file and records its identity
    (device, inode, size, mtime); the descriptor is closed again, so a run over thousands of rotated files
    never holds them all open. :meth:`hash` digests exactly :attr:`size` bytes of that same file (by identity,
    not by name); :meth:`changed` says whether the path differs from the identity now. When nothing changed
    between the snapshot (taken before DuckDB reads the file) and the end of parsing, the bytes DuckDB parsed
    are the bytes hashed. When something did, :meth:`copy_to` freezes the file's current bytes in a private
    copy, which is then parsed and hashed instead.
    """

    def __init__(self, path: Path):
        self.path = path
        fd, st = _open_regular(path)
        os.close(fd)
        self.size = st.st_size
        self._identity = _identity(st)

    def _reopen(self) -> int:
        """A descriptor of the snapshot's file (FileChanged if the path no longer leads to it)."""
        try:
            fd, st = _open_regular(self.path)
        except FileNotFoundError:
            raise FileChanged("moved away") from None
        if _identity(st)[:2] != self._identity[:2]:
            os.close(fd)
            raise FileChanged("replaced by another file")
        return fd

    def hash(self, cancel: threading.Event) -> str:
        """sha256 of exactly the first :attr:`size` bytes (FileChanged if the file is now shorter or gone)."""
        digest = hashlib.sha256()
        offset = 0
        fd = self._reopen()
        try:
            while offset < self.size:
                if cancel.is_set() or interrupts.stopping.is_set():
                    raise FileChanged("reading was interrupted")
                chunk = os.pread(fd, min(CHUNK, self.size - offset), offset)
                if not chunk:
                    raise FileChanged(f"shrank from {self.size} to {offset} bytes")
                digest.update(chunk)
                offset += len(chunk)
        finally:
            os.close(fd)
        return digest.hexdigest()

    def changed(self) -> str | None:
        """How the file at the path differs from the snapshot (None: it does not)."""
        try:
            now = _identity(self.path.stat())
        except OSError:
            return "moved away"
        if now[:2] != self._identity[:2]:
            return "replaced by another file"
        if now != self._identity:
            return f"size {self._identity[2]} -> {now[2]} bytes" if now[2] != self.size else "modified"
        return None

    def copy_to(self, dest: Path, *, whole_lines: bool, cancel: threading.Event) -> tuple[int, str]:
        """Copy the file's current bytes to ``dest`` (up to its last newline with ``whole_lines``, so a line
        half written at this moment is left for the next run); return the copy's size and sha256."""
        fd = self._reopen()
        try:
            limit = os.fstat(fd).st_size
            offset, complete = 0, 0
            with dest.open("wb") as out:
                while offset < limit:
                    if cancel.is_set() or interrupts.stopping.is_set():
                        raise FileChanged("reading was interrupted")
                    chunk = os.pread(fd, min(CHUNK, limit - offset), offset)
                    if not chunk:
                        break
                    out.write(chunk)
                    newline = chunk.rfind(b"\n")
                    if newline >= 0:
                        complete = offset + newline + 1
                    offset += len(chunk)
                if whole_lines and complete != offset:
                    out.truncate(complete)
        finally:
            os.close(fd)
        return hash_file(dest, "sha256")


def _open_regular(path: Path) -> tuple[int, os.stat_result]:
    """Open ``path`` without blocking (a FIFO put there meanwhile never hangs); check it is a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileChanged(f"is no longer a regular file ({_kind(st.st_mode)})")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
