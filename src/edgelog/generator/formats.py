"""Formatters: turn one second's events into text in one of the six output formats.

Each formatter takes ``(second, events)`` and returns the text of those lines. The timestamp string is built
once per second; client prefixes and request strings were escaped when the pools were built, so the
combined formatter is a single f-string per line. JSON and CSV add fields the access-log formats lack
(request id, session id, user id, response time), drawn from their own RNG so that the shared traffic plan
is the same whatever the format.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from edgelog.generator.engine import Engine, Event, derive_seed
from edgelog.generator.escape import nginx_unescape
from edgelog.generator.site import Req
from edgelog.logformat import PRESETS, Literal, LogFormat, preset
from edgelog.logformat.codec import ESCAPERS
from edgelog.naming import FORMAT_FILES
from edgelog.records import RECORD_FIELDS

_MASK128 = (1 << 128) - 1
_MIX1 = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: multiplication mod 2^128 is a bijection
_MIX2 = 0xD6E8FEB86659FD93C2B2AE3D27D4EB4F
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FORMATS = FORMAT_FILES  # format -> (stream, file extension): the file-name rule lives in edgelog.naming


def clf_time(sec: int) -> str:
    """``23/Nov/2026:08:55:00 +0000``: nginx's $time_local for a UTC server, locale-independent."""
    d = datetime.fromtimestamp(sec, UTC)
    return f"{d.day:02d}/{MONTHS[d.month - 1]}/{d.year}:{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000"


def iso_second(sec: int) -> str:
    """``2026-11-23T08:55:00``: the part of an ISO timestamp before the milliseconds."""
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class Formatter:
    """Base class: ``header()`` once per file, ``format(sec, events)`` per second."""

    name = ""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.host = engine.config.data["site"]["host"]
        self.rt = random.Random(derive_seed(engine.seed, engine.node, "response-time"))
        self.requests = 0
        self.id_base = derive_seed(engine.seed, engine.node, "request-id", str(engine.run)) << 64

    def header(self) -> str:
        return ""

    def format(self, sec: int, events: list[Event]) -> str:
        raise NotImplementedError

    def request_id(self) -> str:
        """A 32-hex request id like nginx's $request_id: a bijective 128-bit mix of (run, counter), so ids
        never repeat within a run and runs of a node (restarts, other backfill starts) differ in ``run``."""
        self.requests += 1
        x = ((self.id_base | self.requests) * _MIX1) & _MASK128
        x ^= x >> 64
        return f"{(x * _MIX2) & _MASK128:032x}"

    def response_ms(self, latency: float, status: int) -> float:
        """Server time for a request: the page's typical latency with a long right tail."""
        if status == 304:
            latency = 0.4
        elif status in (502, 503):
            latency = 3.0 if self.rt.random() < 0.7 else 30_000.0
        return round(latency * self.rt.lognormvariate(0.0, 0.6), 3)


class CombinedFormatter(Formatter):
    name = "combined"

    def format(self, sec: int, events: list[Event]) -> str:
        ts = clf_time(sec)
        return "".join(
            [f'{i.cpre}{ts}] "{r.cv[i.pv]}" {st} {nb} "{ref}"{i.csuf}' for _ms, i, r, st, nb, ref in events]
        )


class CommonFormatter(Formatter):
    name = "common"

    def format(self, sec: int, events: list[Event]) -> str:
        ts = clf_time(sec)
        return "".join([f'{i.cpre}{ts}] "{r.cv[i.pv]}" {st} {nb}\n' for _ms, i, r, st, nb, _ref in events])


class _RecordFormatter(Formatter):
    def records(self, sec: int, events: list[Event]) -> list[tuple]:
        base = iso_second(sec)
        host = self.host
        rid = self.request_id
        rms = self.response_ms
        return [
            (
                f"{base}.{ms:03d}Z",
                i.ip,
                i.user,
                r.method,
                r.path,
                r.protos[i.pv],
                st,
                nb,
                ref,
                i.ua,
                host,
                rid(),
                i.sid,
                i.uid,
                rms(r.latency, st),
            )
            for ms, i, r, st, nb, ref in events
        ]


class JsonFormatter(_RecordFormatter):
    """JSON lines with the contract fields in order; string fields are JSON-encoded once and cached."""

    name = "json"

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self._enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self._strings: dict[str, str] = {}
        self._reqs: dict[int, str] = {}
        self._keep: list[Req] = []  # cached by id(): keep them alive so an id is never reused
        self._host = self._enc(self.host)

    def _s(self, value: str) -> str:
        got = self._strings.get(value)
        if got is None:
            if len(self._strings) > 200_000:
                self._strings.clear()
            got = self._strings[value] = self._enc(value)
        return got

    def _req(self, r: Req, pv: int) -> str:
        key = id(r) * 4 + pv
        got = self._reqs.get(key)
        if got is None:
            enc = self._enc
            got = f'"method":{enc(r.method)},"path":{enc(r.path)},"protocol":{enc(r.protos[pv])}'
            self._reqs[key] = got
            self._keep.append(r)
        return got

    def format(self, sec: int, events: list[Event]) -> str:
        base = iso_second(sec)
        s, req, rid, rms = self._s, self._req, self.request_id, self.response_ms
        host = self._host
        return "".join(
            [
                f'{{"ts":"{base}.{ms:03d}Z","remote_addr":{s(i.ip)},"remote_user":{s(i.user)},{req(r, i.pv)},'
                f'"status":{st},"bytes":{nb},"referer":{s(ref)},"user_agent":{s(i.ua)},"host":{host},'
                f'"request_id":"{rid()}","session_id":"{i.sid}","user_id":"{i.uid}",'
                f'"response_time_ms":{rms(r.latency, st)!r}}}\n'
                for ms, i, r, st, nb, ref in events
            ]
        )


class CsvFormatter(_RecordFormatter):
    name = "csv"

    def header(self) -> str:
        return ",".join(RECORD_FIELDS) + "\n"

    def format(self, sec: int, events: list[Event]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(self.records(sec, events))
        return buf.getvalue()


class AppFormatter(Formatter):
    """The shop's own application log: one entry per dynamic request, assets are served by nginx alone.

    It describes the same requests as the access log: the request id and the response time of each request
    are drawn exactly as the JSON/CSV formatters draw them (one of each per request, static files included),
    so an entry's ``request_id`` and ``in N ms`` are those of the same request in the access records.
    Everything else the app log adds (order numbers, amounts) comes from a random stream of its own.
    """

    name = "app"

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self.extra = random.Random(derive_seed(engine.seed, engine.node, "app-log"))

    def format(self, sec: int, events: list[Event]) -> str:
        base = iso_second(sec)
        out = []
        rid_of, rms = self.request_id, self.response_ms
        for ms, i, r, st, _nb, _ref in events:
            rid, dur = rid_of(), rms(r.latency, st)  # for every request, as the access records draw them
            kind = r.kind
            if kind in ("asset", "probe", "junk", "robots"):
                continue
            ts = f"{base}.{ms:03d}Z"
            who = f"session={i.sid} user={i.account if i.uid else i.user} client={i.ip}"
            service = _service(r.path)
            if st >= 500:
                out.append(f"{ts} ERROR {service} {r.method} {r.path} failed with {st}: {APP_FAILURES[st]} "
                           f"request_id={rid} {who}\n")  # fmt: skip
                if st == 500:  # a bad release: the exception and where it was raised
                    out.append(_traceback(service))
            elif r.path == "/login" and r.method == "POST":
                if st < 400:
                    out.append(f"{ts} INFO auth login ok request_id={rid} {who}\n")
                else:
                    out.append(f"{ts} WARN auth login rejected status={st} request_id={rid} {who}\n")
            elif r.path == "/checkout/payment" and st < 400:
                rng = self.extra
                amount = round(5 + rng.random() * 295, 2)
                out.append(
                    f"{ts} INFO payments payment authorized amount={amount:.2f} EUR "
                    f"order={100_000 + int(rng.random() * 900_000)} request_id={rid} {who}\n"
                )
            elif st >= 400:
                out.append(f"{ts} WARN {service} {r.method} {r.path} -> {st} request_id={rid} {who}\n")
            else:
                level = "DEBUG" if kind == "api" else "INFO"
                out.append(f"{ts} {level} {service} {r.method} {r.path} -> {st} in {dur:.1f}ms "
                           f"request_id={rid} {who}\n")  # fmt: skip
        return "".join(out)


# What the application says when a request fails (the access log's status decides which).
APP_FAILURES = {
    500: "unhandled exception",
    502: "worker crashed: database connection pool exhausted",
    503: "service unavailable: no healthy database replica",
    504: "timed out after 30.0s waiting for the database",
}


def _traceback(service: str) -> str:
    """The traceback a bad release of ``service`` logs under its ERROR line (the same for every request)."""
    module = {"web": "pages", "api": "api", "cart": "cart", "search": "search", "payments": "payments"}.get(
        service, service
    )
    return (
        "Traceback (most recent call last):\n"
        f'  File "/srv/shop/app/{module}/views.py", line 212, in handle\n'
        "    context = build_context(request, variant.price_for(region))\n"
        f'  File "/srv/shop/app/{module}/pricing.py", line 57, in price_for\n'
        "    return self.prices[region.currency]\n"
        "KeyError: 'currency'\n"
    )


def _service(path: str) -> str:
    for prefix, service in (
        ("/api/v1/cart", "cart"),
        ("/api/", "api"),
        ("/checkout", "payments"),
        ("/login", "auth"),
        ("/logout", "auth"),
        ("/account", "accounts"),
        ("/admin", "admin"),
        ("/search", "search"),
    ):
        if path.startswith(prefix):
            return service
    return "web"


class ErrorFormatter(Formatter):
    """nginx's error log: what nginx itself reports (missing files, forbidden paths, failed upstreams).

    Each entry is a request of the access log: the same second, client and request line (written as nginx
    writes it here, unescaped). Every 5xx of a dynamic request has one: 502 connection refused, 503 no live
    upstreams, 504 upstream timed out, 500 the upstream closing the connection (a crashing release).
    """

    name = "error"

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self.worker = 20 + engine.seed % 40
        self.connection = engine.seed % 1000 * 10

    def format(self, sec: int, events: list[Event]) -> str:
        ts = datetime.fromtimestamp(sec, UTC).strftime("%Y/%m/%d %H:%M:%S")
        out = []
        host = self.host
        for _ms, i, r, st, _nb, _ref in events:
            self.connection += 1
            if st < 400:
                continue
            if r.kind == "junk" or (r.kind == "asset" and st != 404):
                continue  # nginx logs nothing for these (junk requests are at info level)
            tail = f'client: {i.ip}, server: {host}, request: "{r.method} {r.path} {r.protos[i.pv]}"'
            head = f"{ts} [error] {self.worker}#{self.worker}: *{self.connection}"
            if st == 404 and r.kind in ("asset", "probe"):
                path = r.path.split("?")[0]
                out.append(
                    f'{head} open() "/usr/share/nginx/html{path}" failed (2: No such file or directory), '
                    f'{tail}, host: "{host}"\n'
                )
            elif st == 403 and r.kind == "probe":
                out.append(f'{head} access forbidden by rule, {tail}, host: "{host}"\n')
            elif st == 502:
                out.append(
                    f"{head} connect() failed (111: Connection refused) while connecting to upstream, "
                    f'{tail}, upstream: "http://10.0.2.15:8080{r.path}", host: "{host}"\n'
                )
            elif st == 503:
                out.append(
                    f"{head} no live upstreams while connecting to upstream, "
                    f'{tail}, upstream: "http://shop", host: "{host}"\n'
                )
            elif st == 504:
                out.append(
                    f"{head} upstream timed out (110: Connection timed out) while reading response header "
                    f'from upstream, {tail}, upstream: "http://10.0.2.15:8080{r.path}", host: "{host}"\n'
                )
            elif st == 500:
                out.append(
                    f"{head} upstream prematurely closed connection while reading response header from "
                    f'upstream, {tail}, upstream: "http://10.0.2.15:8080{r.path}", host: "{host}"\n'
                )
        return "".join(out)


FORMATTERS: dict[str, Callable[[Engine], Formatter]] = {
    "combined": CombinedFormatter,
    "common": CommonFormatter,
    "json": JsonFormatter,
    "csv": CsvFormatter,
    "app": AppFormatter,
    "error": ErrorFormatter,
}


def make_formatter(fmt: str | LogFormat, engine: Engine) -> Formatter:
    """The formatter for a format name or definition; ``KeyError`` for an unknown name (callers check
    names with check_format). The log format presets are written by :class:`DefinitionFormatter`, except
    ``combined`` and ``common``, whose own formatters write the same bytes faster."""
    if isinstance(fmt, LogFormat):
        return DefinitionFormatter(engine, fmt)
    if fmt not in FORMATTERS and fmt in PRESETS:
        return DefinitionFormatter(engine, preset(fmt))
    return FORMATTERS[fmt](engine)


# --- any nginx log_format / Apache LogFormat definition -------------------------------------------------

# Behind a GCP external load balancer (when the format logs X-Forwarded-For): connections come from Google's
# front ends and X-Forwarded-For ends with "<client>, <the forwarding rule's address>". Trusting these gives
# back the generated clients: --trusted-proxies GCP_LOAD_BALANCER.
LB_FRONT_ENDS = ("35.191.", "130.211.0.", "130.211.1.", "130.211.2.", "130.211.3.")
LB_ADDRESS = "203.0.113.10"
GCP_LOAD_BALANCER = f"35.191.0.0/16,130.211.0.0/22,{LB_ADDRESS}"
UPSTREAMS = ("10.0.2.15:8080", "10.0.2.16:8080")


class DefinitionFormatter(Formatter):
    """Writes the traffic plan in any log format definition, escaped as the server escapes it.

    Values the plan has come from the events (client, request, status, bytes, referrer, agent); the rest
    is derived deterministically from the node's own RNG: request and upstream times (dynamic pages go to
    an upstream, 502/503/504 after a failover to a second one), request ids, and - when the format logs
    X-Forwarded-For - a load balancer in front of the server. Fields a server leaves empty here (unknown
    variables, other headers) are written as absent ("-" or nothing).
    """

    def __init__(self, engine: Engine, fmt: LogFormat):
        super().__init__(engine)
        self.fmt = fmt
        self.name = fmt.name if fmt.name in PRESETS else f"{fmt.syntax}:{fmt.name or 'custom'}"
        self.rng = random.Random(derive_seed(engine.seed, engine.node, "log-format"))
        self.proxied = fmt.has("http_x_forwarded_for")
        self.connection = engine.seed % 100_000
        self.escape = ESCAPERS[fmt.escape]
        self.keys = [f.key for f in fmt.fields]
        self.fields = fmt.fields
        self._cache: dict[str, str] = {}

    def _esc(self, value: str) -> str:
        got = self._cache.get(value)
        if got is None:
            if len(self._cache) > 200_000:
                self._cache.clear()
            got = self._cache[value] = self.escape(value)
        return got

    def format(self, sec: int, events: list[Event]) -> str:
        out = []
        d = datetime.fromtimestamp(sec, UTC)
        clf = clf_time(sec)
        iso = d.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        for ms, i, r, st, nb, ref in events:
            values = self.values(sec, ms, d, clf, iso, i, r, st, nb, ref)
            parts = []
            for item in self.fmt.items:
                if isinstance(item, Literal):
                    parts.append(item.text)
                    continue
                v = d.strftime(item.strftime) if item.strftime else values.get(item.name)
                if v is None:
                    if item.null is None:
                        v = "0" if item.kind.name in ("int", "epoch_int") else "-"
                    else:
                        parts.append(item.null)
                        continue
                parts.append(self._esc(v) if item.escaped else v)
            out.append("".join(parts) + "\n")
        return "".join(out)

    def values(
        self, sec: int, ms: int, d: datetime, clf: str, iso: str, i: Any, r: Req, st: int, nb: int, ref: str
    ) -> dict[str, str | None]:
        rng = self.rng
        self.connection += 1
        method, path = r.method, r.path
        proto = r.protos[i.pv] if method else ""
        if method:
            request = f"{method} {path} {proto}" if proto else f"{method} {path}"
        else:  # a raw payload (TLS on the HTTP port), kept in nginx's escaped form by the plan
            raw = nginx_unescape(r.c)
            # nginx/Apache escape every byte; with escape=json/none nginx writes non-UTF-8 bytes raw, which a
            # text writer cannot: those become U+FFFD (real nginx lines like that are quarantined anyway)
            errors = "surrogateescape" if self.fmt.escape in ("default", "apache") else "replace"
            request = raw.decode("utf-8", errors)
        rt_ms = self.response_ms(r.latency, st)
        rt = round(rt_ms)
        dynamic = r.kind not in ("asset", "robots", "junk", "probe")
        failover = st in (502, 503, 504)
        upstream_time = upstream_addr = upstream_status = None
        if dynamic and method:
            up = max(0, rt - 1)
            upstream_time = f"{up // 1000}.{up % 1000:03d}"
            upstream_addr = UPSTREAMS[self.connection % 2]
            upstream_status = str(st)
            if failover:
                upstream_time = f"0.{rng.randrange(1, 30):03d}, {upstream_time}"
                upstream_addr = f"{UPSTREAMS[0]}, {UPSTREAMS[1]}"
                upstream_status = f"502, {st}"
        remote = i.ip
        xff = None
        if self.proxied:
            front = rng.choice(LB_FRONT_ENDS)
            remote = front + ".".join(str(rng.randrange(1, 255)) for _ in range(4 - front.count(".")))
            xff = f"{i.ip}, {LB_ADDRESS}"
            x = rng.random()
            if x < 0.03:  # the client's own proxy appended it; the client's private address is not ours
                xff = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}, {xff}"
            elif x < 0.04:  # a forged header: the load balancer appends the real client after it
                xff = f"1.2.3.4, {xff}"
        target = path if method else None
        uri, _, args = (path or "").partition("?")
        host = self.host
        header_bytes = 180 + len(host) + (nb % 97)
        return {
            "remote_addr": remote,
            "remote_host": remote,
            "client_addr": remote,
            "peer_addr": remote,
            "realip_remote_addr": remote,
            "remote_user": None if i.user == "-" else i.user,
            "remote_logname": None,
            "time_local": clf,
            "time_iso8601": iso,
            "msec": f"{sec}.{ms:03d}",
            "time_sec": str(sec),
            "time_msec": str(sec * 1000 + ms),
            "time_usec": str((sec * 1000 + ms) * 1000),
            "time_msec_frac": f"{ms:03d}",
            "time_usec_frac": f"{ms * 1000:06d}",
            "request": request,
            "request_method": method or None,
            "request_uri": target,
            "uri": uri if method else None,
            "args": args or None,
            "query_string": f"?{args}" if args else "",
            "server_protocol": proto or None,
            "status": f"{st:03d}",
            "status_orig": f"{st:03d}",
            "body_bytes_sent": str(nb) if nb or self.fmt.syntax == "nginx" else None,
            "bytes_sent": str(nb + header_bytes),
            "request_length": str(60 + len(request) + len(i.ua)),
            "bytes_received": str(60 + len(request) + len(i.ua)),
            "http_referer": None if ref == "-" else ref,
            "http_user_agent": i.ua,
            "http_x_forwarded_for": xff,
            "http_host": host,
            "host": host,
            "server_name": host,
            "vhost": host,
            "server_port": "443",
            "scheme": "https",
            "https": "on",
            "request_id": self.request_id(),
            "request_time": f"{rt // 1000}.{rt % 1000:03d}",
            "request_time_us": str(round(rt_ms * 1000)),
            "request_time_ms": str(rt),
            "request_time_s": str(rt // 1000),
            "upstream_response_time": upstream_time,
            "upstream_connect_time": upstream_time and "0.000",
            "upstream_header_time": upstream_time,
            "upstream_addr": upstream_addr,
            "upstream_status": upstream_status,
            "ssl_protocol": "TLSv1.3",
            "ssl_cipher": "TLS_AES_128_GCM_SHA256",
            "gzip_ratio": f"{rng.randrange(2, 6)}.{rng.randrange(100):02d}" if r.page and nb > 1000 else None,
            "pipe": ".",
            "connection": str(self.connection),
            "connection_requests": "1",
            "keepalive_requests": "0",
            "connection_status": "+",
            "pid": str(20 + self.engine.seed % 40),
        }
