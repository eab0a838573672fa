-- report: time_hourly
-- answers: How traffic is distributed over time, per UTC hour: requests, visitors and bytes.
-- columns: hour TIMESTAMPTZ (start of the UTC hour), hits BIGINT, visitors BIGINT, bytes BIGINT (by hour)
-- merge: partial is one row per (hour, visitor hash) with sums; merging re-sums per key. This partial also
--        feeds summary.unique_visitors (every request has an hour).
-- partition: vh
-- @partial
SELECT date_trunc('hour', ts) AS hour, vh, count(*)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes
FROM requests GROUP BY hour, vh
-- @merge
SELECT hour, vh, sum(hits)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes FROM partial GROUP BY hour, vh
-- @final
-- p_time_hourly has one row per (hour, visitor) (its merge groups by both): count(vh) = distinct visitors.
SELECT hour, sum(hits)::BIGINT AS hits, count(vh)::BIGINT AS visitors, sum(bytes)::BIGINT AS bytes
FROM p_time_hourly GROUP BY hour ORDER BY hour
