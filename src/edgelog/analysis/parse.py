"""Turn one log file into rows of the ``requests`` table (and quarantine rows) with SQL inside DuckDB.

Every file is read as raw lines by DuckDB's CSV reader (one column, a NUL delimiter, no quoting), numbered,
and parsed by SQL for its format. No Python code touches individual lines, so parsing runs at DuckDB's speed
on all cores. Lines the reader itself rejects (invalid UTF-8, longer than ``MAX_LINE_BYTES``, a raw NUL)
become quarantine rows with the reader's line number, so every line of a file is accounted for; a line longer
than the reader's buffer, which it drops without a word, is found by counting bytes (:func:`_lost_lines`) and
quarantined from a copy in which it is cut (:func:`sanitize_copy`).

Combined/common lines take one of two paths, with identical results:

* lines without a backslash cannot contain an escaped quote, so they are split on ``"`` (fixed separators);
* lines with a backslash (nginx ``\\xHH``, Apache ``\\"`` ``\\\\`` ``\\t``) go through an escape-aware regex,
  and their quoted fields are unescaped into the bytes the client sent (UTF-8 when valid, else the canonical
  ``\\xHH`` form), so nginx and Apache logs of the same request yield the same values.

The SQL uses the library's macros ``edgelog_unescape`` and ``edgelog_nullif_dash``
(``queries/macros/log_fields.sql``), which must be installed on the connection first.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import AnyStr, Generic

import duckdb

from edgelog import interrupts
from edgelog.analysis import format_columns
from edgelog.analysis.format_columns import REQUEST_SPLIT
from edgelog.analysis.workspace import statement
from edgelog.logformat import LogFormat
from edgelog.records import RECORD_FIELDS

MAX_LINE_BYTES = 8 * 1024 * 1024
QUARANTINE_RAW_CHARS = 8192
FORMATS = ("combined", "common", "json", "csv")

# The columns of the ``requests`` relation (documented in docs/analysis.md); user --query SQL sees these.
REQUESTS_SCHEMA = """
    node_id VARCHAR, file VARCHAR, line_no BIGINT, ts TIMESTAMPTZ, ip VARCHAR, remote_user VARCHAR,
    request VARCHAR, method VARCHAR, path VARCHAR, url_path VARCHAR, protocol VARCHAR, status INTEGER,
    bytes BIGINT, referer VARCHAR, user_agent VARCHAR, host VARCHAR, request_id VARCHAR, session_id VARCHAR,
    user_id VARCHAR, response_time_ms DOUBLE, request_time_s DOUBLE, upstream_time_s DOUBLE,
    upstream_addr VARCHAR, vhost VARCHAR, xff VARCHAR, client_ip VARCHAR, vh UBIGINT
"""
# A visitor: one client address and user agent on one UTC day (behind trusted proxies: the client's address).
# The day is date_trunc('day', timezone('UTC', ts)), the same TIMESTAMP value and so the same hash, computed
# from the epoch microseconds (floored to a multiple of a day) instead of through the time zone library: half
# the cost of the hash per row. The infinities (and NULL) keep the time zone path, whose values they define.
_DAY_US = 86_400_000_000
_UTC_DAY = (
    "CASE WHEN isfinite(ts) "
    f"THEN make_timestamp(epoch_us(ts) - (epoch_us(ts) % {_DAY_US} + {_DAY_US}) % {_DAY_US}) "
    "ELSE date_trunc('day', timezone('UTC', ts)) END"
)
VISITOR_HASH = "hash({client_ip}, " + _UTC_DAY + ", coalesce(user_agent, ''))"
QUARANTINE_SCHEMA = "node_id VARCHAR, file VARCHAR, line_no BIGINT, reason VARCHAR, raw VARCHAR"
REQUEST_COLUMNS = (
    "node_id, file, line_no, ts, ip, remote_user, request, method, path, url_path, protocol, status, bytes, "
    "referer, user_agent, host, request_id, session_id, user_id, response_time_ms, request_time_s, "
    "upstream_time_s, upstream_addr, vhost, xff, client_ip, vh"
)


# What parsing yields per line, independent of the run (a parse-cache entry holds exactly these columns).
PARSED_COLUMNS = (
    "line_no, ts, ip, remote_user, request, method, path, url_path, protocol, status, bytes, referer, "
    "user_agent, host, request_id, session_id, user_id, response_time_ms, request_time_s, upstream_time_s, "
    "upstream_addr, vhost, xff, client_ip, vh, reason, raw"
)


_QUARANTINE_VALUES = {"node_id": "node_id", "file": "file", "line_no": "line_no", "reason": "reason",
                      "raw": "coalesce(raw, '')"}  # fmt: skip


def nullable_quarantine(source: str) -> str:
    """The quarantined lines of ``source`` (a relation with the quarantine's columns, or ``parsed``) as the
    quarantine relation the writer writes: no column is ever NULL, but each is typed as possibly NULL whatever
    ``source`` holds. DuckDB's Parquet writer writes a column it knows to be NULL-free differently (a REQUIRED
    field when ``source`` is empty or its table's statistics say so, no definition levels for ``raw`` when
    ``parsed`` holds only quarantined lines), and the quarantine must be the same bytes whatever wrote it: a
    run that loaded only the quarantined lines (the parse cache's whole chunks) or every line, a merge of one
    result or that result itself."""
    values = _QUARANTINE_VALUES.items()
    columns = ", ".join(f"CASE WHEN reason IS NOT NULL THEN {v} END AS {c}" for c, v in values)
    return f"SELECT {columns} FROM {source} WHERE reason IS NOT NULL"


# The access logs' quarantined lines (streams.create_stream_store adds the error and application logs').
PARSED_QUARANTINE = nullable_quarantine("parsed")


def create_request_store(con: duckdb.DuckDBPyConnection) -> None:
    """``parsed`` holds every line of every file once; ``requests`` and ``quarantine`` are views over it.

    Keeping one copy (no separate requests table) halves memory and copying for large inputs. A line is a
    request when ``reason`` is NULL; otherwise it is quarantined and ``raw`` holds its first
    ``QUARANTINE_RAW_CHARS`` characters. (The statements' text is the same every run: parsed once per
    process, :func:`workspace.statement`.)
    """
    for sql in (
        f"CREATE TABLE parsed (file_id INTEGER, {REQUESTS_SCHEMA}, reason VARCHAR, raw VARCHAR, "
        "in_window BOOLEAN)",
        f"CREATE VIEW requests AS SELECT {REQUEST_COLUMNS} FROM parsed WHERE reason IS NULL AND in_window",
        f"CREATE VIEW quarantine AS {PARSED_QUARANTINE}",
    ):
        con.execute(statement(con, sql))


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


def sql_ident(name: str) -> str:
    """Quote a name as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def is_gzip(path: Path) -> bool:
    """Decide compression by magic bytes, not by name: rotated files are sometimes compressed later."""
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def detect_format(path: Path) -> str:
    """Pick the parser for a file: by extension for JSON lines/CSV, else by sniffing the first line
    (an nginx error log or an application log is told apart there too)."""
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
        from edgelog.analysis.streams import sniff  # the streams module builds on this one

        stream = sniff(line)
        if stream:
            return stream
        if _SNIFF_COMMON.match(line) and not _SNIFF_COMBINED.match(line):
            return "common"
        return "combined"
    return "combined"


def _reader_sql(paths: list[Path], gz: bool, rej: str, scan: str) -> str:
    files = ", ".join(sql_str(str(p)) for p in paths)
    return (
        f"read_csv([{files}], columns={{'line': 'VARCHAR'}}, delim='\x00', quote='', escape='', "
        f"header=false, auto_detect=false, max_line_size={MAX_LINE_BYTES}, "
        f"compression='{'gzip' if gz else 'none'}', store_rejects=true, rejects_table='{rej}', "
        f"rejects_scan='{scan}', ignore_errors=true, null_padding=false)"
    )


class LineCutter(Generic[AnyStr]):
    """Writes a stream chunk by chunk with every line cut to ``cap`` characters (bytes or text), keeping
    its line ends: a copy whose lines DuckDB's reader can all see (it drops a line longer than its buffer,
    16 x ``MAX_LINE_BYTES``, without a word), in constant memory whatever the lines' length. A ``cap`` of one
    over ``MAX_LINE_BYTES`` keeps a cut line too long, so the reader still rejects it as such, with the same
    first characters. Runs at C speed per chunk."""

    def __init__(self, write: Callable[[AnyStr], object], newline: AnyStr, cap: int = MAX_LINE_BYTES + 1):
        self._write: Callable[[AnyStr], object] = write
        self._newline: AnyStr = newline
        self.cap = cap
        self._run = 0  # the current line's length so far, before the cut
        self._longest = 0

    def __call__(self, data: AnyStr) -> None:
        cap, newline = self.cap, self._newline
        first = data.find(newline)
        if first < 0:
            self._write(data[: max(0, cap - self._run)])
            self._run += len(data)
            return
        self._write(data[: max(0, min(first, cap - self._run))])
        self._longest = max(self._longest, self._run + first)
        last = data.rfind(newline)
        middle = data[first:last]
        if len(middle) > cap:  # a line between them may be long too (rare: chunks are 4 MiB, cap 8 MiB)
            lines = middle.split(newline)
            self._longest = max(self._longest, *map(len, lines))
            middle = newline.join(line[:cap] for line in lines)
        self._write(middle)
        self._write(newline)
        tail = data[last + 1 :]
        self._write(tail[:cap])
        self._run = len(tail)

    @property
    def longest(self) -> int:
        """The longest line's length before the cut."""
        return max(self._longest, self._run)


def sanitize_copy(path: Path, gz: bool, dest: Path, *, cap: int = MAX_LINE_BYTES + 1) -> tuple[int, int]:
    """Copy a file that DuckDB's line reader rejected or lost lines of: line ends uniform, long lines cut.

    DuckDB's reader stops on a bare carriage return or on mixed LF / CRLF line ends (nginx and Apache never
    write either, other tools may). The copy turns CRLF into LF and any other CR into the text ``\\x0D``, the
    way nginx escapes it, so line numbers and all other bytes stay as they were; every line is at most
    ``cap`` bytes (:class:`LineCutter`). Returns the bytes read (uncompressed) and the longest line's length.
    """
    opener = gzip.open if gz else open
    cr_lf = re.compile(rb"\r\n")
    cr = re.compile(rb"\r")
    total = 0
    try:
        with opener(path, "rb") as src, dest.open("wb") as out:
            write = LineCutter(out.write, b"\n", cap)
            carry = b""
            while chunk := src.read(1 << 22):
                total += len(chunk)
                chunk = carry + chunk
                carry = b""
                if chunk.endswith(b"\r"):
                    chunk, carry = chunk[:-1], b"\r"
                write(cr.sub(rb"\\x0D", cr_lf.sub(b"\n", chunk)))
            write(cr.sub(rb"\\x0D", carry))
    except (OSError, EOFError, zlib.error) as exc:
        raise FileReadError(f"cannot read: {exc}") from exc
    return total, write.longest


def _read_lines(con: duckdb.DuckDBPyConnection, batch: list[ParseInput], scratch: Path) -> None:
    """Load the lines of ``batch`` (files of one compression) as ``_lines(file_id, line_no, line)`` and the
    lines DuckDB's reader rejected as ``_rejected(file_id, line_no, reason, raw, n_bytes)``, in one read.

    A batch of several files raises duckdb.Error when the read fails (the caller retries file by file), and
    FileReadError when it lost lines (see :func:`_lost_lines`). A single file is then read again from a
    sanitized copy (:func:`sanitize_copy`: line ends uniform, lines cut to one byte over ``MAX_LINE_BYTES``),
    or raises FileReadError.
    """
    rej, scan = "_rej_errors", "_rej_scans"
    ids = ", ".join(str(i.file_id) for i in batch)

    def attempt(sources: list[Path], compressed: bool) -> None:
        con.execute(f"DROP TABLE IF EXISTS {rej}")
        con.execute(f"DROP TABLE IF EXISTS {scan}")
        # With insertion order preserved, a table's rowid is the order rows were read in: file by file,
        # line by line. file_index is the file's position in the list.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _raw AS "
            f"SELECT ([{ids}])[file_index::INTEGER + 1] AS file_id, line "
            f"FROM {_reader_sql(sources, compressed, rej, scan)}"
        )
        _rejected_table(con, ids, rej)

    gz = batch[0].gz
    expected = {i.file_id: _expected_bytes(i.path, gz) for i in batch}  # before the read: a log may grow
    try:
        attempt([i.path for i in batch], gz)
        lost = _lost_lines(con, expected, gz)
    except duckdb.Error as exc:
        interrupts.check()
        if len(batch) > 1:
            raise
        first: BaseException | None = exc
    else:
        if not lost:
            first = None
        elif len(batch) > 1:
            raise FileReadError(f"lines lost by the reader in {len(lost)} file(s)")  # retried one by one
        else:
            first = FileReadError(lost[0])
    if first is not None:
        copy = scratch / "sanitized.log"
        try:
            sanitize_copy(batch[0].path, gz, copy)
            attempt([copy], False)
            lost = _lost_lines(con, {batch[0].file_id: copy.stat().st_size}, False)
            if lost:
                raise FileReadError(lost[0])
        except duckdb.Error:
            raise FileReadError(_short_error(first)) from first
        finally:
            copy.unlink(missing_ok=True)
    # Accepted row k of a file is its k-th line that is not a rejected one.
    k = "rowid - min(rowid) OVER (PARTITION BY file_id) + 1" if len(batch) > 1 else "rowid + 1"
    n_rej = con.execute("SELECT count(*) FROM _rejected").fetchone()[0]  # type: ignore[index]
    if n_rej:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW _lines AS
            WITH r AS (
              SELECT file_id,
                     line_no - row_number() OVER (PARTITION BY file_id ORDER BY line_no) AS accepted_before
              FROM _rejected
            )
            SELECT file_id,
                   k + (SELECT count(*) FROM r WHERE r.file_id = a.file_id AND r.accepted_before < k)
                     AS line_no, line
            FROM (SELECT file_id, {k} AS k, line FROM _raw) a
            """
        )
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _lines AS SELECT file_id, {k} AS line_no, line FROM _raw")


_OVER_SIZE = "e.error_type = 'LINE SIZE OVER MAXIMUM'"
_ACTUAL_SIZE = r"Actual Size:(\d+) bytes"  # in the reader's message for a line over the size limit


def _rejected_table(con: duckdb.DuckDBPyConnection, ids: str, rej: str) -> None:
    """``_rejected``: one row per line the reader rejected (it may record several errors for one line: a
    line over the size limit is named so, whatever else is wrong with it), with its length in bytes."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _rejected AS
        SELECT ([{ids}])[e.file_id::INTEGER + 1] AS file_id, e.line AS line_no,
               CASE WHEN bool_or({_OVER_SIZE}) THEN 'line longer than {MAX_LINE_BYTES} bytes'
                    ELSE CASE any_value(e.error_type)
                           WHEN 'INVALID ENCODING' THEN 'invalid UTF-8'
                           WHEN 'TOO MANY COLUMNS' THEN 'contains a NUL byte'
                           ELSE lower(any_value(e.error_type)) END END AS reason,
               left(arg_min(e.csv_line, NOT {_OVER_SIZE}), {QUARANTINE_RAW_CHARS}) AS raw,
               coalesce(max(try_cast(regexp_extract(e.error_message, '{_ACTUAL_SIZE}', 1) AS BIGINT)),
                        max(strlen(e.csv_line))) AS n_bytes
        FROM {rej} e GROUP BY e.file_id, e.line
        """
    )


def _expected_bytes(path: Path, gz: bool) -> int | None:
    """The bytes of a file's lines: a plain file's size; for gzip, its trailer's ISIZE, which is the size of
    the last member modulo 2**32 (the whole file's when it is one member, as gzip and logrotate write it)."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if not gz:
                return size
            if size < 18:  # a header and a trailer: not a gzip member (the read fails)
                return None
            fh.seek(size - 4)
            return int.from_bytes(fh.read(4), "little")
    except OSError:
        return None


def _lost_lines(con: duckdb.DuckDBPyConnection, expected: dict[int, int | None], gz: bool) -> list[str]:
    """Did the reader lose lines? Why, per file that lost some (none: an empty list).

    DuckDB's parallel reader drops a line longer than its buffer (16 x ``MAX_LINE_BYTES`` = 128 MiB) and
    records no reject. The bytes of the lines it returned and rejected, plus one newline each, make up the
    file's bytes, give or take a carriage return per line, a byte-order mark and a missing last newline; a
    shortfall beyond that and ``MAX_LINE_BYTES`` is lines lost. For gzip the comparison is modulo 2**32
    against the trailer's ISIZE: a file of several members (whose ISIZE is the last member's) may look short,
    and is then read from a sanitized copy whose size is exact, correctly at twice the cost.
    """
    rows = con.execute(
        """
        SELECT file_id, sum(n), sum(b) FROM (
          SELECT file_id, count(*) AS n, sum(coalesce(strlen(line), 0)) AS b FROM _raw GROUP BY file_id
          UNION ALL
          SELECT file_id, count(*), sum(coalesce(n_bytes, 0)) FROM _rejected GROUP BY file_id
        ) GROUP BY file_id
        """
    ).fetchall()
    got = {file_id: (int(n), int(b) + int(n)) for file_id, n, b in rows}
    lost = []
    for file_id, size in expected.items():
        if size is None:
            continue
        lines, accounted = got.get(file_id, (0, 0))
        short = size - accounted
        if gz:
            short %= 1 << 32
            if short == (1 << 32) - 1:  # -1: no newline after the last line
                continue
        if short > lines + 3 + MAX_LINE_BYTES:
            lost.append(f"lines lost by the reader: {short} bytes of the file are in no line read")
    return lost


def _short_error(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:500]


# Formats without latency, upstream, virtual host or X-Forwarded-For fields.
_NO_NEW_COLUMNS = (
    "NULL::DOUBLE AS request_time_s, NULL::DOUBLE AS upstream_time_s, NULL::VARCHAR AS upstream_addr, "
    "NULL::VARCHAR AS vhost, NULL::VARCHAR AS xff"
)

# One streaming pipeline (nested projections, no materialised CTE), so DuckDB runs it on all cores in
# constant memory; CASE evaluates the regex only for rows that are not on the fast path.
_COMBINED_SQL = rf"""
SELECT file_id, line_no, line, ts,
       ip, CASE WHEN esc THEN edgelog_unescape(ruser) ELSE ruser END AS remote_user, request,
       nullif(r.method, '') AS method, nullif(r.path, '') AS path, nullif(r.protocol, '') AS protocol,
       status, bytes, referer, ua AS user_agent,
       NULL::VARCHAR AS host, NULL::VARCHAR AS request_id, NULL::VARCHAR AS session_id,
       NULL::VARCHAR AS user_id, NULL::DOUBLE AS response_time_ms, {_NO_NEW_COLUMNS},
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
  SELECT *, {REQUEST_SPLIT} AS r
  FROM (
    SELECT *,
           try_strptime(tsstr, '{TS_FORMAT}') AS ts,
           CASE WHEN len(status_s) = 3 THEN try_cast(status_s AS INTEGER) END AS status,
           CASE WHEN bytes_s = '-' THEN 0::BIGINT
                WHEN NOT starts_with(bytes_s, '+') THEN try_cast(bytes_s AS UBIGINT)::BIGINT END AS bytes,
           string_split(request, ' ') AS rq
    FROM (
      SELECT file_id, line_no, line, esc,
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
            SELECT file_id, line_no, line, esc, p, p[1] AS head,
                   CASE WHEN len(p) >= 3 THEN string_split(trim(p[3]), ' ') END AS sb
            FROM (
              -- A line without a backslash cannot hold an escaped quote: split it on the quotes.
              SELECT file_id, line_no, line, coalesce(contains(line, '\'), false) AS esc,
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


def _ts(text: str) -> str:
    """``text`` as a timestamp; NULL when it is none or no point in time (DuckDB casts 'infinity')."""
    return f"(CASE WHEN isfinite(try_cast({text} AS TIMESTAMPTZ)) THEN try_cast({text} AS TIMESTAMPTZ) END)"


def _status(text: str) -> str:
    """Whether ``text`` is a status a server logs: an integer 0-999 (the combined parser takes 3 digits)."""
    return f"coalesce(try_cast({text} AS INTEGER) BETWEEN 0 AND 999, false)"


def _byte_count(text: str) -> str:
    """Whether ``text`` is a byte count: an integer >= 0 (the combined parser takes digits)."""
    return f"coalesce(try_cast({text} AS BIGINT) >= 0, false)"


def _duration(text: str) -> str:
    """Whether ``text`` is a duration: a finite number >= 0 (DuckDB casts 'NaN' and 'inf' to DOUBLE, which the
    latency reports could not count in microseconds)."""
    return f"coalesce(isfinite(try_cast({text} AS DOUBLE)) AND try_cast({text} AS DOUBLE) >= 0, false)"


_JSON_SQL = rf"""
WITH j AS (
  SELECT file_id, line_no, line, json_valid(line) AND starts_with(ltrim(line), '{{') AS ok FROM _lines
),
v AS (
  SELECT file_id, line_no, line, ok,
         CASE WHEN ok THEN json_extract_string(line, [{_JSON_FIELDS}]) END AS f
  FROM j
)
SELECT file_id, line_no, line, {_ts("f[1]")} AS ts, f[2] AS ip, f[3] AS remote_user,
       concat_ws(' ', f[4], f[5], f[6]) AS request, f[4] AS method, f[5] AS path, f[6] AS protocol,
       try_cast(f[7] AS INTEGER) AS status, try_cast(f[8] AS BIGINT) AS bytes, f[9] AS referer,
       f[10] AS user_agent, f[11] AS host, f[12] AS request_id, f[13] AS session_id, f[14] AS user_id,
       try_cast(f[15] AS DOUBLE) AS response_time_ms, try_cast(f[15] AS DOUBLE) / 1000 AS request_time_s,
       NULL::DOUBLE AS upstream_time_s, NULL::VARCHAR AS upstream_addr, f[11] AS vhost, NULL::VARCHAR AS xff,
       CASE WHEN line IS NULL OR trim(line) = '' THEN 'empty line'
            WHEN NOT ok THEN 'not a JSON object'
            WHEN {_ts("f[1]")} IS NULL THEN 'missing or bad ts'
            WHEN f[2] IS NULL THEN 'missing remote_addr'
            WHEN NOT {_status("f[7]")} THEN 'missing or bad status'
            WHEN f[8] IS NOT NULL AND NOT {_byte_count("f[8]")} THEN 'bad bytes'
            WHEN f[15] IS NOT NULL AND NOT {_duration("f[15]")} THEN 'bad response_time_ms'
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
  SELECT file_id, line_no, line, regexp_extract(line, '{_CSV_RE}', [{_CSV_NAMES}]) AS m
  FROM _lines WHERE line IS NULL OR NOT starts_with(line, 'ts,remote_addr,')
),
c AS (
  SELECT file_id, line_no, line, regexp_matches(coalesce(line, ''), '{_CSV_RE}') AS ok, {_CSV_COLS}
  FROM m0
)
SELECT file_id, line_no, line, {_ts("ts")} AS ts, remote_addr AS ip, remote_user,
       concat_ws(' ', method, path, protocol) AS request, nullif(method, '') AS method,
       nullif(path, '') AS path, nullif(protocol, '') AS protocol,
       try_cast(status AS INTEGER) AS status,
       coalesce(try_cast(nullif(nullif(bytes, '-'), '') AS BIGINT), 0) AS bytes,
       referer, user_agent, nullif(host, '') AS host, nullif(request_id, '') AS request_id,
       nullif(session_id, '') AS session_id, user_id, try_cast(nullif(response_time_ms, '') AS DOUBLE)
         AS response_time_ms, try_cast(nullif(response_time_ms, '') AS DOUBLE) / 1000 AS request_time_s,
       NULL::DOUBLE AS upstream_time_s, NULL::VARCHAR AS upstream_addr, nullif(host, '') AS vhost,
       NULL::VARCHAR AS xff,
       CASE WHEN line IS NULL OR trim(line) = '' THEN 'empty line'
            WHEN NOT ok THEN 'not a CSV record with {len(CSV_FIELDS)} fields'
            WHEN {_ts("ts")} IS NULL THEN 'missing or bad ts'
            WHEN NOT {_status("status")} THEN 'missing or bad status'
            WHEN coalesce(bytes, '') NOT IN ('', '-') AND NOT {_byte_count("bytes")} THEN 'bad bytes'
            WHEN nullif(response_time_ms, '') IS NOT NULL AND NOT {_duration("response_time_ms")}
              THEN 'bad response_time_ms'
       END AS reason
FROM c
"""

_PARSERS = {"combined": _COMBINED_SQL, "common": _COMBINED_SQL, "json": _JSON_SQL, "csv": _CSV_SQL}


@dataclass(frozen=True)
class ParseInput:
    """One file to parse: its id in ``parsed``, its format and compression, and what its rows are labelled."""

    file_id: int
    path: Path
    fmt: str | LogFormat  # a built-in format's name or a --log-format definition
    gz: bool
    label: str
    node_id: str | None


BATCH_FILES = 512  # files read by one call at most
BATCH_BYTES = 64 * 1024 * 1024  # ... and bytes (uncompressed estimate); a larger file is read alone
SMALL_FILE_BYTES = 1024 * 1024  # files up to this size (gzip counted 10x) are read whole and split in SQL


def parser_sql(fmt: str | LogFormat, source: str = "_lines") -> str:
    """The SQL that parses ``source(file_id, line_no, line)`` in format ``fmt``.

    Its columns: ``file_id, line_no, line``, the ``requests`` fields (``ts`` .. ``xff``, not yet normalised)
    and ``reason`` (NULL for a request, else why the line is quarantined). This is the one place a new line
    format plugs into the pipeline: a built-in format by name, or a log format definition compiled by
    :mod:`edgelog.analysis.format_columns`.
    """
    if isinstance(fmt, LogFormat):
        return format_columns.parser_sql(fmt, source)
    sql = _PARSERS[fmt]
    return sql.replace("FROM _lines", f"FROM {source}") if source != "_lines" else sql


@functools.cache
def format_id(fmt: str | LogFormat) -> str:
    """What a parse in ``fmt`` is known by (the parse cache keys entries with it): a built-in format's name,
    or for a definition its label and the sha256 of the SQL it compiles to, so a different definition never
    reuses another's parse, whatever the two are named, and neither does one compiled differently."""
    if isinstance(fmt, LogFormat):
        digest = hashlib.sha256(parser_sql(fmt).encode()).hexdigest()
        return f"{fmt.syntax}:{fmt.name or 'custom'}:{digest}"
    return fmt


def batches(inputs: list[ParseInput]) -> list[list[ParseInput]]:
    """Group files by format, compression and size class into reads of at most BATCH_FILES files and
    BATCH_BYTES bytes."""
    groups: dict[tuple[str | LogFormat, bool, bool], list[list[ParseInput]]] = {}
    sizes: dict[tuple[str | LogFormat, bool, bool], int] = {}
    for i in inputs:
        try:
            size = i.path.stat().st_size * (10 if i.gz else 1)
        except OSError:
            size = 0
        key = (i.fmt, i.gz, size <= SMALL_FILE_BYTES)
        chunks = groups.setdefault(key, [[]])
        if chunks[-1] and (len(chunks[-1]) >= BATCH_FILES or sizes[key] + size > BATCH_BYTES):
            chunks.append([])
            sizes[key] = 0
        chunks[-1].append(i)
        sizes[key] = sizes.get(key, 0) + size
    return [chunk for chunks in groups.values() for chunk in chunks if chunk]


def load_files(
    con: duckdb.DuckDBPyConnection,
    inputs: list[ParseInput],
    *,
    since_sql: str,
    until_sql: str,
    scratch: Path,
) -> dict[int, str]:
    """Parse files into ``parsed`` (one read and one INSERT per batch of files); return errors by file id.

    A batch whose read or insert fails is retried file by file, so one unreadable file (corrupt gzip,
    permission denied, odd line ends) fails alone and leaves no rows behind.
    """
    errors: dict[int, str] = {}
    for batch in batches(inputs):
        try:
            errors.update(_load_batch(con, batch, since_sql, until_sql, scratch))
        except (duckdb.Error, FileReadError) as exc:
            interrupts.check()  # an interrupted query surfaces as an error: stop, do not retry
            if len(batch) == 1:
                errors[batch[0].file_id] = _short_error(exc)
                continue
            for single in batch:
                try:
                    errors.update(_load_batch(con, [single], since_sql, until_sql, scratch))
                except (duckdb.Error, FileReadError) as exc1:
                    interrupts.check()
                    errors[single.file_id] = _short_error(exc1)
    return errors


def _load_batch(
    con: duckdb.DuckDBPyConnection, batch: list[ParseInput], since_sql: str, until_sql: str, scratch: Path
) -> dict[int, str]:
    """Load one batch; raise (with nothing inserted) or return the errors of files that failed alone."""
    if not _all_small(batch):
        _load_batch_csv(con, batch, since_sql, until_sql, scratch)
        return {}
    rest = _read_small(con, batch)
    if len(rest) < len(batch):
        _insert_batch(con, [i for i in batch if i not in rest], since_sql, until_sql)
    errors = {}
    for i in rest:  # not UTF-8 text with LF line ends, or unreadable: DuckDB's line reader decides
        try:
            _load_batch_csv(con, [i], since_sql, until_sql, scratch)
        except (duckdb.Error, FileReadError) as exc:
            interrupts.check()
            errors[i.file_id] = _short_error(exc)
    return errors


def _all_small(batch: list[ParseInput]) -> bool:
    try:
        return all(i.path.stat().st_size * (10 if i.gz else 1) <= SMALL_FILE_BYTES for i in batch)
    except OSError:
        return False


def _small_text(i: ParseInput) -> str | None:
    """A small file's text when splitting it on LF gives exactly DuckDB's lines, else None."""
    try:
        with i.path.open("rb") as fh:
            data = fh.read(SMALL_FILE_BYTES + 1)
        if i.gz:
            # Bounded: a small gzip file may expand a thousandfold; more than SMALL_FILE_BYTES, several
            # members or a truncated stream go to the line reader, which streams and reports errors.
            z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = z.decompress(data, SMALL_FILE_BYTES + 1)
            if not z.eof or z.unused_data or z.unconsumed_tail:
                return None
        if len(data) > SMALL_FILE_BYTES:
            return None
        text = data.decode("utf-8")
    except (OSError, zlib.error, UnicodeDecodeError):
        return None
    if "\r" in text or text.startswith("\ufeff"):
        return None
    return text


# After ``_text`` holds the small files' text: their lines (``_split``, ``_lines``) and NUL-byte rejects.
_SPLIT_SMALL = (
    """
    CREATE OR REPLACE TEMP TABLE _split AS
    SELECT file_id, generate_subscripts(l, 1) AS line_no, unnest(l) AS line
    FROM (
      SELECT file_id,
             string_split(CASE WHEN ends_with(text, chr(10)) THEN left(text, -1) ELSE text END, chr(10))
               AS l
      FROM _text WHERE text <> ''
    )
    """,
    "DROP TABLE _text",
    "CREATE OR REPLACE TEMP VIEW _lines AS SELECT * FROM _split WHERE NOT contains(line, chr(0))",
    f"""
    CREATE OR REPLACE TEMP TABLE _rejected AS
    SELECT file_id, line_no, 'contains a NUL byte' AS reason, left(line, {QUARANTINE_RAW_CHARS}) AS raw
    FROM _split WHERE contains(line, chr(0))
    """,
)


def _read_small(con: duckdb.DuckDBPyConnection, batch: list[ParseInput]) -> list[ParseInput]:
    """Load small files whole and split them into ``_lines`` in SQL (read_csv costs milliseconds per file).

    Only files that are valid UTF-8 without carriage returns or a byte-order mark are taken: for them,
    splitting on LF gives exactly the lines (and NUL-byte lines, as rejects) DuckDB's line reader gives.
    Returns the files not taken (odd or unreadable), which the caller reads with the line reader.
    """
    texts: dict[int, str] = {}
    total = 0
    for i in batch:  # at most BATCH_BYTES of text in memory (gzip estimates can be low)
        text = _small_text(i) if total <= BATCH_BYTES else None
        if text is not None:
            texts[i.file_id] = text
            total += len(text)
    con.execute(
        statement(
            con,
            "CREATE OR REPLACE TEMP TABLE _text AS "
            "SELECT unnest(?::INTEGER[]) AS file_id, unnest(?::VARCHAR[]) AS text",
        ),
        [list(texts), list(texts.values())],
    )
    for sql in _SPLIT_SMALL:
        con.execute(statement(con, sql))
    return [i for i in batch if i.file_id not in texts]


def _load_batch_csv(
    con: duckdb.DuckDBPyConnection, batch: list[ParseInput], since_sql: str, until_sql: str, scratch: Path
) -> None:
    _read_lines(con, batch, scratch)
    _insert_batch(con, batch, since_sql, until_sql)


def _insert_batch(
    con: duckdb.DuckDBPyConnection, batch: list[ParseInput], since_sql: str, until_sql: str
) -> None:
    """Parse ``_lines`` and ``_rejected`` (the files of ``batch``, one format) into ``parsed``, atomically."""
    window = f"ts >= {since_sql} AND ts < {until_sql}"
    params: list[object] = []
    if len(batch) == 1:
        # the label and node are parameters: the text is the same for every file (the format's parser and
        # the window), parsed once per process (workspace.statement; the parser is ~5 KB of SQL)
        only = batch[0]
        labels, label_cols = "", "?::VARCHAR AS node_id, ?::VARCHAR AS file"
        params = [only.node_id, only.label]
    else:
        rows = ", ".join(
            f"({i.file_id}, {sql_str(i.node_id) if i.node_id is not None else 'NULL'}, {sql_str(i.label)})"
            for i in batch
        )
        labels, label_cols = (
            f" JOIN (VALUES {rows}) f(file_id, node_id, file) USING (file_id)",
            "node_id, file",
        )

    def run(sql: str) -> None:
        if params:
            con.execute(statement(con, sql), params)
        else:
            con.execute(sql)

    con.execute("BEGIN TRANSACTION")
    try:
        run(
            f"""
            INSERT INTO parsed
            SELECT file_id, {label_cols}, line_no, ts, ip, edgelog_nullif_dash(remote_user), request,
                   method, path, split_part(path, '?', 1), protocol, status, bytes,
                   edgelog_nullif_dash(referer), user_agent, host, request_id, session_id,
                   nullif(user_id, ''), response_time_ms, request_time_s, upstream_time_s, upstream_addr,
                   vhost, xff, ip, {VISITOR_HASH.format(client_ip="ip")},
                   reason,
                   CASE WHEN reason IS NOT NULL THEN left(coalesce(line, ''), {QUARANTINE_RAW_CHARS}) END,
                   coalesce({window}, false)
            FROM ({parser_sql(batch[0].fmt)}){labels}
            """
        )
        run(
            f"""
            INSERT INTO parsed (file_id, node_id, file, line_no, reason, raw, in_window)
            SELECT file_id, {label_cols}, line_no, reason, coalesce(raw, ''), false FROM _rejected{labels}
            """
        )
        con.execute("COMMIT")
    except BaseException:  # a failed read, or an interrupt half-way, leaves no rows behind
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP VIEW IF EXISTS _lines")
        con.execute("DROP TABLE IF EXISTS _raw")
        con.execute("DROP TABLE IF EXISTS _split")


def load_parsed(
    con: duckdb.DuckDBPyConnection,
    entries: list[tuple[ParseInput, Path]],
    *,
    since_sql: str,
    until_sql: str,
    quarantined_only: bool = False,
) -> None:
    """Insert parsed rows (``PARSED_COLUMNS``, one Parquet file per input) in one parallel scan; only the
    quarantined lines with ``quarantined_only``."""
    if not entries:
        return
    files = ", ".join(sql_str(str(p)) for _, p in entries)
    rows = ", ".join(
        f"({n}, {i.file_id}, {sql_str(i.node_id) if i.node_id is not None else 'NULL'}, {sql_str(i.label)})"
        for n, (i, _) in enumerate(entries)
    )
    con.execute(
        f"""
        INSERT INTO parsed
        SELECT f.file_id, f.node_id, f.file, {PARSED_COLUMNS},
               coalesce(ts >= {since_sql} AND ts < {until_sql}, false)
        FROM (SELECT file_index::INTEGER AS n, * FROM read_parquet([{files}]))
        JOIN (VALUES {rows}) f(n, file_id, node_id, file) USING (n)
        {"WHERE reason IS NOT NULL" if quarantined_only else ""}
        """
    )


def file_counts(con: duckdb.DuckDBPyConnection) -> dict[int, FileCounts]:
    """Per-file line accounting from ``parsed``, in one pass (a file with no lines has no entry)."""
    rows = con.execute(
        statement(
            con,
            """
        SELECT file_id, count(*),
               count(*) FILTER (WHERE reason IS NULL),
               count(*) FILTER (WHERE reason IS NOT NULL),
               count(*) FILTER (WHERE reason IS NULL AND NOT in_window),
               strftime(min(ts) FILTER (WHERE reason IS NULL AND in_window), '%Y-%m-%dT%H:%M:%S.%gZ'),
               strftime(max(ts) FILTER (WHERE reason IS NULL AND in_window), '%Y-%m-%dT%H:%M:%S.%gZ')
        FROM parsed GROUP BY file_id
        """,
        )
    ).fetchall()
    return {
        r[0]: FileCounts(
            lines_read=r[1],
            lines_parsed=r[2],
            lines_quarantined=r[3],
            lines_outside_window=r[4],
            first_ts=r[5],
            last_ts=r[6],
        )
        for r in rows
    }
