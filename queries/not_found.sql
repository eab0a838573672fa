-- report: not_found
-- answers: Which paths answered 404 Not Found most often, and to how many visitors (broken links, scanners).
-- columns: path VARCHAR, hits BIGINT, visitors BIGINT (top 100 by hits desc, path asc)
-- merge: partial is one row per (path, visitor hash) of 404 responses; merging re-sums per key.
-- partition: vh
-- @partial
SELECT url_path AS path, vh, count(*)::BIGINT AS hits
FROM requests WHERE status = 404 AND url_path IS NOT NULL GROUP BY url_path, vh
-- @merge
SELECT path, vh, sum(hits)::BIGINT AS hits FROM partial GROUP BY path, vh
-- @final
-- p_not_found has one row per (path, visitor) (its merge groups by both): count(vh) = distinct visitors.
SELECT path, sum(hits)::BIGINT AS hits, count(vh)::BIGINT AS visitors
FROM p_not_found GROUP BY path ORDER BY hits DESC, path LIMIT 100
