-- report: operating_systems
-- answers: Which operating systems visitors use, from the User-Agent header (Windows, macOS, iOS, Android,
--          ChromeOS, Linux, "Crawler" for bots and tools, else "Others"; "-" or empty: "Unknown").
-- columns: os VARCHAR, hits BIGINT, visitors BIGINT (by hits desc, os asc)
-- merge: no partial of its own; classifies the merged browsers partial (user agent, visitor hash).
-- @final
SELECT edgelog_os(user_agent) AS os, sum(hits)::BIGINT AS hits, count(DISTINCT vh)::BIGINT AS visitors
FROM p_browsers GROUP BY os ORDER BY hits DESC, os
