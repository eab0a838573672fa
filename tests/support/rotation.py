"""Support code (no tests) for the rotation and container tests: layouts, the real wrapper and generator."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from edgelog.naming import parse_rotated_name

REPO_ROOT = Path(__file__).resolve().parents[2]
ROTATION_DIR = REPO_ROOT / "log-generator" / "rotation"
WRAPPER = ROTATION_DIR / "edgelog-rotate"
PUBLISH = ROTATION_DIR / "edgelog-publish"
PRUNE = ROTATION_DIR / "edgelog-prune"
LOOP = ROTATION_DIR / "edgelog-rotate-loop"
VENV_BIN = Path(sys.executable).parent


@dataclass
class Layout:
    """Temporary live/staging/output/state directories and the environment that points the scripts at them."""

    live: Path
    out: Path
    state: Path
    node: str = "n1"
    ext: str = ".log"
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def staging(self) -> Path:
        return self.live / "rotated"

    @property
    def status_file(self) -> Path:
        return self.state / "generator.json"

    @property
    def live_file(self) -> Path:
        return self.live / f"access-{self.node}{self.ext}"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}:/usr/sbin:/sbin",
            "HOME": os.environ.get("HOME", "/tmp"),
            "EDGELOG_ENV_FILE": str(self.state / "absent.env"),
            "EDGELOG_LIVE_DIR": str(self.live),
            "EDGELOG_OUTPUT_DIR": str(self.out),
            "EDGELOG_STATE_DIR": str(self.state),
            "EDGELOG_STATUS_FILE": str(self.status_file),
            "EDGELOG_LOG_EXTENSION": self.ext,
            "EDGELOG_SYSLOG": "0",
            "EDGELOG_REOPEN_TIMEOUT": "20",
            "EDGELOG_SETTLE_SECONDS": "0.2",
            "EDGELOG_MIN_FREE_PERCENT": "0",
        }
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def published(self) -> list[Path]:
        return sorted(p for p in self.out.iterdir() if p.is_file())

    def temporaries(self) -> list[Path]:
        dirs = [self.out, self.staging] if self.staging.exists() else [self.out]
        return sorted(p for d in dirs for p in d.iterdir() if p.name.startswith("."))


def make_layout(live_root: Path, out_root: Path, **kwargs: object) -> Layout:
    live = live_root / "app"
    out = out_root / "logs_to_process"
    state = out_root / "state"
    for d in (live, out, state):
        d.mkdir(parents=True, exist_ok=True)
    return Layout(live=live, out=out, state=state, **kwargs)  # type: ignore[arg-type]


def rotate(layout: Layout, timeout: float = 90, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real wrapper once (it runs the real logrotate); every failure must be a handled one."""
    res = subprocess.run(
        [str(WRAPPER)], env=layout.env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert "unexpected failure" not in res.stderr, res.stderr
    return res


def read_lines(path: Path) -> list[bytes]:
    """All lines of a published or live file (gzip or plain); asserts the last line is complete."""
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    if data:
        assert data.endswith(b"\n"), f"{path} ends with a partial line"
    return data.splitlines()


def all_lines(layout: Layout) -> dict[str, list[bytes]]:
    """Lines of every file holding generated data: published, left in staging, and the live file."""
    files = list(layout.published())
    if layout.staging.exists():
        files += sorted(p for p in layout.staging.iterdir() if p.is_file())
    if layout.live_file.exists():
        files.append(layout.live_file)
    return {str(p): read_lines(p) for p in files}


def check_published(layout: Layout, *, gz: bool, streams: dict[str, str] | None = None) -> list[Path]:
    """Every published file has a rotated name of this node and of one of ``streams`` (stream -> extension;
    default: the access log with the layout's extension), and gzip files test clean with the real gzip."""
    files = layout.published()
    streams = streams or {"access": layout.ext}
    for path in files:
        parsed = parse_rotated_name(path.name)
        assert parsed is not None, f"{path.name} is not a rotated file name"
        assert parsed.node == layout.node
        assert streams.get(parsed.stream) == parsed.ext, path.name
        assert parsed.gzip is gz, path.name
        assert (path.stat().st_mode & 0o777) == 0o644
        if gz:
            subprocess.run(["gzip", "-t", str(path)], check=True, capture_output=True)
    assert layout.temporaries() == [], "temporary files left behind"
    return files


def json_request_ids(lines_by_file: dict[str, list[bytes]]) -> list[str]:
    """The request id of every line; json.loads fails on any split or merged line."""
    ids = []
    for name, lines in lines_by_file.items():
        for line in lines:
            try:
                ids.append(json.loads(line)["request_id"])
            except (ValueError, KeyError) as exc:
                raise AssertionError(f"{name}: not a complete JSON record: {line[:200]!r}") from exc
    return ids


class Generator:
    """The real `edgelog generate live` in a subprocess."""

    def __init__(
        self,
        layout: Layout,
        *,
        rate: float,
        fmt: str = "json",
        seed: int = 7,
        streams: tuple[str, ...] = (),
        config: Path | None = None,
    ):
        """``streams``: more formats written beside the live file (``error``, ``app``)."""
        self.layout = layout
        cmd = [
            sys.executable,
            "-m",
            "edgelog",
            "generate",
            "live",
            "--output",
            str(layout.live_file),
            "--status-file",
            str(layout.status_file),
            "--node",
            layout.node,
            "--format",
            fmt,
            "--rate",
            str(rate),
            "--flat",
            "--seed",
            str(seed),
            *(arg for extra in streams for arg in ("--format", extra)),
            *(("--config", str(config)) if config else ()),
        ]
        self.log = layout.state / "generator.stderr"
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=layout.state)

    def status(self) -> dict:
        return json.loads(self.layout.status_file.read_text())

    def wait_running(self, timeout: float = 120) -> dict:
        """Wait (bounded) until the status file says the generator runs and has written lines."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"generator exited with {self.proc.returncode}: {self.log.read_text()}")
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                st = self.status()
                # "state" is an extra of the generator's status (not in docs/design.md): optional here.
                if st.get("state", "running") == "running" and st.get("lines", 0) > 0:
                    return st
            time.sleep(0.1)
        raise AssertionError(f"generator wrote no status within {timeout}s: {self.log.read_text()}")

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = 30) -> dict:
        """SIGTERM, wait for the clean exit, return the final status (the written counter)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError("generator did not stop on SIGTERM") from None
        assert self.proc.returncode == 0, self.log.read_text()
        st = self.status()
        assert st.get("state", "stopped") == "stopped", st
        return st

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)
