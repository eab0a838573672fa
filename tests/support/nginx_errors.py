"""A real nginx on loopback, provoked into writing its error log, and what each provocation should log.

``capture(workdir)`` starts Debian's nginx (master + one worker, ``daemon off``, a private prefix and config,
free loopback ports, never a system service), provokes every case of ``CASES`` one connection at a time, kills
the worker (an ``[alert]``), stops nginx by its PID with SIGQUIT (graceful shutdown notices) and runs
``nginx -t`` on a broken config with the same ``-e`` error log (an ``[emerg]``). Levels written: info,
notice, warn, error, crit, alert, emerg, and debug lines (multi-line ones too) for one client address via
``debug_connection``. nginx runs with ``TZ=UTC`` (it keeps TZ from the environment), so its local-time
stamps are UTC.

Running as root, the worker runs as ``nobody`` so that permission errors happen (root reads every file);
unprivileged, the files are simply unreadable to the user running the test.

``python tests/support/nginx_errors.py DIR`` writes a capture to DIR: the committed copy is
``tests/fixtures/nginx-errors`` (the private prefix replaced by ``/srv/edgelog-test``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

FIXTURE_PREFIX = "/srv/edgelog-test"
DEBUG_CLIENT = "127.0.0.2"  # debug_connection: only this client's connections log at debug level


@dataclass
class Case:
    """One provocation and the error-log entries it must produce (in order, fields as parsed)."""

    name: str
    raw: str  # bytes sent, as latin-1 text (JSON can hold any byte that way)
    expect: list[dict[str, str | None]] = field(default_factory=list)
    source: str = "127.0.0.1"
    close_early: bool = False  # send and close without reading (nginx sees the client go away)


def _req(line: bytes, *headers: bytes, body: bytes = b"") -> str:
    out = line + b"\r\n" + b"".join(h + b"\r\n" for h in headers)
    if body:
        out += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    return (out + b"Connection: close\r\n\r\n" + body).decode("latin-1")


H = b"Host: localhost"
REF = b"Referer: https://www.example.com/page?x=1"
UA = b"User-Agent: edgelog-test/1.0"

# The expectations name the fields of the `errors` relation; @PREFIX@, @DEAD@ and @SLOW@ are filled in from
# the run (its prefix and the two upstream ports). message is the text before ", client: ".
E = dict[str, str | None]


def _http(level: str, message: str, request: str, **more: str | None) -> E:
    entry: E = {"level": level, "message": message, "client": "127.0.0.1", "server": "localhost"}
    entry["request"] = request
    entry.update(more)
    return entry


CASES: list[Case] = [
    Case(
        "not-found",
        _req(b"GET /missing.png HTTP/1.1", H, UA, REF),
        [
            _http(
                "error",
                'open() "@PREFIX@/site/missing.png" failed (2: No such file or directory)',
                "GET /missing.png HTTP/1.1",
                host="localhost",
                referrer="https://www.example.com/page?x=1",
            )
        ],
    ),
    Case(
        "not-found-utf8",
        _req("GET /café.png HTTP/1.1".encode(), H),
        [
            _http(
                "error",
                'open() "@PREFIX@/site/café.png" failed (2: No such file or directory)',
                "GET /café.png HTTP/1.1",
                host="localhost",
            )
        ],
    ),
    Case(
        "upstream-refused",
        _req(b"GET /refused/a?b=1 HTTP/1.1", H),
        [
            _http(
                "error",
                "connect() failed (111: Connection refused) while connecting to upstream",
                "GET /refused/a?b=1 HTTP/1.1",
                upstream="http://127.0.0.1:@DEAD@/a?b=1",
                host="localhost",
            )
        ],
    ),
    Case(
        "upstream-timeout",
        _req(b"GET /slow/report HTTP/1.1", H),
        [
            _http(
                "error",
                "upstream timed out (110: Connection timed out) while reading response header from upstream",
                "GET /slow/report HTTP/1.1",
                upstream="http://127.0.0.1:@SLOW@/report",
                host="localhost",
            )
        ],
    ),
    Case(
        "body-too-large",
        _req(b"POST /index.html HTTP/1.1", H, body=b"a" * 5000),
        [
            _http(
                "error",
                "client intended to send too large body: 5000 bytes",
                "POST /index.html HTTP/1.1",
                host="localhost",
            )
        ],
    ),
    Case(
        "body-buffered-then-refused",
        _req(b"POST /upload HTTP/1.1", H, body=b"b" * 5000),
        [
            _http(
                "warn",
                "a client request body is buffered to a temporary file @PREFIX@/tmp/0000000001",
                "POST /upload HTTP/1.1",
                host="localhost",
            ),
            _http(
                "error",
                "connect() failed (111: Connection refused) while connecting to upstream",
                "POST /upload HTTP/1.1",
                upstream="http://127.0.0.1:@DEAD@/",
                host="localhost",
            ),
        ],
    ),
    Case(
        "permission-denied-file",
        _req(b"GET /secret.html HTTP/1.1", H),
        [
            _http(
                "error",
                'open() "@PREFIX@/site/secret.html" failed (13: Permission denied)',
                "GET /secret.html HTTP/1.1",
                host="localhost",
            )
        ],
    ),
    Case(
        "permission-denied-dir",
        _req(b"GET /private/x.html HTTP/1.1", H),
        [
            _http(
                "crit",
                'stat() "@PREFIX@/site/private/x.html" failed (13: Permission denied)',
                "GET /private/x.html HTTP/1.1",
                host="localhost",
            )
        ],
    ),
    Case(
        "directory-index",
        _req(b"GET /dir/ HTTP/1.1", H),
        [
            _http(
                "error",
                'directory index of "@PREFIX@/site/dir/" is forbidden',
                "GET /dir/ HTTP/1.1",
                host="localhost",
            )
        ],
    ),
    Case(
        "access-rule",
        _req(b"GET /deny/x HTTP/1.1", H),
        [_http("error", "access forbidden by rule", "GET /deny/x HTTP/1.1", host="localhost")],
    ),
    Case("limit-first", _req(b"GET /limited/index.html HTTP/1.1", H), []),
    Case(
        "limit-excess",
        _req(b"GET /limited/index.html HTTP/1.1", H),
        [
            _http(
                "error",
                'limiting requests, excess: 1.000 by zone "one"',
                "GET /limited/index.html HTTP/1.1",
                host="localhost",
            )
        ],
    ),
    Case(
        "basic-auth-wrong-password",
        _req(b"GET /admin/ HTTP/1.1", H, b"Authorization: Basic YWxpY2U6d3Jvbmc="),  # alice:wrong
        [
            _http(
                "error",
                'user "alice": password mismatch',
                "GET /admin/ HTTP/1.1",
                host="localhost",
            )
        ],
    ),
    Case(
        "basic-auth-unknown-user",
        _req(b"GET /admin/ HTTP/1.1", H, b"Authorization: Basic bWFsbG9yeTp4"),  # mallory:x
        [
            _http(
                "error",
                'user "mallory" was not found in "@PREFIX@/htpasswd"',
                "GET /admin/ HTTP/1.1",
                host="localhost",
            )
        ],
    ),
    Case(
        "subrequest",
        _req(b"GET /auth/x HTTP/1.1", H),
        [
            _http(
                "error",
                "connect() failed (111: Connection refused) while connecting to upstream",
                "GET /auth/x HTTP/1.1",
                subrequest="/refused/check",
                upstream="http://127.0.0.1:@DEAD@/check",
                host="localhost",
            ),
            _http(
                "error",
                "auth request unexpected status: 502 while sending to client",
                "GET /auth/x HTTP/1.1",
                host="localhost",
            ),
        ],
    ),
    Case(
        "rewrite-cycle",
        _req(b"GET /loop HTTP/1.1", H),
        [
            _http(
                "error",
                'rewrite or internal redirection cycle while processing "/loop"',
                "GET /loop HTTP/1.1",
                host="localhost",
            )
        ],
    ),
    Case(
        "invalid-request-quotes-raw-bytes",
        _req(b'GET /q"uote, client: 10.1.1.1, server: x/miss\xff\xfe.png HTTP/1.1', H),
        [
            _http(
                "info",
                "client sent invalid request while reading client request line",
                'GET /q"uote, client: 10.1.1.1, server: x/miss\\xFF\\xFE.png HTTP/1.1',
            )
        ],
    ),
    Case(
        "tls-on-http-port",
        "\x16\x03\x01\x00\x05hello\r\n\r\n",
        [
            _http(
                "info",
                "client sent invalid method while reading client request line",
                "\x16\x03\x01\\x00\x05hello",
            )
        ],
    ),
    Case(
        "invalid-header",
        _req(b"GET / HTTP/1.1", H, b"Bad Header"),
        [
            _http(
                "info",
                'client sent invalid header line: "Bad\\x20..." while reading client request headers',
                "GET / HTTP/1.1",
                host="localhost",
            )
        ],
    ),
    Case(
        "lowercase-method",
        _req(b"get / HTTP/1.1", H),
        [_http("info", "client sent invalid method while reading client request line", "get / HTTP/1.1")],
    ),
    Case(
        "closed-early",
        "GET /index.html HTTP/1.1\r\nHost: localhost\r\n",
        [
            _http(
                "info",
                "client prematurely closed connection while reading client request headers",
                "GET /index.html HTTP/1.1",
                host="localhost",
            )
        ],
        close_early=True,
    ),
    # One request from the debug_connection address: many [debug] lines, some of them multi-line (the
    # proxied request's header block).
    Case("debug-client", _req(b"GET /refused/debug HTTP/1.1", H), [], source=DEBUG_CLIENT),
]


@dataclass
class Capture:
    """What one run wrote and how to read it."""

    directory: Path
    error_log: Path
    prefix: str  # the nginx prefix (paths in messages start with it)
    dead_port: int
    slow_port: int
    worker_pid: int = 0
    master_pid: int = 0
    cases: list[Case] = field(default_factory=list)

    def substitute(self, text: str) -> str:
        return (
            text.replace("@PREFIX@", self.prefix)
            .replace("@DEAD@", str(self.dead_port))
            .replace("@SLOW@", str(self.slow_port))
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(prefix: Path, port: int, dead: int, slow: int, *, as_root: bool) -> str:
    user = "user nobody nogroup;" if as_root else "# unprivileged: no user directive"
    return f"""# edgelog test instance: nginx -p {prefix}/ -c nginx.conf (master + one worker, foreground)
daemon off;
pid nginx.pid;
{user}
worker_processes 1;
error_log error.log info;
events {{
    worker_connections 64;
    debug_connection {DEBUG_CLIENT};
}}
http {{
    access_log access.log;
    client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp; uwsgi_temp_path tmp;
    scgi_temp_path tmp;
    client_header_timeout 5s;
    log_not_found on;
    client_max_body_size 1k;
    client_body_buffer_size 1k;
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.2:{port};
        server_name localhost;
        root {prefix}/site;
        location /refused/ {{ proxy_pass http://127.0.0.1:{dead}/; }}
        location /slow/ {{
            proxy_pass http://127.0.0.1:{slow}/;
            proxy_connect_timeout 1s; proxy_send_timeout 1s; proxy_read_timeout 1s;
        }}
        location /upload {{ client_max_body_size 100k; proxy_pass http://127.0.0.1:{dead}/; }}
        location /limited/ {{ limit_req zone=one nodelay; alias {prefix}/site/; }}
        location /deny/ {{ deny all; }}
        location /admin/ {{ auth_basic "staff"; auth_basic_user_file {prefix}/htpasswd; }}
        location /auth/ {{ auth_request /refused/check; }}
        location /loop {{ rewrite ^ /loop last; }}
        location /private/ {{ try_files $uri =404; }}
    }}
    # Same name and address again: nginx warns "conflicting server name" at start-up.
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
    }}
}}
"""


def _site(prefix: Path, *, as_root: bool) -> None:
    site = prefix / "site"
    for d in (site / "dir", site / "private", site / "admin", prefix / "tmp"):
        d.mkdir(parents=True)
    (site / "index.html").write_text("<html><body>edgelog error-log test</body></html>\n")
    (site / "admin" / "index.html").write_text("admin\n")
    (site / "private" / "x.html").write_text("x\n")
    (site / "secret.html").write_text("secret\n")
    (prefix / "htpasswd").write_text("alice:{PLAIN}right\n")
    for d in (prefix, site, site / "dir", site / "admin"):
        d.chmod(0o755)
    (prefix / "tmp").chmod(0o777)
    for f in (site / "index.html", site / "admin" / "index.html", prefix / "htpasswd"):
        f.chmod(0o644)
    # Unreadable to the worker: root-owned 0600 for `nobody`, or mode 000 for an unprivileged owner.
    (site / "secret.html").chmod(0o600 if as_root else 0o000)
    (site / "private").chmod(0o700 if as_root else 0o000)


def _wait_for(predicate: object, what: str, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def send(port: int, case: Case, timeout: float = 10.0) -> bytes:
    """Send one case on a new connection from its source address; read until nginx closes it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.bind((case.source, 0))
        s.connect((case.source, port))
        s.sendall(case.raw.encode("latin-1"))
        if case.close_early:
            return b""
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := s.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def _log_text(cap: Capture) -> str:
    return cap.error_log.read_bytes().decode("latin-1") if cap.error_log.exists() else ""


def _worker_pid(cap: Capture) -> int:
    marker = "start worker process "
    text = _log_text(cap)
    pids = [int(line.rsplit(marker, 1)[1]) for line in text.splitlines() if marker in line]
    return pids[-1] if pids else 0


def capture(workdir: Path) -> Capture:
    """Run nginx once through every case; ``workdir`` must be traversable by the worker's user."""
    as_root = os.geteuid() == 0
    prefix = workdir / "nginx"
    _site(prefix, as_root=as_root)
    port, dead, slow = free_port(), free_port(), free_port()
    cap = Capture(workdir, prefix / "error.log", str(prefix), dead, slow)
    (prefix / "nginx.conf").write_text(config(prefix, port, dead, slow, as_root=as_root))
    (prefix / "broken.conf").write_text("events {}\nhttp { no_such_directive on; }\n")
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "TZ": "UTC"}
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    # A backend that accepts connections (the kernel's backlog) but never answers: upstream timeout.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as backlog:
        backlog.bind(("127.0.0.1", slow))
        backlog.listen(8)
        proc = subprocess.Popen(
            [nginx, "-p", f"{prefix}/", "-c", "nginx.conf", "-e", str(cap.error_log)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        cap.master_pid = proc.pid
        try:
            _wait_for(lambda: proc.poll() is not None or _listening(port), f"nginx on port {port}")
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"nginx exited with {proc.returncode}: {err[-2000:]}{_log_text(cap)}")
            for case in CASES:
                send(port, case)
                cap.cases.append(case)
                if case.close_early:
                    _wait_for(lambda: "prematurely closed" in _log_text(cap), "the early close to be logged")
            # Kill the worker: the master logs an [alert] and starts a new one.
            cap.worker_pid = _worker_pid(cap)
            os.kill(cap.worker_pid, signal.SIGKILL)
            _wait_for(lambda: "exited on signal 9" in _log_text(cap), "the worker's death to be logged")
            _wait_for(lambda: _worker_pid(cap) != cap.worker_pid, "a new worker")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT)  # graceful shutdown: more [notice] lines
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            if proc.stderr:
                proc.stderr.close()
    # A configuration test of a broken config writes an [emerg] line into the same log (-e).
    subprocess.run(
        [nginx, "-t", "-p", f"{prefix}/", "-c", "broken.conf", "-e", str(cap.error_log)],
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    return cap


@contextlib.contextmanager
def captured() -> Iterator[Capture]:
    """A capture in a private temporary directory the worker (``nobody``) can traverse, removed afterwards."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").is_file():
        raise FileNotFoundError("nginx")
    root = Path(tempfile.mkdtemp(prefix="edgelog-nginx-errors-"))
    try:
        root.chmod(0o755)
        yield capture(root)
    finally:
        for p in (root / "nginx" / "site" / "private", root / "nginx" / "site" / "secret.html"):
            with contextlib.suppress(OSError):
                p.chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)


def write_fixture(cap: Capture, out: Path) -> None:
    """The error log (the prefix replaced by FIXTURE_PREFIX, bytes kept) and the run's facts as JSON."""
    out.mkdir(parents=True, exist_ok=True)
    data = cap.error_log.read_bytes().replace(cap.prefix.encode(), FIXTURE_PREFIX.encode())
    (out / "error.log").write_bytes(data)
    conf = (Path(cap.prefix) / "nginx.conf").read_text().replace(cap.prefix, FIXTURE_PREFIX)
    (out / "nginx.conf").write_text(conf)
    facts = {
        "prefix": FIXTURE_PREFIX,
        "dead_port": cap.dead_port,
        "slow_port": cap.slow_port,
        "worker_pid": cap.worker_pid,
        "master_pid": cap.master_pid,
        "cases": [asdict(c) for c in cap.cases],
    }
    (out / "capture.json").write_text(json.dumps(facts, indent=1, ensure_ascii=True) + "\n")


def read_fixture(directory: Path) -> Capture:
    """A committed capture, as a Capture (paths in the log name FIXTURE_PREFIX)."""
    facts = json.loads((directory / "capture.json").read_text())
    cap = Capture(directory, directory / "error.log", facts["prefix"], facts["dead_port"], facts["slow_port"])
    cap.worker_pid, cap.master_pid = facts["worker_pid"], facts["master_pid"]
    cap.cases = [Case(**c) for c in facts["cases"]]
    return cap


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/nginx-errors")
    with captured() as c:
        write_fixture(c, target)
    print(f"wrote {sorted(os.listdir(target))} to {target}")
