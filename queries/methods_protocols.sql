-- report: methods_protocols
-- answers: Which HTTP methods and protocol versions clients used. method is NULL for request lines that have
--          no method and path (TLS handshakes on the HTTP port, "" 400, "-" 408, a lone "GET"); protocol is
--          NULL for HTTP/0.9-style lines without a version (e.g. "GET /"). Methods are kept as written ("get").
-- columns: method VARCHAR, protocol VARCHAR, hits BIGINT (by hits desc, then method, protocol; NULLs last)
-- merge: partial is one row per (method, protocol) with a hit count; merging re-sums.
-- @partial
SELECT method, protocol, count(*)::BIGINT AS hits FROM requests GROUP BY method, protocol
-- @merge
SELECT method, protocol, sum(hits)::BIGINT AS hits FROM partial GROUP BY method, protocol
-- @final
SELECT method, protocol, hits FROM p_methods_protocols
ORDER BY hits DESC, method NULLS LAST, protocol NULLS LAST
