-- report: referring_urls
-- answers: Which referring URLs send traffic (the Referer header as sent; "-" and empty are not referrers).
-- columns: referrer VARCHAR, hits BIGINT, visitors BIGINT (top 100 by hits desc, referrer asc)
-- merge: partial is one row per (referrer, visitor hash) with a hit count; merging re-sums per key. Also
--        feeds referring_sites.
-- partition: vh
-- @partial
SELECT referer AS referrer, vh, count(*)::BIGINT AS hits FROM requests WHERE referer IS NOT NULL
GROUP BY referer, vh
-- @merge
SELECT referrer, vh, sum(hits)::BIGINT AS hits FROM partial GROUP BY referrer, vh
-- @final
-- p_referring_urls has one row per (referrer, visitor) (its merge groups by both): count(vh) = distinct visitors.
SELECT referrer, sum(hits)::BIGINT AS hits, count(vh)::BIGINT AS visitors
FROM p_referring_urls GROUP BY referrer ORDER BY hits DESC, referrer LIMIT 100
