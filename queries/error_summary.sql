-- report: error_summary
-- answers: The error log and the application log at a glance: files read, lines, quarantined lines, entries,
--          errors (nginx: error, crit, alert, emerg; application: ERROR, CRITICAL, FATAL), warnings, upstream
--          failures, and the time range of the entries. A stream with no files was not read.
-- columns: error_log_files BIGINT, error_log_lines BIGINT, error_log_quarantined BIGINT, nginx_events BIGINT,
--          nginx_errors BIGINT, nginx_warnings BIGINT, upstream_failures BIGINT, app_log_files BIGINT,
--          app_log_lines BIGINT, app_log_quarantined BIGINT, app_events BIGINT, app_errors BIGINT,
--          app_warnings BIGINT, first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ
-- merge: no partial of its own; computed from the merged files partial (one row per input file with its
--        format) and error_timeline's partial, so it is exact after any merge.
-- @final
WITH f AS (
  SELECT format, count(*)::BIGINT AS files, coalesce(sum(lines_read - lines_outside_window), 0)::BIGINT AS lines,
         coalesce(sum(lines_quarantined), 0)::BIGINT AS quarantined
  FROM p_files WHERE format IN ('error', 'app') GROUP BY format
),
t AS (
  SELECT source, sum(events)::BIGINT AS events, sum(errors)::BIGINT AS errors, sum(warnings)::BIGINT AS warnings,
         sum(upstream_failures)::BIGINT AS upstream_failures
  FROM p_error_timeline GROUP BY source
)
SELECT
  coalesce((SELECT files FROM f WHERE format = 'error'), 0)::BIGINT AS error_log_files,
  coalesce((SELECT lines FROM f WHERE format = 'error'), 0)::BIGINT AS error_log_lines,
  coalesce((SELECT quarantined FROM f WHERE format = 'error'), 0)::BIGINT AS error_log_quarantined,
  coalesce((SELECT events FROM t WHERE source = 'nginx'), 0)::BIGINT AS nginx_events,
  coalesce((SELECT errors FROM t WHERE source = 'nginx'), 0)::BIGINT AS nginx_errors,
  coalesce((SELECT warnings FROM t WHERE source = 'nginx'), 0)::BIGINT AS nginx_warnings,
  coalesce((SELECT upstream_failures FROM t WHERE source = 'nginx'), 0)::BIGINT AS upstream_failures,
  coalesce((SELECT files FROM f WHERE format = 'app'), 0)::BIGINT AS app_log_files,
  coalesce((SELECT lines FROM f WHERE format = 'app'), 0)::BIGINT AS app_log_lines,
  coalesce((SELECT quarantined FROM f WHERE format = 'app'), 0)::BIGINT AS app_log_quarantined,
  coalesce((SELECT events FROM t WHERE source = 'app'), 0)::BIGINT AS app_events,
  coalesce((SELECT errors FROM t WHERE source = 'app'), 0)::BIGINT AS app_errors,
  coalesce((SELECT warnings FROM t WHERE source = 'app'), 0)::BIGINT AS app_warnings,
  (SELECT min(first_ts) FROM p_error_timeline) AS first_ts,
  (SELECT max(last_ts) FROM p_error_timeline) AS last_ts
