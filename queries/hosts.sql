-- report: hosts
-- answers: Which client IPs (v4 and v6) send the most requests, how many visitors (user agents per day) each
--          IP represents, the bytes sent to it and when it was first and last seen. The client is client_ip:
--          the connection's address, or with --trusted-proxies the client behind those proxies.
-- columns: ip VARCHAR, hits BIGINT, visitors BIGINT, bytes BIGINT, first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ
--          (top 100 by hits desc, ip asc)
-- merge: partial is one row per (ip, visitor hash) with sums, min/max time and the 404 count (used by the
--        scanner anomaly); merging re-sums and takes min/max per key.
-- partition: vh
-- @partial
SELECT client_ip AS ip, vh, count(*)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes, min(ts) AS first_ts,
       max(ts) AS last_ts, count(*) FILTER (WHERE status = 404)::BIGINT AS not_found
FROM requests GROUP BY client_ip, vh
-- @merge
SELECT ip, vh, sum(hits)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes, min(first_ts) AS first_ts,
       max(last_ts) AS last_ts, sum(not_found)::BIGINT AS not_found
FROM partial GROUP BY ip, vh
-- @final
-- p_hosts has one row per (ip, visitor) (its merge groups by both): count(vh) = distinct visitors.
SELECT ip, sum(hits)::BIGINT AS hits, count(vh)::BIGINT AS visitors, sum(bytes)::BIGINT AS bytes,
       min(first_ts) AS first_ts, max(last_ts) AS last_ts
FROM p_hosts GROUP BY ip ORDER BY hits DESC, ip LIMIT 100
