-- report: referring_sites
-- answers: Which sites (the lower-cased host of the referring URL, without port) send traffic.
-- columns: site VARCHAR, hits BIGINT, visitors BIGINT (top 100 by hits desc, site asc)
-- merge: no partial of its own; groups the merged referring_urls partial by site.
-- @final
-- Each distinct referrer's site is found once (hundreds of referrers, not one per (referrer, visitor) row of
-- the partial); MATERIALIZED keeps DuckDB from inlining the CTE back into the per-row scan (10x the time).
-- A referrer without a site has a NULL one (so the column stays typed nullable, as DuckDB writes it).
WITH sites AS MATERIALIZED (
  SELECT referrer,
         nullif(lower(regexp_extract(referrer, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]+)',
                                     1)), '') AS site
  FROM (SELECT DISTINCT referrer FROM p_referring_urls)
)
SELECT site, sum(hits)::BIGINT AS hits, count(DISTINCT vh)::BIGINT AS visitors
FROM p_referring_urls JOIN sites USING (referrer)
WHERE site IS NOT NULL
GROUP BY site ORDER BY hits DESC, site LIMIT 100
