-- report: tags
-- answers: Traffic per business tag (auth, account, cart, checkout, payment, api, admin, static, ...), from
--          the path/method rules in queries/tags.yaml (or --tags FILE): hits, visitors, bytes and errors
--          (responses with status >= 400). A request with several tags counts once in each.
-- columns: tag VARCHAR, hits BIGINT, visitors BIGINT, bytes BIGINT, errors BIGINT (by hits desc, tag asc)
-- merge: partial is one row per (tag, visitor hash) with sums; merging re-sums per key. Tags are decided on
--        the node (the rules' sha256 is in the manifest).
-- partition: vh
-- @partial
-- Rules run once per distinct (path, method), not once per request.
WITH pt AS (
  SELECT url_path, method, unnest(edgelog_tags(url_path, method)) AS tag
  FROM (SELECT DISTINCT url_path, method FROM requests WHERE url_path IS NOT NULL)
)
SELECT pt.tag, r.vh, count(*)::BIGINT AS hits, sum(r.bytes)::BIGINT AS bytes,
       count(*) FILTER (WHERE r.status >= 400)::BIGINT AS errors
FROM requests r JOIN pt ON r.url_path = pt.url_path AND r.method IS NOT DISTINCT FROM pt.method
GROUP BY pt.tag, r.vh
-- @merge
SELECT tag, vh, sum(hits)::BIGINT AS hits, sum(bytes)::BIGINT AS bytes, sum(errors)::BIGINT AS errors
FROM partial GROUP BY tag, vh
-- @final
-- p_tags has one row per (tag, visitor) (its merge groups by both): count(vh) = distinct visitors.
SELECT tag, sum(hits)::BIGINT AS hits, count(vh)::BIGINT AS visitors, sum(bytes)::BIGINT AS bytes,
       sum(errors)::BIGINT AS errors
FROM p_tags GROUP BY tag ORDER BY hits DESC, tag
