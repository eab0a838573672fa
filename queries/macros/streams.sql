-- macros: edgelog_message_pattern(message), edgelog_error_module(message, upstream, cid), edgelog_severity(level),
--         edgelog_client_error(module, message), edgelog_is_access(format)
-- answers: What the error-log and application-log reports group by.
--   edgelog_message_pattern: the first line of a message with what varies between occurrences taken out,
--   so that one kind of error is one row: URLs -> <url>, quoted paths -> "<path>", other quoted strings ->
--   "<str>", unquoted paths -> <path>, IPv4 addresses (with port) -> <ip>, hex ids of 16+ digits -> <id>,
--   numbers (with decimals) -> <n>; at most 200 characters. E.g. nginx's
--   open() "/srv/www/img/p-17.jpg" failed (2: No such file or directory)
--   becomes open() "<path>" failed (<n>: No such file or directory).
--   edgelog_error_module: the part of nginx a message comes from, by its wording (nginx does not log the
--   module): upstream, static (file lookups), access, limit_req, limit_conn, auth_basic, auth_request,
--   client (bad or vanished clients), ssl, rewrite, core (process life cycle, configuration), else http (a
--   request's other messages) or core (no connection).
--   edgelog_severity: a level's rank, the same scale for nginx and application levels: debug/trace 1,
--   info 2, notice 3, warn 4, error 5, crit/critical/fatal 6, alert 7, emerg 8 (case-insensitive).
--   edgelog_client_error: whether an nginx error-log entry reports a client's request refused or missing
--   (no such file, access rules, Basic auth, rate limits, bad or vanished clients) rather than the server
--   failing; a scanner writes hundreds of these, so error bursts are counted without them.
--   edgelog_is_access: whether an input file's format (the files partial's format) is an access log, i.e.
--   neither 'error' nor 'app' (a file that failed before its format was known counts as an access log).
CREATE OR REPLACE MACRO edgelog_message_pattern(m) AS left(
  regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
    split_part(m, chr(10), 1),
    '[A-Za-z][A-Za-z0-9+.-]*://[^\s,"]*', '<url>', 'g'),
    '"/[^"]*"', '"<path>"', 'g'),
    '"(?:[^"<][^"]*)?"', '"<str>"', 'g'),
    '(^|[\s(=:])/[^\s,;"]*', '\1<path>', 'g'),
    '(^|[^A-Za-z0-9_.])[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]+)?', '\1<ip>', 'g'),
    '(^|[^A-Za-z0-9_])[0-9A-Fa-f]{16,}', '\1<id>', 'g'),
    '(^|[^A-Za-z0-9_.<])[0-9]+(\.[0-9]+)*', '\1<n>', 'g'),
  200);

CREATE OR REPLACE MACRO edgelog_error_module(m, upstream, cid) AS CASE
  WHEN upstream IS NOT NULL OR contains(split_part(m, chr(10), 1), 'upstream') THEN 'upstream'
  WHEN regexp_matches(m, '^(open|stat|lstat|opendir|realpath|readlink)\(\) |^directory index of |" is not found|" is forbidden')
    THEN 'static'
  WHEN starts_with(m, 'access forbidden by rule') THEN 'access'
  WHEN starts_with(m, 'limiting requests') THEN 'limit_req'
  WHEN starts_with(m, 'limiting connections') THEN 'limit_conn'
  WHEN regexp_matches(m, '^user ".*": password mismatch|^user ".*" was not found in |^no user/password was provided')
    THEN 'auth_basic'
  WHEN starts_with(m, 'auth request') THEN 'auth_request'
  WHEN regexp_matches(m, '^client |^(recv|send|writev|sendfile)\(\) failed .*(client|peer)') THEN 'client'
  WHEN regexp_matches(m, '^SSL_|SSL_do_handshake|^ssl ') THEN 'ssl'
  WHEN regexp_matches(m, '^rewrite |^".*" rewrite|internal redirection cycle') THEN 'rewrite'
  WHEN regexp_matches(m, '^signal |^worker process |^start worker|^gracefully shutting down|^exiting$|^exit$|^using the "|^nginx/|^OS: |^getrlimit|^reconfiguring|^reopening logs|^conflicting server name|^unknown directive| in /[^ ]*:[0-9]+$')
    THEN 'core'
  WHEN cid IS NOT NULL THEN 'http'
  ELSE 'core'
END;

CREATE OR REPLACE MACRO edgelog_severity(level) AS CASE lower(level)
  WHEN 'debug' THEN 1 WHEN 'trace' THEN 1 WHEN 'info' THEN 2 WHEN 'notice' THEN 3
  WHEN 'warn' THEN 4 WHEN 'warning' THEN 4 WHEN 'error' THEN 5
  WHEN 'crit' THEN 6 WHEN 'critical' THEN 6 WHEN 'fatal' THEN 6 WHEN 'alert' THEN 7 WHEN 'emerg' THEN 8
END;

CREATE OR REPLACE MACRO edgelog_is_access(format) AS coalesce(format, '') NOT IN ('error', 'app');

CREATE OR REPLACE MACRO edgelog_client_error(module, m) AS coalesce(
  module IN ('client', 'access', 'auth_basic', 'limit_req', 'limit_conn')
  OR (module = 'static' AND regexp_matches(m, '\(2: No such file or directory\)|^directory index of |" is not found')),
  false);
