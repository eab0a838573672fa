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
SELECT
  (SELECT coalesce(sum(lines_read - lines_outside_window), 0) FROM p_files WHERE edgelog_is_access(format))::BIGINT
    AS total_lines,
  (SELECT coalesce(sum(hits), 0) FROM p_status_codes)::BIGINT AS valid_requests,
  (SELECT coalesce(sum(lines_quarantined), 0) FROM p_files WHERE edgelog_is_access(format))::BIGINT
    AS quarantined_lines,
  (SELECT count(*) FILTER (WHERE status = 'failed') FROM p_files)::BIGINT AS failed_files,
  (SELECT count(DISTINCT vh) FROM p_time_hourly)::BIGINT AS unique_visitors,
  (SELECT coalesce(sum(bytes), 0) FROM p_status_codes)::BIGINT AS bandwidth_bytes,
  (SELECT count(DISTINCT path) FROM p_top_paths)::BIGINT AS unique_files,
  (SELECT coalesce(sum(hits), 0) FROM p_status_codes WHERE status = 404)::BIGINT AS not_found_requests,
  (SELECT coalesce(sum(hits), 0) FROM p_top_paths WHERE edgelog_is_static(path))::BIGINT AS static_requests,
  (SELECT min(first_ts) FROM p_nodes) AS first_ts,
  (SELECT max(last_ts) FROM p_nodes) AS last_ts
