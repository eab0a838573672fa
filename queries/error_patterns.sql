-- report: error_patterns
-- answers: Which kinds of warnings and errors the error log and the application log hold: messages grouped
--          by stream, level, module and pattern (the message's first line with numbers, ids, addresses,
--          paths and quoted values taken out, see edgelog_message_pattern), with their count, when they were
--          first and last seen, and one example message. Levels warn and worse only.
-- columns: source VARCHAR (nginx or app), level VARCHAR, module VARCHAR, pattern VARCHAR, events BIGINT,
--          first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ, example VARCHAR (the smallest message, at most 300
--          characters) (top 100 by events desc, then source, level, module, pattern)
-- merge: partial is one row per (UTC hour, source, level, module, pattern) with the count, the time range and
--        the smallest example; merging re-sums the counts and takes min/max, so it is exact. The hours also
--        feed error_pattern_timeline.
-- @partial
SELECT date_trunc('hour', ts) AS hour, 'nginx' AS source, level, module,
       edgelog_message_pattern(message) AS pattern, count(*)::BIGINT AS events, min(ts) AS first_ts,
       max(ts) AS last_ts, min(left(message, 300)) AS example
FROM errors WHERE edgelog_severity(level) >= 4 GROUP BY ALL
UNION ALL
SELECT date_trunc('hour', ts), 'app', level, service, edgelog_message_pattern(message), count(*)::BIGINT, min(ts),
       max(ts), min(left(message, 300))
FROM app_events WHERE edgelog_severity(level) >= 4 GROUP BY ALL
-- @merge
SELECT hour, source, level, module, pattern, sum(events)::BIGINT AS events, min(first_ts) AS first_ts,
       max(last_ts) AS last_ts, min(example) AS example
FROM partial GROUP BY hour, source, level, module, pattern
-- @final
SELECT source, level, module, pattern, sum(events)::BIGINT AS events, min(first_ts) AS first_ts,
       max(last_ts) AS last_ts, min(example) AS example
FROM p_error_patterns GROUP BY source, level, module, pattern
ORDER BY events DESC, source, level, module, pattern LIMIT 100
