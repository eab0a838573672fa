"""Ctrl-C and SIGTERM stop a run within a second, even in the middle of a long DuckDB query.

Python runs signal handlers only between bytecodes of the main thread, and a DuckDB query is one long call
into C++, so a handler alone waits for the query to finish (minutes, or forever). Inside
:func:`stop_on_signals` the C-level handler also writes the signal number to a wakeup pipe; a watcher thread
reads it, sets :data:`stopping` and interrupts every connection registered with :func:`interruptible`. The
query returns with an error at once, and the Python handler then raises :class:`KeyboardInterrupt` (SIGINT) or
:class:`Terminated` (SIGTERM), which unwinds the run through its ``finally`` blocks (temp files removed, no
manifest written: the results directory never claims to be complete).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol

EXIT_SIGINT = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_SIGTERM = 143  # 128 + SIGTERM

stopping = threading.Event()
"""Set once SIGINT or SIGTERM arrived: loops in worker threads (hashing) stop at their next step."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (``docker stop``, Bacalhau cancelling an execution, ``kill``)."""


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


_lock = threading.Lock()
_live: set[Interruptible] = set()


@contextmanager
def interruptible(con: Interruptible) -> Iterator[None]:
    """Interrupt ``con``'s running query when a stop signal arrives while the block runs."""
    with _lock:
        _live.add(con)
    if stopping.is_set():
        con.interrupt()
    try:
        yield
    finally:
        with _lock:
            _live.discard(con)


def interrupt_all() -> None:
    """Stop every registered connection's query now and tell worker loops to stop."""
    stopping.set()
    with _lock:
        live = list(_live)
    for con in live:
        with contextlib.suppress(Exception):  # a connection closed meanwhile has nothing left to stop
            con.interrupt()


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"terminated by {signal.Signals(signum).name}")


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Make SIGINT and SIGTERM stop the block within a second (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping.clear()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    old_term = signal.signal(signal.SIGTERM, _terminated)
    watched = {int(signal.SIGINT), int(signal.SIGTERM)}

    def watch() -> None:
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:
                return
            if watched & set(data):
                interrupt_all()

    watcher = threading.Thread(target=watch, name="edgelog-signals", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.set_wakeup_fd(old_fd)
        os.close(write_fd)  # the watcher reads EOF and ends
        watcher.join(timeout=1)
        os.close(read_fd)
