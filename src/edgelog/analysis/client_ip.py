"""``client_ip`` for every parsed request: nginx's realip rule (:mod:`edgelog.logformat.realip`) in DuckDB."""

from __future__ import annotations

from dataclasses import replace

import duckdb

from edgelog.analysis.library import ON_DEMAND_MACROS, MacroFile, install_macro_files
from edgelog.analysis.parse import VISITOR_HASH
from edgelog.logformat.realip import Network, trusted_macro_sql

# A canonical address text is one nginx writes back exactly as it is, so for it the realip macros' parse,
# range test and re-writing reduce to a few vectorised string functions: a dotted quad (four octets 0-255,
# no leading zeros), or IPv6 as eight lower-case hex groups without leading zeros and without two zero
# groups in a row (which nginx would compress to ``::``; an IPv4-mapped address always has such a run).
# Every other text (``::``, upper case, ports, leading zeros, garbage) takes the macros.
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_GROUP = "(0|[1-9a-f][0-9a-f]{0,3})"
_V4_RE = rf"{_OCTET}(\.{_OCTET}){{3}}"
_V6_RE = f"{_GROUP}(:{_GROUP}){{7}}"


# The macros of the per-header walk, which this module does with aggregates over classified entries
# (binding edgelog_xff_client alone takes DuckDB longer than all of the work below).
_WALK_MACROS = frozenset({"edgelog_realip", "edgelog_xff_client", "edgelog_client_ip"})


def _canonical(t: str) -> str:
    """SQL columns ``fam, v``: the family and value of the canonical address ``t``, NULL for other texts.

    CASEs, so that the casts see only the texts their test passed; stored, so that the range test
    (``edgelog_trusted_fv``, which uses its value once per trusted range) reads a column instead of
    computing the value again for every range.
    """
    v4_re = f"regexp_full_match({t}, '{_V4_RE}')"
    v6_re = f"regexp_full_match({t}, '{_V6_RE}') AND NOT contains(':' || {t} || ':', ':0:0:')"
    v4 = " + ".join(f"(split_part({t}, '.', {k + 1})::UHUGEINT << {24 - 8 * k})" for k in range(4))
    v6 = " + ".join(
        f"(('0x' || split_part({t}, ':', {k + 1}))::UHUGEINT << {112 - 16 * k})" for k in range(8)
    )
    return (
        f"CASE WHEN {v4_re} THEN 4 WHEN {v6_re} THEN 6 END AS fam, "
        f"CASE WHEN {v4_re} THEN {v4} WHEN {v6_re} THEN {v6} END AS v"
    )


def resolve_client_ips(
    con: duckdb.DuckDBPyConnection, networks: tuple[Network, ...], macros: list[MacroFile]
) -> int:
    """Set ``client_ip`` (and the visitor hash built on it) of every parsed request behind a trusted proxy.

    The walk depends only on whether the connection's address is trusted and on the X-Forwarded-For
    entries, so it runs on distinct values, not once per line: each distinct connection address and each
    distinct entry is classified once (trusted? the address as nginx writes it), then each distinct header
    walks its entries from the right with aggregates. Canonical addresses (dotted quads, full IPv6), the
    bulk behind a load balancer, are classified by vectorised string functions; only the rest go through
    the realip macros (``queries/macros/client_ip.sql``: microseconds per call, tenths of a second to
    bind), which are installed only when such a value occurs. Returns the number of requests whose client
    differs from the connection address.
    """
    if not networks:
        return 0
    installed = False

    def realip_macros() -> None:
        nonlocal installed
        if not installed:
            for m in macros:
                if m.name in ON_DEMAND_MACROS:
                    wanted = [i for i, name in enumerate(m.macros) if name not in _WALK_MACROS]
                    install_macro_files(con, [replace(m, statements=tuple(m.statements[i] for i in wanted))])
            con.execute(trusted_macro_sql(networks))  # after the file, which trusts nothing
            installed = True

    con.execute(trusted_macro_sql(networks))
    # Materialised first: a filter over a DISTINCT subquery is pushed below it, onto every row.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _conn_ips AS SELECT ip, {_canonical('ip')} "
        "FROM (SELECT DISTINCT ip FROM parsed WHERE xff IS NOT NULL AND ip IS NOT NULL)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _trusted_ips AS "
        "SELECT ip FROM _conn_ips WHERE fam IS NOT NULL AND edgelog_trusted_fv(fam, v)"
    )
    if _exists(con, "SELECT 1 FROM _conn_ips WHERE fam IS NULL"):
        realip_macros()
        con.execute(
            "INSERT INTO _trusted_ips "
            "SELECT ip FROM _conn_ips WHERE fam IS NULL AND edgelog_trusted(edgelog_addr(ip))"
        )
    # Behind a load balancer every connection address is a trusted one: then a row's address needs no test.
    all_trusted = _exists(
        con, "SELECT 1 WHERE (SELECT count(*) FROM _trusted_ips) = (SELECT count(*) FROM _conn_ips)"
    )
    behind_proxy = "ip IS NOT NULL" if all_trusted else "ip IN (SELECT ip FROM _trusted_ips)"
    # Each header's entries from the right (pos 1 is the right-most), and each distinct entry's class. The
    # entries are what regexp_extract_all(xff, '[^ ,]+') gives, split without a regex (twice as fast).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _xff_entries AS
        SELECT xff, generate_subscripts(t, 1) AS pos, unnest(t) AS entry
        FROM (
          SELECT xff,
                 list_reverse(list_filter(string_split(replace(xff, ' ', ','), ','), lambda e: e <> '')) AS t
          FROM (SELECT DISTINCT xff FROM parsed WHERE xff IS NOT NULL AND {behind_proxy})
        )
        """
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _entries AS SELECT entry, {_canonical('entry')} "
        "FROM (SELECT DISTINCT entry FROM _xff_entries)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _entry_addrs AS "
        "SELECT entry, entry AS addr, edgelog_trusted_fv(fam, v) AS trusted "
        "FROM _entries WHERE fam IS NOT NULL"
    )
    if _exists(con, "SELECT 1 FROM _entries WHERE fam IS NULL"):
        realip_macros()
        # edgelog_addr_port(entry) in steps: binding each macro once, not the nested whole, saves a second
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _odd_entries AS SELECT entry, edgelog_addr(entry) AS a, "
            "edgelog_port_host(entry) AS host FROM _entries WHERE fam IS NULL"
        )
        if _exists(con, "SELECT 1 FROM _odd_entries WHERE a IS NULL AND host IS NOT NULL"):
            con.execute("UPDATE _odd_entries SET a = edgelog_addr(host) WHERE a IS NULL AND host IS NOT NULL")
        con.execute(
            "INSERT INTO _entry_addrs SELECT entry, CASE WHEN a IS NOT NULL THEN edgelog_addr_text(a) END, "
            "edgelog_trusted(a) FROM _odd_entries"
        )
        con.execute("DROP TABLE _odd_entries")
    # edgelog_realip's walk, from the right: the first entry that is an untrusted address is the client; the
    # first that is not an address stops the walk at the entry before it (none: no client); when neither
    # occurs, every entry is a trusted address and the left-most one is the client. Plain aggregates per
    # header (an ordered list per header costs DuckDB several times more).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _xff_clients AS
        SELECT xff,
               CASE WHEN untrusted IS NULL AND odd IS NULL THEN leftmost
                    WHEN odd IS NULL OR untrusted < odd THEN untrusted_addr END AS client_ip,
               CASE WHEN odd > 1 AND (untrusted IS NULL OR odd < untrusted) THEN odd - 1 END AS before_odd
        FROM (
          SELECT xff,
                 min(pos) FILTER (WHERE addr IS NOT NULL AND NOT trusted) AS untrusted,
                 arg_min(addr, pos) FILTER (WHERE addr IS NOT NULL AND NOT trusted) AS untrusted_addr,
                 min(pos) FILTER (WHERE addr IS NULL) AS odd,
                 arg_max(addr, pos) AS leftmost
          FROM _xff_entries JOIN _entry_addrs USING (entry)
          GROUP BY xff
        )
        """
    )
    if _exists(con, "SELECT 1 FROM _xff_clients WHERE before_odd IS NOT NULL"):
        con.execute(
            """
            UPDATE _xff_clients c SET client_ip = a.addr
            FROM _xff_entries e JOIN _entry_addrs a USING (entry)
            WHERE c.before_odd IS NOT NULL AND e.xff = c.xff AND e.pos = c.before_odd
            """
        )
    row = con.execute(
        f"""
        UPDATE parsed SET client_ip = m.client_ip, vh = {VISITOR_HASH.format(client_ip="m.client_ip")}
        FROM _xff_clients m
        WHERE parsed.xff = m.xff AND m.client_ip IS NOT NULL AND m.client_ip <> parsed.ip
          AND parsed.{behind_proxy}
        """
    ).fetchone()
    for table in ("_xff_clients", "_entry_addrs", "_entries", "_xff_entries", "_trusted_ips", "_conn_ips"):
        con.execute(f"DROP TABLE {table}")
    return int(row[0]) if row else 0


def _exists(con: duckdb.DuckDBPyConnection, sql: str) -> bool:
    return con.execute(f"SELECT EXISTS ({sql})").fetchone() == (True,)
