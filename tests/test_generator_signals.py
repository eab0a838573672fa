"""The live generator's signal handlers take no lock: a stop that lands while the main thread holds one
must still stop it.

The writer waits between retries of a failed write with ``stop.wait(backoff)`` (a ``threading.Event``). A
Python signal handler runs in the main thread between two bytecodes, so a SIGTERM can arrive while that
thread holds the Event's internal (non-reentrant) lock, inside ``Event.wait``; a handler that called
``Event.set()`` then waited for that lock forever. Seen by the lane engineer: the live generator writing to
/dev/full did not exit within 15 s of SIGTERM in 2 of 6 runs at load ~5, and was killed.
"""

from __future__ import annotations

import signal
import threading
import time

from edgelog.generator import live


def test_a_stop_signal_landing_while_the_stop_events_lock_is_held_stops_the_generator() -> None:
    sig = live._Signals(None)
    handled = threading.Event()

    def signal_inside_the_events_lock() -> None:
        # the handler runs where the main thread was: here, inside the Event's own lock (as in Event.wait)
        with sig.stop._cond:  # type: ignore[attr-defined]
            sig._on_stop(signal.SIGTERM, None)
        handled.set()

    thread = threading.Thread(target=signal_inside_the_events_lock, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert handled.is_set(), "the SIGTERM handler waited for a lock its own thread holds"
    assert sig.stopped()
    assert sig.reason == "SIGTERM"


def test_a_stop_ends_the_wait_between_write_retries_at_once() -> None:
    """The wait the writer uses between retries returns soon after a stop, whichever way it came."""
    for stop in ("signal", "event"):
        sig = live._Signals(None)
        if stop == "signal":
            threading.Timer(0.2, sig._on_stop, args=(signal.SIGINT, None)).start()
        else:
            threading.Timer(0.2, sig.stop.set).start()
        t0 = time.monotonic()
        assert sig.wait(30) is True
        assert time.monotonic() - t0 < 2, stop
        assert sig.stopped()
    quiet = live._Signals(None)
    t0 = time.monotonic()
    assert quiet.wait(0.1) is False
    assert 0.09 <= time.monotonic() - t0 < 2
