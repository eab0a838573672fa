-- report: latency_paths
-- answers: How long requests for each path take (request_time_s: nginx $request_time, Apache %D or %T, the
--          JSON/CSV response_time_ms): the timed requests and their 50th, 95th and 99th percentile and
--          maximum in milliseconds, for the 100 paths with the most timed requests. Empty when the format
--          logs no request time. A percentile is the nearest rank: the smallest latency that at least that
--          share of the path's timed requests did not exceed.
-- columns: path VARCHAR, requests BIGINT, p50_ms BIGINT, p95_ms BIGINT, p99_ms BIGINT, max_ms BIGINT
--          (top 100 by requests desc, path asc)
-- merge: partial is a histogram, one row per (path, latency in whole ms) with a count; merging re-sums the
--        counts, so the merged histogram is that of all requests and every percentile is computed from it
--        in the final step exactly as from the requests themselves (at millisecond resolution).
-- @partial
SELECT url_path AS path, edgelog_latency_ms(request_time_s) AS ms, count(*)::BIGINT AS n
FROM requests WHERE request_time_s IS NOT NULL AND url_path IS NOT NULL
GROUP BY url_path, edgelog_latency_ms(request_time_s)
-- @merge
SELECT path, ms, sum(n)::BIGINT AS n FROM partial GROUP BY path, ms
-- @final
WITH top AS (
  SELECT path, sum(n)::BIGINT AS requests FROM p_latency_paths GROUP BY path
  ORDER BY requests DESC, path LIMIT 100
),
h AS (
  SELECT h.path, h.ms, t.requests, sum(h.n) OVER (PARTITION BY h.path ORDER BY h.ms) AS below
  FROM p_latency_paths h JOIN top t ON h.path = t.path
)
SELECT path, any_value(requests)::BIGINT AS requests,
       min(ms) FILTER (WHERE below >= edgelog_rank(50, requests))::BIGINT AS p50_ms,
       min(ms) FILTER (WHERE below >= edgelog_rank(95, requests))::BIGINT AS p95_ms,
       min(ms) FILTER (WHERE below >= edgelog_rank(99, requests))::BIGINT AS p99_ms,
       max(ms)::BIGINT AS max_ms
FROM h GROUP BY path ORDER BY requests DESC, path
