"""Ctrl-C and SIGTERM stop a run within a second, even in the middle of a long DuckDB query.

Python runs signal handlers only between bytecodes of the main thread, and a DuckDB query is one long call
into C++, so a handler alone waits for the query to finish (minutes, or forever). Inside
:func:`stop_on_signals` the C-level handler also writes the signal number to a wakeup pipe; a watcher thread
reads it, sets :data:`stopping` and interrupts every connection registered with :func:`interruptible`, again
every 50 ms until the block ends (DuckDB forgets an interrupt when a connection's next query starts). The
query returns with an error at once, and the Python handler then raises :class:`Interrupted` (SIGINT) or
:class:`Terminated` (SIGTERM), both ``KeyboardInterrupt``, which unwinds the run through its ``finally``
blocks (temp files removed, no manifest written: the results directory never claims to be complete).

The CLI's entry point calls :func:`install` before it imports typer, rich or DuckDB, so the same handler
stops a run from its first moment, and it always *records* the stop before it raises: an exception that
some code swallows cannot lose the stop (DuckDB's extension swallows one raised while it initialises, and
the run then went on to its end), because :func:`stop_on_signals` raises at its start for a stop that came
before. SIGINT raises :class:`Interrupted`, never a bare ``KeyboardInterrupt``: CPython marks the process
to kill itself with SIGINT at exit whenever an exception of exactly that type leaves code run by ``exec()``
or ``eval()`` of a string (dataclass and namedtuple creation run such code), even one caught afterwards,
so the run printed "interrupted" and then died by the signal instead of exiting 130. Code that an exception
raised in its middle would break (DuckDB's extension initialising) runs under :func:`deferred`.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol

EXIT_SIGINT = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_SIGTERM = 143  # 128 + SIGTERM
REINTERRUPT_S = 0.05  # after a stop, how often running queries are interrupted again

stopping = threading.Event()
"""Set once SIGINT or SIGTERM arrived: loops in worker threads (hashing) stop at their next step."""


class Interrupted(KeyboardInterrupt):
    """SIGINT arrived (Ctrl-C); a subclass, so CPython never takes it for an unhandled Ctrl-C (module doc)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (``docker stop``, Bacalhau cancelling an execution, ``kill``)."""


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


_lock = threading.Lock()
_live: set[Interruptible] = set()
_received: list[int] = []  # the stop signals that arrived, in order
_deferring = 0  # > 0 while the main thread runs code that must not see the stop's exception (deferred)


@contextmanager
def interruptible(con: Interruptible) -> Iterator[None]:
    """Interrupt ``con``'s running query when a stop signal arrives while the block runs."""
    # DuckDB clears a connection's interrupt when its next query starts, so interrupting a connection that
    # runs nothing yet would be lost (and the query run to its end): a stop that came first stops here.
    check()
    with _lock:
        _live.add(con)
    try:
        yield
    finally:
        with _lock:
            _live.discard(con)


def check() -> None:
    """Raise the stop signal's exception if one arrived.

    Code that catches a DuckDB error calls this first: an interrupted query surfaces as an ordinary error
    (a ``RuntimeError`` from some DuckDB calls), and the Python-level handler may not have run yet.
    """
    if stopping.is_set():
        raise stop_exception()


def stop_exception() -> KeyboardInterrupt:
    """The exception that stands for the stop signal received (SIGTERM: :class:`Terminated`)."""
    if signal.SIGTERM in _received:
        return Terminated("terminated by SIGTERM")
    return Interrupted()


def describe(exc: KeyboardInterrupt) -> str:
    """The one line a stopped command prints."""
    return "terminated" if isinstance(exc, Terminated) else "interrupted"


def exit_code(exc: KeyboardInterrupt) -> int:
    """What a stopped command exits with: 128 + the signal, as shells report it."""
    return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT


def reset() -> None:
    """Forget an earlier stop (a new run starts; tests)."""
    stopping.clear()
    _received.clear()


def signal_arrived(signum: int) -> None:
    """Record a stop signal and interrupt every running query (the watcher thread's job, on its own)."""
    _received.append(signum)
    interrupt_all()


def interrupt_all() -> None:
    """Stop every registered connection's query now and tell worker loops to stop."""
    stopping.set()
    with _lock:
        live = list(_live)
    for con in live:
        with contextlib.suppress(Exception):  # a connection closed meanwhile has nothing left to stop
            con.interrupt()


def _stop(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler: record the signal (DuckDB's own signal check, or an extension's start-up,
    may swallow the exception this raises, so :func:`check` must still see it) and raise, unless a stop is
    already unwinding the run: the watcher usually stops it first (an interrupted query raises and
    :func:`check` turns that into the stop), and this handler, run later for the same signal in a
    ``finally`` or in the CLI's ``except``, would cut the cleanup or the message short."""
    _received.append(signum)
    stopping.set()
    if not _deferring and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
        raise stop_exception()


@contextmanager
def deferred() -> Iterator[None]:
    """Only record a stop signal while the block runs, and raise it when the block ends.

    For code that breaks on an exception raised in its middle: DuckDB's extension runs Python code while it
    initialises (``import duckdb``) and swallows an exception raised there, turns it into an ImportError,
    or aborts the process (nanobind creating an enum), all seen with a Ctrl-C at load ~6.
    """
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    check()


def install() -> None:
    """Let SIGINT stop the process through the recording handler from now on (the CLI's entry point, before
    anything heavy is imported). An ignored SIGINT (``nohup``, a background job) stays ignored."""
    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _stop)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Make SIGINT and SIGTERM stop the block within a second (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    check()  # a stop recorded before (its exception swallowed during start-up): the run does not start
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    old_term = signal.signal(signal.SIGTERM, _stop)
    old_int = signal.getsignal(signal.SIGINT)
    handles_int = old_int is signal.default_int_handler or old_int is _stop  # an ignored SIGINT stays so
    if handles_int:
        signal.signal(signal.SIGINT, _stop)
    watched = {int(signal.SIGINT), int(signal.SIGTERM)}

    def watch() -> None:
        while True:
            # After a stop, interrupt again every REINTERRUPT_S until the block ends: DuckDB forgets an
            # interrupt when a connection's next query starts, so one that landed between two queries (or
            # before a sandbox's stream began) would let the next query run to its end.
            try:
                ready, _, _ = select.select([read_fd], [], [], REINTERRUPT_S)
                data = os.read(read_fd, 64) if ready else None
            except (OSError, ValueError):
                return
            if data is None:
                if stopping.is_set():
                    interrupt_all()
                continue
            if not data:
                return
            for signum in sorted(watched & set(data)):
                signal_arrived(signum)

    watcher = threading.Thread(target=watch, name="edgelog-signals", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old_term)
        if handles_int:
            signal.signal(signal.SIGINT, old_int)
        signal.set_wakeup_fd(old_fd)
        os.close(write_fd)  # the watcher reads EOF and ends
        watcher.join(timeout=1)
        os.close(read_fd)
