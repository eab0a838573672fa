"""Live mode: append traffic to a log file in real time and survive rotation without losing a line.

The contract with rotation (docs/design.md, "Generator live mode and its status file"):

* the output is opened ``O_APPEND|O_CREAT``; every ~100 ms (and at once on SIGHUP) the writer checks that
  the path still names the open inode, and reopens it when rotation renamed or deleted it;
* each ``write()`` carries whole lines only, so a rename between two writes never splits a line: lines
  written before the reopen are in the rotated file, lines after it in the new one;
* a JSON status file (written atomically) carries the counters and the inode being written; rotation's
  postrotate waits until that inode changes, and the container health check reads ``last_write_ts``;
* write errors (disk full, I/O error) are retried with exponential backoff and counted, never dropped
  silently; SIGTERM/SIGINT stop the loop, the pending batch is written and a final status is saved.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgelog.errors import EdgelogError, UsageError
from edgelog.fileio import write_text_atomic
from edgelog.generator.config import GeneratorConfig
from edgelog.generator.engine import Engine, Event, effective_seed
from edgelog.generator.formats import Formatter, make_formatter
from edgelog.generator.metrics import LiveMetrics, check_metrics_options
from edgelog.generator.options import (
    MAX_DURATION,
    MAX_LINES,
    check_count,
    check_format,
    check_formats,
    check_node,
    check_rate,
    check_seconds,
    check_seed,
)
from edgelog.logformat import LogFormat

CHECK_INTERVAL = 0.1  # seconds between inode checks
STATUS_INTERVAL = 1.0  # seconds between status-file writes
TICK = 0.05  # main-loop sleep
STOP_POLL_S = 0.05  # how often a wait between write retries looks for a stop signal
MAX_BACKOFF = 5.0
EXIT_WRITE_ATTEMPTS = 5  # after SIGTERM, how often a failing write is retried before giving up


@dataclass(kw_only=True)
class StreamStatus:
    """One live file: the stream and format it holds, the inode being written, and its counters."""

    stream: str = "access"
    format: str = "combined"
    path: str
    inode: int | None = None
    lines: int = 0
    bytes: int = 0
    reopens: int = 0
    write_errors: int = 0
    dropped_lines: int = 0
    last_write_ts: float | None = None
    first_write_ts: float | None = None
    last_error: str | None = None


STREAM_FIELDS = tuple(StreamStatus.__dataclass_fields__)


@dataclass(kw_only=True)
class LiveStatus(StreamStatus):
    """The status file (``docs/design.md`` lists the contract fields): the process, and at the top level its
    first stream (the file rotation and the health check have always read), with every stream, that one
    included, under ``streams``."""

    pid: int
    started_ts: float = 0.0
    startup_seconds: float = 0.0  # building the engine (site, visit sample, visits in progress)
    updated_ts: float = 0.0
    rate: float = 0.0
    node: str = ""
    state: str = "starting"  # starting | running | stopped
    bursts: int = 0
    stop_reason: str | None = None
    streams: list[StreamStatus] = field(default_factory=list)  # the streams after the first
    extra: dict[str, Any] = field(default_factory=dict)

    def all_streams(self) -> list[StreamStatus]:
        return [self, *self.streams]

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("extra")
        data["streams"] = [{k: data[k] for k in STREAM_FIELDS}, *data["streams"]]
        data.update(self.extra)
        return json.dumps(data, sort_keys=True)


def write_status(status_file: Path, status: LiveStatus, now: float) -> None:
    """Write the status JSON atomically (temp file in the same directory, then rename)."""
    status.updated_ts = now
    try:
        write_text_atomic(status_file, status.to_json() + "\n")
    except OSError as exc:
        status.last_error = f"status file {status_file}: {exc.strerror or exc}"


class LiveWriter:
    """An append-only file handle that follows its path across renames and survives write errors."""

    def __init__(self, path: Path, status: StreamStatus, header: str = ""):
        self.path = path
        self.status = status
        self.header = header.encode()
        self.fd: int | None = None
        self.ino: tuple[int, int] | None = None
        self.open()

    def open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        st = os.fstat(fd)
        self.fd = fd
        self.ino = (st.st_dev, st.st_ino)
        self.status.inode = st.st_ino
        if self.header and st.st_size == 0:
            os.write(fd, self.header)  # header lines are not counted in ``lines``

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None

    def moved(self) -> bool:
        """True when the path no longer names the inode we are writing (renamed away or deleted)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return True
        except OSError:
            return False  # cannot tell (e.g. permission); keep writing where we are
        return (st.st_dev, st.st_ino) != self.ino

    def reopen(self) -> bool:
        """Close and open the path again; on failure (directory gone, permissions) count it and go on
        without a file: the next write retries the open with backoff."""
        self.close()
        try:
            self.open()
        except OSError as exc:
            self.status.write_errors += 1
            self.status.last_error = f"reopen {self.path}: {exc.strerror or exc}"
            return False
        self.status.reopens += 1
        return True

    def write(
        self,
        data: bytes,
        stopping: Callable[[], bool],
        on_error: Callable[[], None],
        wait: Callable[[float], Any] = time.sleep,
    ) -> bool:
        """Write ``data`` (whole lines) completely; retry errors with backoff. False if given up on exit."""
        backoff = 0.1
        attempts_after_stop = 0
        view = memoryview(data)
        while view:
            try:
                if self.fd is None:
                    self.open()
                n = os.write(self.fd, view)  # type: ignore[arg-type]
                view = view[n:]
            except OSError as exc:
                self.status.write_errors += 1
                self.status.last_error = f"write {self.path}: {exc.strerror or exc}"
                on_error()
                if exc.errno in (errno.EBADF, errno.ENOENT, errno.ESTALE):
                    self.close()
                if stopping():
                    attempts_after_stop += 1
                    if attempts_after_stop >= EXIT_WRITE_ATTEMPTS:
                        return False
                    time.sleep(min(backoff, 0.2))
                else:
                    wait(backoff)  # returns early when a stop is requested
                backoff = min(backoff * 2, MAX_BACKOFF)
        return True


class _Signals:
    """SIGTERM/SIGINT request a stop, SIGHUP a reopen; handlers only in the main thread.

    A stop comes from a signal or from ``stop`` (set by another thread: tests, an embedding caller). The
    handlers only set attributes and take no lock: a handler runs in the main thread between two bytecodes,
    also while that thread holds ``stop``'s internal lock inside ``Event.wait``, where ``stop.set()`` would
    wait for that lock forever (a generator writing to a full disk, waiting between retries, once ignored
    SIGTERM until it was killed). So waits poll the signal's flag every :data:`STOP_POLL_S`.
    """

    def __init__(self, stop_event: threading.Event | None):
        self.stop = stop_event or threading.Event()
        self.signalled = False  # a stop signal arrived (set by the handler only)
        self.hup = False
        self.burst = False
        self.reason: str | None = None
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in (
                (signal.SIGTERM, self._on_stop),
                (signal.SIGINT, self._on_stop),
                (signal.SIGHUP, self._on_hup),
                (signal.SIGUSR1, self._on_usr1),
            ):
                self._saved[sig] = signal.signal(sig, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)

    def stopped(self) -> bool:
        """Whether a stop was requested, by a signal or through ``stop``."""
        return self.signalled or self.stop.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, less once a stop is requested; whether one was."""
        end = time.monotonic() + timeout
        while not self.stopped():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self.stop.wait(min(left, STOP_POLL_S))
        return True

    def _on_stop(self, signum: int, _frame: object) -> None:
        self.reason = signal.Signals(signum).name
        self.signalled = True  # no stop.set(): see the class's docstring

    def _on_hup(self, _signum: int, _frame: object) -> None:
        self.hup = True

    def _on_usr1(self, _signum: int, _frame: object) -> None:
        self.burst = True


def _due_events(engine: Engine, sec: int, upto_ms: int) -> list[Event]:
    """Events of second ``sec`` with ``ms <= upto_ms``, in time order; later ones stay in the bucket."""
    bucket = engine.buckets.get(sec)
    if not bucket:
        return []
    bucket.sort(key=lambda e: e[0])
    k = 0
    while k < len(bucket) and bucket[k][0] <= upto_ms:
        k += 1
    due = bucket[:k]
    if k == len(bucket):
        del engine.buckets[sec]
    else:
        engine.buckets[sec] = bucket[k:]
    return due


def stream_paths(output: Path, formats: list[str | LogFormat], node: str) -> list[Path]:
    """Where each format writes: the first ``output``, every other ``<stream>-<node><ext>`` beside it (the
    live names of edgelog.naming, which rotation turns into ``<stream>-<node>-<stamp><ext>``)."""
    paths = [output]
    for fmt in formats[1:]:
        stream, ext = check_format(fmt)
        path = output.parent / f"{stream}-{node}{ext}"
        if path in paths:
            raise UsageError(
                f"format {fmt} would write {path}, which another format already writes",
                hint="name --output after the first format's stream, e.g. "
                f"{check_format(formats[0])[0]}-{node}{check_format(formats[0])[1]}",
            )
        paths.append(path)
    return paths


def run_live(
    config: GeneratorConfig,
    output: str | Path,
    *,
    node: str = "local",
    status_file: str | Path | None = None,
    rate: float | None = None,
    seed: int | None = None,
    fmt: str | LogFormat | Sequence[str | LogFormat] = "combined",
    duration: float | None = None,
    max_lines: int | None = None,
    shaped: bool | None = None,
    stop_event: threading.Event | None = None,
    metrics_dir: str | Path | None = None,
    metrics_port: int | None = None,
    metrics_address: str = "127.0.0.1",
) -> LiveStatus:
    """Write traffic to ``output`` in real time until stopped, ``duration`` seconds or ``max_lines`` lines.

    ``fmt`` may name several formats (``["combined", "error", "app"]``): one traffic, each format written to
    its own file (:func:`stream_paths`), every file followed across renames and counted on its own in the
    status file (``streams``) and the metrics; ``max_lines`` counts the first format's lines.

    Prometheus metrics (:mod:`edgelog.generator.metrics`) go to ``metrics_dir`` (default: the status file's
    directory; no status file and no directory: none) and, with ``metrics_port``, to ``/metrics`` on
    ``metrics_address``. Returns the final counters. Raises :class:`EdgelogError` (exit 1) when lines had
    to be dropped because writes kept failing after a stop was requested, so a supervisor notices.
    """
    formats = check_formats([fmt] if isinstance(fmt, (str, LogFormat)) else fmt)
    check_node(node)
    check_rate(rate, config.data)
    check_seed(seed)
    check_count("--max-lines", max_lines, low=1, high=MAX_LINES)
    check_seconds("--duration", duration, MAX_DURATION.total_seconds())
    out = Path(output)
    paths = stream_paths(out, formats, node)
    sfile = Path(status_file) if status_file else None
    mdir = Path(metrics_dir) if metrics_dir else (sfile.parent if sfile is not None else None)
    check_metrics_options(mdir, metrics_port, metrics_address)
    now = time.time()
    run_id = secrets.randbits(64)  # a restart must not repeat the ids of an earlier run (nothing persists)
    engine = Engine(
        config, seed=effective_seed(seed, config), node=node, start=now, rate=rate, shaped=shaped, run=run_id
    )
    formatters = [make_formatter(f, engine) for f in formats]
    status = LiveStatus(
        pid=os.getpid(),
        stream=check_format(formats[0])[0],
        format=formatters[0].name,
        path=str(out),
        started_ts=now,
        rate=engine.rate,
        node=node,
        streams=[
            StreamStatus(stream=check_format(f)[0], format=formatter.name, path=str(p))
            for f, formatter, p in zip(formats[1:], formatters[1:], paths[1:], strict=True)
        ],
    )
    writers: list[LiveWriter] = []
    try:
        for st, formatter in zip(status.all_streams(), formatters, strict=True):
            try:
                writers.append(LiveWriter(Path(st.path), st, formatter.header()))
            except OSError as exc:
                raise EdgelogError(f"cannot open {st.path} for writing: {exc.strerror or exc}") from None
        metrics = LiveMetrics(status, mdir, metrics_port, metrics_address)
    except EdgelogError:
        for w in writers:
            w.close()
        raise
    status.state = "running"
    status.startup_seconds = round(time.time() - now, 3)
    sec = int(now)
    # The engine's clock starts at ``now``: the first line is stamped then, and --duration covers the traffic
    # from there on, however long building the engine took.
    deadline = now + duration if duration is not None else None
    now = time.time()
    next_check = now + CHECK_INTERVAL
    next_status = now
    with _Signals(stop_event) as sig:

        def save_status() -> None:
            if sfile is not None:
                write_status(sfile, status, time.time())
            problem = metrics.write()
            if problem:
                status.last_error = problem

        try:
            while True:
                now = time.time()
                if sig.stopped():
                    status.stop_reason = sig.reason or "stop requested"
                    break
                if deadline is not None and now >= deadline:  # write the traffic up to it, then stop
                    status.stop_reason = "duration reached"
                    now = deadline - 0.001
                if max_lines is not None and status.lines >= max_lines:
                    status.stop_reason = "max lines reached"
                    break
                if sig.hup or now >= next_check:
                    moved = [w for w in writers if sig.hup or (w.fd is not None and w.moved())]
                    sig.hup = False
                    for w in moved:
                        w.reopen()
                    if moved:
                        save_status()
                    next_check = now + CHECK_INTERVAL
                if sig.burst:  # SIGUSR1: a traffic spike now (traffic.burst factor and duration)
                    sig.burst = False
                    engine.add_burst(now)
                    status.bursts += 1
                engine.advance(now)
                now_sec, now_ms = int(now), int((now - int(now)) * 1000)
                batch: list[tuple[int, list[Event]]] = []
                budget = None if max_lines is None else max_lines - status.lines
                while sec <= now_sec and (budget is None or budget > 0):
                    events = engine.pop(sec) if sec < now_sec else _due_events(engine, sec, now_ms)
                    if budget is not None and len(events) > budget:
                        events = events[:budget]  # the rest is never written: we stop here
                    if events:
                        batch.append((sec, events))
                        if budget is not None:
                            budget -= len(events)
                    if sec < now_sec:
                        sec += 1
                    else:
                        break
                if batch and not _write_streams(batch, formatters, writers, sig, save_status):
                    status.stop_reason = "write errors after stop"
                    break
                if status.stop_reason == "duration reached":
                    break
                if now >= next_status:
                    save_status()
                    next_status = now + STATUS_INTERVAL
                time.sleep(TICK)
        finally:
            for w in writers:
                w.close()
            status.state = "stopped"
            save_status()
            metrics.close()
    dropped = [st for st in status.all_streams() if st.dropped_lines]
    if dropped:
        raise EdgelogError(
            "; ".join(
                f"{st.dropped_lines} lines could not be written to {st.path} ({st.last_error})"
                for st in dropped
            ),
            hint="check free space and permissions of the log directory",
        )
    return status


def _write_streams(
    batch: list[tuple[int, list[Event]]],
    formatters: list[Formatter],
    writers: list[LiveWriter],
    sig: _Signals,
    save_status: Callable[[], None],
) -> bool:
    """Write one batch of traffic in every format, each to its own file; False when a stream had to give up
    lines (writes kept failing after a stop was requested). Every formatter sees every event, in order, so
    the streams stay the same requests."""
    ok = True
    for formatter, writer in zip(formatters, writers, strict=True):
        data = "".join([formatter.format(sec, events) for sec, events in batch]).encode("utf-8")
        if not data:
            continue
        st = writer.status
        nlines = data.count(b"\n")
        if writer.write(data, sig.stopped, save_status, sig.wait):
            st.lines += nlines
            st.bytes += len(data)
            st.last_write_ts = time.time()
            if st.first_write_ts is None:
                st.first_write_ts = st.last_write_ts
        else:
            st.dropped_lines += nlines
            ok = False
    return ok


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str


def check_health(status_file: str | Path, max_silence: float, now: float | None = None) -> Health:
    """Judge a live generator by its status file: healthy when it wrote within ``max_silence`` seconds."""
    now = time.time() if now is None else now
    p = Path(status_file)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Health(False, f"status file {p} does not exist (generator not started?)")
    except (OSError, ValueError) as exc:
        return Health(False, f"status file {p} is unreadable: {exc}")
    if not isinstance(data, dict):
        return Health(False, f"status file {p} is not a JSON object")
    if data.get("state") == "stopped":
        return Health(False, f"generator stopped ({data.get('stop_reason') or 'unknown reason'})")
    updated = data.get("updated_ts")
    if not isinstance(updated, int | float):
        return Health(False, f"status file {p} has no updated_ts")
    if now - updated > max(max_silence, 3 * STATUS_INTERVAL):
        return Health(False, f"status not updated for {now - updated:.1f}s (generator hung or dead)")
    last = data.get("last_write_ts")
    errors = data.get("write_errors", 0)
    if last is None:
        started = data.get("started_ts") or updated
        if now - started > max_silence:
            return Health(
                False, f"no line written in {now - started:.1f}s since start ({errors} write errors)"
            )
        return Health(True, f"starting, no line written yet ({now - started:.1f}s since start)")
    silence = now - last
    if silence > max_silence:
        detail = f"; last error: {data.get('last_error')}" if data.get("last_error") else ""
        return Health(
            False, f"no write for {silence:.1f}s (max {max_silence:g}s, {errors} write errors){detail}"
        )
    return Health(True, f"last write {silence:.1f}s ago, {data.get('lines', 0)} lines, {errors} write errors")
