-- report: error_rate
-- answers: Per 5-minute bucket, how many requests failed with a client (4xx) or server (5xx) error, and the
--          share of all requests that failed: error_rate = (errors_4xx + errors_5xx) / hits.
-- columns: bucket TIMESTAMPTZ, hits BIGINT, errors_4xx BIGINT, errors_5xx BIGINT, error_rate DOUBLE (0..1)
-- merge: partial is one row per bucket with counts; merging re-sums; the rate is computed in the final step.
--        Also feeds the 4xx/5xx spike anomalies.
-- @partial
SELECT time_bucket(INTERVAL 5 MINUTE, ts) AS bucket, count(*)::BIGINT AS hits,
       count(*) FILTER (WHERE status BETWEEN 400 AND 499)::BIGINT AS errors_4xx,
       count(*) FILTER (WHERE status BETWEEN 500 AND 599)::BIGINT AS errors_5xx
FROM requests GROUP BY bucket
-- @merge
SELECT bucket, sum(hits)::BIGINT AS hits, sum(errors_4xx)::BIGINT AS errors_4xx,
       sum(errors_5xx)::BIGINT AS errors_5xx
FROM partial GROUP BY bucket
-- @final
SELECT bucket, hits, errors_4xx, errors_5xx, (errors_4xx + errors_5xx) / hits::DOUBLE AS error_rate
FROM p_error_rate ORDER BY bucket
