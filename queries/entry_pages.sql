-- report: entry_pages
-- answers: On which page sessions start (see sessions for what a session is).
-- columns: path VARCHAR, sessions BIGINT (top 100 by sessions desc, path asc)
-- merge: no partial of its own; counts the merged session fragments (exact sessions) by entry page.
-- @final
SELECT entry_page AS path, count(*)::BIGINT AS sessions FROM p_sessions
GROUP BY entry_page ORDER BY sessions DESC, path LIMIT 100
