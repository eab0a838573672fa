-- report: exit_pages
-- answers: On which page sessions end (see sessions for what a session is).
-- columns: path VARCHAR, sessions BIGINT (top 100 by sessions desc, path asc)
-- merge: no partial of its own; counts the merged session fragments (exact sessions) by exit page.
-- @final
SELECT exit_page AS path, count(*)::BIGINT AS sessions FROM p_sessions
GROUP BY exit_page ORDER BY sessions DESC, path LIMIT 100
