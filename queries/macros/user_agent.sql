-- macros: edgelog_crawler(user_agent), edgelog_browser(user_agent), edgelog_os(user_agent)
-- answers: What a User-Agent header says about the client: the crawler or scripted tool it names (NULL for
--          browsers), the browser family and the operating system. Crawlers and tools are "Crawler" in the
--          browser and OS families; "-" or empty is "Unknown". Used by browsers, operating_systems, crawlers.
CREATE OR REPLACE MACRO edgelog_crawler(ua) AS CASE
    WHEN ua IS NULL OR NOT regexp_matches(ua, '(?i)(bot|crawl|spider|slurp|curl/|wget/|python-requests|python-urllib|go-http-client|java/|okhttp|libwww|httpclient|scrapy|headlesschrome|facebookexternalhit|lighthouse|pingdom|uptime|monitor|nikto|sqlmap|nmap|masscan|zgrab)') THEN NULL
    WHEN regexp_matches(ua, '(?i)googlebot') THEN 'Googlebot'
    WHEN regexp_matches(ua, '(?i)bingbot') THEN 'Bingbot'
    WHEN regexp_matches(ua, '(?i)yandex') THEN 'YandexBot'
    WHEN regexp_matches(ua, '(?i)baiduspider') THEN 'Baiduspider'
    WHEN regexp_matches(ua, '(?i)duckduckbot') THEN 'DuckDuckBot'
    WHEN regexp_matches(ua, '(?i)applebot') THEN 'Applebot'
    WHEN regexp_matches(ua, '(?i)ahrefsbot') THEN 'AhrefsBot'
    WHEN regexp_matches(ua, '(?i)semrushbot') THEN 'SemrushBot'
    WHEN regexp_matches(ua, '(?i)facebookexternalhit') THEN 'Facebook'
    WHEN regexp_matches(ua, '(?i)^curl/') THEN 'curl'
    WHEN regexp_matches(ua, '(?i)^wget/') THEN 'Wget'
    WHEN regexp_matches(ua, '(?i)python-requests') THEN 'python-requests'
    WHEN regexp_matches(ua, '(?i)go-http-client') THEN 'Go-http-client'
    ELSE coalesce(nullif(regexp_extract(ua, '([A-Za-z][A-Za-z0-9_.-]*(?:bot|crawler|spider))', 1), ''),
                  nullif(regexp_extract(ua, '^([A-Za-z][A-Za-z0-9_.-]*)', 1), ''), 'Other crawler')
  END;

CREATE OR REPLACE MACRO edgelog_browser(ua) AS CASE
    WHEN ua IS NULL OR ua IN ('', '-') THEN 'Unknown'
    WHEN edgelog_crawler(ua) IS NOT NULL THEN 'Crawler'
    WHEN regexp_matches(ua, 'Edg(e|A|iOS)?/') THEN 'Edge'
    WHEN regexp_matches(ua, 'OPR/|Opera') THEN 'Opera'
    WHEN regexp_matches(ua, 'SamsungBrowser/') THEN 'Samsung Internet'
    WHEN regexp_matches(ua, 'Firefox/|FxiOS/') THEN 'Firefox'
    WHEN regexp_matches(ua, 'Chrome/|CriOS/|Chromium/') THEN 'Chrome'
    WHEN regexp_matches(ua, 'MSIE |Trident/') THEN 'Internet Explorer'
    WHEN regexp_matches(ua, 'Safari/') AND regexp_matches(ua, 'Version/') THEN 'Safari'
    ELSE 'Others'
  END;

CREATE OR REPLACE MACRO edgelog_os(ua) AS CASE
    WHEN ua IS NULL OR ua IN ('', '-') THEN 'Unknown'
    WHEN edgelog_crawler(ua) IS NOT NULL THEN 'Crawler'
    WHEN regexp_matches(ua, 'Windows') THEN 'Windows'
    WHEN regexp_matches(ua, 'iPhone|iPad|iPod') THEN 'iOS'
    WHEN regexp_matches(ua, 'Mac OS X|Macintosh') THEN 'macOS'
    WHEN regexp_matches(ua, 'Android') THEN 'Android'
    WHEN regexp_matches(ua, 'CrOS') THEN 'ChromeOS'
    WHEN regexp_matches(ua, 'Linux|X11') THEN 'Linux'
    ELSE 'Others'
  END;
