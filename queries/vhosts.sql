-- report: vhosts
-- answers: What each virtual host served (vhost: Apache %v/%V, nginx $server_name or $host, the JSON/CSV
--          host): requests, visitors, bytes, client and server errors, and the median and 95th percentile
--          latency in milliseconds where the format logs a request time (nearest rank, as in latency_paths).
--          Empty when the format names no host.
-- columns: vhost VARCHAR, hits BIGINT, visitors BIGINT, bytes BIGINT, errors_4xx BIGINT, errors_5xx BIGINT,
--          p50_ms BIGINT, p95_ms BIGINT (by hits desc, vhost asc)
-- merge: partial has two kinds of rows: 'traffic', one per (vhost, visitor hash) with sums, and 'latency', a
--        histogram per (vhost, latency in whole ms); merging re-sums per key, and the final step counts
--        distinct visitors and takes percentiles from the merged histogram.
-- partition: vh
-- @partial
SELECT 'traffic' AS part, vhost, vh, NULL::BIGINT AS ms, count(*)::BIGINT AS n, sum(bytes)::BIGINT AS bytes,
       count(*) FILTER (WHERE status BETWEEN 400 AND 499)::BIGINT AS errors_4xx,
       count(*) FILTER (WHERE status BETWEEN 500 AND 599)::BIGINT AS errors_5xx
FROM requests WHERE vhost IS NOT NULL GROUP BY vhost, vh
UNION ALL
SELECT 'latency', vhost, NULL, edgelog_latency_ms(request_time_s), count(*)::BIGINT, 0, 0, 0
FROM requests WHERE vhost IS NOT NULL AND request_time_s IS NOT NULL
GROUP BY vhost, edgelog_latency_ms(request_time_s)
-- @merge
SELECT part, vhost, vh, ms, sum(n)::BIGINT AS n, sum(bytes)::BIGINT AS bytes,
       sum(errors_4xx)::BIGINT AS errors_4xx, sum(errors_5xx)::BIGINT AS errors_5xx
FROM partial GROUP BY part, vhost, vh, ms
-- @final
WITH traffic AS (
  SELECT vhost, sum(n)::BIGINT AS hits, count(DISTINCT vh)::BIGINT AS visitors, sum(bytes)::BIGINT AS bytes,
         sum(errors_4xx)::BIGINT AS errors_4xx, sum(errors_5xx)::BIGINT AS errors_5xx
  FROM p_vhosts WHERE part = 'traffic' GROUP BY vhost
),
h AS (
  SELECT vhost, ms, sum(n) OVER (PARTITION BY vhost) AS timed,
         sum(n) OVER (PARTITION BY vhost ORDER BY ms) AS below
  FROM p_vhosts WHERE part = 'latency'
),
lat AS (
  SELECT vhost, min(ms) FILTER (WHERE below >= edgelog_rank(50, timed))::BIGINT AS p50_ms,
         min(ms) FILTER (WHERE below >= edgelog_rank(95, timed))::BIGINT AS p95_ms
  FROM h GROUP BY vhost
)
SELECT t.vhost, t.hits, t.visitors, t.bytes, t.errors_4xx, t.errors_5xx, l.p50_ms, l.p95_ms
FROM traffic t LEFT JOIN lat l ON t.vhost = l.vhost ORDER BY t.hits DESC, t.vhost
