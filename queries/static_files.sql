-- report: static_files
-- answers: Which static assets (by file extension: css, js, images, fonts, documents, archives, media, txt)
--          are requested most.
-- columns: path VARCHAR, hits BIGINT, visitors BIGINT, bytes BIGINT (top 100 by hits desc, path asc)
-- merge: no partial of its own; filters the merged top_paths partial (path, visitor hash, sums).
-- @final
-- p_top_paths has one row per (path, visitor) (its merge groups by both): count(vh) = distinct visitors.
SELECT path, sum(hits)::BIGINT AS hits, count(vh)::BIGINT AS visitors, sum(bytes)::BIGINT AS bytes
FROM p_top_paths WHERE edgelog_is_static(path)
GROUP BY path ORDER BY hits DESC, path LIMIT 100
