"""Test helpers for a real GCS server: the gcp-storage-emulator process and a fault-injecting proxy.

The emulator is the real `gcp-storage-emulator` server started as a subprocess on 127.0.0.1. The proxy sits
between the client library and the emulator and, when a test asks for it, answers 429/503, corrupts a body or
drops a connection, so retry and checksum paths run against real HTTP instead of mocks. Other test modules
import `running_emulator`, `FaultProxy` and `new_bucket` from here.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import require_tool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_emulator() -> Iterator[str]:
    """Start `gcp-storage-emulator` in memory on a free loopback port; yield its http:// endpoint."""
    exe = _venv_tool() or require_tool("gcp-storage-emulator")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"emulator exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/storage/v1/b?project=test")
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _venv_tool() -> str | None:
    """The emulator installed next to this interpreter (the .venv), even when .venv/bin is not on PATH."""
    candidate = Path(sys.executable).parent / "gcp-storage-emulator"
    return str(candidate) if candidate.exists() else None


def new_bucket(endpoint: str, root: str = "") -> str:
    """Create a uniquely named bucket in the emulator and return its gs:// URL (with an optional root)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    client = storage.Client(project="edgelog-test", credentials=AnonymousCredentials())
    name = f"edgelog-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(name)
    return f"gs://{name}" + (f"/{root}" if root else "")


# What the proxy does with one request: None forwards it untouched.
# "429", "503", "corrupt" (flip a byte of the body), "drop" (close, no answer), "slow" (pause, then forward)
Fault = str | None


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of the emulator that injects faults chosen by ``plan``."""

    def __init__(
        self, upstream: str, plan: Callable[[str, str], Fault] | None = None, *, delay: float = 0.05
    ):
        self.upstream = upstream.removeprefix("http://")
        self.delay = delay
        self.plan = plan or (lambda method, path: None)
        self.requests: list[tuple[str, str, Fault]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    fault = proxy.plan(self.command, self.path)
                    proxy.requests.append((self.command, self.path, fault))
                if fault == "slow":  # a slow link: answer, but only after a pause
                    time.sleep(proxy.delay)
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault in ("429", "503"):
                    payload = b'{"error": {"code": %s, "message": "injected"}}' % fault.encode()
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                host, _, port = proxy.upstream.partition(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                if fault == "corrupt" and data:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in (
                        "content-length",
                        "connection",
                        "transfer-encoding",
                        "server",
                        "date",
                    ):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def faults(self) -> list[Fault]:
        with self.lock:
            return [f for _, _, f in self.requests if f]


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with running_emulator() as endpoint:
        yield endpoint


def test_proxy_forwards_to_the_real_emulator(emulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy itself must be transparent when no fault is planned, or the other tests prove nothing."""
    url = new_bucket(emulator)
    with FaultProxy(emulator) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.endpoint)
        from edgelog.storage import open_bucket

        bucket = open_bucket(url)
        assert list(bucket.list()) == []
        assert proxy.requests and proxy.faults() == []
