-- report: nodes
-- answers: What each node contributed: files read and failed (of every stream), access-log lines read,
--          valid requests, quarantined access-log lines, bytes served, the time range of its requests, and
--          its status (ok: no failed file; partial: some files failed; failed: every file failed). The error
--          and application logs' lines are counted in error_summary.
-- columns: node_id VARCHAR, files BIGINT, files_failed BIGINT, lines_read BIGINT, valid_requests BIGINT,
--          quarantined_lines BIGINT, bytes BIGINT, first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ, status VARCHAR
--          (by node_id)
-- merge: the partial holds per-node request sums and time range; file counts come from the files partial
--        (one row per input file, written by the engine). Merging re-sums per node.
-- @partial
SELECT node_id, count(*)::BIGINT AS valid_requests, sum(bytes)::BIGINT AS bytes, min(ts) AS first_ts,
       max(ts) AS last_ts
FROM requests GROUP BY node_id
-- @merge
SELECT node_id, sum(valid_requests)::BIGINT AS valid_requests, sum(bytes)::BIGINT AS bytes,
       min(first_ts) AS first_ts, max(last_ts) AS last_ts
FROM partial GROUP BY node_id
-- @final
WITH f AS (
  SELECT node_id, count(*)::BIGINT AS files, count(*) FILTER (WHERE status = 'failed')::BIGINT AS files_failed,
         coalesce(sum(lines_read - lines_outside_window) FILTER (WHERE edgelog_is_access(format)), 0)::BIGINT
           AS lines_read,
         coalesce(sum(lines_quarantined) FILTER (WHERE edgelog_is_access(format)), 0)::BIGINT AS quarantined_lines
  FROM p_files GROUP BY node_id
)
SELECT f.node_id, f.files, f.files_failed, f.lines_read, coalesce(n.valid_requests, 0)::BIGINT AS valid_requests,
       f.quarantined_lines, coalesce(n.bytes, 0)::BIGINT AS bytes, n.first_ts, n.last_ts,
       CASE WHEN f.files_failed = 0 THEN 'ok' WHEN f.files_failed < f.files THEN 'partial' ELSE 'failed' END
         AS status
FROM f LEFT JOIN p_nodes n ON f.node_id IS NOT DISTINCT FROM n.node_id
ORDER BY f.node_id NULLS LAST
