"""``client_ip`` for every parsed request: nginx's realip rule (:mod:`edgelog.logformat.realip`) in DuckDB."""

from __future__ import annotations

import duckdb

from edgelog.analysis.parse import VISITOR_HASH
from edgelog.logformat.realip import Network, trusted_macro_sql


def resolve_client_ips(con: duckdb.DuckDBPyConnection, networks: tuple[Network, ...]) -> int:
    """Set ``client_ip`` (and the visitor hash built on it) of every parsed request behind a trusted proxy.

    The walk runs once per distinct (address, X-Forwarded-For) pair, not once per line: behind a load
    balancer a site has far fewer pairs than requests, and the macros cost microseconds per call. Returns
    the number of requests whose client differs from the connection address.
    """
    if not networks:
        return 0
    con.execute(trusted_macro_sql(networks))
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _client_ips AS
        SELECT ip, xff, edgelog_client_ip(ip, xff) AS client_ip
        FROM (SELECT DISTINCT ip, xff FROM parsed WHERE xff IS NOT NULL AND ip IS NOT NULL)
        """
    )
    row = con.execute(
        f"""
        UPDATE parsed SET client_ip = m.client_ip, vh = {VISITOR_HASH.format(client_ip="m.client_ip")}
        FROM _client_ips m
        WHERE parsed.ip = m.ip AND parsed.xff = m.xff AND m.client_ip IS DISTINCT FROM parsed.ip
        """
    ).fetchone()
    con.execute("DROP TABLE _client_ips")
    return int(row[0]) if row else 0
