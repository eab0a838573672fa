"""Map a log format's fields onto the ``requests`` columns: the parser SQL for ``--log-format``.

:func:`parser_sql` wraps :func:`edgelog.analysis.format_sql.fields_sql` (which splits lines into field texts)
with the conversions every parser makes: the timestamp from whichever time fields the format has, the
request line split into method, path and protocol as the built-in parser splits it, numbers, and the new
columns ``request_time_s``, ``upstream_time_s``, ``upstream_addr``, ``vhost`` and ``xff``. Where several
fields could fill a column, the first one of the list in ``SOURCES`` that the format has wins.
"""

from __future__ import annotations

from edgelog.analysis.format_sql import fields_sql, lit
from edgelog.logformat import Field, LogFormat
from edgelog.logformat.definitions import check_analysable
from edgelog.logformat.model import TIME_FIELDS

# requests column -> fields that can fill it, best first
SOURCES: dict[str, tuple[str, ...]] = {
    "ip": ("remote_addr", "client_addr", "remote_host", "peer_addr"),
    "remote_user": ("remote_user",),
    "request": ("request",),
    "method": ("request_method",),
    "target": ("request_uri",),
    "uri": ("uri",),
    "args": ("args", "query_string"),
    "protocol": ("server_protocol",),
    "status": ("status", "status_orig"),
    "bytes": ("body_bytes_sent", "bytes_sent"),
    "referer": ("http_referer",),
    "user_agent": ("http_user_agent",),
    "host": ("host", "http_host"),
    "request_id": ("request_id",),
    "request_time_s": ("request_time", "request_time_us", "request_time_ms", "request_time_s"),
    "upstream_time_s": ("upstream_response_time",),
    "upstream_addr": ("upstream_addr",),
    "vhost": ("vhost", "server_name", "host", "http_host"),
    "xff": ("http_x_forwarded_for",),
}
REQUEST_RE = r"^([A-Za-z]+) (.+?)(?: (HTTP/[0-9.]+))?$"

# The usual "METHOD target HTTP/x.y" splits on spaces; anything else (no protocol, spaces in the target,
# garbage) goes through the request regex. Shared with the built-in combined parser.
REQUEST_SPLIT = f"""CASE WHEN len(rq) = 3 AND starts_with(rq[3], 'HTTP/')
                   AND (rq[1] IN ('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH')
                        OR regexp_full_match(rq[1], '[A-Za-z]+'))
              THEN {{'method': rq[1], 'path': rq[2], 'protocol': rq[3]}}
              ELSE regexp_extract(request, '{REQUEST_RE}', ['method', 'path', 'protocol']) END"""


class _Columns:
    """Field lookups for one format: the SQL of a field's text (NULL when absent) by canonical name."""

    def __init__(self, fmt: LogFormat):
        self.fmt = fmt
        self.index: dict[str, tuple[int, Field]] = {}
        for i, f in enumerate(fmt.fields, start=1):
            self.index.setdefault(f.name, (i, f))

    def field(self, column: str) -> tuple[int, Field] | None:
        return next((self.index[n] for n in SOURCES[column] if n in self.index), None)

    def raw(self, column: str) -> str:
        """The field's text, kept as written (the built-in parsers keep '-' user agents, for example)."""
        got = self.field(column)
        return f"f{got[0]}" if got else "NULL::VARCHAR"

    def value(self, column: str) -> str:
        """The field's text, NULL when the server wrote "no value"."""
        got = self.field(column)
        if got is None:
            return "NULL::VARCHAR"
        i, f = got
        return f"f{i}" if f.null is None else f"nullif(f{i}, {lit(f.null)})"

    def number(self, column: str) -> str:
        """A numeric field in seconds (DOUBLE), scaled by the field's unit."""
        got = self.field(column)
        if got is None:
            return "NULL::DOUBLE"
        i, f = got
        scale = "" if f.unit == 1.0 else f" * {f.unit!r}"
        return f"try_cast(f{i} AS DOUBLE){scale}"


_EPOCH_LIMIT_S = 253402300800  # 10000-01-01T00:00:00Z: the first second DuckDB's conversions refuse
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000}


def _epoch(value: str, unit: str) -> str:
    """A time since the epoch in ``unit`` as a timestamp; NULL (a bad line) outside 1970 to 9999, which the
    conversions would turn into an error that fails the whole file."""
    convert = {"s": "to_timestamp", "ms": "epoch_ms", "us": "make_timestamp"}[unit]
    limit = _EPOCH_LIMIT_S * _PER_SECOND[unit]
    return f"CASE WHEN {value} >= 0 AND {value} < {limit} THEN {convert}({value}) END"


def _ts(c: _Columns) -> str:
    """The request time: the most precise time field the format has."""
    idx = c.index
    if "msec" in idx:  # nginx $msec: seconds with exactly three decimals
        return _epoch(f"try_cast(replace(f{idx['msec'][0]}, '.', '') AS BIGINT)", "ms")
    for name, unit in (("time_usec", "us"), ("time_msec", "ms"), ("time_sec", "s")):
        if name in idx:
            return _epoch(f"try_cast(f{idx[name][0]} AS BIGINT)", unit)
    frac = ""
    if "time_msec_frac" in idx:
        frac = f" + to_milliseconds(try_cast(f{idx['time_msec_frac'][0]} AS BIGINT))"
    elif "time_usec_frac" in idx:
        frac = f" + to_microseconds(try_cast(f{idx['time_usec_frac'][0]} AS BIGINT))"
    if "time_iso8601" in idx:
        return f"try_strptime(f{idx['time_iso8601'][0]}, '%Y-%m-%dT%H:%M:%S%z'){frac}"
    if "time_local" in idx:
        return f"try_strptime(f{idx['time_local'][0]}, '%d/%b/%Y:%H:%M:%S %z'){frac}"
    # Apache %{...}t: every custom part together (a zone may be logged apart from the clock); no zone: UTC
    parts = [(i, f) for i, f in enumerate(c.fmt.fields, start=1) if f.name == "time_custom"]
    text = " || '|' || ".join(f"f{i}" for i, _ in parts)
    fmt = "|".join((f.strftime or "").replace("'", "''") for _, f in parts)
    return f"try_strptime({text}, '{fmt}')::TIMESTAMPTZ{frac}"


def _time_text(c: _Columns) -> str:
    """The written time, for the quarantine reason."""
    for name in TIME_FIELDS:
        if name in c.index:
            return f"f{c.index[name][0]}"
    return "''"


def parser_sql(fmt: LogFormat, source: str = "_lines", *, fast_path: bool = True) -> str:
    """SELECT the columns every parser gives (see ``edgelog.analysis.parse``) for lines of ``fmt``."""
    check_analysable(fmt)
    c = _Columns(fmt)
    request = c.value("request")
    if request == "NULL::VARCHAR" and c.field("method"):  # $request_method $request_uri $server_protocol
        target = c.value("target")
        if target == "NULL::VARCHAR" and c.field("uri"):
            args = c.value("args")
            target = f"{c.value('uri')} || coalesce('?' || nullif(ltrim({args}, '?'), ''), '')"
        request = f"concat_ws(' ', {c.value('method')}, {target}, {c.value('protocol')})"
    status = c.field("status")
    assert status is not None
    bytes_ = c.field("bytes")
    bytes_sql = "0::BIGINT"
    if bytes_ is not None:
        i = bytes_[0]
        bytes_sql = f"CASE WHEN f{i} = '-' THEN 0::BIGINT ELSE try_cast(f{i} AS BIGINT) END"
    upstream = c.field("upstream_time_s")
    upstream_sql = "NULL::DOUBLE"
    if upstream is not None:
        # the time spent on every upstream tried, across internal redirects: "0.010, 0.020 : 0.005"
        v = f"f{upstream[0]}"
        upstream_sql = (
            f"CASE WHEN NOT contains({v}, ',') AND NOT contains({v}, ':') THEN try_cast({v} AS DOUBLE) "
            f"ELSE list_sum(list_transform(string_split(replace({v}, ' : ', ', '), ', '), "
            "lambda x: try_cast(x AS DECIMAL(18, 3))))::DOUBLE END"
        )
    label = fmt.name or "custom"
    return f"""
SELECT file_id, line_no, line, ts, ip, remote_user, request,
       nullif(r.method, '') AS method, nullif(r.path, '') AS path, nullif(r.protocol, '') AS protocol,
       status, bytes, referer, user_agent, host, request_id,
       NULL::VARCHAR AS session_id, NULL::VARCHAR AS user_id, request_time_s * 1000 AS response_time_ms,
       request_time_s, upstream_time_s, upstream_addr, vhost, xff,
       CASE WHEN matched AND ts IS NOT NULL AND status IS NOT NULL AND bytes IS NOT NULL THEN NULL
            WHEN line IS NULL OR trim(line) = '' THEN 'empty line'
            WHEN NOT matched THEN {lit(f"not a line of log format {label!r}")}
            WHEN ts IS NULL THEN 'bad timestamp: ' || left(tsstr, 64)
            WHEN status IS NULL THEN 'bad status: ' || left(status_s, 64)
            ELSE 'bad byte count'
       END AS reason
FROM (
  SELECT *, {REQUEST_SPLIT} AS r
  FROM (
    SELECT file_id, line_no, line, matched, {_ts(c)} AS ts, {_time_text(c)} AS tsstr,
           {c.value("ip")} AS ip, {c.raw("remote_user")} AS remote_user, {request} AS request,
           string_split({request}, ' ') AS rq,
           f{status[0]} AS status_s, try_cast(f{status[0]} AS INTEGER) AS status, {bytes_sql} AS bytes,
           {c.raw("referer")} AS referer, {c.raw("user_agent")} AS user_agent, {c.value("host")} AS host,
           {c.value("request_id")} AS request_id, {c.number("request_time_s")} AS request_time_s,
           {upstream_sql} AS upstream_time_s, {c.value("upstream_addr")} AS upstream_addr,
           {c.value("vhost")} AS vhost, {c.value("xff")} AS xff
    FROM ({fields_sql(fmt, source, fast_path=fast_path)})
  )
)"""
