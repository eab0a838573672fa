"""The generator's option values, checked: formats, node names, durations, times, rates, counts and seeds.

Each check returns the value or raises a :class:`~edgelog.errors.UsageError` that names the option and the
accepted range (exit code 2), so the library refuses nonsense the same way whoever calls it: ``nan``,
``inf``, negative or absurdly large numbers never reach the engine (where they would hang, exhaust memory or
write empty files). The default start times of ``backfill`` and ``stream`` are decided here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from edgelog.errors import UsageError, check_number, shown
from edgelog.generator.config import MAX_PEAK_RATE, MAX_RATE, peak_rate
from edgelog.generator.formats import FORMATS
from edgelog.logformat import LogFormat
from edgelog.naming import NODE_RE

MAX_DURATION = timedelta(days=366)
"""Longest ``--duration`` (and ``--interval``) accepted: a year of traffic."""
MAX_LINES = 10**12
"""Most lines ``--lines``/``--max-lines`` may ask for."""
MAX_SEED = 2**63 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Generated timestamps stay in [EARLIEST, LATEST): Unix time, and far from datetime's year-9999 overflow."""


def check_format(fmt: str | LogFormat) -> tuple[str, str]:
    """(stream, extension) of a format name, or a UsageError listing the valid names.

    A log format definition (``edgelog.logformat``) writes the access stream as ``.log`` files.
    """
    if isinstance(fmt, LogFormat):
        return ("access", ".log")
    try:
        return FORMATS[fmt]
    except KeyError:
        raise UsageError(f"unknown format {shown(fmt)}", hint=f"use one of: {', '.join(FORMATS)}") from None


def check_formats(formats: Iterable[str | LogFormat]) -> list[str | LogFormat]:
    """Distinct formats in order (repeats dropped); refuses two formats that would write the same file names.

    ``combined`` and ``common`` both write ``access-<node>-<stamp>.log``: the second would silently replace
    the first, so the pair is refused instead.
    """
    chosen: list[str | LogFormat] = []
    by_name: dict[tuple[str, str], str | LogFormat] = {}
    for fmt in formats:
        key = check_format(fmt)
        if fmt in chosen:
            continue
        if key in by_name:
            stream, ext = key
            raise UsageError(
                f"formats {by_name[key]} and {fmt} both write {stream}-<node>-<stamp>{ext} files: "
                "the second would overwrite the first",
                hint="write them in two runs with different --out directories",
            )
        by_name[key] = fmt
        chosen.append(fmt)
    return chosen


def check_node(node: str) -> str:
    if not NODE_RE.match(node):
        raise UsageError(
            f"node name {shown(node)} is not valid",
            hint="use letters, digits, '.', '_' or '-' (max 63 chars)",
        )
    return node


def as_utc(start: datetime) -> datetime:
    """Naive datetimes are taken as UTC (log timestamps and file names are UTC)."""
    return start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)


def parse_duration(text: str, what: str = "duration", maximum: timedelta = MAX_DURATION) -> timedelta:
    """``90``, ``90s``, ``5m``, ``1h30m``, ``2d``: a positive duration up to ``maximum``, or a UsageError."""
    s = text.strip().lower()
    value: timedelta | None = None
    if len(s) <= 40:
        if re.fullmatch(r"\d+(\.\d+)?", s):
            seconds = float(s)
            if seconds <= maximum.total_seconds():
                value = timedelta(seconds=seconds)
        else:
            m = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", s)
            if s and m:
                d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
                total = ((d * 24 + h) * 60 + mi) * 60 + sec
                value = timedelta(seconds=total) if total <= maximum.total_seconds() else timedelta.max
    if value is None:
        raise UsageError(f"{what} {shown(text)} is not a duration", hint="use e.g. 90s, 5m, 1h, 1h30m or 2d")
    if value.total_seconds() <= 0:
        raise UsageError(f"{what} must be positive, got {shown(text)}")
    if value > maximum:
        raise UsageError(f"{what} {shown(text)} is longer than the maximum of {_days(maximum)}")
    return value


def _days(d: timedelta) -> str:
    return f"{d.days} days" if d.days else f"{d.total_seconds():g}s"


def parse_time(text: str, what: str = "--start") -> datetime:
    """An ISO-8601 UTC time (``2026-11-23T08:00:00Z``, ``2026-11-23 08:00``; naive means UTC) for the option
    ``what``, between 1970 and 2200."""
    try:
        value = as_utc(datetime.fromisoformat(text.strip().replace("z", "Z")))
    except ValueError:
        raise UsageError(
            f"{what} {shown(text)} is not an ISO-8601 date/time", hint="use e.g. 2026-11-23T08:00:00Z"
        ) from None
    return check_time(value, what)


def check_time(value: datetime, what: str = "start") -> datetime:
    value = as_utc(value)
    if not EARLIEST <= value < LATEST:
        raise UsageError(f"{what} {value.isoformat()} is outside {EARLIEST.year}..{LATEST.year - 1}")
    return value


def check_window(start: datetime, duration: timedelta | None, what: str = "start") -> datetime:
    """``start`` and ``start + duration`` both inside the supported years."""
    start = check_time(start, what)
    if duration is not None and start + duration >= LATEST:
        raise UsageError(f"{what} + duration ends after {LATEST.year - 1}")
    return start


def default_backfill_start(duration: timedelta, interval: timedelta, now: float) -> datetime:
    """Where ``backfill`` starts without ``--start``: ``duration`` before the last interval boundary before
    ``now``, so the newest file ends on a boundary, as 5-minute rotation would have left it."""
    step = max(1, int(interval.total_seconds()))
    end = int(now) - int(now) % step
    return datetime.fromtimestamp(end - int(duration.total_seconds()), UTC)


def default_stream_start(now: float) -> datetime:
    """Where ``stream`` starts without ``--start``: the current second."""
    return datetime.fromtimestamp(int(now), UTC)


def check_rate(
    rate: float | None, config_data: Mapping[str, Any] | None = None, what: str = "--rate"
) -> None:
    """``rate`` (requests/s) finite, > 0 and at most :data:`MAX_RATE`; with the config, also its peak
    (rate x traffic shape x burst factor) at most :data:`MAX_PEAK_RATE`."""
    if rate is None:
        return
    check_number(what, rate, low=0, high=MAX_RATE, low_open=True)
    if config_data is not None:
        peak = peak_rate(config_data, rate)
        if peak > MAX_PEAK_RATE:
            raise UsageError(
                f"{what} {rate:g} with this traffic shape peaks at {peak:,.0f} requests/s, "
                f"above the maximum of {MAX_PEAK_RATE:,.0f}",
                hint="lower --rate, use --flat or lower traffic.burst.factor",
            )


def check_count(what: str, value: int | None, low: int = 1, high: int = MAX_LINES) -> None:
    if value is not None:
        check_number(what, value, low=low, high=high, integer=True)


def check_seed(seed: int | None) -> None:
    if seed is not None:
        check_number("--seed", seed, low=0, high=MAX_SEED, integer=True)


def check_seconds(what: str, value: float | None, high: float) -> None:
    """A positive, finite number of seconds up to ``high``."""
    if value is not None:
        check_number(what, value, low=0, high=high, low_open=True)
