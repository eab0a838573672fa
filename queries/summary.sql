-- report: summary
-- answers: The headline numbers of a run: access-log lines read, valid requests, quarantined access-log lines,
--          failed files (of every stream), unique visitors (same IP + UTC day + user agent, as GoAccess counts
--          them), bandwidth, unique paths, 404s, static-file requests and the time range covered. The error
--          and application logs have their own summary (error_summary).
-- columns: total_lines BIGINT, valid_requests BIGINT, quarantined_lines BIGINT, failed_files BIGINT,
--          unique_visitors BIGINT, bandwidth_bytes BIGINT, unique_files BIGINT, not_found_requests BIGINT,
--          static_requests BIGINT, first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ
-- merge: no partial of its own; computed from the merged partials files, status_codes, time_hourly (visitor
--        hashes), top_paths (distinct paths) and nodes, so it is exact after any merge.
-- @final
-- One single-row aggregate per partial, cross-joined: eleven scalar subqueries made DuckDB order an 11-way cross
-- product of single rows (~20 ms of planning on every run, the most of any report on a small input).
WITH files AS (
  SELECT coalesce(sum(lines_read - lines_outside_window) FILTER (WHERE edgelog_is_access(format)), 0)::BIGINT
           AS total_lines,
         coalesce(sum(lines_quarantined) FILTER (WHERE edgelog_is_access(format)), 0)::BIGINT AS quarantined_lines,
         count(*) FILTER (WHERE status = 'failed')::BIGINT AS failed_files
  FROM p_files
),
codes AS (
  SELECT coalesce(sum(hits), 0)::BIGINT AS valid_requests, coalesce(sum(bytes), 0)::BIGINT AS bandwidth_bytes,
         coalesce(sum(hits) FILTER (WHERE status = 404), 0)::BIGINT AS not_found_requests
  FROM p_status_codes
),
visitors AS (SELECT count(DISTINCT vh)::BIGINT AS unique_visitors FROM p_time_hourly),
paths AS (
  SELECT count(DISTINCT path)::BIGINT AS unique_files,
         coalesce(sum(hits) FILTER (WHERE edgelog_is_static(path)), 0)::BIGINT AS static_requests
  FROM p_top_paths
),
span AS (SELECT min(first_ts) AS first_ts, max(last_ts) AS last_ts FROM p_nodes)
SELECT total_lines, valid_requests, quarantined_lines, failed_files, unique_visitors, bandwidth_bytes, unique_files,
       not_found_requests, static_requests, first_ts, last_ts
FROM files, codes, visitors, paths, span
