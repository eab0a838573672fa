"""The other streams a node writes: nginx's error log (``errors``) and the application log (``app_events``).

Both are parsed in SQL inside DuckDB like the access log (:mod:`edgelog.analysis.parse` reads the lines), into
one table per stream holding every line once; the relations the reports read are views over its valid rows in
the window, and the lines that are not valid go to ``quarantine`` with a reason.

An entry may span several lines: nginx writes a message with embedded newlines (a proxied request's header
block in a debug log, a FastCGI backend's stderr) in one ``write()``, and an application logs a traceback
under its ERROR line. A line that does not start with the stream's timestamp continues the entry above it: it
is parsed (``lines_parsed``) as part of that entry, whose message it extends. Since each entry is written in
one write, rotation never splits one across files; a continuation line with no entry above it in its file is
quarantined.

nginx writes client-supplied bytes into its error log unescaped (a binary request line, a URL that is not
UTF-8, even NUL). DuckDB's line reader refuses such lines, so a stream file where it did is re-read from a
copy in which every byte that is not UTF-8, and NUL, is written as ``\\xHH`` (nginx's own escape in access
logs), a carriage return before a newline is dropped and any other one is written as ``\\x0D``: line numbers
stay as they were.

Times: nginx writes its error log in the server's local time without a zone; edgelog reads it as UTC (the
nodes and containers run in UTC). Application-log times are ISO-8601 with ``Z`` or an offset.
"""

from __future__ import annotations

import codecs
import gzip
import re
import zlib
from pathlib import Path

import duckdb

from edgelog.analysis.parse import (
    PARSED_QUARANTINE,
    QUARANTINE_RAW_CHARS,
    QUARANTINE_SCHEMA,
    FileCounts,
    FileReadError,
    LineCutter,
    ParseInput,
    _read_lines,
    _short_error,
    is_gzip,
    sql_str,
)
from edgelog.analysis.workspace import statement
from edgelog.naming import parse_rotated_name

FORMATS = ("error", "app")  # analyze --format values for these streams (the generator's -f names)
STREAM_FORMAT = {"error": "error", "app": "app"}  # rotated-name stream -> its format

ERRORS_SCHEMA = """
    node_id VARCHAR, file VARCHAR, line_no BIGINT, ts TIMESTAMPTZ, level VARCHAR, pid INTEGER, tid BIGINT,
    cid BIGINT, message VARCHAR, client VARCHAR, server VARCHAR, request VARCHAR, subrequest VARCHAR,
    upstream VARCHAR, host VARCHAR, referrer VARCHAR, module VARCHAR
"""
ERRORS_COLUMNS = (
    "node_id, file, line_no, ts, level, pid, tid, cid, message, client, server, request, subrequest, "
    "upstream, host, referrer, module"
)
APP_EVENTS_SCHEMA = """
    node_id VARCHAR, file VARCHAR, line_no BIGINT, ts TIMESTAMPTZ, level VARCHAR, service VARCHAR,
    message VARCHAR, method VARCHAR, path VARCHAR, status INTEGER, duration_ms DOUBLE, request_id VARCHAR,
    session_id VARCHAR, user_id VARCHAR, client VARCHAR
"""
APP_EVENTS_COLUMNS = (
    "node_id, file, line_no, ts, level, service, message, method, path, status, duration_ms, request_id, "
    "session_id, user_id, client"
)
# relation -> (table holding every line, schema, columns)
RELATIONS = {
    "errors": ("error_lines", ERRORS_SCHEMA, ERRORS_COLUMNS),
    "app_events": ("app_lines", APP_EVENTS_SCHEMA, APP_EVENTS_COLUMNS),
}
_TABLE = {"error": "error_lines", "app": "app_lines"}

NGINX_LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")
APP_LEVELS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "CRITICAL", "FATAL")

# Where an entry starts (anything else continues the entry above it).
ERROR_HEAD = r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \["
APP_HEAD = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
# nginx: "YYYY/MM/DD HH:MM:SS [level] pid#tid: *cid message" (no "*cid " outside a connection).
ERROR_LINE = r"^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[([a-z]+)\] (\d+)#(\d+): (?:\*(\d+) )?"
# The context nginx appends to a message, in this order (ngx_http_log_error, ngx_http_log_error_handler; the
# stream module's ", udp client:" and byte counts), up to the end of the entry. The leftmost place it starts
# from is where the message ends, so a request line holding '", client: ' cannot move the split. Searched
# for as a suffix (a regex search for the suffix alone is fast, a split of the whole entry is not), then
# taken apart.
ERROR_CONTEXT = (
    r', (?:udp )?client: [^,]*, server: [^,]*(?:, request: ".*")?(?:, subrequest: ".*")?'
    r'(?:, upstream: ".*")?(?:, host: ".*")?(?:, referrer: ".*")?'
    r"(?:, bytes from/to client:\d+/\d+, bytes from/to upstream:\d+/\d+)?$"
)
ERROR_CONTEXT_FIELDS = (
    r'^, (?:udp )?client: ([^,]*), server: ([^,]*?)(?:, request: "(.*?)")?(?:, subrequest: "(.*?)")?'
    r'(?:, upstream: "(.*?)")?(?:, host: "(.*?)")?(?:, referrer: "(.*?)")?'
    r"(?:, bytes from/to client:\d+/\d+, bytes from/to upstream:\d+/\d+)?$"
)
# Application log: "2026-11-23T08:55:00.123Z LEVEL service message key=value ...".
APP_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})"
APP_CONTEXT_KEYS = ("request_id", "session", "user", "client")
APP_CONTEXT = r"((?: (?:request_id|session|user|client)=[^ ]*)*)$"  # the trailing key=value pairs

_SNIFF_ERROR = re.compile(ERROR_HEAD.replace(r"\[", r"\[[a-z]+\] \d+#\d+: "))
_SNIFF_APP = re.compile("^" + APP_TS + r" [A-Z]+ \S")


def format_of(name: str) -> str | None:
    """The format of a rotated error-log or application-log file, by its name (None for other files)."""
    rn = parse_rotated_name(name)
    return STREAM_FORMAT.get(rn.stream) if rn is not None else None


def sniff(line: str) -> str | None:
    """``error`` or ``app`` when a file's first line is one of these streams (format detection only)."""
    if _SNIFF_ERROR.match(line):
        return "error"
    if _SNIFF_APP.match(line):
        return "app"
    return None


def create_stream_store(con: duckdb.DuckDBPyConnection) -> None:
    """One table per stream with every line, and the relations reports read: its entries in the window.

    The streams' quarantined lines go to ``stream_quarantine``; ``quarantine`` (after
    parse.create_request_store) becomes the access logs' and theirs together.
    """
    sql = [
        f"CREATE TABLE stream_quarantine ({QUARANTINE_SCHEMA})",
        f"CREATE OR REPLACE VIEW quarantine AS {PARSED_QUARANTINE} UNION ALL SELECT * FROM stream_quarantine",
    ]
    for relation, (table, schema, columns) in RELATIONS.items():
        sql += [
            f"CREATE TABLE {table} (file_id INTEGER, {schema}, continuation BOOLEAN, reason VARCHAR, "
            "in_window BOOLEAN)",
            f"CREATE VIEW {relation} AS SELECT {columns} FROM {table} "
            "WHERE reason IS NULL AND NOT continuation AND in_window",
        ]
    for text in sql:  # the same text every run: parsed once per process (workspace.statement)
        con.execute(statement(con, text))


def create_empty_relations(con: duckdb.DuckDBPyConnection) -> None:
    """The relations as empty tables (merge builds partials' schemas from the reports' SQL over them)."""
    for relation, (_table, schema, _columns) in RELATIONS.items():
        con.execute(statement(con, f"CREATE TABLE {relation} ({schema})"))


def _hex_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: each undecodable byte as ``\\xHH``, as nginx escapes bytes in access logs."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(f"\\x{b:02X}" for b in bad), exc.end


codecs.register_error("edgelog_hex", _hex_bytes)


def escape_copy(path: Path, gz: bool, dest: Path) -> None:
    """Copy a stream file with raw bytes as ``\\xHH`` (see the module docstring); line numbers are kept, and
    every line is cut one over the reader's limit (:class:`parse.LineCutter`): escaping makes a byte four
    characters, so a 150 MB line of raw bytes made 600 MB of scratch, and one over 32 MiB a line longer than
    the reader's buffer."""
    opener = gzip.open if gz else open
    decoder = codecs.getincrementaldecoder("utf-8")(errors="edgelog_hex")
    cr_end = False  # the previous chunk ended in a carriage return

    def clean(text: str) -> str:
        return text.replace("\x00", "\\x00").replace("\r\n", "\n").replace("\r", "\\x0D")

    try:
        with opener(path, "rb") as src, dest.open("w", encoding="utf-8", newline="") as out:
            write = LineCutter(out.write, "\n")
            while chunk := src.read(1 << 22):
                text = decoder.decode(chunk)
                if cr_end:
                    text = "\r" + text
                cr_end = text.endswith("\r")
                write(clean(text[:-1] if cr_end else text))
            text = ("\r" if cr_end else "") + decoder.decode(b"", final=True)
            write(clean(text))
    except (OSError, EOFError, zlib.error) as exc:
        raise FileReadError(f"cannot read: {exc}") from exc


def _entries(head: str, continued: bool) -> str:
    """``entries(line_no, line, is_head, head_no)``: every line with the line its entry starts on, and
    ``conts(head_no, text)``: the continuation lines of each entry. A head line that does not parse still
    starts an entry, so lines after it are not glued to an earlier one. Without continuation lines in the
    file (the usual case) this is a plain projection: no window over the whole file."""
    if not continued:
        return (
            "entries AS (SELECT line_no, line, true AS is_head, line_no AS head_no FROM _lines), "
            "conts AS (SELECT NULL::BIGINT AS head_no, NULL::VARCHAR AS text WHERE false)"
        )
    return f"""entries AS (
      SELECT line_no, line, is_head,
             max(CASE WHEN is_head THEN line_no END) OVER (ORDER BY line_no ROWS UNBOUNDED PRECEDING)
               AS head_no
      FROM (SELECT line_no, line, coalesce(regexp_matches(line, '{head}'), false) AS is_head FROM _lines)
    ),
    conts AS (
      SELECT head_no, string_agg(coalesce(line, ''), chr(10) ORDER BY line_no) AS text
      FROM entries WHERE NOT is_head AND head_no IS NOT NULL GROUP BY head_no
    )"""


def _lines_of_entries(parsed: str, what: str, continued: bool) -> str:
    """Every line's row: a head line carries its entry, a continuation line the entry's time and fate
    (``reason`` is the line's, ``entry_ts`` the entry's time)."""
    if not continued:
        return f"SELECT *, false AS continuation, ts AS entry_ts FROM {parsed}"
    return f"""
    SELECT e.line_no, p.* EXCLUDE (line_no, reason), NOT e.is_head AS continuation,
           CASE WHEN e.is_head THEN p.reason
                WHEN e.head_no IS NULL AND (e.line IS NULL OR trim(e.line) = '') THEN 'empty line'
                WHEN e.head_no IS NULL THEN 'not {what}'
                WHEN hp.reason IS NOT NULL THEN 'continues a quarantined line (' || e.head_no || ')'
           END AS reason,
           hp.ts AS entry_ts
    FROM entries e LEFT JOIN {parsed} p ON p.line_no = e.line_no
    LEFT JOIN {parsed} hp ON hp.line_no = e.head_no
    """


def _error_sql(continued: bool) -> str:
    """Every line of an nginx error log: the entry's fields on its first line, ``line_reason`` per line."""
    levels = ", ".join(f"'{x}'" for x in NGINX_LEVELS)
    parsed = f"""
      SELECT line_no, ts, h.level, try_cast(h.pid AS INTEGER) AS pid, try_cast(h.tid AS BIGINT) AS tid,
             try_cast(nullif(h.cid, '') AS BIGINT) AS cid,
             left(body, len(body) - len(ctx)) AS message,
             nullif(x.client, '') AS client, nullif(x.server, '') AS server, nullif(x.request, '') AS request,
             nullif(x.subrequest, '') AS subrequest, nullif(x.upstream, '') AS upstream,
             nullif(x.host, '') AS host, nullif(x.referrer, '') AS referrer,
             CASE WHEN h.ts = '' THEN 'not an nginx error-log line'
                  WHEN ts IS NULL THEN 'bad timestamp: ' || h.ts
                  WHEN h.level NOT IN ({levels}) THEN 'unknown level: ' || left(h.level, 32)
                  WHEN try_cast(h.pid AS INTEGER) IS NULL OR try_cast(h.tid AS BIGINT) IS NULL
                    THEN 'bad process id'
             END AS reason
      FROM (
        SELECT *, CASE WHEN ctx <> '' THEN regexp_extract(ctx, '{ERROR_CONTEXT_FIELDS}',
                    ['client', 'server', 'request', 'subrequest', 'upstream', 'host', 'referrer']) END AS x
        FROM (
          SELECT *, coalesce(regexp_extract(body, '{ERROR_CONTEXT}'), '') AS ctx
          FROM (
            SELECT e.line_no, h, timezone('UTC', try_strptime(h.ts, '%Y/%m/%d %H:%M:%S')) AS ts,
                   substr(e.line, len(h.head) + 1) || coalesce(chr(10) || c.text, '') AS body
            FROM (SELECT line_no, line,
                         regexp_extract(line, '^({ERROR_LINE.removeprefix("^")})',
                                        ['head', 'ts', 'level', 'pid', 'tid', 'cid']) AS h
                  FROM entries WHERE is_head) e
            LEFT JOIN conts c ON c.head_no = e.line_no
          )
        )
      )
    """
    return f"WITH {_entries(ERROR_HEAD, continued)}, parsed AS ({parsed}) " + _lines_of_entries(
        "parsed", "an nginx error-log line", continued
    )


def _app_sql(continued: bool) -> str:
    """Every line of an application log: the entry's fields on its first line, ``line_reason`` per line."""
    levels = ", ".join(f"'{x}'" for x in APP_LEVELS)
    parsed = rf"""
      SELECT line_no, ts, upper(level_s) AS level, service_s AS service,
             text || coalesce(chr(10) || more, '') AS message,
             CASE WHEN regexp_full_match(split_part(text, ' ', 1), '[A-Z]+')
                       AND starts_with(split_part(text, ' ', 2), '/')
                  THEN split_part(text, ' ', 1) END AS method,
             CASE WHEN method IS NOT NULL THEN split_part(text, ' ', 2) END AS path,
             try_cast(nullif(regexp_extract(text, '(?:-> |failed with |status=)([0-9]{{3}})\b', 1), '')
                      AS INTEGER) AS status,
             CASE WHEN contains(text, 'ms') THEN try_cast(nullif(
               regexp_extract(text, ' in ([0-9]+(?:\.[0-9]+)?)ms\b', 1), '') AS DOUBLE) END AS duration_ms,
             nullif(regexp_extract(ctx, ' request_id=([^ ]*)', 1), '') AS request_id,
             nullif(regexp_extract(ctx, ' session=([^ ]*)', 1), '') AS session_id,
             edgelog_nullif_dash(regexp_extract(ctx, ' user=([^ ]*)', 1)) AS user_id,
             edgelog_nullif_dash(regexp_extract(ctx, ' client=([^ ]*)', 1)) AS client,
             CASE WHEN NOT regexp_full_match(ts_s, '{APP_TS}') OR service_s = '' OR level_s = ''
                    THEN 'not an application-log line'
                  WHEN ts IS NULL THEN 'bad timestamp: ' || left(ts_s, 40)
                  WHEN upper(level_s) NOT IN ({levels}) THEN 'unknown level: ' || left(level_s, 32)
                  WHEN NOT regexp_full_match(service_s, '[A-Za-z0-9_.:-]+')
                    THEN 'not an application-log line'
             END AS reason
      FROM (
        SELECT *, substr(rest, 2, len(rest) - len(ctx) - 1) AS text
        FROM (
          SELECT *, regexp_extract(rest, '{APP_CONTEXT}', 1) AS ctx
          FROM (
            SELECT e.line_no, split_part(e.line, ' ', 1) AS ts_s, split_part(e.line, ' ', 2) AS level_s,
                   split_part(e.line, ' ', 3) AS service_s,
                   ' ' || substr(e.line, len(ts_s) + len(level_s) + len(service_s) + 4) AS rest,
                   try_cast(ts_s AS TIMESTAMPTZ) AS ts, c.text AS more
            FROM (SELECT * FROM entries WHERE is_head) e LEFT JOIN conts c ON c.head_no = e.line_no
          )
        )
      )
    """
    return f"WITH {_entries(APP_HEAD, continued)}, parsed AS ({parsed}) " + _lines_of_entries(
        "parsed", "an application-log line", continued
    )


def _insert_sql(fmt: str, file_id: int, node: str, label: str, window: str, continued: bool) -> str:
    if fmt == "error":
        return f"""
            INSERT INTO error_lines
            SELECT {file_id}, {node}, {label}, line_no, entry_ts, level, pid, tid, cid, message, client,
                   server, request, subrequest, upstream, host, referrer,
                   CASE WHEN NOT continuation THEN edgelog_error_module(message, upstream, cid) END,
                   continuation, reason, coalesce({window}, false)
            FROM ({_error_sql(continued)})
            """
    return f"""
        INSERT INTO app_lines
        SELECT {file_id}, {node}, {label}, line_no, entry_ts, level, service, message, method, path, status,
               duration_ms, request_id, session_id, user_id, client,
               continuation, reason, coalesce({window}, false)
        FROM ({_app_sql(continued)})
        """


def _continued(con: duckdb.DuckDBPyConnection, fmt: str) -> bool:
    """Does any line of ``_lines`` continue an entry (or stand outside one)? One cheap scan decides whether
    the entry grouping (a window over the whole file) is needed at all."""
    head = ERROR_HEAD if fmt == "error" else APP_HEAD
    row = con.execute(
        f"SELECT count(*) FROM _lines WHERE NOT coalesce(regexp_matches(line, '{head}'), false)"
    ).fetchone()
    return bool(row and row[0])


def load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    *,
    file_label: str,
    node_id: str | None,
    since_sql: str,
    until_sql: str,
    scratch: Path,
    file_id: int,
) -> FileCounts:
    """Parse one error-log or application-log file into its table and ``quarantine`` (like parse.load_file).

    An entry counts towards the window by its head line's time; so do its continuation lines.
    """
    table = _TABLE[fmt]
    try:
        gz = is_gzip(path)
    except OSError as exc:
        raise FileReadError(f"cannot open: {exc}") from exc
    n_lines, n_rej = _read_stream_lines(con, path, gz, scratch, file_id)
    if n_rej and _raw_bytes_rejected(con):
        copy = scratch / "escaped.log"
        try:
            escape_copy(path, gz, copy)
            n_lines, n_rej = _read_stream_lines(con, copy, False, scratch, file_id)
        finally:
            copy.unlink(missing_ok=True)
    node = sql_str(node_id) if node_id is not None else "NULL"
    label = sql_str(file_label)
    window = f"entry_ts >= {since_sql} AND entry_ts < {until_sql}"
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(_insert_sql(fmt, file_id, node, label, window, _continued(con, fmt)))
        con.execute(
            f"""
            INSERT INTO stream_quarantine
            SELECT {node}, {label}, p.line_no, p.reason, left(coalesce(l.line, ''), {QUARANTINE_RAW_CHARS})
            FROM {table} p JOIN _lines l ON p.line_no = l.line_no
            WHERE p.file_id = {file_id} AND p.reason IS NOT NULL
            UNION ALL
            SELECT {node}, {label}, line_no, reason, coalesce(raw, '') FROM _rejected
            """
        )
        row = con.execute(
            f"""
            SELECT count(*) FILTER (WHERE reason IS NULL),
                   count(*) FILTER (WHERE reason IS NOT NULL),
                   count(*) FILTER (WHERE reason IS NULL AND NOT in_window),
                   strftime(min(ts) FILTER (WHERE reason IS NULL AND in_window), '%Y-%m-%dT%H:%M:%S.%gZ'),
                   strftime(max(ts) FILTER (WHERE reason IS NULL AND in_window), '%Y-%m-%dT%H:%M:%S.%gZ')
            FROM {table} WHERE file_id = {file_id}
            """
        ).fetchone()
        assert row is not None
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise FileReadError(_short_error(exc)) from exc
    finally:
        con.execute("DROP VIEW IF EXISTS _lines")
        con.execute("DROP TABLE IF EXISTS _raw")
    parsed, bad, outside, first, last = row
    return FileCounts(
        lines_read=n_lines + n_rej,
        lines_parsed=parsed,
        lines_quarantined=bad + n_rej,
        lines_outside_window=outside,
        first_ts=first,
        last_ts=last,
    )


def _read_stream_lines(
    con: duckdb.DuckDBPyConnection, path: Path, gz: bool, scratch: Path, file_id: int
) -> tuple[int, int]:
    """One file's lines as ``_lines`` and ``_rejected`` (parse's reader); the accepted and rejected counts."""
    _read_lines(con, [ParseInput(file_id, path, "", gz, "", None)], scratch)
    accepted = con.execute("SELECT count(*) FROM _raw").fetchone()
    rejected = con.execute("SELECT count(*) FROM _rejected").fetchone()
    assert accepted is not None and rejected is not None
    return int(accepted[0]), int(rejected[0])


def _raw_bytes_rejected(con: duckdb.DuckDBPyConnection) -> bool:
    """Did DuckDB's reader refuse lines for bytes nginx writes raw (not UTF-8, NUL)?"""
    row = con.execute(
        "SELECT count(*) FROM _rejected WHERE reason IN ('invalid UTF-8', 'contains a NUL byte')"
    ).fetchone()
    return bool(row and row[0])
