-- report: browsers
-- answers: Which browser families visitors use, from the User-Agent header (Edge, Opera, Chrome, Firefox,
--          Safari, Internet Explorer, crawlers and tools as "Crawler", else "Others"; "-" or empty: "Unknown").
-- columns: browser VARCHAR, hits BIGINT, visitors BIGINT (by hits desc, browser asc)
-- merge: partial is one row per (user agent, visitor hash); the family is derived in the final step, so the
--        classification can change without re-running nodes. Also feeds operating_systems and crawlers.
-- @partial
SELECT user_agent, vh, count(*)::BIGINT AS hits FROM requests GROUP BY user_agent, vh
-- @merge
SELECT user_agent, vh, sum(hits)::BIGINT AS hits FROM partial GROUP BY user_agent, vh
-- @final
SELECT edgelog_browser(user_agent) AS browser, sum(hits)::BIGINT AS hits, count(DISTINCT vh)::BIGINT AS visitors
FROM p_browsers GROUP BY browser ORDER BY hits DESC, browser
