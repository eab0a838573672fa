"""nginx ``log_format`` definitions: the string syntax, the variables' grammars, and config files.

The string is split exactly as ``ngx_http_log_compile_format`` (nginx 1.22) does: ``$name`` or ``${name}``
with name characters ``[A-Za-z0-9_]``, everything else literal (there is no way to write a literal ``$``).
The log module's own variables (``$status``, ``$time_local``, ``$request_time``, ...) are written as is;
every other variable is escaped according to ``escape=`` and written as ``-`` when it has no value (nothing
with ``escape=json`` or ``none``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import cast

from edgelog.logformat.includes import expand
from edgelog.logformat.model import (
    ADDR,
    ADDR_LIST,
    CLF_TIME,
    EPOCH_MSEC,
    INT,
    ISO_TIME,
    PIPE,
    RATIO,
    REQUEST_ID,
    SECONDS,
    SECONDS_LIST,
    STATUS,
    STATUS_LIST,
    TEXT,
    TOKEN,
    Escape,
    Field,
    FormatError,
    Item,
    Kind,
    Literal,
    LogFormat,
    check_unambiguous,
    normalise,
)

# Written by the log module itself (ngx_http_log_vars): never escaped, never absent.
LOG_OPS: dict[str, Kind] = {
    "pipe": PIPE,
    "time_local": CLF_TIME,
    "time_iso8601": ISO_TIME,
    "msec": EPOCH_MSEC,
    "request_time": SECONDS,
    "status": STATUS,
    "bytes_sent": INT,
    "body_bytes_sent": INT,
    "request_length": INT,
}

# Variables whose values have a known grammar; every other variable (including unknown ones set by map,
# geo or a module) is free text.
VARIABLES: dict[str, Kind] = {
    "remote_addr": ADDR,
    "realip_remote_addr": ADDR,
    "server_addr": ADDR,
    "remote_port": INT,
    "realip_remote_port": INT,
    "server_port": INT,
    "host": TOKEN,
    "hostname": TOKEN,
    "server_name": TOKEN,
    "scheme": TOKEN,
    "https": TOKEN,
    "server_protocol": TOKEN,
    "request_method": TOKEN,
    "request_id": REQUEST_ID,
    "request_completion": TOKEN,
    "connection": INT,
    "connection_requests": INT,
    "pid": INT,
    "ssl_protocol": TOKEN,
    "ssl_cipher": TOKEN,
    "ssl_session_reused": TOKEN,
    "gzip_ratio": RATIO,
    "upstream_addr": ADDR_LIST,
    "upstream_status": STATUS_LIST,
    "upstream_response_time": SECONDS_LIST,
    "upstream_connect_time": SECONDS_LIST,
    "upstream_header_time": SECONDS_LIST,
    "upstream_bytes_received": ADDR_LIST,
    "upstream_bytes_sent": ADDR_LIST,
    "upstream_response_length": ADDR_LIST,
    "upstream_cache_status": TOKEN,
}

# Variables that cannot be parsed back from a line.
UNSUPPORTED = {
    "binary_remote_addr": "it is the client address as 4 or 16 raw bytes, not text",
}
UNSUPPORTED_UNESCAPED = {
    "request_body": "with escape=none a request body can contain line breaks, which split the log record",
}

NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)


def variable_field(name: str, source: str, escape: Escape) -> Field:
    """The field for one ``$variable`` under the given escaping."""
    low = name.lower()  # nginx matches variable names case-insensitively
    if name in LOG_OPS:  # the log module's own names are matched exactly
        return Field(source, name, LOG_OPS[name])
    why = UNSUPPORTED.get(low) or (UNSUPPORTED_UNESCAPED.get(low) if escape == "none" else None)
    if why:
        raise FormatError(
            f"nginx variable {source} is not supported in a log format edgelog reads: {why}",
            hint=f"log a text form instead of {source}"
            if low in UNSUPPORTED
            else "use escape=default or json",
        )
    null = "-" if escape == "default" else ""
    return Field(source, low, VARIABLES.get(low, TEXT), escaped=True, null=null)


def parse_format(definition: str, *, escape: Escape = "default", name: str | None = None) -> LogFormat:
    """Compile the value of a ``log_format`` (the concatenated strings) with the given escaping."""
    if escape not in ("default", "json", "none"):
        raise FormatError(
            f"unknown nginx log format escaping {escape!r}",
            hint="use escape=default, escape=json or escape=none",
        )
    items: list[Item] = []
    text = definition
    i = 0
    n = len(text)
    while i < n:
        if text[i] != "$":
            j = text.find("$", i)
            j = n if j < 0 else j
            items.append(Literal(text[i:j]))
            i = j
            continue
        start = i
        i += 1
        bracket = i < n and text[i] == "{"
        if bracket:
            i += 1
        j = i
        while j < n and text[j] in NAME_CHARS:
            j += 1
        var = text[i:j]
        if bracket:
            if j >= n or text[j] != "}":
                raise FormatError(
                    f"nginx log format: the closing bracket in {text[start:j]!r} is missing",
                    hint="write ${name}",
                )
            j += 1
        if not var:
            raise FormatError(
                f"nginx log format: invalid variable at {text[start : start + 10]!r}: '$' must be "
                "followed by a variable name",
                hint="nginx has no way to write a literal '$' in a log format",
            )
        items.append(variable_field(var, text[start:j], escape))
        i = j
    if not any(isinstance(x, Field) for x in items):
        raise FormatError(f"nginx log format {definition!r} has no variables", hint="e.g. '$remote_addr ...'")
    fmt = LogFormat("nginx", escape, definition, normalise(items), name)
    check_unambiguous(fmt)
    return fmt


def parse_args(args: list[str], *, name: str | None = None, definition: str | None = None) -> LogFormat:
    """Compile a ``log_format`` directive's arguments after the name: ``[escape=...] string ...``."""
    escape = "default"
    if args and args[0].startswith("escape="):
        escape, args = args[0][len("escape=") :], args[1:]
    if not args:
        raise FormatError(f"nginx log_format {name + ' ' if name else ''}has no format string")
    fmt = parse_format("".join(args), escape=cast(Escape, escape), name=name)
    return replace(fmt, definition=definition) if definition is not None else fmt


# --- config files ---------------------------------------------------------------------------------


def tokenize(text: str, where: str = "nginx config") -> Iterator[list[str] | str]:
    """Yield each directive's words (quotes removed, escapes resolved) and ``"{"``/``"}"`` for blocks.

    Follows ``ngx_conf_read_token``: words are separated by spaces, tabs and line ends; ``'...'`` and
    ``"..."`` quote; ``\\"``, ``\\'``, ``\\\\`` lose their backslash and ``\\t``, ``\\r``, ``\\n`` become the
    control characters; ``#`` at the start of a word comments out the rest of the line.
    """
    words: list[str] = []
    i, n = 0, len(text)
    line = 1
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            line += ch == "\n"
            i += 1
            continue
        if ch == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if ch in ";{}":
            if ch == "}":
                if words:
                    raise FormatError(f"{where}:{line}: unexpected '}}'")
                yield "}"
            else:
                if not words:
                    raise FormatError(f"{where}:{line}: unexpected {ch!r}")
                yield words
                words = []
                if ch == "{":
                    yield "{"
            i += 1
            continue
        quote = ch if ch in "'\"" else None
        j = i + 1 if quote else i
        raw: list[str] = []
        while j < n:
            c = text[j]
            if c == "\\" and j + 1 < n:
                raw.append(text[j : j + 2])
                j += 2
                continue
            if quote:
                if c == quote:
                    j += 1
                    break
            elif c in " \t\r\n;" or (c == "{" and not (raw and raw[-1] == "$")):
                break
            line += c == "\n"
            raw.append(c)
            j += 1
        else:
            if quote:
                raise FormatError(f"{where}:{line}: unterminated {quote}-quoted string")
        words.append(_unescape_word("".join(raw)))
        if quote and j < n and text[j] not in " \t\r\n;{}":
            raise FormatError(f"{where}:{line}: unexpected {text[j]!r} after a quoted string")
        i = j
    if words:
        raise FormatError(f"{where}: unexpected end of file: {' '.join(words)[:60]!r} has no ';'")


def _unescape_word(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in "\"'\\":
                out.append(nxt)
                i += 2
                continue
            if nxt in "trn":
                out.append({"t": "\t", "r": "\r", "n": "\n"}[nxt])
                i += 2
                continue
        out.append(c)
        i += 1
    return "".join(out)


MAX_INCLUDE_DEPTH = 16


def read_formats(path: Path, *, root: Path | None = None, depth: int = 0) -> dict[str, list[str]]:
    """Every ``log_format`` in a config file and the files it includes: name -> arguments after the name.

    Relative ``include`` paths resolve against the main file's directory (nginx's conf prefix); glob
    patterns are expanded in sorted order; a missing non-glob include is an error, as in nginx.
    """
    root = root or path.parent
    if depth > MAX_INCLUDE_DEPTH:
        raise FormatError(f"{path}: includes nested more than {MAX_INCLUDE_DEPTH} deep (a cycle?)")
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise FormatError(f"cannot read nginx config {path}: {exc.strerror or exc}") from None
    found: dict[str, list[str]] = {}
    for tok in tokenize(text, str(path)):
        if isinstance(tok, str):
            continue
        directive, *args = tok
        if directive == "log_format":
            if not args:
                raise FormatError(f"{path}: log_format without a name")
            if args[0] in found:
                raise FormatError(f"{path}: duplicate log_format name {args[0]!r}")
            found[args[0]] = args[1:]
        elif directive == "include" and len(args) == 1:
            for m in expand(args[0], root):
                for name, value in read_formats(m, root=root, depth=depth + 1).items():
                    if name in found:
                        raise FormatError(f"{m}: duplicate log_format name {name!r}")
                    found[name] = value
    return found
