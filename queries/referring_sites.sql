-- report: referring_sites
-- answers: Which sites (the lower-cased host of the referring URL, without port) send traffic.
-- columns: site VARCHAR, hits BIGINT, visitors BIGINT (top 100 by hits desc, site asc)
-- merge: no partial of its own; groups the merged referring_urls partial by site.
-- @final
SELECT site, sum(hits)::BIGINT AS hits, count(DISTINCT vh)::BIGINT AS visitors
FROM (
  SELECT lower(regexp_extract(referrer, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]+)', 1))
           AS site, vh, hits
  FROM p_referring_urls
) WHERE site <> ''
GROUP BY site ORDER BY hits DESC, site LIMIT 100
