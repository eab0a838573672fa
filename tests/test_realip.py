"""The trusted-proxy rule for client_ip: nginx's realip walk, as a Python function and as DuckDB SQL."""

from __future__ import annotations

import ipaddress

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import lanes

from edgelog.analysis.client_ip import resolve_client_ips
from edgelog.analysis.library import install_macros, load_macros
from edgelog.analysis.parse import VISITOR_HASH
from edgelog.errors import UsageError
from edgelog.logformat.realip import (
    addr_text,
    client_ip,
    parse_addr,
    parse_addr_port,
    parse_networks,
    trusted_macro_sql,
)

GCP = "130.211.0.0/22,35.191.0.0/16,203.0.113.7"


def sql_connection(spec: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    install_macros(con, load_macros(), None, on_demand=True)
    con.execute(trusted_macro_sql(parse_networks(spec)))
    return con


CASES = [
    # a GCP load balancer appends "<client>, <forwarding rule address>" and connects from 35.191.x.x
    ("35.191.3.4", "198.51.100.9, 203.0.113.7", "198.51.100.9"),
    # the client's own forged entries to the left are ignored: the right-most untrusted address wins
    ("35.191.3.4", "1.1.1.1, 198.51.100.9, 203.0.113.7", "198.51.100.9"),
    # a direct connection (not from a trusted proxy): X-Forwarded-For is not trusted at all
    ("198.51.100.9", "1.1.1.1", "198.51.100.9"),
    # every entry trusted: the left-most one
    ("35.191.3.4", "130.211.0.9, 203.0.113.7", "130.211.0.9"),
    # an entry that is not an address stops the walk at the last good one
    ("35.191.3.4", "198.51.100.9, unknown, 203.0.113.7", "203.0.113.7"),
    ("35.191.3.4", "garbage", "35.191.3.4"),
    ("35.191.3.4", None, "35.191.3.4"),
    ("35.191.3.4", "-", "35.191.3.4"),
    # ports, brackets, IPv6 and nginx's way of writing addresses
    ("35.191.3.4", "[2001:DB8:0::1]:443", "2001:db8::1"),
    ("35.191.3.4", "198.051.100.009:5555", "198.51.100.9"),
    ("::ffff:35.191.3.4", "2001:db8::1:0:0:1", "2001:db8::1:0:0:1"),
    ("35.191.3.4", "::ffff:192.0.2.1", "::ffff:192.0.2.1"),
    ("35.191.3.4", "0:0:0:0:0:0:0:1", "::1"),
    ("35.191.3.4", ",,198.51.100.9 ,", "198.51.100.9"),
]


@pytest.mark.parametrize(("remote", "xff", "client"), CASES)
def test_right_most_untrusted_address(remote: str, xff: str | None, client: str) -> None:
    assert client_ip(remote, xff, parse_networks(GCP)) == client


def test_sql_form_gives_the_same_addresses() -> None:
    assert sql_client_ips(GCP, [(r, x) for r, x, _ in CASES]) == [c for _, _, c in CASES]


def test_without_trusted_proxies_the_logged_address_stands() -> None:
    assert client_ip("35.191.3.4", "198.51.100.9", ()) == "35.191.3.4"
    con = sql_connection("")
    assert con.execute("SELECT edgelog_client_ip('35.191.3.4', '198.51.100.9')").fetchone() == ("35.191.3.4",)


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "example.com", "2001:db8::/129", "10.0.0.0/x", "1.2.3/8"])
def test_bad_trusted_proxies_name_the_entry(bad: str) -> None:
    with pytest.raises(UsageError, match=bad.replace(".", r"\.").replace("/", "/")):
        parse_networks(f"10.0.0.0/8,{bad}")


def test_networks_are_masked_and_single_addresses_are_hosts() -> None:
    nets = parse_networks("10.1.2.3/8, 2001:db8::1 ,")
    assert [(n.family, n.prefix) for n in nets] == [(4, 8), (6, 128)]
    assert nets[0].net == 10 << 24


def test_canonical_text_matches_rfc5952_for_ordinary_addresses() -> None:
    for text in ["2001:db8::1", "fe80::1:2", "::", "1::", "1:2:3:4:5:6:7:8", "2001:db8:0:0:1:0:0:1"]:
        addr = parse_addr(text)
        assert addr is not None
        assert addr_text(addr) == str(ipaddress.IPv6Address(text))


def _v6_text(words: list[int], style: int) -> str:
    full = ":".join(f"{w:x}" if style else f"{w:04X}" for w in words)
    return full if style < 2 else str(ipaddress.IPv6Address(full))


addresses = st.one_of(
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(
        lambda o: ".".join(map(str, o))
    ),
    st.builds(
        _v6_text,
        st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF, 0xDB8, 0x2001]), min_size=8, max_size=8),
        st.integers(0, 2),
    ),
    st.sampled_from(
        [
            "::ffff:10.0.0.1",
            "::1.2.3.4",
            "unknown",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "::",
            ":::",
            "1::2::3",
            "[::1]",
            "1.2.3.4::",
        ]
    ),
)
entries = st.one_of(
    addresses,
    st.builds(lambda a, p: f"{a}:{p}", addresses, st.integers(0, 70000)),
    st.builds(lambda a, p: f"[{a}]:{p}", addresses, st.sampled_from(["443", "0", "", "x"])),
)


_CONNECTIONS: dict[str, duckdb.DuckDBPyConnection] = {}


def sql_client_ips(spec: str, pairs: list[tuple[str, str | None]]) -> list[str | None]:
    """edgelog_client_ip over many pairs in one query (binding the macros costs far more than a row)."""
    con = _CONNECTIONS.get(spec) or _CONNECTIONS.setdefault(spec, sql_connection(spec))
    rows = con.execute(
        "SELECT edgelog_client_ip(ip, xff) FROM (SELECT unnest(?) AS ip, unnest(?) AS xff, "
        "generate_subscripts(?::VARCHAR[], 1) AS i) ORDER BY i",
        [[p[0] for p in pairs], [p[1] for p in pairs], [p[0] for p in pairs]],
    ).fetchall()
    return [r[0] for r in rows]


xff_chains = st.builds(
    lambda chain, seps: (
        "".join(e + s for e, s in zip(chain, seps, strict=False)).rstrip(", ") if chain else None
    ),
    st.lists(entries, max_size=5),
    st.lists(st.sampled_from([", ", ",", " ", " , "]), min_size=5, max_size=5),
)
SPECS = [
    "10.0.0.0/8",
    "0.0.0.0/1,::/1",
    "2001:db8::/32,1.2.3.4",
    "::1/128,0.0.0.0/0",
    "10.0.0.0/8,::ffff:0:0/96",
]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.sampled_from(SPECS), pairs=st.lists(st.tuples(addresses, xff_chains), min_size=1, max_size=40))
def test_sql_computes_what_python_computes(spec: str, pairs: list[tuple[str, str | None]]) -> None:
    nets = parse_networks(spec)
    assert sql_client_ips(spec, pairs) == [client_ip(ip, xff, nets) for ip, xff in pairs]


@settings(max_examples=lanes.examples(200), deadline=None)
@given(entry=entries)
def test_written_addresses_parse_back(entry: str) -> None:
    parsed = parse_addr_port(entry)
    if parsed is not None:
        assert parse_addr(addr_text(parsed)) == parsed


def test_the_realip_macros_are_installed_only_when_proxies_are_trusted() -> None:
    """Binding the realip macros costs DuckDB a second or two, so a run without --trusted-proxies skips them.

    The other library macros are installed as before; resolve_client_ips installs the realip file itself.
    """
    macros = load_macros()
    assert "client_ip" in {m.name for m in macros}  # still part of the library (and of the manifest)
    con = duckdb.connect()
    install_macros(con, macros, None)
    names = {r[0] for r in con.execute("SELECT function_name FROM duckdb_functions()").fetchall()}
    assert "edgelog_nullif_dash" in names and "edgelog_xff_client" not in names
    con.execute(
        "CREATE TABLE parsed AS SELECT '35.191.3.4' AS ip, '198.51.100.9, 203.0.113.7' AS xff, "
        "'35.191.3.4' AS client_ip, 'ua' AS user_agent, TIMESTAMPTZ '2026-11-23 00:00:00+00' AS ts, "
        "0::UBIGINT AS vh"
    )
    assert resolve_client_ips(con, parse_networks(GCP), macros) == 1
    assert con.execute("SELECT client_ip FROM parsed").fetchall() == [("198.51.100.9",)]


def resolved_client_ips(spec: str, pairs: list[tuple[str, str | None]]) -> list[str | None]:
    """resolve_client_ips over a ``parsed`` table of (connection address, X-Forwarded-For) rows."""
    con = duckdb.connect()
    macros = load_macros()
    install_macros(con, macros, None)
    con.execute(
        "CREATE TABLE parsed AS SELECT i, ip, xff, ip AS client_ip, 'ua' AS user_agent, "
        "TIMESTAMPTZ '2026-11-23 00:00:00+00' AS ts, 0::UBIGINT AS vh "
        "FROM (SELECT unnest(?::VARCHAR[]) AS ip, unnest(?::VARCHAR[]) AS xff, "
        "generate_subscripts(?::VARCHAR[], 1) AS i)",
        [[p[0] for p in pairs], [p[1] for p in pairs], [p[0] for p in pairs]],
    )
    resolve_client_ips(con, parse_networks(spec), macros)
    return [r[0] for r in con.execute("SELECT client_ip FROM parsed ORDER BY i").fetchall()]


# Canonical dotted quads take resolve_client_ips' vectorised path, everything else the macros; a header may
# mix both, and the same entry may appear in several headers.
MIXED = [
    *[(r, x) for r, x, _ in CASES],
    ("35.191.3.4", "198.51.100.9, 2001:db8::1, 203.0.113.7"),
    ("35.191.3.4", "2001:db8::1, 130.211.0.9, 203.0.113.7"),
    ("35.191.3.4", "198.51.100.9, 010.1.2.3, 203.0.113.7"),
    ("35.191.003.4", "198.51.100.9, 203.0.113.7"),
    ("035.191.3.4", "198.51.100.9"),
    ("35.191.3.4", "255.255.255.255, 256.1.1.1, 203.0.113.7"),
    ("35.191.3.4", "0.0.0.0"),
    ("35.191.3.4", "203.0.113.7:80, 203.0.113.7"),
    ("35.191.3.4", ""),
    ("[35.191.3.4]", "198.51.100.9"),
]


def test_resolving_parsed_requests_follows_the_rule() -> None:
    nets = parse_networks(GCP)
    assert resolved_client_ips(GCP, MIXED) == [client_ip(ip, xff, nets) for ip, xff in MIXED]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.sampled_from(SPECS), pairs=st.lists(st.tuples(addresses, xff_chains), min_size=1, max_size=40))
def test_resolving_parsed_requests_computes_what_python_computes(
    spec: str, pairs: list[tuple[str, str | None]]
) -> None:
    nets = parse_networks(spec)
    assert resolved_client_ips(spec, pairs) == [client_ip(ip, xff, nets) for ip, xff in pairs]


# Full IPv6 text nginx writes back as it is (eight lower-case groups, no leading zeros, no two zero groups in
# a row) also takes the vectorised path; with an IPv6 range trusted, its value is compared as the macros do.
V6_SPEC = "2001:db8::/32,35.191.0.0/16"
FULL_V6 = [
    ("35.191.3.4", "2a00:1:2:3:4:5:6:7, 2001:db8:1:2:3:4:5:6"),
    ("2001:db8:1:2:3:4:5:6", "198.51.100.9"),
    ("2001:db8:0:1:0:1:0:1", "2a00:1:2:3:4:5:6:7"),
    ("35.191.3.4", "2001:db8:0:1:0:1:0:1"),
    ("35.191.3.4", "2001:db8:1:2:3:4:5:6, 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
    ("35.191.3.4", "2001:db9:1:2:3:4:5:6, 2001:db8:1:2:3:4:5:6"),
    ("35.191.3.4", "1:0:2:0:3:0:4:0"),
    ("35.191.3.4", "2a00:1:2:3:4:5:6:7, unknown, 2001:db8:1:2:3:4:5:6"),
    ("35.191.3.4", "unknown, 2001:db8:1:2:3:4:5:6, 2001:db8:1:2:3:4:5:7"),
]
# ... and these are not written back as they are: the macros take them
NOT_FULL_V6 = [
    ("35.191.3.4", "2001:db8:0:0:1:0:0:1"),
    ("35.191.3.4", "2001:DB8:1:2:3:4:5:6"),
    ("35.191.3.4", "2001:0db8:1:2:3:4:5:6"),
    ("35.191.3.4", "1:2:3:4:5:6:7:8:9"),
    ("35.191.3.4", "0:0:0:0:0:ffff:c000:201"),
    ("35.191.3.4", "0:0:0:0:0:0:0:1"),
    ("35.191.3.4", "1:2:3:4:5:6:7:0:0"),
]


def test_full_ipv6_addresses_follow_the_rule() -> None:
    nets = parse_networks(V6_SPEC)
    pairs = FULL_V6 + NOT_FULL_V6
    assert resolved_client_ips(V6_SPEC, pairs) == [client_ip(ip, xff, nets) for ip, xff in pairs]


@pytest.mark.parametrize("spec", [GCP, V6_SPEC])
def test_canonical_addresses_need_no_realip_macros(spec: str) -> None:
    """Binding the realip macros costs DuckDB tenths of a second: canonical dotted quads and full IPv6
    addresses, all a load balancer writes, are classified without them."""
    con = duckdb.connect()
    macros = load_macros()
    install_macros(con, macros, None)
    con.execute(
        "CREATE TABLE parsed AS SELECT ip, xff, ip AS client_ip, 'ua' AS user_agent, "
        "TIMESTAMPTZ '2026-11-23 00:00:00+00' AS ts, 0::UBIGINT AS vh "
        "FROM (VALUES ('35.191.3.4', '2a00:1:2:3:4:5:6:7, 203.0.113.7'), "
        "('35.191.3.5', '198.51.100.9, 2001:db8:0:1:0:1:0:1')) v(ip, xff)"
    )
    assert resolve_client_ips(con, parse_networks(spec), macros) == 2
    names = {r[0] for r in con.execute("SELECT function_name FROM duckdb_functions()").fetchall()}
    assert "edgelog_addr" not in names


def test_behind_a_load_balancer_every_connection_is_trusted() -> None:
    """When every connection address is trusted (the rows' test is skipped), rows without a connection
    address or without a header keep theirs."""
    pairs: list[tuple[str | None, str | None]] = [
        ("35.191.3.4", "198.51.100.9, 203.0.113.7"),
        ("130.211.0.9", "2a00:1:2:3:4:5:6:7, 203.0.113.7"),
        ("35.191.3.4", None),
        (None, "198.51.100.9"),
        ("35.191.3.5", "unknown"),
    ]
    nets = parse_networks(GCP)
    assert resolved_client_ips(GCP, pairs) == [client_ip(ip, xff, nets) for ip, xff in pairs]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "ts",
    [
        None,
        "infinity",
        "-infinity",
        "1969-12-31 23:59:59.999999+00",
        "1970-01-01 00:00:00+00",
        "2026-11-23 23:59:59.999999+01",
        "0001-01-01 00:00:00+00",
        "-290308-12-22 00:00:01+00",
        "294247-01-10 04:00:54.775806+00",
    ],
)
def test_a_visitor_is_a_client_and_user_agent_on_one_utc_day(ts: str | None) -> None:
    """The visitor hash (written by the parser, rewritten behind trusted proxies) hashes the request's UTC
    day as ``date_trunc('day', timezone('UTC', ts))`` does, whatever the session's time zone: outputs of
    earlier versions merge with today's."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    got, want = con.execute(
        f"SELECT {VISITOR_HASH.format(client_ip='ip')}, "
        "hash(ip, date_trunc('day', timezone('UTC', ts)), coalesce(user_agent, '')) "
        "FROM (SELECT '198.51.100.9' AS ip, ?::TIMESTAMPTZ AS ts, 'curl/8.5.0' AS user_agent)",
        [ts],
    ).fetchone()  # type: ignore[misc]
    assert got == want
