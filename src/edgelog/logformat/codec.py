"""Write and read single lines of a :class:`LogFormat` in Python, byte for byte as the servers do.

This is the reference the DuckDB parser is tested against and what the generator writes with: the
escapers reproduce ``ngx_http_log_escape`` (escape=default), ``ngx_escape_json`` (escape=json) and
Apache's ``ap_escape_logitem``; :func:`line_regex` is the same full-line regex the SQL escape-aware path
uses; :func:`unescape` gives what the SQL unescape gives (the bytes sent, as text when valid UTF-8, else in
the canonical ``\\xHH`` form).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from edgelog.logformat.model import Escape, Field, Literal, LogFormat, re_literal

_HEX = "0123456789ABCDEF"
_NGINX = [chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02X}" for b in range(256)]
_APACHE_NAMED = {0x08: "\\b", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x0B: "\\v", 0x5C: "\\\\", 0x22: '\\"'}
_APACHE = [_APACHE_NAMED.get(b, chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}") for b in range(256)]
_JSON_NAMED = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0C: "\\f"}


def _raw(value: str | bytes) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def escape_nginx(value: str | bytes) -> str:
    """nginx escape=default: ``"``, ``\\``, controls and bytes >= 0x7F as ``\\xHH``."""
    return "".join([_NGINX[b] for b in _raw(value)])


def escape_apache(value: str | bytes) -> str:
    """Apache ``ap_escape_logitem``: ``\\"``, ``\\\\``, ``\\b\\n\\r\\t\\v``, other non-printable ``\\xhh``."""
    return "".join([_APACHE[b] for b in _raw(value)])


def escape_json(value: str | bytes) -> str:
    """nginx escape=json: ``\\"``, ``\\\\``, named or ``\\u00XX`` controls; other bytes as they are."""
    out = bytearray()
    for b in _raw(value):
        if b > 0x1F:
            if b in (0x22, 0x5C):
                out.append(0x5C)
            out.append(b)
        elif b in _JSON_NAMED:
            out += _JSON_NAMED[b].encode()
        else:
            out += f"\\u00{b >> 4}{_HEX[b & 0xF]}".encode()
    return out.decode("utf-8", "surrogateescape")


def escape_none(value: str | bytes) -> str:
    return _raw(value).decode("utf-8", "surrogateescape")


ESCAPERS = {"default": escape_nginx, "apache": escape_apache, "json": escape_json, "none": escape_none}

_ESCAPED_TEXT = re.compile(r'(?:[^\\]|\\[\\"tnrvb]|\\x[0-9A-Fa-f]{2})*')
_ONE_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)")
_NAMED = {"\\": 0x5C, '"': 0x22, "t": 0x09, "n": 0x0A, "r": 0x0D, "v": 0x0B, "b": 0x08}


def canonical_text(raw: bytes) -> str:
    """Bytes as text: UTF-8 when valid, else printable ASCII as is and every other byte (and the quotes and
    the backslash) as ``\\xHH``, which is how DuckDB casts such a BLOB to VARCHAR."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(chr(b) if 0x20 <= b < 0x7F and b not in b"\"'\\" else f"\\x{b:02X}" for b in raw)


def unescape(value: str, escape: Escape) -> str:
    """Undo a server's escaping of one field value, exactly as the SQL macros do.

    nginx's and Apache's escapes are undone by one rule (nginx never writes the backslash forms Apache uses,
    so a ``combined`` line from either server gives the same values). A value with anything else after a
    backslash, or with raw non-ASCII text, was not written by the server's escaping and is kept as written.
    """
    if escape == "none" or "\\" not in value:
        return value
    if escape == "json":
        try:
            decoded = json.loads('"' + value + '"')
        except ValueError:
            return value
        return decoded if isinstance(decoded, str) else value
    if not value.isascii() or _ESCAPED_TEXT.fullmatch(value) is None:
        return value
    out = bytearray()
    pos = 0
    for m in _ONE_ESCAPE.finditer(value):
        out += value[pos : m.start()].encode("ascii")
        e = m.group(1)
        out.append(int(e[1:], 16) if len(e) == 3 else _NAMED[e])
        pos = m.end()
    out += value[pos:].encode("ascii")
    return canonical_text(bytes(out))


# --- regexes --------------------------------------------------------------------------------------

_TEXT_ESCAPED = r'(?:[^"\\]|\\.)*?'
_TEXT_RAW = r".*?"


def field_pattern(f: Field, escape: Escape) -> str:
    """The regex (no groups) of ``f``'s written value, including how an absent value is written."""
    if f.kind.text:
        return _TEXT_RAW if escape == "none" or not f.escaped else _TEXT_ESCAPED
    pattern = f.kind.pattern
    assert pattern is not None
    if f.null == "":
        return f"(?:{pattern})??"
    if f.null:
        return f"(?:{pattern}|{re_literal(f.null)})"
    return f"(?:{pattern})"


def line_regex(fmt: LogFormat) -> str:
    """The full-line regex: one capture group per field, in order; lazy, so the first split is taken."""
    parts = ["^"]
    for item in fmt.items:
        if isinstance(item, Literal):
            parts.append(re_literal(item.text))
        else:
            parts.append(f"({field_pattern(item, fmt.escape)})")
    parts.append("$")
    return "".join(parts)


_COMPILED: dict[str, re.Pattern[str]] = {}


def parse_line(fmt: LogFormat, line: str) -> dict[str, str] | None:
    """A line's field values by key (escaped fields unescaped), or ``None`` when it is not of this format."""
    pattern = line_regex(fmt)
    rx = _COMPILED.get(pattern)
    if rx is None:
        rx = _COMPILED[pattern] = re.compile(pattern, re.DOTALL)
    m = rx.match(line)
    if m is None:
        return None
    values: dict[str, str] = {}
    for f, value in zip(fmt.fields, m.groups(), strict=True):
        values[f.key] = unescape(value, fmt.escape) if f.escaped else value
    return values


def render_line(fmt: LogFormat, values: Mapping[str, str | bytes | None]) -> str:
    """Write one line (without the newline) from raw field values by key; ``None`` is an absent value."""
    escaper = ESCAPERS[fmt.escape]
    out: list[str] = []
    for item in fmt.items:
        if isinstance(item, Literal):
            out.append(item.text)
            continue
        value = values.get(item.key)
        if value is None:
            if item.null is None:
                raise ValueError(f"{item.source} cannot be absent")
            out.append(item.null)
        elif item.escaped:
            out.append(escaper(value))
        else:
            out.append(value if isinstance(value, str) else value.decode("ascii"))
    return "".join(out)
