-- report: top_paths
-- answers: Which URL paths (query string removed) are requested most, by how many visitors, with how many
--          bytes. Requests whose request line had no path (TLS bytes, "" 400, "-" 408) are not listed here.
-- columns: path VARCHAR, hits BIGINT, visitors BIGINT, bytes BIGINT (top 100 by hits desc, path asc)
-- merge: partial is one row per (path, visitor hash) with hit and byte sums; merging re-sums per key, so the
--        visitor count stays an exact distinct count. The top 100 is cut only in the final step.
-- partition: vh
-- @partial
SELECT url_path AS path, vh, count(*)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes
FROM requests WHERE url_path IS NOT NULL GROUP BY url_path, vh
-- @merge
SELECT path, vh, sum(hits)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes FROM partial GROUP BY path, vh
-- @final
-- p_top_paths has one row per (path, visitor) (its merge groups by both): count(vh) = distinct visitors.
SELECT path, sum(hits)::BIGINT AS hits, count(vh)::BIGINT AS visitors, sum(bytes)::BIGINT AS bytes
FROM p_top_paths GROUP BY path ORDER BY hits DESC, path LIMIT 100
