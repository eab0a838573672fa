-- report: crawlers
-- answers: Which crawlers, bots and scripted clients (Googlebot, Bingbot, curl, Wget, python-requests, ...)
--          hit the site, named by the product token of their User-Agent.
-- columns: crawler VARCHAR, hits BIGINT, visitors BIGINT (top 100 by hits desc, crawler asc)
-- merge: no partial of its own; classifies the merged browsers partial (user agent, visitor hash).
-- @final
-- Each distinct user agent is classified once, not once per (user agent, visitor) row.
WITH ua AS (
  SELECT user_agent, crawler
  FROM (SELECT user_agent, edgelog_crawler(user_agent) AS crawler FROM (SELECT DISTINCT user_agent FROM p_browsers))
  WHERE crawler IS NOT NULL
)
SELECT ua.crawler, sum(p.hits)::BIGINT AS hits, count(DISTINCT p.vh)::BIGINT AS visitors
FROM p_browsers p JOIN ua ON p.user_agent IS NOT DISTINCT FROM ua.user_agent
GROUP BY ua.crawler ORDER BY hits DESC, ua.crawler LIMIT 100
