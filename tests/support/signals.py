"""Stopping a real process in the middle of its work, and looking for what it may have left running."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

# A process started from a script in the background inherits SIGINT ignored (a shell without job control
# does that), and Python then leaves it ignored: start it with SIGINT as a terminal's Ctrl-C delivers it.
DEFAULT_SIGINT = ["env", "--default-signal=INT"]


@dataclass(frozen=True)
class Stopped:
    """How a stopped process ended."""

    returncode: int
    stderr: str
    took: float  # seconds from the signal to the process's exit


def stop_when(
    command: list[str],
    ready: Callable[[], object],
    sig: signal.Signals,
    *,
    env: Mapping[str, str],
    settle: float = 0.0,
    timeout: float = 60,
) -> Stopped:
    """Run ``command`` (SIGINT not ignored), send it ``sig`` ``settle`` seconds after ``ready()`` is true, and
    wait for it.

    Fails when the process ends before it is ready (it finished before it could be stopped) or is not ready
    within ``timeout`` seconds; a process still running 30 s after the signal is killed and fails the test.
    """
    proc = subprocess.Popen(
        [*DEFAULT_SIGINT, *command],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, f"ended before it could be stopped: {proc.communicate()}"
            assert time.monotonic() < deadline, "not ready to be stopped in time"
            time.sleep(0.02)
        time.sleep(settle)
        sent = time.monotonic()
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
        return Stopped(proc.returncode, stderr, time.monotonic() - sent)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _state(proc: Path) -> str:
    """A process's state letter (``Z``: a zombie waiting for its reaper), after its parenthesised name."""
    return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not)."""
    try:
        return _state(Path(f"/proc/{pid}")) != "Z"
    except (OSError, IndexError):
        return False


def processes_naming(text: str) -> list[int]:
    """The running processes whose command line mentions ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command and alive(int(proc.name)):
            found.append(int(proc.name))
    return found
