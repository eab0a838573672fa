-- macros: edgelog_unescape(field), edgelog_json_unescape(field), edgelog_nullif_dash(field)
-- answers: The bytes a client sent in a quoted access-log field, and "no value" for nginx's "-".
--   edgelog_unescape: Apache escapes \\ \" \t \n \r \v \b and \xhh, nginx only \xHH. Everything is rewritten
--   to \xHH (left to right, `\\` first, so an escaped backslash never starts another escape), then the BLOB
--   cast decodes \xHH into bytes. Valid UTF-8 becomes text; anything else keeps a canonical \xHH form.
--   edgelog_json_unescape: nginx's escape=json (\" \\ \n \r \t \b \f \u00XX), decoded as a JSON string; a
--   value that is not one (a raw byte the reader turned into \xHH) is kept as written.
--   edgelog_nullif_dash: NULL for '-' and ''. Used by the combined/common parsers (edgelog.analysis.parse)
--   and the parsers of --log-format definitions (edgelog.analysis.format_sql).
CREATE OR REPLACE MACRO edgelog_unescape(s) AS CASE
  WHEN s IS NULL OR NOT contains(s, '\') THEN s
  ELSE coalesce(
    try(decode(try_cast(
      regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
      regexp_replace(s, '\\\\', '\\x5C', 'g'),
      '\\"', '\\x22', 'g'), '\\t', '\\x09', 'g'), '\\n', '\\x0A', 'g'), '\\r', '\\x0D', 'g'),
      '\\v', '\\x0B', 'g'), '\\b', '\\x08', 'g') AS BLOB))),
    try_cast(try_cast(
      regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
      regexp_replace(s, '\\\\', '\\x5C', 'g'),
      '\\"', '\\x22', 'g'), '\\t', '\\x09', 'g'), '\\n', '\\x0A', 'g'), '\\r', '\\x0D', 'g'),
      '\\v', '\\x0B', 'g'), '\\b', '\\x08', 'g') AS BLOB) AS VARCHAR),
    s)
END;

CREATE OR REPLACE MACRO edgelog_nullif_dash(s) AS CASE WHEN s = '-' OR s = '' THEN NULL ELSE s END;

CREATE OR REPLACE MACRO edgelog_json_unescape(s) AS CASE
  WHEN s IS NULL OR NOT contains(s, '\') THEN s
  ELSE coalesce(try(json_extract_string('"' || s || '"', '$')), s)
END;
