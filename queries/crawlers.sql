-- report: crawlers
-- answers: Which crawlers, bots and scripted clients (Googlebot, Bingbot, curl, Wget, python-requests, ...)
--          hit the site, named by the product token of their User-Agent.
-- columns: crawler VARCHAR, hits BIGINT, visitors BIGINT (top 100 by hits desc, crawler asc)
-- merge: no partial of its own; classifies the merged browsers partial (user agent, visitor hash).
-- @final
SELECT edgelog_crawler(user_agent) AS crawler, sum(hits)::BIGINT AS hits, count(DISTINCT vh)::BIGINT AS visitors
FROM p_browsers WHERE edgelog_crawler(user_agent) IS NOT NULL
GROUP BY crawler ORDER BY hits DESC, crawler LIMIT 100
