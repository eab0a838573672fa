-- report: operating_systems
-- answers: Which operating systems visitors use, from the User-Agent header (Windows, macOS, iOS, Android,
--          ChromeOS, Linux, "Crawler" for bots and tools, else "Others"; "-" or empty: "Unknown").
-- columns: os VARCHAR, hits BIGINT, visitors BIGINT (by hits desc, os asc)
-- merge: no partial of its own; classifies the merged browsers partial (user agent, visitor hash).
-- @final
-- Each distinct user agent is classified once, not once per (user agent, visitor) row.
WITH ua AS (
  SELECT user_agent, edgelog_os(user_agent) AS os FROM (SELECT DISTINCT user_agent FROM p_browsers)
)
SELECT ua.os, sum(p.hits)::BIGINT AS hits, count(DISTINCT p.vh)::BIGINT AS visitors
FROM p_browsers p JOIN ua ON p.user_agent IS NOT DISTINCT FROM ua.user_agent
GROUP BY ua.os ORDER BY hits DESC, ua.os
