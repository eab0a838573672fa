"""Real nginx and Apache httpd on loopback, configured with the log formats edgelog reads, and a driver.

``capture(workdir)`` starts Debian's nginx (one process, ``master_process off``) and Apache (``-X``) with
private configs on free loopback ports (never port 80, no system service), sends every request of
``REQUESTS`` one connection at a time (so each server logs them in order), stops both by PID and returns
the log files with what was sent. nginx writes the same traffic in four formats (the image's ``main``,
``combined_timing`` with upstream lists, an ``escape=json`` format, and a realip log); Apache in
``vhost_combined`` and a timing format with ``%D``/``%T``.

``python tests/support/servers.py DIR`` writes a capture to DIR (the committed copy lives in
``tests/fixtures/servers``).
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

APACHE_MODULES = "/usr/lib/apache2/modules"
# Addresses nginx's realip server trusts (set_real_ip_from), and edgelog is told to trust (--trusted-proxies).
TRUSTED = "127.0.0.0/8,::1,10.0.0.0/8,2001:db8:ffff::/48"

NGINX_FORMATS = {
    "main": (
        "'$remote_addr - $remote_user [$time_local] \"$request\" '\n"
        "                      '$status $body_bytes_sent \"$http_referer\" '\n"
        '                      \'"$http_user_agent" "$http_x_forwarded_for"\''
    ),
    "timing": (
        "'$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent '\n"
        '                      \'"$http_referer" "$http_user_agent" \'\n'
        "                      '$request_time $upstream_response_time \"$upstream_addr\" '\n"
        "                      '$host $request_id $msec $time_iso8601 $scheme $server_protocol'"
    ),
    "json": (
        'escape=json \'{"time":"$time_iso8601","remote_addr":"$remote_addr",\'\n'
        '                      \'"request":"$request","status":$status,"bytes":$body_bytes_sent,\'\n'
        '                      \'"referer":"$http_referer","ua":"$http_user_agent",\'\n'
        '                      \'"xff":"$http_x_forwarded_for","rt":$request_time,\'\n'
        '                      \'"urt":"$upstream_response_time","host":"$host"}\''
    ),
    "realip": "'$realip_remote_addr|$remote_addr|\"$http_x_forwarded_for\"|$request_uri'",
}
APACHE_FORMATS = {
    "vhost_combined": r"%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"",
    "timing": (
        r"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D %T \"%{X-Forwarded-For}i\" %v"
    ),
}


@dataclass
class Sent:
    """One request as sent, and what each server should log for it (``None``: what the server decides)."""

    name: str
    raw: str  # the bytes sent, as latin-1 text (so JSON can hold any byte)
    family: int = 4  # connect from 127.0.0.1 or ::1
    nginx: bool = True
    apache: bool = True
    request: str | None = None  # the request line as the client sent it (bytes as latin-1)
    user_agent: str | None = None
    referer: str | None = None
    xff: str | None = None
    host: str | None = None
    upstream_tries: int = 0  # nginx: how many upstream entries $upstream_response_time should list
    # fields a server logs differently from what was sent (Apache refuses control bytes in headers and logs
    # only the start of a binary request line); None: do not compare that field for that server
    apache_differs: dict[str, str | None] = field(default_factory=dict)


def _req(
    name: str,
    line: bytes,
    *,
    headers: list[tuple[str, bytes]] | None = None,
    body: bytes = b"",
    **kw: object,
) -> Sent:
    headers = [("Host", b"localhost")] if headers is None else headers
    out = line + b"\r\n"
    ua = referer = xff = host = None
    xffs = []
    for k, v in headers:
        out += k.encode() + b": " + v + b"\r\n"
        low = k.lower()
        if low == "user-agent":
            ua = v
        elif low == "referer":
            referer = v
        elif low == "x-forwarded-for":
            xffs.append(v)
        elif low == "host":
            host = v
    if body:
        out += f"Content-Length: {len(body)}\r\n".encode()
    out += b"Connection: close\r\n\r\n" + body
    if xffs:
        xff = b", ".join(xffs)
    return Sent(
        name,
        out.decode("latin-1"),
        request=line.decode("latin-1"),
        user_agent=None if ua is None else ua.decode("latin-1"),
        referer=None if referer is None else referer.decode("latin-1"),
        xff=None if xff is None else xff.decode("latin-1"),
        host=None if host is None else host.decode("latin-1"),
        **kw,  # type: ignore[arg-type]
    )


UA = (
    "User-Agent",
    b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0",
)
H = ("Host", b"localhost")

REQUESTS: list[Sent] = [
    _req("plain", b"GET /index.html HTTP/1.1", headers=[H, UA, ("Referer", b"https://www.example.com/")]),
    _req("query", b"GET /products/1.html?q=caf%C3%A9&page=2 HTTP/1.1", headers=[H, UA]),
    _req("ipv6", b"GET /index.html HTTP/1.1", headers=[H, UA], family=6),
    _req(
        "quotes-ua",
        b"GET /index.html HTTP/1.1",
        headers=[H, ("User-Agent", b'He said "hi \\"there\\"" (test)\ttab'), ("Referer", b'http://x/"q"\\')],
    ),
    _req("utf8-ua", b"GET /index.html HTTP/1.1", headers=[H, ("User-Agent", "Wörk ünïcode 日本".encode())]),
    _req(
        "control-ua",
        b"GET /index.html HTTP/1.1",
        headers=[H, ("User-Agent", b"ctl\x01\x7fend")],
        apache_differs={"user_agent": "-"},
    ),
    _req("empty-ua", b"GET /index.html HTTP/1.1", headers=[H, ("User-Agent", b"")]),
    _req("no-ua", b"GET /index.html HTTP/1.1", headers=[H]),
    _req("raw-utf8-path", "GET /café.html HTTP/1.1".encode(), headers=[H, UA]),
    _req("long-url", b"GET /search?q=" + b"a" * 4000 + b" HTTP/1.1", headers=[H, UA]),
    _req("post", b"POST /index.html HTTP/1.1", headers=[H, UA], body=b"a=1&b=2"),
    _req("head", b"HEAD /index.html HTTP/1.1", headers=[H, UA]),
    _req("http10", b"GET /index.html HTTP/1.0", headers=[UA]),
    _req("not-found", b"GET /missing.html HTTP/1.1", headers=[H, UA]),
    _req("absolute", b"GET http://localhost/index.html HTTP/1.1", headers=[H, UA]),
    _req(
        "binary",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        headers=[],
        apache_differs={"request": "\x16\x03\x01\x02"},
    ),
    _req("xff-one", b"GET /x1 HTTP/1.1", headers=[H, UA, ("X-Forwarded-For", b"203.0.113.9")]),
    _req("xff-chain", b"GET /x2 HTTP/1.1", headers=[H, UA, ("X-Forwarded-For", b"198.51.100.1, 10.1.2.3")]),
    _req(
        "xff-forged",
        b"GET /x3 HTTP/1.1",
        headers=[H, UA, ("X-Forwarded-For", b"1.1.1.1, 198.51.100.2, 10.0.0.1")],
    ),
    _req(
        "xff-all-trusted", b"GET /x4 HTTP/1.1", headers=[H, UA, ("X-Forwarded-For", b"10.9.9.9, 127.0.0.1")]
    ),
    _req(
        "xff-garbage",
        b"GET /x5 HTTP/1.1",
        headers=[H, UA, ("X-Forwarded-For", b"198.51.100.3, unknown, 10.0.0.2")],
    ),
    _req("xff-port", b"GET /x6 HTTP/1.1", headers=[H, UA, ("X-Forwarded-For", b"198.51.100.4:5555")]),
    _req(
        "xff-v6",
        b"GET /x7 HTTP/1.1",
        headers=[H, UA, ("X-Forwarded-For", b"2001:DB8:0:0::7, [2001:db8:ffff::1]:443")],
    ),
    _req(
        "xff-v6-client", b"GET /x8 HTTP/1.1", headers=[H, UA, ("X-Forwarded-For", b"2001:db8::8")], family=6
    ),
    _req(
        "xff-mapped",
        b"GET /x9 HTTP/1.1",
        headers=[H, UA, ("X-Forwarded-For", b"::ffff:192.0.2.9, 010.0.0.3")],
    ),
    _req(
        "xff-two-headers",
        b"GET /x10 HTTP/1.1",
        headers=[H, UA, ("X-Forwarded-For", b"198.51.100.5"), ("X-Forwarded-For", b"10.0.0.4")],
    ),
    _req("xff-quote", b"GET /x11 HTTP/1.1", headers=[H, UA, ("X-Forwarded-For", b'"198.51.100.6"')]),
    _req("vhost", b"GET /index.html HTTP/1.1", headers=[("Host", b"shop.example.com:8080"), UA]),
    _req("upstream", b"GET /up/index.html HTTP/1.1", headers=[H, UA], apache=False, upstream_tries=2),
    _req(
        "upstream-redirect", b"GET /up404/missing HTTP/1.1", headers=[H, UA], apache=False, upstream_tries=3
    ),
]


@dataclass
class Capture:
    """What one run of both servers wrote, and what was sent."""

    directory: Path
    nginx_logs: dict[str, Path] = field(default_factory=dict)  # format name -> log file
    apache_logs: dict[str, Path] = field(default_factory=dict)
    nginx_conf: Path | None = None
    apache_conf: Path | None = None
    nginx_sent: list[Sent] = field(default_factory=list)
    apache_sent: list[Sent] = field(default_factory=list)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            if log.is_file():
                err += log.read_text(errors="replace")
            raise RuntimeError(f"server exited with {proc.returncode}: {err[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} within {deadline}s")


@contextlib.contextmanager
def running(cmd: list[str], port: int, error_log: Path) -> Iterator[None]:
    """Run a server in the foreground of a child process; stop it by its PID, always."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_port(port, proc, error_log)
        yield
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()


def send(port: int, sent: Sent, timeout: float = 10.0) -> bytes:
    """Send one request on a new connection and read until the server closes it."""
    host = "::1" if sent.family == 6 else "127.0.0.1"
    fam = socket.AF_INET6 if sent.family == 6 else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        s.sendall(sent.raw.encode("latin-1"))
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := s.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def _site(root: Path) -> None:
    (root / "products").mkdir(parents=True)
    (root / "index.html").write_text("<html><body>edgelog test site</body></html>\n")
    (root / "products" / "1.html").write_text("<html><body>product 1</body></html>\n")
    (root / "café.html").write_text("<html><body>café</body></html>\n")
    (root / "search").write_text("search\n")
    (root / "x1").write_text("x\n")


def nginx_config(d: Path, port: int, realip_port: int, backend_port: int) -> str:
    formats = "\n".join(f"    log_format {name} {value};" for name, value in NGINX_FORMATS.items())
    trusted = "\n".join(f"        set_real_ip_from {cidr};" for cidr in TRUSTED.split(","))
    dead = free_port()  # nothing listens there: the first upstream try fails with "connection refused"
    return f"""# edgelog test instance: nginx -p {d}/ -c nginx.conf (one process, foreground)
daemon off;
master_process off;
pid nginx.pid;
error_log error.log info;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp; uwsgi_temp_path tmp;
    scgi_temp_path tmp;
    client_header_timeout 5s;
{formats}
    include conf.d/*.conf;
    upstream backend {{
        server 127.0.0.1:{dead} max_fails=0;
        server 127.0.0.1:{backend_port} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:{port};
        listen [::1]:{port};
        server_name localhost;
        root {d}/site;
        access_log main.log main;
        access_log timing.log timing;
        access_log json.log json;
        location /up/ {{ proxy_pass http://backend/; }}
        location /up404/ {{
            proxy_pass http://backend/;
            proxy_intercept_errors on;
            error_page 404 = @fallback;
        }}
        location @fallback {{ rewrite ^ /index.html break; proxy_pass http://backend; }}
        location / {{ try_files $uri $uri/ =404; }}
    }}
    server {{
        listen 127.0.0.1:{realip_port};
        listen [::1]:{realip_port};
        root {d}/site;
{trusted}
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        access_log realip.log realip;
        location / {{ return 204; }}
    }}
    server {{
        listen 127.0.0.1:{backend_port};
        root {d}/site;
        access_log off;
    }}
}}
"""


def apache_config(d: Path, port: int) -> str:
    formats = "\n".join(f'LogFormat "{value}" {name}' for name, value in APACHE_FORMATS.items())
    modules = "\n".join(
        f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so"
        for m in ("mpm_event", "authz_core", "mime", "dir")
    )
    return f"""# edgelog test instance: apache2 -f {d}/httpd.conf -X (one process, foreground)
ServerRoot "{d}"
ServerName localhost
Listen 127.0.0.1:{port}
Listen [::1]:{port}
PidFile {d}/httpd.pid
Mutex file:{d}
DefaultRuntimeDir {d}
{modules}
TypesConfig /etc/mime.types
ErrorLog {d}/error.log
LogLevel warn
Timeout 5
{formats}
IncludeOptional conf-enabled/*.conf
CustomLog {d}/vhost_combined.log vhost_combined
CustomLog {d}/timing.log timing
DocumentRoot "{d}/site"
<Directory "{d}/site">
    Require all granted
</Directory>
"""


def capture(workdir: Path) -> Capture:
    """Run both servers once with every request; ``workdir`` must be readable by other users."""
    cap = Capture(workdir)
    nd, ad = workdir / "nginx", workdir / "apache"
    for d in (nd, ad):
        (d / "tmp").mkdir(parents=True)
        (d / "conf.d").mkdir()
        (d / "conf-enabled").mkdir()
        _site(d / "site")
    port, realip_port, backend_port, aport = free_port(), free_port(), free_port(), free_port()
    cap.nginx_conf = nd / "nginx.conf"
    cap.nginx_conf.write_text(nginx_config(nd, port, realip_port, backend_port))
    cap.apache_conf = ad / "httpd.conf"
    cap.apache_conf.write_text(apache_config(ad, aport))
    with running(["nginx", "-p", f"{nd}/", "-c", "nginx.conf"], port, nd / "error.log"):
        for sent in REQUESTS:
            if sent.nginx:
                send(port, sent)
                cap.nginx_sent.append(sent)
                if sent.xff is not None:
                    send(realip_port, sent)
    with running(["apache2", "-f", str(cap.apache_conf), "-X"], aport, ad / "error.log"):
        for sent in REQUESTS:
            if sent.apache:
                send(aport, sent)
                cap.apache_sent.append(sent)
    cap.nginx_logs = {name: nd / f"{name}.log" for name in NGINX_FORMATS}
    cap.apache_logs = {name: ad / f"{name}.log" for name in APACHE_FORMATS}
    return cap


@contextlib.contextmanager
def captured() -> Iterator[Capture]:
    """A capture in a private world-readable temporary directory, removed afterwards."""
    for tool in ("nginx", "apache2"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(tool)
    root = Path(tempfile.mkdtemp(prefix="edgelog-servers-"))
    try:
        root.chmod(0o755)  # Apache's single process runs as an unprivileged user
        yield capture(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def write_fixture(cap: Capture, out: Path) -> None:
    """Copy logs and configs (with the temp paths replaced) and the sent requests into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for server, logs in (("nginx", cap.nginx_logs), ("apache", cap.apache_logs)):
        for name, path in logs.items():
            shutil.copyfile(path, out / f"{server}-{name}.log")
    assert cap.nginx_conf is not None and cap.apache_conf is not None
    for src, name in ((cap.nginx_conf, "nginx.conf"), (cap.apache_conf, "httpd.conf")):
        (out / name).write_text(src.read_text().replace(str(cap.directory), "/srv/edgelog-test"))
    sent = {"nginx": [asdict(s) for s in cap.nginx_sent], "apache": [asdict(s) for s in cap.apache_sent]}
    (out / "sent.json").write_text(json.dumps(sent, indent=1, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/servers")
    with captured() as c:
        write_fixture(c, target)
    print(f"wrote {sorted(os.listdir(target))} to {target}")
