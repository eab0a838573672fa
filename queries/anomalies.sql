-- report: anomalies
-- answers: What looks wrong, each finding scored 0-100 with a severity:
--   error_5xx_spike: a 5-minute bucket (>= 20 requests, >= 10 of them 5xx) whose 5xx rate is at least 2% and
--     over twice the median rate of the 12 previous buckets (the rolling baseline: a median, so an incident
--     an hour earlier does not raise the bar for the next one);
--   error_4xx_spike: likewise for 4xx, at least 20% (no minimum count);
--   request_burst: a client (client_ip) whose busiest minute has >= 60 requests and >= 5x the median
--     requests per client-minute;
--   scanner: an IP with >= 20 responses 404 making up at least half of its requests (baseline: mean 404s
--     per IP);
--   slow_responses: where the format has response_time_ms, a 5-minute bucket (>= 20 timed requests) whose
--     mean response time is >= 500 ms and over twice the mean of the 12 previous buckets;
--   error_log_burst, app_error_burst: a 5-minute bucket with >= 10 nginx server errors (level error or worse,
--     not a client's request refused or missing: a scanner's 404s are no incident) or application ERROR
--     lines, over twice the median of the 12 previous buckets (at least 3 of them: buckets
--     without errors count as 0, over the span of all streams); the detail names the 5xx of the same bucket
--     in the access log, so a burst that comes with failing requests reads as one incident;
--   upstream_failures: an upstream with >= 10 failures (upstream_failures) in a 5-minute bucket, over twice
--     its median of the 12 previous buckets (at least 3; 0 when it did not fail).
--   score = clamp(round(20 * log2((value + e) / (baseline + e))), 0, 100) (e = 0.002 for the 5xx rate, 0.01
--   for the 4xx rate, 1 for counts and ms), so 2x the baseline scores 20 and 32x or more scores 100; severity:
--   critical >= 80, high >= 60, medium >= 40, else low. The 5xx smoothing is small because a healthy 5xx rate
--   is a few tenths of a percent: with e = 0.01 an outage taking 5xx from 0.4% to 10% of a bucket scored as
--   a 4x rise (45, "medium") instead of the 25x it is; the minimum of 10 errors keeps a handful of 5xx in a
--   quiet bucket from scoring high.
-- columns: kind VARCHAR, subject VARCHAR, ts TIMESTAMPTZ, value DOUBLE, baseline DOUBLE, score INTEGER,
--          severity VARCHAR, detail VARCHAR (top 100 by score desc, then kind, subject, ts)
-- merge: uses the merged error_rate, hosts, error_timeline and upstream_failures partials plus this report's
--        partial: per (ip, minute) request counts ('burst') and per 5-minute bucket response-time sums in
--        integer microseconds ('latency'); merging re-sums per key, and every baseline is computed only in the
--        final step.
-- @partial
SELECT 'burst' AS part, client_ip AS subject, date_trunc('minute', ts) AS ts, count(*)::BIGINT AS n,
       0::BIGINT AS total_us, 0::BIGINT AS slow
FROM requests GROUP BY client_ip, date_trunc('minute', ts)
UNION ALL
SELECT 'latency', NULL, time_bucket(INTERVAL 5 MINUTE, ts), count(*)::BIGINT,
       sum(round(response_time_ms * 1000)::BIGINT)::BIGINT, count(*) FILTER (WHERE response_time_ms >= 1000)::BIGINT
FROM requests WHERE response_time_ms IS NOT NULL GROUP BY time_bucket(INTERVAL 5 MINUTE, ts)
-- @merge
SELECT part, subject, ts, sum(n)::BIGINT AS n, sum(total_us)::BIGINT AS total_us, sum(slow)::BIGINT AS slow
FROM partial GROUP BY part, subject, ts
-- @final
WITH er AS (
  SELECT bucket, hits, errors_4xx, errors_5xx,
         errors_5xx / hits::DOUBLE AS r5, errors_4xx / hits::DOUBLE AS r4,
         coalesce(median(errors_5xx / hits::DOUBLE) OVER w, 0) AS b5,
         coalesce(median(errors_4xx / hits::DOUBLE) OVER w, 0) AS b4
  FROM p_error_rate
  WINDOW w AS (ORDER BY bucket ROWS BETWEEN 12 PRECEDING AND 1 PRECEDING)
),
spikes AS (
  SELECT 'error_5xx_spike' AS kind, 'site' AS subject, bucket AS ts, r5 AS value, b5 AS baseline,
         20 * log2((r5 + 0.002) / (b5 + 0.002)) AS raw_score,
         format('{} of {} requests answered 5xx ({:.1f}%, baseline {:.1f}%)', errors_5xx, hits, 100 * r5,
                100 * b5) AS detail
  FROM er WHERE hits >= 20 AND errors_5xx >= 10 AND r5 >= 0.02 AND r5 > 2 * b5
  UNION ALL
  SELECT 'error_4xx_spike', 'site', bucket, r4, b4, 20 * log2((r4 + 0.01) / (b4 + 0.01)),
         format('{} of {} requests answered 4xx ({:.1f}%, baseline {:.1f}%)', errors_4xx, hits, 100 * r4,
                100 * b4)
  FROM er WHERE hits >= 20 AND r4 >= 0.2 AND r4 > 2 * b4
),
ips AS (
  SELECT ip, sum(hits) AS hits, sum(not_found) AS not_found, min(first_ts) AS first_ts FROM p_hosts GROUP BY ip
),
scanners AS (
  SELECT 'scanner' AS kind, ip AS subject, first_ts AS ts, not_found::DOUBLE AS value,
         (SELECT sum(not_found) / count(*) FROM ips)::DOUBLE AS baseline,
         NULL::DOUBLE AS raw_score,
         format('{} of {} requests answered 404', not_found, hits) AS detail
  FROM ips WHERE not_found >= 20 AND not_found * 2 >= hits
),
minutes AS (SELECT subject AS ip, ts, n FROM p_anomalies WHERE part = 'burst'),
med AS (SELECT coalesce(quantile_disc(n, 0.5), 0)::DOUBLE AS m FROM minutes),
peaks AS (
  SELECT ip, max(n) AS peak FROM minutes GROUP BY ip
),
bursts AS (
  SELECT 'request_burst' AS kind, p.ip AS subject,
         (SELECT min(ts) FROM minutes x WHERE x.ip = p.ip AND x.n = p.peak) AS ts,
         p.peak::DOUBLE AS value, med.m AS baseline, NULL::DOUBLE AS raw_score,
         format('{} requests in one minute (median per IP-minute {})', p.peak, med.m) AS detail
  FROM peaks p, med WHERE p.peak >= 60 AND p.peak >= 5 * med.m
),
lat AS (
  SELECT ts AS bucket, n, slow, total_us / n / 1000.0 AS avg_ms,
         avg(total_us / n / 1000.0) OVER (ORDER BY ts ROWS BETWEEN 12 PRECEDING AND 1 PRECEDING) AS base_ms
  FROM p_anomalies WHERE part = 'latency'
),
slow AS (
  SELECT 'slow_responses' AS kind, 'site' AS subject, bucket AS ts, avg_ms AS value, base_ms AS baseline,
         20 * log2((avg_ms + 1) / (base_ms + 1)) AS raw_score,
         format('mean response {:.0f} ms over {} requests ({} >= 1 s), baseline {:.0f} ms', avg_ms, n, slow,
                base_ms) AS detail
  FROM lat WHERE n >= 20 AND base_ms IS NOT NULL AND avg_ms >= 500 AND avg_ms > 2 * base_ms
),
span AS (
  SELECT min(bucket) AS lo, max(bucket) AS hi
  FROM (SELECT bucket FROM p_error_timeline UNION ALL SELECT bucket FROM p_error_rate)
  WHERE EXISTS (SELECT 1 FROM p_error_timeline)
),
grid AS (SELECT unnest(generate_series(lo, hi, INTERVAL 5 MINUTE)) AS bucket FROM span WHERE lo IS NOT NULL),
stream_errors AS (
  SELECT s.source, g.bucket, coalesce(t.n, 0) AS n, coalesce(r.errors_5xx, 0) AS e5, coalesce(r.hits, 0) AS hits,
         coalesce(median(coalesce(t.n, 0)) OVER w, 0) AS base, count(*) OVER w AS history
  FROM grid g CROSS JOIN (SELECT DISTINCT source FROM p_error_timeline) s
  LEFT JOIN (SELECT bucket, source, sum(server_errors) AS n FROM p_error_timeline GROUP BY ALL) t
    ON t.bucket = g.bucket AND t.source = s.source
  LEFT JOIN p_error_rate r ON r.bucket = g.bucket
  WINDOW w AS (PARTITION BY s.source ORDER BY g.bucket ROWS BETWEEN 12 PRECEDING AND 1 PRECEDING)
),
error_bursts AS (
  SELECT CASE source WHEN 'nginx' THEN 'error_log_burst' ELSE 'app_error_burst' END AS kind,
         CASE source WHEN 'nginx' THEN 'nginx error log' ELSE 'application log' END AS subject,
         bucket AS ts, n::DOUBLE AS value, base::DOUBLE AS baseline, NULL::DOUBLE AS raw_score,
         format('{} {} in 5 minutes (median {}); same bucket: {} of {} requests answered 5xx', n,
                CASE source WHEN 'nginx' THEN 'server errors' ELSE 'errors' END, base, e5, hits) AS detail
  FROM stream_errors WHERE n >= 10 AND n > 2 * base AND history >= 3
),
upstream_buckets AS (
  SELECT u.upstream, g.bucket, coalesce(f.n, 0) AS n,
         coalesce(median(coalesce(f.n, 0)) OVER w, 0) AS base, count(*) OVER w AS history
  FROM grid g CROSS JOIN (SELECT DISTINCT upstream FROM p_upstream_failures) u
  LEFT JOIN (SELECT bucket, upstream, sum(failures) AS n FROM p_upstream_failures GROUP BY ALL) f
    ON f.bucket = g.bucket AND f.upstream = u.upstream
  WINDOW w AS (PARTITION BY u.upstream ORDER BY g.bucket ROWS BETWEEN 12 PRECEDING AND 1 PRECEDING)
),
upstreams AS (
  SELECT 'upstream_failures' AS kind, upstream AS subject, bucket AS ts, n::DOUBLE AS value,
         base::DOUBLE AS baseline, NULL::DOUBLE AS raw_score,
         format('{} requests failed at this upstream in 5 minutes (median {})', n, base) AS detail
  FROM upstream_buckets WHERE n >= 10 AND n > 2 * base AND history >= 3
),
scored AS (
  SELECT kind, subject, ts, value, baseline,
         coalesce(raw_score, 20 * log2((value + 1) / (baseline + 1))) AS raw_score, detail
  FROM (SELECT * FROM spikes UNION ALL SELECT * FROM scanners UNION ALL SELECT * FROM bursts
        UNION ALL SELECT * FROM slow UNION ALL SELECT * FROM error_bursts UNION ALL SELECT * FROM upstreams)
)
SELECT kind, subject, ts, value, baseline, score,
       CASE WHEN score >= 80 THEN 'critical' WHEN score >= 60 THEN 'high'
            WHEN score >= 40 THEN 'medium' ELSE 'low' END AS severity,
       detail
FROM (SELECT *, least(100, greatest(0, round(raw_score)))::INTEGER AS score FROM scored)
ORDER BY score DESC, kind, subject, ts
LIMIT 100
