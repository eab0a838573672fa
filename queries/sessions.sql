-- report: sessions
-- answers: How visits behave: a session is a run of page views (requests for non-static paths) by one
--          visitor - the session_id where the format has one (JSON/CSV), else the same client address
--          (client_ip) and user agent - with no gap longer than 30 minutes. Reports the number of sessions,
--          average duration (first to last page view, seconds), average page views, bounce rate (sessions
--          with one page view) and abandonment rate
--          (sessions that reached the cart or checkout but never an order confirmation, among sessions that
--          reached the cart or checkout; tags cart/checkout/order_complete).
-- columns: sessions BIGINT, avg_duration_s DOUBLE, avg_pages DOUBLE, bounce_rate DOUBLE (0..1),
--          abandonment_rate DOUBLE (0..1)
-- merge: the partial holds session fragments (visitor key, start, end, pages, entry, exit, cart, purchase).
--        Merging sorts fragments by start per visitor and joins one to the previous ones when it starts at
--        most 30 minutes after their latest end; this gives exactly the sessions of the union of the inputs.
--        Ties in entry/exit pages are broken by (time, path). Also feeds entry_pages and exit_pages.
-- partition: visitor
-- @partial
-- A visitor's page views in one 30-minute bucket (UTC) are less than 30 minutes apart, so they always end up
-- in one session: each bucket is one fragment (the merge then sorts a fraction of the page views). Tag rules
-- and the static test run once per distinct (path, method).
WITH pt AS (
  SELECT url_path, method, edgelog_is_static(url_path) AS static,
         list_has_any(edgelog_tags(url_path, method), ['cart', 'checkout']) AS cart,
         list_contains(edgelog_tags(url_path, method), 'order_complete') AS purchase
  FROM (SELECT DISTINCT url_path, method FROM requests WHERE url_path IS NOT NULL)
)
SELECT visitor, min(ts) AS start_ts, max(ts) AS end_ts, count(*)::BIGINT AS pages,
       arg_min(url_path, (ts, url_path)) AS entry_page, arg_max(url_path, (ts, url_path)) AS exit_page,
       bool_or(cart) AS cart, bool_or(purchase) AS purchase
FROM (
  SELECT CASE WHEN r.session_id IS NOT NULL THEN 's:' || r.session_id
              ELSE 'v:' || r.client_ip || chr(10) || coalesce(r.user_agent, '') END AS visitor,
         r.ts, r.url_path, pt.cart, pt.purchase
  FROM requests r JOIN pt ON r.url_path = pt.url_path AND r.method IS NOT DISTINCT FROM pt.method
  WHERE NOT pt.static
)
GROUP BY visitor, time_bucket(INTERVAL 30 MINUTE, ts)
-- @merge
-- Fragments with equal start times are one group (ties in any order always get the same session number):
-- each group's gap is measured against the latest end of all groups that start before it. The partial is read
-- once: each group is aggregated as its session will be (every aggregate composes: the entry page is the
-- least of the group's, all starting at once; the exit page the one of the greatest (end, page)).
WITH k AS (
  SELECT visitor, start_ts, max(end_ts) AS end_ts, sum(pages) AS pages, min(entry_page) AS entry_page,
         max((end_ts, exit_page)) AS last_exit, bool_or(cart) AS cart, bool_or(purchase) AS purchase
  FROM partial GROUP BY visitor, start_ts
),
o AS (
  SELECT *,
         max(end_ts) OVER (PARTITION BY visitor ORDER BY start_ts
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
  FROM k
),
s AS (
  SELECT *,
         sum(CASE WHEN prev_end IS NULL OR start_ts - prev_end > INTERVAL 30 MINUTE THEN 1 ELSE 0 END)
           OVER (PARTITION BY visitor ORDER BY start_ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
           AS sid
  FROM o
)
SELECT visitor, min(start_ts) AS start_ts, max(end_ts) AS end_ts, sum(pages)::BIGINT AS pages,
       arg_min(entry_page, (start_ts, entry_page)) AS entry_page,
       struct_extract(max(last_exit), 2) AS exit_page,
       bool_or(cart) AS cart, bool_or(purchase) AS purchase
FROM s GROUP BY visitor, sid
-- @final
SELECT count(*)::BIGINT AS sessions,
       coalesce(sum(epoch_us(end_ts) - epoch_us(start_ts)) / count(*) / 1e6, 0)::DOUBLE AS avg_duration_s,
       coalesce(sum(pages) / count(*), 0)::DOUBLE AS avg_pages,
       coalesce(count(*) FILTER (WHERE pages = 1) / count(*), 0)::DOUBLE AS bounce_rate,
       coalesce(count(*) FILTER (WHERE cart AND NOT purchase) / nullif(count(*) FILTER (WHERE cart), 0), 0)::DOUBLE
         AS abandonment_rate
FROM p_sessions
