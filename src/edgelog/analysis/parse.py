"""Turn one log file into rows of the ``requests`` table (and quarantine rows) with SQL inside DuckDB.

Every file is read as raw lines by DuckDB's CSV reader (one column, a NUL delimiter, no quoting), numbered,
and parsed by SQL for its format. No Python code touches individual lines, so parsing runs at DuckDB's speed
on all cores. Lines the reader itself rejects (invalid UTF-8, longer than ``MAX_LINE_BYTES``, a raw NUL)
become quarantine rows with the reader's line number, so every line of a file is accounted for.

Combined/common lines take one of two paths, with identical results:

* lines without a backslash cannot contain an escaped quote, so they are split on ``"`` (fixed separators);
* lines with a backslash (nginx ``\\xHH``, Apache ``\\"`` ``\\\\`` ``\\t``) go through an escape-aware regex,
  and their quoted fields are unescaped into the bytes the client sent (UTF-8 when valid, else the canonical
  ``\\xHH`` form), so nginx and Apache logs of the same request yield the same values.

The SQL uses the library's macros ``edgelog_unescape`` and ``edgelog_nullif_dash``
(``queries/macros/log_fields.sql``), which must be installed on the connection first.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from edgelog.records import RECORD_FIELDS

MAX_LINE_BYTES = 8 * 1024 * 1024
QUARANTINE_RAW_CHARS = 8192
FORMATS = ("combined", "common", "json", "csv")

# The columns of the ``requests`` relation (documented in docs/analysis.md); user --query SQL sees these.
REQUESTS_SCHEMA = """
    node_id VARCHAR, file VARCHAR, line_no BIGINT, ts TIMESTAMPTZ, ip VARCHAR, remote_user VARCHAR,
    request VARCHAR, method VARCHAR, path VARCHAR, url_path VARCHAR, protocol VARCHAR, status INTEGER,
    bytes BIGINT, referer VARCHAR, user_agent VARCHAR, host VARCHAR, request_id VARCHAR, session_id VARCHAR,
    user_id VARCHAR, response_time_ms DOUBLE, vh UBIGINT
"""
QUARANTINE_SCHEMA = "node_id VARCHAR, file VARCHAR, line_no BIGINT, reason VARCHAR, raw VARCHAR"
REQUEST_COLUMNS = (
    "node_id, file, line_no, ts, ip, remote_user, request, method, path, url_path, protocol, status, bytes, "
    "referer, user_agent, host, request_id, session_id, user_id, response_time_ms, vh"
)


def create_request_store(con: duckdb.DuckDBPyConnection) -> None:
    """``parsed`` holds every parsed line of every file once; ``requests`` is the view over its valid rows.

    Keeping one copy (no separate requests table) halves memory and copying for large inputs; rows of a file
    are appended together, so per-file counts are cheap (row-group zone maps on ``file_id``).
    """
    con.execute(
        f"CREATE TABLE parsed (file_id INTEGER, {REQUESTS_SCHEMA}, reason VARCHAR, in_window BOOLEAN)"
    )
    con.execute(
        f"CREATE VIEW requests AS SELECT {REQUEST_COLUMNS} FROM parsed WHERE reason IS NULL AND in_window"
    )
    con.execute(f"CREATE TABLE quarantine ({QUARANTINE_SCHEMA})")


CSV_FIELDS = RECORD_FIELDS  # the generator's JSON/CSV record fields, in order

# Python-side sniffing of the first line only (format detection, never parsing).
_SNIFF_COMBINED = re.compile(r'^\S+ \S+ .*?\[[^\]]+\] "(?:[^"\\]|\\.)*" \d{3} (?:\d+|-) "')
_SNIFF_COMMON = re.compile(r'^\S+ \S+ .*?\[[^\]]+\] "(?:[^"\\]|\\.)*" \d{3} (?:\d+|-)\s*$')

# Escape-aware regex for combined/common lines (RE2 syntax). Extra fields after the user agent (e.g. an
# appended $request_time) are tolerated and ignored.
_Q = r'((?:[^"\\]|\\.)*)'
LINE_RE = (
    r"^(\S+) (\S+) (.*?) \[([^\]]+)\] \"" + _Q + r"\" (\S+) (\S+)"
    r"( \"" + _Q + r"\" \"" + _Q + r"\"(?: .*)?)?\s*$"
)
REQUEST_RE = r"^([A-Za-z]+) (.+?)(?: (HTTP/[0-9.]+))?$"
TS_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


class FileReadError(Exception):
    """A whole file could not be read (corrupt gzip, permission, I/O error)."""


@dataclass
class FileCounts:
    """Per-file line accounting written into the manifest."""

    lines_read: int = 0
    lines_parsed: int = 0
    lines_quarantined: int = 0
    lines_outside_window: int = 0
    first_ts: str | None = None
    last_ts: str | None = None


def sql_str(value: str) -> str:
    """Quote a string as a SQL literal."""
    return "'" + value.replace("'", "''") + "'"


def is_gzip(path: Path) -> bool:
    """Decide compression by magic bytes, not by name: rotated files are sometimes compressed later."""
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def detect_format(path: Path) -> str:
    """Pick the parser for a file: by extension for JSON lines/CSV, else by sniffing the first line."""
    name = path.name.removesuffix(".gz").lower()
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "json"
    if name.endswith(".csv"):
        return "csv"
    try:
        opener = gzip.open if is_gzip(path) else open
        with opener(path, "rb") as fh:
            head = fh.read(65536)
    except (OSError, EOFError, zlib.error) as exc:
        raise FileReadError(f"cannot read: {exc}") from exc
    for raw in head.splitlines():
        line = raw.decode("utf-8", "replace").strip("\r")
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            return "json"
        if line.startswith("ts,remote_addr"):
            return "csv"
        if _SNIFF_COMMON.match(line) and not _SNIFF_COMBINED.match(line):
            return "common"
        return "combined"
    return "combined"


def _reader_sql(path: Path, gz: bool, rej: str, scan: str) -> str:
    return (
        f"read_csv({sql_str(str(path))}, columns={{'line': 'VARCHAR'}}, delim='\x00', quote='', escape='', "
        f"header=false, auto_detect=false, max_line_size={MAX_LINE_BYTES}, "
        f"compression='{'gzip' if gz else 'none'}', store_rejects=true, rejects_table='{rej}', "
        f"rejects_scan='{scan}', ignore_errors=true, null_padding=false)"
    )


def sanitize_copy(path: Path, gz: bool, dest: Path) -> None:
    """Copy a file that DuckDB's line reader rejected, making its line ends uniform.

    DuckDB's reader stops on a bare carriage return or on mixed LF / CRLF line ends (nginx and Apache never
    write either, other tools may). The copy turns CRLF into LF and any other CR into the text ``\\x0D``, the
    way nginx escapes it, so line numbers and all other bytes stay as they were. Runs at C speed per chunk.
    """
    opener = gzip.open if gz else open
    cr_lf = re.compile(rb"\r\n")
    cr = re.compile(rb"\r")
    try:
        with opener(path, "rb") as src, dest.open("wb") as out:
            carry = b""
            while chunk := src.read(1 << 22):
                chunk = carry + chunk
                carry = b""
                if chunk.endswith(b"\r"):
                    chunk, carry = chunk[:-1], b"\r"
                out.write(cr.sub(rb"\\x0D", cr_lf.sub(b"\n", chunk)))
            out.write(cr.sub(rb"\\x0D", carry))
    except (OSError, EOFError, zlib.error) as exc:
        raise FileReadError(f"cannot read: {exc}") from exc


def _read_lines(con: duckdb.DuckDBPyConnection, path: Path, gz: bool, scratch: Path) -> tuple[int, int]:
    """Load ``_lines(line_no, line)`` and ``_rejected(line_no, reason, raw)``; return their row counts."""
    rej = "_rej_errors"
    scan = "_rej_scans"

    def attempt(source: Path, compressed: bool) -> None:
        con.execute(f"DROP TABLE IF EXISTS {rej}")
        con.execute(f"DROP TABLE IF EXISTS {scan}")
        # With insertion order preserved, a table's rowid is the order rows were read in: the line order.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _raw AS "
            f"SELECT line FROM {_reader_sql(source, compressed, rej, scan)}"
        )

    try:
        attempt(path, gz)
    except duckdb.Error as first:
        copy = scratch / "sanitized.log"
        try:
            sanitize_copy(path, gz, copy)
            attempt(copy, False)
        except duckdb.Error:
            raise FileReadError(_short_error(first)) from first
        finally:
            copy.unlink(missing_ok=True)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _rejected AS
        SELECT line AS line_no,
               CASE any_value(error_type)
                 WHEN 'INVALID ENCODING' THEN 'invalid UTF-8'
                 WHEN 'LINE SIZE OVER MAXIMUM' THEN 'line longer than {MAX_LINE_BYTES} bytes'
                 WHEN 'TOO MANY COLUMNS' THEN 'contains a NUL byte'
                 ELSE lower(any_value(error_type)) END AS reason,
               left(any_value(csv_line), {QUARANTINE_RAW_CHARS}) AS raw
        FROM {rej} GROUP BY line
        """
    )
    n_rej = con.execute("SELECT count(*) FROM _rejected").fetchone()[0]  # type: ignore[index]
    if n_rej:
        # Accepted row k is the k-th line number that is not a rejected line: shift it past the rejects.
        con.execute(
            """
            CREATE OR REPLACE TEMP VIEW _lines AS
            WITH r AS (
              SELECT line_no - row_number() OVER (ORDER BY line_no) AS accepted_before FROM _rejected
            )
            SELECT k + (SELECT count(*) FROM r WHERE r.accepted_before < k) AS line_no, line
            FROM (SELECT rowid + 1 AS k, line FROM _raw)
            """
        )
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW _lines AS SELECT rowid + 1 AS line_no, line FROM _raw")
    n_lines = con.execute("SELECT count(*) FROM _raw").fetchone()[0]  # type: ignore[index]
    return n_lines, n_rej


def _short_error(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:500]


# One streaming pipeline (nested projections, no materialised CTE), so DuckDB runs it on all cores in
# constant memory; CASE evaluates the regex only for rows that are not on the fast path.
_COMBINED_SQL = rf"""
SELECT line_no, ts,
       ip, CASE WHEN esc THEN edgelog_unescape(ruser) ELSE ruser END AS remote_user, request,
       nullif(r.method, '') AS method, nullif(r.path, '') AS path, nullif(r.protocol, '') AS protocol,
       status, bytes, referer, ua AS user_agent,
       NULL::VARCHAR AS host, NULL::VARCHAR AS request_id, NULL::VARCHAR AS session_id,
       NULL::VARCHAR AS user_id, NULL::DOUBLE AS response_time_ms,
       CASE WHEN matched AND ts IS NOT NULL AND status IS NOT NULL AND bytes IS NOT NULL THEN NULL
            WHEN line IS NULL OR trim(line) = '' THEN 'empty line'
            WHEN NOT matched THEN 'not a combined/common access log line'
            WHEN ts IS NULL THEN 'bad timestamp: ' || left(tsstr, 64)
            WHEN status IS NULL THEN 'bad status: ' || left(status_s, 64)
            WHEN bytes IS NULL THEN 'bad byte count: ' || left(bytes_s, 64)
       END AS reason
FROM (
  -- The usual "METHOD target HTTP/x.y" splits on spaces; anything else (no protocol, spaces in the
  -- target, garbage) goes through the request regex.
  SELECT *,
         CASE WHEN len(rq) = 3 AND starts_with(rq[3], 'HTTP/')
                   AND (rq[1] IN ('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH')
                        OR regexp_full_match(rq[1], '[A-Za-z]+'))
              THEN {{'method': rq[1], 'path': rq[2], 'protocol': rq[3]}}
              ELSE regexp_extract(request, '{REQUEST_RE}', ['method', 'path', 'protocol']) END AS r
  FROM (
    SELECT *,
           try_strptime(tsstr, '{TS_FORMAT}') AS ts,
           CASE WHEN len(status_s) = 3 THEN try_cast(status_s AS INTEGER) END AS status,
           CASE WHEN bytes_s = '-' THEN 0::BIGINT
                WHEN NOT starts_with(bytes_s, '+') THEN try_cast(bytes_s AS UBIGINT)::BIGINT END AS bytes,
           string_split(request, ' ') AS rq
    FROM (
      SELECT line_no, line, esc,
             CASE WHEN fast THEN true ELSE m.ip <> '' END AS matched,
             CASE WHEN fast THEN split_part(head, ' ', 1) ELSE m.ip END AS ip,
             CASE WHEN fast
                  THEN head[len(split_part(head, ' ', 1)) + len(split_part(head, ' ', 2)) + 3
                            : strpos(head, ' [') - 1]
                  ELSE m.ruser END AS ruser,
             CASE WHEN fast THEN head[strpos(head, ' [') + 2 : len(head) - 2] ELSE m.tsstr END AS tsstr,
             CASE WHEN fast THEN p[2] WHEN esc THEN edgelog_unescape(m.request) ELSE m.request END AS request,
             CASE WHEN fast THEN sb[1] ELSE m.status_s END AS status_s,
             CASE WHEN fast THEN sb[2] ELSE m.bytes_s END AS bytes_s,
             CASE WHEN fast THEN (CASE WHEN len(p) = 7 THEN p[4] END)
                  WHEN m.tail = '' THEN NULL WHEN esc THEN edgelog_unescape(m.referer) ELSE m.referer END
               AS referer,
             CASE WHEN fast THEN (CASE WHEN len(p) = 7 THEN p[6] END)
                  WHEN m.tail = '' THEN NULL WHEN esc THEN edgelog_unescape(m.ua) ELSE m.ua END AS ua
      FROM (
        SELECT *,
               CASE WHEN NOT fast THEN regexp_extract(line, '{LINE_RE.replace("'", "''")}',
                 ['ip', 'ident', 'ruser', 'tsstr', 'request', 'status_s', 'bytes_s', 'tail', 'referer', 'ua'])
               END AS m
        FROM (
          SELECT *,
                 coalesce(NOT esc AND ((len(p) = 7 AND p[5] = ' ' AND p[7] = '') OR len(p) = 3)
                   AND ends_with(head, '] ') AND strpos(head, ' [') > 0 AND starts_with(p[3], ' ')
                   AND len(sb) = 2
                   AND len(split_part(head, ' ', 1)) + len(split_part(head, ' ', 2)) + 3 < strpos(head, ' ['),
                   false) AS fast
          FROM (
            SELECT line_no, line, esc, p, p[1] AS head,
                   CASE WHEN len(p) >= 3 THEN string_split(trim(p[3]), ' ') END AS sb
            FROM (
              -- A line without a backslash cannot hold an escaped quote: split it on the quotes.
              SELECT line_no, line, coalesce(contains(line, '\'), false) AS esc,
                     CASE WHEN NOT contains(line, '\') THEN string_split(line, '"') END AS p
              FROM _lines
            )
          )
        )
      )
    )
  )
)
"""

_JSON_FIELDS = ", ".join(f"'$.{f}'" for f in CSV_FIELDS)

_JSON_SQL = rf"""
WITH j AS (
  SELECT line_no, line, json_valid(line) AND starts_with(ltrim(line), '{{') AS ok FROM _lines
),
v AS (
  SELECT line_no, line, ok,
         CASE WHEN ok THEN json_extract_string(line, [{_JSON_FIELDS}]) END AS f
  FROM j
)
SELECT line_no, try_cast(f[1] AS TIMESTAMPTZ) AS ts, f[2] AS ip, f[3] AS remote_user,
       concat_ws(' ', f[4], f[5], f[6]) AS request, f[4] AS method, f[5] AS path, f[6] AS protocol,
       try_cast(f[7] AS INTEGER) AS status, try_cast(f[8] AS BIGINT) AS bytes, f[9] AS referer,
       f[10] AS user_agent, f[11] AS host, f[12] AS request_id, f[13] AS session_id, f[14] AS user_id,
       try_cast(f[15] AS DOUBLE) AS response_time_ms,
       CASE WHEN line IS NULL OR trim(line) = '' THEN 'empty line'
            WHEN NOT ok THEN 'not a JSON object'
            WHEN try_cast(f[1] AS TIMESTAMPTZ) IS NULL THEN 'missing or bad ts'
            WHEN f[2] IS NULL THEN 'missing remote_addr'
            WHEN try_cast(f[7] AS INTEGER) IS NULL THEN 'missing or bad status'
            WHEN f[8] IS NOT NULL AND try_cast(f[8] AS BIGINT) IS NULL THEN 'bad bytes'
       END AS reason
FROM v
"""

_CSV_FIELD = r'("(?:[^"]|"")*"|[^,"]*)'
_CSV_RE = "^" + ",".join([_CSV_FIELD] * len(CSV_FIELDS)) + r"\r?$"
_CSV_UNQUOTE = (
    "CASE WHEN starts_with(m.{n}, '\"') THEN replace(m.{n}[2:len(m.{n}) - 1], '\"\"', '\"') ELSE m.{n} END"
)
_CSV_COLS = ",\n".join(f"{_CSV_UNQUOTE.format(n=f)} AS {f}" for f in CSV_FIELDS)
_CSV_NAMES = ", ".join(f"'{f}'" for f in CSV_FIELDS)

_CSV_SQL = rf"""
WITH m0 AS (
  SELECT line_no, line, regexp_extract(line, '{_CSV_RE}', [{_CSV_NAMES}]) AS m
  FROM _lines WHERE line IS NULL OR NOT starts_with(line, 'ts,remote_addr,')
),
c AS (
  SELECT line_no, line, regexp_matches(coalesce(line, ''), '{_CSV_RE}') AS ok, {_CSV_COLS}
  FROM m0
)
SELECT line_no, try_cast(ts AS TIMESTAMPTZ) AS ts, remote_addr AS ip, remote_user,
       concat_ws(' ', method, path, protocol) AS request, nullif(method, '') AS method,
       nullif(path, '') AS path, nullif(protocol, '') AS protocol,
       try_cast(status AS INTEGER) AS status, coalesce(try_cast(nullif(bytes, '-') AS BIGINT), 0) AS bytes,
       referer, user_agent, nullif(host, '') AS host, nullif(request_id, '') AS request_id,
       nullif(session_id, '') AS session_id, user_id, try_cast(nullif(response_time_ms, '') AS DOUBLE)
         AS response_time_ms,
       CASE WHEN line IS NULL OR trim(line) = '' THEN 'empty line'
            WHEN NOT ok THEN 'not a CSV record with {len(CSV_FIELDS)} fields'
            WHEN try_cast(ts AS TIMESTAMPTZ) IS NULL THEN 'missing or bad ts'
            WHEN try_cast(status AS INTEGER) IS NULL THEN 'missing or bad status'
       END AS reason
FROM c
"""

_PARSERS = {"combined": _COMBINED_SQL, "common": _COMBINED_SQL, "json": _JSON_SQL, "csv": _CSV_SQL}


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
    """Parse one file into ``parsed`` and ``quarantine``; raise FileReadError if it cannot be read at all.

    Reading happens first (into temp tables, with a fallback for odd line ends); the inserts run in a
    transaction so a file that fails half-way leaves no rows behind.
    """
    try:
        gz = is_gzip(path)
    except OSError as exc:
        raise FileReadError(f"cannot open: {exc}") from exc
    n_lines, n_rej = _read_lines(con, path, gz, scratch)
    node = sql_str(node_id) if node_id is not None else "NULL"
    label = sql_str(file_label)
    window = f"ts >= {since_sql} AND ts < {until_sql}"
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"""
            INSERT INTO parsed
            SELECT {file_id}, {node}, {label}, line_no, ts, ip, edgelog_nullif_dash(remote_user), request,
                   method, path, split_part(path, '?', 1), protocol, status, bytes,
                   edgelog_nullif_dash(referer), user_agent, host, request_id, session_id,
                   nullif(user_id, ''), response_time_ms,
                   hash(ip, date_trunc('day', timezone('UTC', ts)), coalesce(user_agent, '')),
                   reason, coalesce({window}, false)
            FROM ({_PARSERS[fmt]})
            """
        )
        con.execute(
            f"""
            INSERT INTO quarantine
            SELECT {node}, {label}, p.line_no, p.reason, left(coalesce(l.line, ''), {QUARANTINE_RAW_CHARS})
            FROM parsed p JOIN _lines l ON p.line_no = l.line_no
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
            FROM parsed WHERE file_id = {file_id}
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
    header_lines = n_lines - parsed - bad  # CSV header rows are not records
    return FileCounts(
        lines_read=n_lines + n_rej - header_lines,
        lines_parsed=parsed,
        lines_quarantined=bad + n_rej,
        lines_outside_window=outside,
        first_ts=first,
        last_ts=last,
    )
