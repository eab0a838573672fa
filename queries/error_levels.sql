-- report: error_levels
-- answers: How many error-log and application-log entries each UTC hour brought, by stream, level and module
--          (nginx: the part of nginx the message comes from, see edgelog_error_module; application: the
--          service that logged it). Every level, debug to emerg.
-- columns: hour TIMESTAMPTZ (start of the UTC hour), source VARCHAR (nginx or app), level VARCHAR,
--          module VARCHAR, events BIGINT (by hour, source, severity desc, module)
-- merge: partial is one row per (hour, source, level, module) with a count; merging re-sums per key.
-- @partial
SELECT date_trunc('hour', ts) AS hour, 'nginx' AS source, level, module, count(*)::BIGINT AS events
FROM errors GROUP BY ALL
UNION ALL
SELECT date_trunc('hour', ts), 'app', level, service, count(*)::BIGINT FROM app_events GROUP BY ALL
-- @merge
SELECT hour, source, level, module, sum(events)::BIGINT AS events FROM partial GROUP BY hour, source, level, module
-- @final
SELECT hour, source, level, module, events FROM p_error_levels
ORDER BY hour, source, edgelog_severity(level) DESC, level, module
