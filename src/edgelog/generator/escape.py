"""nginx's access-log escaping, byte for byte, and its inverse.

nginx (``ngx_http_log_escape``, the default ``escape=default``) writes ``"`` as ``\\x22``, ``\\`` as
``\\x5C`` and every byte below 0x20 or from 0x7F up as ``\\xHH`` with upper-case hex; it works on the raw
bytes, so UTF-8 text becomes several ``\\xHH`` escapes. Everything the generator writes into a combined
line goes through :func:`nginx_escape` once, when the pools are built, never per line.
"""

from __future__ import annotations

import re

_TABLE: list[str] = []
for _b in range(256):
    if _b < 0x20 or _b >= 0x7F or _b in (0x22, 0x5C):
        _TABLE.append(f"\\x{_b:02X}")
    else:
        _TABLE.append(chr(_b))

_ESCAPE_RE = re.compile(rb"\\x([0-9A-Fa-f]{2})")
_NEEDS_ESCAPE = re.compile(rb"[^\x20\x21\x23-\x5b\x5d-\x7e]")  # what _TABLE does not keep as it is
_BY_LATIN1 = dict(enumerate(_TABLE))  # for str.translate: bytes decoded as Latin-1 keep their values


def nginx_escape(value: str | bytes) -> str:
    """Escape a field value the way nginx writes it into an access log (result is printable ASCII)."""
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if _NEEDS_ESCAPE.search(raw) is None:
        return raw.decode("ascii")
    return raw.decode("latin-1").translate(_BY_LATIN1)


def nginx_unescape(value: str) -> bytes:
    """Undo :func:`nginx_escape`: ``\\xHH`` back to the byte it stands for."""
    return _ESCAPE_RE.sub(lambda m: bytes([int(m.group(1), 16)]), value.encode("ascii"))
