-- report: browsers
-- answers: Which browser families visitors use, from the User-Agent header (Edge, Opera, Chrome, Firefox,
--          Safari, Internet Explorer, crawlers and tools as "Crawler", else "Others"; "-" or empty: "Unknown").
-- columns: browser VARCHAR, hits BIGINT, visitors BIGINT (by hits desc, browser asc)
-- merge: partial is one row per (user agent, visitor hash); the family is derived in the final step, so the
--        classification can change without re-running nodes. Also feeds operating_systems and crawlers.
-- partition: vh
-- @partial
SELECT user_agent, vh, count(*)::BIGINT AS hits FROM requests GROUP BY user_agent, vh
-- @merge
SELECT user_agent, vh, sum(hits)::BIGINT AS hits FROM partial GROUP BY user_agent, vh
-- @final
-- Each distinct user agent is classified once, not once per (user agent, visitor) row.
WITH ua AS (
  SELECT user_agent, edgelog_browser(user_agent) AS browser FROM (SELECT DISTINCT user_agent FROM p_browsers)
)
SELECT ua.browser, sum(p.hits)::BIGINT AS hits, count(DISTINCT p.vh)::BIGINT AS visitors
FROM p_browsers p JOIN ua ON p.user_agent IS NOT DISTINCT FROM ua.user_agent
GROUP BY ua.browser ORDER BY hits DESC, ua.browser
