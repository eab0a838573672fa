"""``client_ip`` for every parsed request: nginx's realip rule (:mod:`edgelog.logformat.realip`) in DuckDB."""

from __future__ import annotations

import duckdb

from edgelog.analysis.library import ON_DEMAND_MACROS, MacroFile, install_macro_files
from edgelog.analysis.parse import VISITOR_HASH
from edgelog.logformat.realip import Network, trusted_macro_sql


def resolve_client_ips(
    con: duckdb.DuckDBPyConnection, networks: tuple[Network, ...], macros: list[MacroFile]
) -> int:
    """Set ``client_ip`` (and the visitor hash built on it) of every parsed request behind a trusted proxy.

    The walk depends only on whether the connection's address is trusted and on the X-Forwarded-For value,
    so it runs once per distinct address and once per distinct header, not once per line: the macros cost
    microseconds per call, and behind a load balancer the same clients' headers repeat. Returns the number
    of requests whose client differs from the connection address.
    """
    if not networks:
        return 0
    install_macro_files(con, [m for m in macros if m.name in ON_DEMAND_MACROS])
    con.execute(trusted_macro_sql(networks))
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _trusted_ips AS
        SELECT ip FROM (SELECT DISTINCT ip FROM parsed WHERE xff IS NOT NULL AND ip IS NOT NULL)
        WHERE edgelog_trusted(edgelog_addr(ip))
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _xff_clients AS
        SELECT xff, edgelog_xff_client(xff) AS client_ip
        FROM (SELECT DISTINCT xff FROM parsed WHERE xff IS NOT NULL AND ip IN (SELECT ip FROM _trusted_ips))
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
    con.execute("DROP TABLE _xff_clients")
    con.execute("DROP TABLE _trusted_ips")
    return int(row[0]) if row else 0
