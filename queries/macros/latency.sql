-- macros: edgelog_latency_ms(seconds), edgelog_rank(percent, n)
-- answers: The two halves of exact percentiles from latency histograms. edgelog_latency_ms is a request's
--   time in whole milliseconds (rounded; nginx's $request_time has that resolution, Apache's %D is rounded to
--   it), the bucket of the histograms the latency reports keep. edgelog_rank is the nearest-rank position of
--   a percentile among n values, ceil(percent * n / 100) in integers: the percentile is the smallest value
--   whose cumulative count reaches it.
CREATE OR REPLACE MACRO edgelog_latency_ms(s) AS round(s * 1000)::BIGINT;

CREATE OR REPLACE MACRO edgelog_rank(p, n) AS (p * n + 99) // 100;
