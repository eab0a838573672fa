"""Backfill: write past traffic on a simulated clock, exactly as 5-minute rotation would have left it.

One complete file per interval, named with :func:`edgelog.naming.rotated_name` stamped with the END of the
interval (rotation time), written to a ``.``-prefixed temporary name, fsynced and renamed into place, so a
reader never sees a partial file. No wall clock, no global RNG: same seed, config, node and start give
byte-identical files (gzip headers carry no name and mtime 0).
"""

from __future__ import annotations

import contextlib
import gc
import gzip as gzip_mod
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from edgelog.errors import EdgelogError, UsageError
from edgelog.generator.config import GeneratorConfig
from edgelog.generator.engine import Engine, effective_seed
from edgelog.generator.formats import Formatter, make_formatter
from edgelog.generator.options import (
    MAX_LINES,
    as_utc,
    check_count,
    check_format,
    check_node,
    check_rate,
    check_seed,
    check_window,
)
from edgelog.logformat import LogFormat
from edgelog.naming import rotated_name

FLUSH_BYTES = 1 << 20


def generate_chunks(formatter: Formatter, engine: Engine, a: int, b: int) -> Iterator[str]:
    """Text of every event in ``[a, b)`` seconds, in chunks of about a megabyte."""
    parts: list[str] = []
    size = 0
    fmt = formatter.format
    for sec, events in engine.seconds(a, b):
        text = fmt(sec, events)
        parts.append(text)
        size += len(text)
        if size >= FLUSH_BYTES:
            yield "".join(parts)
            parts, size = [], 0
    if parts:
        yield "".join(parts)


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while generating.

    The plan holds millions of small tuples and none of them form cycles; with the collector on, its
    repeated scans of that growing heap cost about half the run time. Reference counting still frees
    everything; the collector is back on (and catches up) when the block ends.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _open_out(f: BinaryIO, use_gzip: bool) -> BinaryIO:
    if use_gzip:
        return gzip_mod.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=6)  # type: ignore[return-value]
    return f


def backfill(
    config: GeneratorConfig,
    out_dir: str | Path,
    *,
    node: str,
    start: datetime,
    duration: timedelta,
    interval: timedelta = timedelta(minutes=5),
    fmt: str | LogFormat = "combined",
    gzip: bool = False,
    seed: int | None = None,
    rate: float | None = None,
    bursts: Sequence[datetime] = (),
) -> list[Path]:
    """Write ``duration`` of traffic from ``start`` as one rotated file per ``interval``; return the paths.

    The last file may cover less than ``interval`` when ``duration`` is not a multiple of it. ``rate``
    overrides ``traffic.requests_per_second`` (requests per second before the time-of-day multipliers);
    ``bursts`` are start times of forced traffic spikes (``traffic.burst`` factor and duration).
    """
    stream, ext = check_format(fmt)
    check_node(node)
    check_rate(rate, config.data)
    check_seed(seed)
    if duration.total_seconds() <= 0:
        raise UsageError(f"duration must be positive, got {duration}")
    if not 1 <= interval.total_seconds() <= 86_400:
        raise UsageError(f"interval must be between 1 second and 1 day, got {interval}")
    start = check_window(as_utc(start), duration).replace(microsecond=0)
    for burst in bursts:
        check_window(as_utc(burst), None, "--burst-at")
    t0 = int(start.timestamp())
    t_end = t0 + int(duration.total_seconds())
    step = int(interval.total_seconds())
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgelogError(f"cannot create output directory {out}: {exc.strerror or exc}") from None
    with no_gc():
        engine = Engine(
            config,
            seed=effective_seed(seed, config),
            node=node,
            start=float(t0),
            rate=rate,
            bursts=[as_utc(b).timestamp() for b in bursts],
        )
        formatter = make_formatter(fmt, engine)
        paths: list[Path] = []
        a = t0
        while a < t_end:
            b = min(a + step, t_end)
            name = rotated_name(node, datetime.fromtimestamp(b, UTC), stream=stream, ext=ext, gzip=gzip)
            final = out / name
            tmp = out / f".{name}.tmp"
            try:
                with tmp.open("wb") as raw:
                    f = _open_out(raw, gzip)
                    head = formatter.header()
                    if head:
                        f.write(head.encode())
                    for chunk in generate_chunks(formatter, engine, a, b):
                        f.write(chunk.encode("utf-8"))
                    if f is not raw:
                        f.close()
                    raw.flush()
                    os.fsync(raw.fileno())
                tmp.replace(final)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise EdgelogError(f"cannot write {final}: {exc.strerror or exc}") from None
            paths.append(final)
            a = b
    return paths


def stream(
    config: GeneratorConfig,
    write: Callable[[str], object],
    *,
    node: str,
    start: datetime,
    lines: int | None = None,
    duration: timedelta | None = None,
    fmt: str | LogFormat = "combined",
    seed: int | None = None,
    rate: float | None = None,
) -> int:
    """Write ``lines`` lines (or ``duration`` of traffic) from a simulated clock; return the count."""
    check_format(fmt)
    check_node(node)
    check_rate(rate, config.data)
    check_seed(seed)
    if lines is None and duration is None:
        raise UsageError("give a number of lines or a duration")
    check_count("--lines", lines, low=1, high=MAX_LINES)
    t0 = int(check_window(as_utc(start), duration).timestamp())
    t_end = t0 + int(duration.total_seconds()) if duration is not None else None
    with no_gc():
        engine = Engine(config, seed=effective_seed(seed, config), node=node, start=float(t0), rate=rate)
        formatter = make_formatter(fmt, engine)
        written = 0
        head = formatter.header()
        if head:
            write(head)
        a = t0
        while (lines is None or written < lines) and (t_end is None or a < t_end):
            b = a + 60 if t_end is None else min(a + 60, t_end)
            for sec, events in engine.seconds(a, b):
                if lines is not None and written + len(events) > lines:
                    events = events[: lines - written]
                text = formatter.format(sec, events)
                write(text)
                written += text.count("\n")
                if lines is not None and written >= lines:
                    break
            a = b
    return written
