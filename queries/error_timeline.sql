-- report: error_timeline
-- answers: Per 5-minute bucket, the error log and the application log next to the access log: requests and
--          5xx responses, nginx errors (level error or worse; and of them those that are not a client's
--          request refused or missing: server errors) and warnings, upstream failures, and application
--          ERROR (or worse) and WARN lines, joined on the same buckets: whether the errors of one log come with
--          5xx in the other. Lists every bucket any stream has a row for; empty when no error or application
--          log was read. Bursts of errors are scored in anomalies (error_log_burst, app_error_burst).
-- columns: bucket TIMESTAMPTZ, requests BIGINT, errors_5xx BIGINT, nginx_errors BIGINT,
--          nginx_server_errors BIGINT (not a client's fault, see edgelog_client_error), nginx_warnings BIGINT,
--          upstream_failures BIGINT, app_errors BIGINT, app_warnings BIGINT (by bucket)
-- merge: partial is one row per (bucket, stream) with counts and the time range; merging re-sums per key.
--        Requests and 5xx come from the merged error_rate partial, joined on the same buckets in the final
--        step. Also feeds error_summary and the burst anomalies.
-- @partial
SELECT time_bucket(INTERVAL 5 MINUTE, ts) AS bucket, 'nginx' AS source, count(*)::BIGINT AS events,
       count(*) FILTER (WHERE edgelog_severity(level) >= 5)::BIGINT AS errors,
       count(*) FILTER (WHERE edgelog_severity(level) = 4)::BIGINT AS warnings,
       count(*) FILTER (WHERE edgelog_severity(level) >= 5 AND NOT edgelog_client_error(module, message))::BIGINT
         AS server_errors,
       count(*) FILTER (WHERE edgelog_severity(level) >= 5 AND module = 'upstream')::BIGINT AS upstream_failures,
       min(ts) AS first_ts, max(ts) AS last_ts
FROM errors GROUP BY ALL
UNION ALL
SELECT time_bucket(INTERVAL 5 MINUTE, ts), 'app', count(*)::BIGINT,
       count(*) FILTER (WHERE edgelog_severity(level) >= 5)::BIGINT,
       count(*) FILTER (WHERE edgelog_severity(level) = 4)::BIGINT,
       count(*) FILTER (WHERE edgelog_severity(level) >= 5)::BIGINT, 0::BIGINT, min(ts), max(ts)
FROM app_events GROUP BY ALL
-- @merge
SELECT bucket, source, sum(events)::BIGINT AS events, sum(errors)::BIGINT AS errors,
       sum(warnings)::BIGINT AS warnings, sum(server_errors)::BIGINT AS server_errors,
       sum(upstream_failures)::BIGINT AS upstream_failures,
       min(first_ts) AS first_ts, max(last_ts) AS last_ts
FROM partial GROUP BY bucket, source
-- @final
WITH streams AS (
  SELECT bucket,
         sum(errors) FILTER (WHERE source = 'nginx')::BIGINT AS nginx_errors,
         sum(server_errors) FILTER (WHERE source = 'nginx')::BIGINT AS nginx_server_errors,
         sum(warnings) FILTER (WHERE source = 'nginx')::BIGINT AS nginx_warnings,
         sum(upstream_failures)::BIGINT AS upstream_failures,
         sum(errors) FILTER (WHERE source = 'app')::BIGINT AS app_errors,
         sum(warnings) FILTER (WHERE source = 'app')::BIGINT AS app_warnings
  FROM p_error_timeline GROUP BY bucket
)
SELECT coalesce(s.bucket, r.bucket) AS bucket, coalesce(r.hits, 0)::BIGINT AS requests,
       coalesce(r.errors_5xx, 0)::BIGINT AS errors_5xx, coalesce(s.nginx_errors, 0)::BIGINT AS nginx_errors,
       coalesce(s.nginx_server_errors, 0)::BIGINT AS nginx_server_errors,
       coalesce(s.nginx_warnings, 0)::BIGINT AS nginx_warnings,
       coalesce(s.upstream_failures, 0)::BIGINT AS upstream_failures,
       coalesce(s.app_errors, 0)::BIGINT AS app_errors, coalesce(s.app_warnings, 0)::BIGINT AS app_warnings
FROM streams s FULL OUTER JOIN p_error_rate r ON r.bucket = s.bucket
WHERE EXISTS (SELECT 1 FROM p_error_timeline)
ORDER BY bucket
