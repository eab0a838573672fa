-- report: time_5min
-- answers: Traffic per 5-minute bucket (UTC, aligned to the epoch): requests, visitors and bytes.
-- columns: bucket TIMESTAMPTZ (bucket start), hits BIGINT, visitors BIGINT, bytes BIGINT (by bucket)
-- merge: partial is one row per (bucket, visitor hash) with sums; merging re-sums per key.
-- partition: vh
-- @partial
SELECT time_bucket(INTERVAL 5 MINUTE, ts) AS bucket, vh, count(*)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes
FROM requests GROUP BY bucket, vh
-- @merge
SELECT bucket, vh, sum(hits)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes FROM partial GROUP BY bucket, vh
-- @final
-- p_time_5min has one row per (bucket, visitor) (its merge groups by both): count(vh) = distinct visitors.
SELECT bucket, sum(hits)::BIGINT AS hits, count(vh)::BIGINT AS visitors, sum(bytes)::BIGINT AS bytes
FROM p_time_5min GROUP BY bucket ORDER BY bucket
