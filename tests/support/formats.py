"""Hypothesis strategies for log format definitions and for lines written in them.

A definition is drawn as a sequence of fields (nginx variables or Apache directives of every grammar the
parser knows) and literal separators; values are drawn from each field's domain, including everything a
client can send in text fields (quotes, backslashes, control bytes, UTF-8 and invalid UTF-8).
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import assume
from hypothesis import strategies as st

from edgelog.logformat import FormatError, LogFormat, parse_definition
from edgelog.logformat.codec import canonical_text
from edgelog.logformat.model import Field

NGINX_VARS = [
    "remote_addr",
    "remote_user",
    "time_local",
    "time_iso8601",
    "msec",
    "request",
    "request_method",
    "request_uri",
    "status",
    "body_bytes_sent",
    "bytes_sent",
    "request_time",
    "upstream_response_time",
    "upstream_addr",
    "upstream_status",
    "host",
    "http_referer",
    "http_user_agent",
    "http_x_forwarded_for",
    "request_id",
    "scheme",
    "server_protocol",
    "ssl_protocol",
    "gzip_ratio",
    "pipe",
    "connection",
    "my_unknown_var",
]
APACHE_DIRECTIVES = [
    "%h",
    "%a",
    "%l",
    "%u",
    "%t",
    "%r",
    "%m",
    "%U",
    "%q",
    "%H",
    "%>s",
    "%b",
    "%B",
    "%O",
    "%D",
    "%T",
    "%{ms}T",
    "%v",
    "%V",
    "%p",
    "%{Referer}i",
    "%{User-Agent}i",
    "%{X-Forwarded-For}i",
    "%{Set-Cookie}o",
    "%{sec}t",
    "%{msec}t",
    "%{%Y-%m-%dT%H:%M:%S}t",
    "%{%d/%b/%Y %T %z}t",
    "%k",
    "%X",
    "%L",
    "%400,501{User-Agent}i",
]
SEPARATORS = [" ", " - ", ' "', '" "', '" ', "[", "] ", "\t", "|", " rt=", '","', ",", ";", " : ", ":", "/"]


@st.composite
def definitions(draw: st.DrawFn) -> LogFormat:
    """A definition the parser accepts: nginx (any escape=) or Apache, 1 to 8 fields."""
    syntax = draw(st.sampled_from(["nginx", "apache"]))
    names = draw(
        st.lists(
            st.sampled_from(NGINX_VARS if syntax == "nginx" else APACHE_DIRECTIVES), min_size=1, max_size=8
        )
    )
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(names) + 1, max_size=len(names) + 1))
    quote_text = draw(st.booleans())
    parts = [draw(st.sampled_from(["", "[", '"', "{"]))]
    for i, name in enumerate(names):
        token = (
            f"${{{name}}}"
            if syntax == "nginx" and draw(st.booleans())
            else ("$" + name if syntax == "nginx" else name)
        )
        if quote_text:
            token = f'"{token}"'
        parts.append(token)
        parts.append(seps[i + 1] if i + 1 < len(names) else draw(st.sampled_from(["", "]", '"', "}", " x"])))
    text = "".join(parts)
    if syntax == "nginx":
        escape = draw(st.sampled_from(["default", "json", "none"]))
        text = text.replace("'", "")
        definition = text if escape == "default" else f"escape={escape} '{text}'"
    else:
        definition = text.replace("\\", "").replace('"', '\\"')
    try:
        return parse_definition(definition)
    except FormatError:
        assume(False)
        raise


def _dt(draw: st.DrawFn) -> datetime:
    offset = draw(st.integers(-14 * 60, 14 * 60))
    base = draw(st.datetimes(datetime(1971, 1, 1), datetime(2099, 12, 31)))
    return base.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset)))


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _offset(dt: datetime, colon: bool) -> str:
    off = dt.utcoffset()
    assert off is not None
    minutes = int(off.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h:02d}:{m:02d}" if colon else f"{sign}{h:02d}{m:02d}"


def clf(dt: datetime) -> str:
    return f"{dt.day:02d}/{MONTHS[dt.month - 1]}/{dt.year}:{dt:%H:%M:%S} {_offset(dt, False)}"


def _secs(draw: st.DrawFn) -> str:
    ms = draw(st.integers(0, 10**7))
    return f"{ms // 1000}.{ms % 1000:03d}"


TOKEN_CHARS = "".join(c for c in string.printable if c not in ' "\t\n\r\x0b\x0c')
ENTRY_CHARS = "".join(c for c in TOKEN_CHARS if c != ",")


# Pieces of log lines, so values contain the separators and structures around them.
FRAGMENTS = [
    *SEPARATORS,
    '"',
    "\\",
    "-",
    "200",
    "0.001",
    "\\x22",
    '\\"',
    "[23/Nov/2026:08:00:00 +0000]",
    ", ",
    "\x00",
]


def nasty_text() -> st.SearchStrategy[str]:
    """Text as clients send it, biased towards the separators and escapes of log lines."""
    piece = st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=6), st.sampled_from(FRAGMENTS)
    )
    return st.lists(piece, max_size=6).map("".join)


@st.composite
def written_value(draw: st.DrawFn, f: LogFormat | None, field: Field) -> str | bytes | None:
    """A raw value for ``field`` as the server would have it before escaping (``None``: absent)."""
    if field.null is not None and draw(st.integers(0, 9)) == 0:
        return None
    kind = field.kind.name
    if kind == "text":
        escape = f.escape if f is not None else "default"
        if escape != "json" and escape != "none" and draw(st.integers(0, 4)) == 0:
            return draw(st.binary(max_size=20))
        text = draw(nasty_text())
        if escape == "none":
            text = text.replace("\n", "").replace("\r", "")  # a raw line end would end the record
        return text
    if kind == "addr":
        return draw(st.from_regex(r"[0-9A-Za-z.:%_/\[\]-]{0,20}", fullmatch=True))
    if kind == "token":
        return draw(st.text(alphabet=TOKEN_CHARS, max_size=15))
    if kind == "clf_time":
        return clf(_dt(draw))
    if kind == "iso_time":
        dt = _dt(draw)
        return f"{dt:%Y-%m-%dT%H:%M:%S}{_offset(dt, True)}"
    if kind in ("epoch_msec", "seconds"):
        return _secs(draw)
    if kind in ("int", "epoch_int"):
        return str(draw(st.integers(0, 10**12)))
    if kind == "status":
        return f"{draw(st.integers(0, 999)):03d}"
    if kind == "request_id":
        return "".join(draw(st.lists(st.sampled_from("0123456789abcdef"), min_size=32, max_size=32)))
    if kind == "ratio":
        return f"{draw(st.integers(0, 99))}.{draw(st.integers(0, 99)):02d}"
    if kind == "pipe":
        return draw(st.sampled_from("p."))
    if kind in ("seconds_list", "status_list", "addr_list"):
        entry = {
            "seconds_list": st.one_of(
                st.just("-"), st.builds(lambda ms: f"{ms // 1000}.{ms % 1000:03d}", st.integers(0, 10**6))
            ),
            "status_list": st.one_of(st.just("-"), st.integers(100, 599).map(str)),
            "addr_list": st.text(alphabet=ENTRY_CHARS, min_size=1, max_size=12),
        }[kind]
        entries = draw(st.lists(entry, min_size=1, max_size=4))
        out = entries[0]
        for e in entries[1:]:
            out += draw(st.sampled_from([", ", " : "])) + e
        return out
    if kind == "frac3":
        return f"{draw(st.integers(0, 999)):03d}"
    if kind == "frac6":
        return f"{draw(st.integers(0, 999_999)):06d}"
    if kind == "strftime":
        assert field.strftime is not None
        dt = _dt(draw)
        return dt.strftime(field.strftime)
    raise AssertionError(f"no strategy for {kind}")


def expected_text(fmt: LogFormat, field: Field, value: str | bytes | None) -> str:
    """What parsing gives back for a raw value: the null token, the text, or the canonical bytes form."""
    if value is None:
        assert field.null is not None
        return field.null
    if isinstance(value, bytes):
        return canonical_text(value)
    return value


_ = UTC
