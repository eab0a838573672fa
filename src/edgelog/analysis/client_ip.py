"""``client_ip`` for every parsed request: nginx's realip rule (:mod:`edgelog.logformat.realip`) in DuckDB."""

from __future__ import annotations

from dataclasses import replace

import duckdb

from edgelog.analysis.library import ON_DEMAND_MACROS, MacroFile, install_macro_files
from edgelog.analysis.parse import VISITOR_HASH
from edgelog.logformat.realip import Network, trusted_macro_sql

# A canonical dotted quad (four octets 0-255, no leading zeros) is an IPv4 address that nginx writes back
# exactly as it is, so for such a text the realip macros' parse, range test and re-writing reduce to a few
# vectorised string functions. Every other text (IPv6, ports, leading zeros, garbage) takes the macros.
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = rf"regexp_full_match({{t}}, '{_OCTET}(\.{_OCTET}){{{{3}}}}')"
_V4_VALUE = " + ".join(f"(split_part({{t}}, '.', {k + 1})::UHUGEINT << {24 - 8 * k})" for k in range(4))


# The macros of the per-header walk, which this module does with list functions over classified entries
# (binding edgelog_xff_client alone takes DuckDB longer than all of the work below).
_WALK_MACROS = frozenset({"edgelog_realip", "edgelog_xff_client", "edgelog_client_ip"})


def _fast(text: str) -> str:
    return _CANONICAL_V4.format(t=text)


def _fast_trusted(text: str) -> str:
    return f"edgelog_trusted_fv(4, {_V4_VALUE.format(t=text)})"


def resolve_client_ips(
    con: duckdb.DuckDBPyConnection, networks: tuple[Network, ...], macros: list[MacroFile]
) -> int:
    """Set ``client_ip`` (and the visitor hash built on it) of every parsed request behind a trusted proxy.

    The walk depends only on whether the connection's address is trusted and on the X-Forwarded-For
    entries, so it runs on distinct values, not once per line: each distinct connection address and each
    distinct entry is classified once (trusted? the address as nginx writes it), then each distinct header
    walks its entries from the right with list functions. Canonical dotted quads, the bulk behind a load
    balancer, are classified by vectorised string functions; only the rest go through the realip macros
    (``queries/macros/client_ip.sql``: microseconds per call, tenths of a second to bind), which are
    installed only when such a value occurs. Returns the number of requests whose client differs from the
    connection address.
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
                    install_macro_files(con, [replace(m, statements=[m.statements[i] for i in wanted])])
            con.execute(trusted_macro_sql(networks))  # after the file, which trusts nothing
            installed = True

    con.execute(trusted_macro_sql(networks))
    # Materialised first: a filter over a DISTINCT subquery is pushed below it, onto every row.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _conn_ips AS "
        "SELECT DISTINCT ip FROM parsed WHERE xff IS NOT NULL AND ip IS NOT NULL"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _trusted_ips AS "
        f"SELECT ip FROM _conn_ips WHERE {_fast('ip')} AND {_fast_trusted('ip')}"
    )
    if _exists(con, f"SELECT 1 FROM _conn_ips WHERE NOT {_fast('ip')}"):
        realip_macros()
        con.execute(
            "INSERT INTO _trusted_ips "
            f"SELECT ip FROM _conn_ips WHERE NOT {_fast('ip')} AND edgelog_trusted(edgelog_addr(ip))"
        )
    # Each header's entries from the right (pos 1 is the right-most), and each distinct entry's class.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _xff_entries AS
        SELECT xff, generate_subscripts(t, 1) AS pos, unnest(t) AS entry
        FROM (
          SELECT xff, list_reverse(regexp_extract_all(xff, '[^ ,]+')) AS t
          FROM (SELECT DISTINCT xff FROM parsed WHERE xff IS NOT NULL AND ip IN (SELECT ip FROM _trusted_ips))
        )
        """
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _entries AS SELECT DISTINCT entry FROM _xff_entries")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _entry_addrs AS "
        f"SELECT entry, entry AS addr, {_fast_trusted('entry')} AS trusted FROM _entries "
        f"WHERE {_fast('entry')}"
    )
    if _exists(con, f"SELECT 1 FROM _entries WHERE NOT {_fast('entry')}"):
        realip_macros()
        # edgelog_addr_port(entry) in steps: binding each macro once, not the nested whole, saves a second
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _odd_entries AS SELECT entry, edgelog_addr(entry) AS a, "
            f"edgelog_port_host(entry) AS host FROM _entries WHERE NOT {_fast('entry')}"
        )
        if _exists(con, "SELECT 1 FROM _odd_entries WHERE a IS NULL AND host IS NOT NULL"):
            con.execute("UPDATE _odd_entries SET a = edgelog_addr(host) WHERE a IS NULL AND host IS NOT NULL")
        con.execute(
            "INSERT INTO _entry_addrs SELECT entry, CASE WHEN a IS NOT NULL THEN edgelog_addr_text(a) END, "
            "edgelog_trusted(a) FROM _odd_entries"
        )
        con.execute("DROP TABLE _odd_entries")
    # edgelog_realip's walk: k is the first entry from the right that is not an address (addr NULL) or not
    # trusted; none: the left-most; an untrusted address: it; not an address: the one before, if any.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _xff_clients AS
        SELECT xff, CASE WHEN k IS NULL THEN addrs[len(addrs)] WHEN addrs[k] IS NOT NULL THEN addrs[k]
                         WHEN k > 1 THEN addrs[k - 1] END AS client_ip
        FROM (
          SELECT xff, list(addr ORDER BY pos) AS addrs,
                 list_position(list(addr IS NULL OR NOT trusted ORDER BY pos), true) AS k
          FROM _xff_entries JOIN _entry_addrs USING (entry)
          GROUP BY xff
        )
        """
    )
    row = con.execute(
        f"""
        UPDATE parsed SET client_ip = m.client_ip, vh = {VISITOR_HASH.format(client_ip="m.client_ip")}
        FROM _xff_clients m
        WHERE parsed.xff = m.xff AND m.client_ip IS NOT NULL AND m.client_ip <> parsed.ip
          AND parsed.ip IN (SELECT ip FROM _trusted_ips)
        """
    ).fetchone()
    for table in ("_xff_clients", "_entry_addrs", "_entries", "_xff_entries", "_trusted_ips", "_conn_ips"):
        con.execute(f"DROP TABLE {table}")
    return int(row[0]) if row else 0


def _exists(con: duckdb.DuckDBPyConnection, sql: str) -> bool:
    return con.execute(f"SELECT EXISTS ({sql})").fetchone() == (True,)
