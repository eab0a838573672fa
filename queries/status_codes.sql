-- report: status_codes
-- answers: How many requests ended with each HTTP status, grouped into classes (2xx, 3xx, ...), and the bytes
--          each status sent.
-- columns: status INTEGER, status_class VARCHAR, hits BIGINT, bytes BIGINT (ordered by status)
-- merge: partial is one row per status with sums; merging re-sums per status.
-- @partial
SELECT status, count(*)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes FROM requests GROUP BY status
-- @merge
SELECT status, sum(hits)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes FROM partial GROUP BY status
-- @final
SELECT status, (status // 100)::VARCHAR || 'xx' AS status_class, hits, bytes
FROM p_status_codes ORDER BY status
