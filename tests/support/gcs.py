"""A real GCS server for tests: the gcp-storage-emulator process and a fault-injecting proxy in front of it.

The emulator is the real `gcp-storage-emulator` server started as a subprocess on 127.0.0.1 (conftest.py
starts one per session: the ``gcs_emulator`` fixture). The proxy sits between the client library and the
emulator and, when a test asks for it, answers 429/503, corrupts a body or drops a connection, so retry and
checksum paths run against real HTTP instead of mocks.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support.tools import require_tool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_emulator() -> Iterator[str]:
    """Start `gcp-storage-emulator` in memory on a free loopback port; yield its http:// endpoint."""
    exe = require_tool("gcp-storage-emulator")
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
