-- report: upstream_failures
-- answers: Which upstreams failed requests, for which virtual host, and how: nginx error-log entries (level
--          error or worse) about an upstream, per upstream server (scheme and address from the entry's
--          upstream field, without the URI; '-' when nginx named none) and host, split into connection
--          refused, timed out, closed or reset by the upstream, no live upstreams, and other, with the first
--          and last failure.
-- columns: upstream VARCHAR, host VARCHAR, failures BIGINT, refused BIGINT, timed_out BIGINT, closed BIGINT,
--          no_live BIGINT, other BIGINT, first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ (top 100 by failures desc,
--          then upstream, host)
-- merge: partial is one row per (5-minute bucket, upstream, host) with counts per kind and the time range;
--        merging re-sums per key. The buckets feed the upstream anomalies.
-- @partial
SELECT time_bucket(INTERVAL 5 MINUTE, ts) AS bucket, upstream, host, count(*)::BIGINT AS failures,
       count(*) FILTER (WHERE kind = 'refused')::BIGINT AS refused,
       count(*) FILTER (WHERE kind = 'timed_out')::BIGINT AS timed_out,
       count(*) FILTER (WHERE kind = 'closed')::BIGINT AS closed,
       count(*) FILTER (WHERE kind = 'no_live')::BIGINT AS no_live,
       count(*) FILTER (WHERE kind = 'other')::BIGINT AS other,
       min(ts) AS first_ts, max(ts) AS last_ts
FROM (
  SELECT ts, coalesce(host, '-') AS host,
         coalesce(nullif(regexp_extract(upstream, '^([A-Za-z][A-Za-z0-9+.-]*://(?:unix:[^:]*|[^/]*))', 1), ''),
                  upstream, '-') AS upstream,
         CASE WHEN contains(message, 'Connection refused') THEN 'refused'
              WHEN contains(message, 'timed out') THEN 'timed_out'
              WHEN regexp_matches(message, 'prematurely closed|reset by peer') THEN 'closed'
              WHEN contains(message, 'no live upstreams') THEN 'no_live'
              ELSE 'other' END AS kind
  FROM errors WHERE module = 'upstream' AND edgelog_severity(level) >= 5
)
GROUP BY ALL
-- @merge
SELECT bucket, upstream, host, sum(failures)::BIGINT AS failures, sum(refused)::BIGINT AS refused,
       sum(timed_out)::BIGINT AS timed_out, sum(closed)::BIGINT AS closed, sum(no_live)::BIGINT AS no_live,
       sum(other)::BIGINT AS other, min(first_ts) AS first_ts, max(last_ts) AS last_ts
FROM partial GROUP BY bucket, upstream, host
-- @final
SELECT upstream, host, sum(failures)::BIGINT AS failures, sum(refused)::BIGINT AS refused,
       sum(timed_out)::BIGINT AS timed_out, sum(closed)::BIGINT AS closed, sum(no_live)::BIGINT AS no_live,
       sum(other)::BIGINT AS other, min(first_ts) AS first_ts, max(last_ts) AS last_ts
FROM p_upstream_failures GROUP BY upstream, host ORDER BY failures DESC, upstream, host LIMIT 100
