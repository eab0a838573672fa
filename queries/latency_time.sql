-- report: latency_time
-- answers: How request latency changes over time: per 5-minute bucket (UTC, aligned to the epoch), the timed
--          requests and their 50th, 95th and 99th percentile and maximum in milliseconds (nearest rank, as in
--          latency_paths). Empty when the format logs no request time.
-- columns: bucket TIMESTAMPTZ (bucket start), requests BIGINT, p50_ms BIGINT, p95_ms BIGINT, p99_ms BIGINT,
--          max_ms BIGINT (by bucket)
-- merge: partial is a histogram, one row per (bucket, latency in whole ms) with a count; merging re-sums the
--        counts, and the percentiles of the final step are those of all requests (as in latency_paths).
-- @partial
SELECT time_bucket(INTERVAL 5 MINUTE, ts) AS bucket, edgelog_latency_ms(request_time_s) AS ms,
       count(*)::BIGINT AS n
FROM requests WHERE request_time_s IS NOT NULL
GROUP BY time_bucket(INTERVAL 5 MINUTE, ts), edgelog_latency_ms(request_time_s)
-- @merge
SELECT bucket, ms, sum(n)::BIGINT AS n FROM partial GROUP BY bucket, ms
-- @final
WITH h AS (
  SELECT bucket, ms, sum(n) OVER (PARTITION BY bucket) AS requests,
         sum(n) OVER (PARTITION BY bucket ORDER BY ms) AS below
  FROM p_latency_time
)
SELECT bucket, any_value(requests)::BIGINT AS requests,
       min(ms) FILTER (WHERE below >= edgelog_rank(50, requests))::BIGINT AS p50_ms,
       min(ms) FILTER (WHERE below >= edgelog_rank(95, requests))::BIGINT AS p95_ms,
       min(ms) FILTER (WHERE below >= edgelog_rank(99, requests))::BIGINT AS p99_ms,
       max(ms)::BIGINT AS max_ms
FROM h GROUP BY bucket ORDER BY bucket
