"""The client behind trusted proxies: nginx's realip rule, as a Python function and as DuckDB SQL.

Behind a load balancer the connection comes from the proxy and the client is in X-Forwarded-For, which
anyone can also forge. nginx's realip module (``set_real_ip_from CIDR``, ``real_ip_header
X-Forwarded-For``, ``real_ip_recursive on``) trusts only what trusted proxies appended: starting from the
connection address, while the current address is trusted it takes the next address from the right end of
X-Forwarded-For; the first untrusted one is the client. If every address is trusted, the left-most is the
client; an entry that is not an address stops the walk at the last good one (nginx 1.22,
``ngx_http_get_forwarded_addr``). A chosen address is written as nginx writes ``$remote_addr`` (IPv4 dotted
decimal, IPv6 compressed as ``ngx_inet6_ntop`` does, no port); when nothing applies, the logged address is
kept as written.

Addresses follow nginx's parser for IPv4 (``ngx_inet_addr``: four dot-separated decimal octets up to 255,
leading zeros and empty octets allowed) and RFC 4291 text for IPv6 (with an IPv4 tail); entries may carry a
port (``1.2.3.4:5678``, ``[2001:db8::1]:443``). An IPv4-mapped IPv6 address is matched against IPv4 ranges.
The SQL macros (``queries/macros/client_ip.sql``) compute exactly what :func:`client_ip` computes (a
property test checks them against each other, and a test runs real nginx with realip on the same inputs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from edgelog.errors import UsageError

Addr = tuple[int, int]  # (4 or 6, integer value)
_V4 = re.compile(r"[0-9]*\.[0-9]*\.[0-9]*\.[0-9]*")
_HEX_GROUP = re.compile(r"[0-9A-Fa-f]{1,4}")
_TOKEN = re.compile(r"[^ ,]+")
MAPPED_PREFIX = 0xFFFF << 32


@dataclass(frozen=True)
class Network:
    """A trusted range: family, network value (host bits cleared) and prefix length."""

    family: int
    net: int
    prefix: int

    @property
    def mask(self) -> int:
        bits = 32 if self.family == 4 else 128
        return ((1 << bits) - 1) ^ ((1 << (bits - self.prefix)) - 1)


def parse_v4(text: str) -> int | None:
    """nginx's ``ngx_inet_addr``: ``a.b.c.d`` with each octet's value <= 255 (``01``, ``1..2.3`` pass)."""
    if not _V4.fullmatch(text):
        return None
    value = 0
    for octet in text.split("."):
        digits = octet.lstrip("0")
        n = int(digits) if digits and len(digits) <= 3 else (0 if not digits else 256)
        if n > 255:
            return None
        value = value * 256 + n
    return value


def parse_v6(text: str) -> int | None:
    """RFC 4291 text: up to 8 groups of 1-4 hex digits, one ``::`` for at least one zero group, and an
    optional IPv4 tail in the last two groups."""
    if text.count("::") > 1 or not text or not re.fullmatch(r"[0-9A-Fa-f:.]+", text):
        return None
    if "::" in text:
        head_s, tail_s = text.split("::")
        if "." in head_s:
            return None  # an IPv4 tail comes last
        head = head_s.split(":") if head_s else []
        tail = tail_s.split(":") if tail_s else []
    else:
        head, tail = text.split(":"), []
    groups = head + tail
    if not groups and "::" not in text:
        return None
    words: list[int] = []
    for i, g in enumerate(groups):
        if "." in g:
            if i != len(groups) - 1:
                return None
            v4 = parse_v4(g)
            if v4 is None:
                return None
            words += [v4 >> 16, v4 & 0xFFFF]
        elif _HEX_GROUP.fullmatch(g):
            words.append(int(g, 16))
        else:
            return None
    n_head = len(head) + (1 if head and "." in head[-1] else 0)
    if "::" in text:
        if len(words) > 7:
            return None
        words = words[:n_head] + [0] * (8 - len(words)) + words[n_head:]
    elif len(words) != 8:
        return None
    value = 0
    for w in words:
        value = (value << 16) | w
    return value


def parse_addr(text: str) -> Addr | None:
    v4 = parse_v4(text)
    if v4 is not None:
        return (4, v4)
    v6 = parse_v6(text)
    return (6, v6) if v6 is not None else None


def parse_addr_port(text: str) -> Addr | None:
    """nginx's ``ngx_parse_addr_port``: an address, ``[address]:port`` or ``address:port`` (1-65535)."""
    addr = parse_addr(text)
    if addr is not None:
        return addr
    if text.startswith("["):
        m = re.fullmatch(r"\[([^\]]*)\]:(.*)", text)
        if m is None:
            return None
        host, port = m.group(1), m.group(2)
    else:
        host, sep, port = text.partition(":")
        if not sep:
            return None
    if not port.isdigit() or not port.isascii() or not 1 <= int(port) <= 65535:
        return None
    return parse_addr(host)


def addr_text(addr: Addr) -> str:
    """How nginx writes an address (``ngx_sock_ntop`` without the port)."""
    family, v = addr
    if family == 4:
        return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))
    words = [(v >> (16 * (7 - k))) & 0xFFFF for k in range(8)]
    zeros = "".join("0" if w == 0 else "1" for w in words)
    run = next((n for n in range(8, 1, -1) if "0" * n in zeros), 0)
    start = zeros.find("0" * run) if run else -1
    dotted = ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))
    if start == 0 and (
        (run == 5 and words[5] == 0xFFFF)
        or run == 6
        or (run == 7 and (words[7] >> 8) != 0 and words[7] & 255 != 1)
    ):
        return "::" + ("ffff:" if run == 5 else "") + dotted
    hexes = [f"{w:x}" for w in words]
    if not run:
        return ":".join(hexes)
    return (
        (":" if start == 0 else "")
        + "".join(h + ":" for h in hexes[:start])
        + ":"
        + ":".join(hexes[start + run :])
    )


def parse_networks(spec: str | Iterable[str] | None) -> tuple[Network, ...]:
    """``--trusted-proxies``: comma-separated CIDRs or single addresses; a clear error names a bad entry."""
    if spec is None:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[Network] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        text, _, plen = item.partition("/")
        addr = parse_addr(text)
        bits = 32 if addr and addr[0] == 4 else 128
        if addr is None or (plen and (not plen.isdigit() or int(plen) > bits)):
            raise UsageError(
                f"--trusted-proxies: {item!r} is not an address or CIDR range",
                hint="e.g. --trusted-proxies 10.0.0.0/8,130.211.0.0/22,35.191.0.0/16,2600:1900::/28",
            )
        prefix = int(plen) if plen else bits
        net = Network(addr[0], 0, prefix)
        out.append(Network(addr[0], addr[1] & net.mask, prefix))
    return tuple(out)


def is_trusted(addr: Addr, networks: Iterable[Network]) -> bool:
    """``ngx_cidr_match``: an IPv4-mapped IPv6 address is matched as IPv4."""
    family, v = addr
    if family == 6 and v >> 32 == 0xFFFF:
        family, v = 4, v & 0xFFFFFFFF
    return any(n.family == family and v & n.mask == n.net for n in networks)


def client_ip(remote_addr: str | None, xff: str | None, networks: Iterable[Network]) -> str | None:
    """The client address nginx's realip module (recursive) would set for this connection and header."""
    networks = tuple(networks)
    if remote_addr is None or xff is None or not networks:
        return remote_addr
    current = parse_addr(remote_addr)
    if current is None or not is_trusted(current, networks):
        return remote_addr
    found = False
    for token in reversed(_TOKEN.findall(xff)):
        addr = parse_addr_port(token)
        if addr is None:
            break
        current, found = addr, True
        if not is_trusted(addr, networks):
            break
    return addr_text(current) if found else remote_addr


# --- SQL (the macros are queries/macros/client_ip.sql) ----------------------------------------------


def trusted_macro_sql(networks: Iterable[Network]) -> str:
    """``edgelog_trusted_fv(family, value)`` for these networks, replacing the library's default
    (``queries/macros/client_ip.sql``, where nothing is trusted)."""
    conds = [f"(f = {n.family} AND (v & {n.mask}::UHUGEINT) = {n.net}::UHUGEINT)" for n in networks]
    return "CREATE OR REPLACE MACRO edgelog_trusted_fv(f, v) AS " + (" OR ".join(conds) or "false")
