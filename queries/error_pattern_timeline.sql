-- report: error_pattern_timeline
-- answers: When each of the most frequent kinds of warning and error happened: for each stream, its 10 top
--          message patterns (ranked as error_patterns ranks them: entries desc, then level, module, pattern)
--          with their entries per UTC hour. Hours without an entry of a pattern have no row.
-- columns: source VARCHAR (nginx or app), rank INTEGER (1: the stream's most frequent pattern), hour TIMESTAMPTZ
--          (start of the UTC hour), level VARCHAR, module VARCHAR, pattern VARCHAR, events BIGINT
--          (by source, rank, hour)
-- merge: no partial of its own; computed from error_patterns' merged partial, one row per (hour, source,
--        level, module, pattern), so the ranking and the hourly counts are exact after any merge.
-- @final
WITH totals AS (
  SELECT source, level, module, pattern, sum(events) AS events FROM p_error_patterns
  GROUP BY source, level, module, pattern
),
ranked AS (
  SELECT source, level, module, pattern,
         row_number() OVER (PARTITION BY source ORDER BY events DESC, level, module, pattern)::INTEGER AS rank
  FROM totals
)
SELECT r.source, r.rank, p.hour, r.level, r.module, r.pattern, p.events
FROM ranked r
JOIN p_error_patterns p
  ON p.source = r.source AND p.level IS NOT DISTINCT FROM r.level AND p.module IS NOT DISTINCT FROM r.module
  AND p.pattern IS NOT DISTINCT FROM r.pattern
WHERE r.rank <= 10
ORDER BY r.source, r.rank, p.hour
