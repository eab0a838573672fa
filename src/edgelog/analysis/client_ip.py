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
The SQL macro computes exactly what :func:`client_ip` computes (a property test checks them against each
other, and a test runs real nginx with realip on the same inputs).
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


# --- SQL ------------------------------------------------------------------------------------------
# DuckDB inlines macros, so a parameter used twice is computed twice (and nested macros multiply that).
# Each macro therefore uses its parameters once, binding values with list_transform([value], lambda x: ..)[1].

_SQL_HELPERS = r"""
-- nginx's IPv4 parser (four octets, each <= 255, leading zeros and empty octets allowed): BIGINT or NULL
CREATE OR REPLACE MACRO edgelog_v4_join(o) AS list_transform([o], lambda q:
  CASE WHEN len(q) = 4 AND list_max(q) <= 255
       THEN q[1] * 16777216 + q[2] * 65536 + q[3] * 256 + q[4] END)[1];
CREATE OR REPLACE MACRO edgelog_v4(t) AS edgelog_v4_join(list_transform(string_split(t, '.'), lambda x:
  CASE WHEN NOT regexp_full_match(x, '[0-9]*') OR len(ltrim(x, '0')) > 3 THEN 256
       ELSE coalesce(try_cast(nullif(ltrim(x, '0'), '') AS BIGINT), 0) END));
-- IPv6: groups (an IPv4 tail becomes two groups), '::' expanded to zero groups, 8 groups in all
CREATE OR REPLACE MACRO edgelog_v6_tail4(g) AS list_transform([g], lambda q:
  CASE WHEN q IS NULL OR len(q) = 0 OR NOT contains(q[len(q)], '.') THEN q
       ELSE list_transform([edgelog_v4(q[len(q)])], lambda v: CASE WHEN v IS NOT NULL THEN
         list_concat(q[1:len(q) - 1], [format('{:x}', v >> 16), format('{:x}', v & 65535)]) END)[1] END)[1];
CREATE OR REPLACE MACRO edgelog_v6_words(h, t, dbl) AS list_transform([list_concat(h, ['|'], t)], lambda a:
  CASE WHEN h IS NULL OR t IS NULL THEN NULL
       WHEN NOT list_bool_and(list_transform(list_filter(a, lambda x: x <> '|'),
                                             lambda x: regexp_full_match(x, '[0-9A-Fa-f]{1,4}'))) THEN NULL
       WHEN dbl AND len(a) <= 8 THEN list_filter(list_concat(
           a[1:list_position(a, '|') - 1], list_transform(range(9 - len(a)), lambda i: '0'),
           a[list_position(a, '|') + 1:]), lambda x: x <> '|')
       WHEN NOT dbl AND len(a) = 9 THEN a[1:8] END)[1];
CREATE OR REPLACE MACRO edgelog_v6_split(t) AS list_transform([t], lambda s: CASE
  WHEN NOT regexp_full_match(s, '[0-9A-Fa-f:.]+') THEN NULL
  WHEN NOT contains(s, '::')
    THEN edgelog_v6_words(edgelog_v6_tail4(string_split(s, ':')), []::VARCHAR[], false)
  ELSE list_transform([string_split(s, '::')], lambda p: CASE
    WHEN len(p) <> 2 OR contains(p[1], '.') THEN NULL
    ELSE edgelog_v6_words(
      CASE WHEN p[1] = '' THEN []::VARCHAR[] ELSE string_split(p[1], ':') END,
      CASE WHEN p[2] = '' THEN []::VARCHAR[] ELSE edgelog_v6_tail4(string_split(p[2], ':')) END,
      true) END)[1] END)[1];
CREATE OR REPLACE MACRO edgelog_v6(t) AS list_reduce(
  list_transform(edgelog_v6_split(t), lambda w: ('0x' || w)::UHUGEINT),
  lambda a, b: (a << 16::UHUGEINT) | b);
CREATE OR REPLACE MACRO edgelog_addr(t) AS list_transform([t], lambda s:
  list_transform([edgelog_v4(s)], lambda v4: CASE WHEN v4 IS NOT NULL THEN {'fam': 4, 'v': v4::UHUGEINT}
    ELSE list_transform([edgelog_v6(s)], lambda v6: CASE WHEN v6 IS NOT NULL THEN {'fam': 6, 'v': v6} END)[1]
    END)[1])[1];
-- nginx's ngx_parse_addr_port: an address, [address]:port or address:port with port 1-65535
CREATE OR REPLACE MACRO edgelog_port_ok(p) AS list_transform([p], lambda x:
  coalesce(regexp_full_match(x, '[0-9]{1,5}') AND try_cast(x AS INTEGER) BETWEEN 1 AND 65535, false))[1];
CREATE OR REPLACE MACRO edgelog_port_host(s) AS CASE
  WHEN starts_with(s, '[') THEN list_transform([regexp_extract(s, '^\[([^\]]*)\]:(.*)$', ['h', 'p'])],
    lambda m: CASE WHEN edgelog_port_ok(m.p) THEN m.h END)[1]
  ELSE list_transform([regexp_extract(s, '^([^:]*):(.*)$', ['h', 'p'])],
    lambda m: CASE WHEN edgelog_port_ok(m.p) THEN m.h END)[1] END;
CREATE OR REPLACE MACRO edgelog_addr_port(t) AS list_transform([t], lambda s:
  coalesce(edgelog_addr(s), edgelog_addr(edgelog_port_host(s))))[1];
-- how nginx writes an address: dotted IPv4, IPv6 as ngx_inet6_ntop compresses it
CREATE OR REPLACE MACRO edgelog_v4_text(v) AS list_transform([v], lambda x:
  concat_ws('.', (x >> 24) & 255, (x >> 16) & 255, (x >> 8) & 255, x & 255))[1];
CREATE OR REPLACE MACRO edgelog_v6_fmt(w, run, start) AS CASE
  WHEN start = 1 AND ((run = 5 AND w[6] = 65535) OR run = 6
                      OR (run = 7 AND w[8] >> 8 <> 0 AND w[8] & 255 <> 1))
    THEN '::' || CASE WHEN run = 5 THEN 'ffff:' ELSE '' END || edgelog_v4_text(w[7] * 65536 + w[8])
  WHEN run = 0 THEN array_to_string(list_transform(w, lambda x: format('{:x}', x)), ':')
  ELSE CASE WHEN start = 1 THEN ':' ELSE '' END
       || array_to_string(list_transform(w[1:start - 1], lambda x: format('{:x}', x) || ':'), '')
       || ':' || array_to_string(list_transform(w[start + run:], lambda x: format('{:x}', x)), ':') END;
CREATE OR REPLACE MACRO edgelog_v6_zrun(w, z) AS list_transform([CASE
  WHEN contains(z, '00000000') THEN 8 WHEN contains(z, '0000000') THEN 7 WHEN contains(z, '000000') THEN 6
  WHEN contains(z, '00000') THEN 5 WHEN contains(z, '0000') THEN 4 WHEN contains(z, '000') THEN 3
  WHEN contains(z, '00') THEN 2 ELSE 0 END], lambda run:
  edgelog_v6_fmt(w, run, CASE WHEN run > 0 THEN strpos(z, repeat('0', run)) ELSE 0 END))[1];
CREATE OR REPLACE MACRO edgelog_v6_text(v) AS list_transform(
  [list_transform(range(8), lambda k: ((v >> (16 * (7 - k))::UHUGEINT) & 65535::UHUGEINT)::BIGINT)],
  lambda w: edgelog_v6_zrun(w, array_to_string(
    list_transform(w, lambda x: CASE WHEN x = 0 THEN '0' ELSE '1' END), '')))[1];
CREATE OR REPLACE MACRO edgelog_addr_text(a) AS list_transform([a], lambda x:
  CASE WHEN x.fam = 4 THEN edgelog_v4_text(x.v::BIGINT) ELSE edgelog_v6_text(x.v) END)[1]
"""


def _trusted_sql(networks: tuple[Network, ...]) -> list[str]:
    conds = [f"(f = {n.family} AND (v & {n.mask}::UHUGEINT) = {n.net}::UHUGEINT)" for n in networks]
    return [
        "CREATE OR REPLACE MACRO edgelog_trusted_fv(f, v) AS " + (" OR ".join(conds) or "false"),
        "CREATE OR REPLACE MACRO edgelog_trusted(a) AS list_transform([a], lambda x: "
        "CASE WHEN x IS NULL THEN false "
        f"WHEN x.fam = 6 AND x.v >> 32::UHUGEINT = {0xFFFF}::UHUGEINT "
        "THEN edgelog_trusted_fv(4, x.v & 4294967295::UHUGEINT) ELSE edgelog_trusted_fv(x.fam, x.v) END)[1]",
    ]


_CLIENT_IP = r"""
-- parsed: the X-Forwarded-For entries from the right; k: the first that is not an address or not trusted
CREATE OR REPLACE MACRO edgelog_realip(ip, parsed, k) AS list_transform([CASE
  WHEN len(parsed) = 0 THEN NULL
  WHEN k IS NULL THEN parsed[len(parsed)]
  WHEN parsed[k] IS NOT NULL THEN parsed[k]
  WHEN k = 1 THEN NULL
  ELSE parsed[k - 1] END], lambda a: CASE WHEN a IS NULL THEN ip ELSE edgelog_addr_text(a) END)[1];
CREATE OR REPLACE MACRO edgelog_client_ip(ip, xff) AS CASE
  WHEN xff IS NULL OR ip IS NULL OR NOT edgelog_trusted(edgelog_addr(ip)) THEN ip
  ELSE list_transform([list_transform(list_reverse(regexp_extract_all(xff, '[^ ,]+')),
                                      lambda t: edgelog_addr_port(t))],
    lambda parsed: edgelog_realip(ip, parsed,
      list_position(list_transform(parsed, lambda p: p IS NULL OR NOT edgelog_trusted(p)), true)))[1] END
"""


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";\n") if s.strip()]


def macro_sql(networks: tuple[Network, ...]) -> list[str]:
    """The statements that define ``edgelog_client_ip(ip, xff)`` for these trusted networks.

    Without networks the macro is the identity on ``ip`` (and costs nothing).
    """
    if not networks:
        return ["CREATE OR REPLACE MACRO edgelog_client_ip(ip, xff) AS ip"]
    return [*_statements(_SQL_HELPERS), *_trusted_sql(networks), *_statements(_CLIENT_IP)]
