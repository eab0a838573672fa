"""Apache httpd ``LogFormat`` definitions: the ``%`` directives, their grammars, and config files.

Directives are parsed as ``mod_log_config``'s ``parse_log_item`` does (httpd 2.4): ``%`` then any of
``!`` ``<`` ``>`` ``,`` status-code conditions and one ``{argument}``, then the directive letter (or a
``^ti``/``^to`` pair). Literal text takes ``\\n``, ``\\t``, ``\\r`` and ``\\\\`` escapes. Text values are
escaped by ``ap_escape_logitem`` (``\\"``, ``\\\\``, ``\\t``..., ``\\xhh``); a value that does not exist, or a
directive whose status condition does not hold, is written as ``-``.
"""

from __future__ import annotations

import re
from pathlib import Path

from edgelog.logformat.includes import expand
from edgelog.logformat.model import (
    ADDR,
    CLF_TIME,
    EPOCH_INT,
    FRAC3,
    FRAC6,
    INT,
    STATUS,
    TEXT,
    TOKEN,
    Field,
    FormatError,
    Item,
    Kind,
    Literal,
    LogFormat,
    check_unambiguous,
    normalise,
    re_literal,
)

# Built into mod_log_config (``CLF``) and defined by Debian's apache2.conf.
COMMON = '%h %l %u %t "%r" %>s %b'
COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
VHOST_COMBINED = '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"'

# letter -> (canonical name, kind, escaped, null)
SIMPLE: dict[str, tuple[str, Kind, bool, str | None]] = {
    "h": ("remote_host", ADDR, True, "-"),
    "a": ("client_addr", ADDR, False, "-"),
    "A": ("server_addr", ADDR, False, "-"),
    "l": ("remote_logname", TOKEN, True, "-"),
    "u": ("remote_user", TEXT, True, "-"),
    "f": ("request_filename", TEXT, True, "-"),
    "b": ("body_bytes_sent", INT, False, "-"),
    "B": ("body_bytes_sent", INT, False, None),
    "O": ("bytes_sent", INT, False, None),
    "I": ("bytes_received", INT, False, None),
    "S": ("bytes_transferred", INT, False, None),
    "L": ("log_id", TOKEN, False, "-"),
    "V": ("server_name", TOKEN, True, "-"),
    "v": ("vhost", TOKEN, True, "-"),
    "H": ("server_protocol", TOKEN, True, "-"),
    "m": ("request_method", TOKEN, True, "-"),
    "q": ("query_string", TEXT, True, None),
    "X": ("connection_status", TOKEN, False, None),
    "k": ("keepalive_requests", INT, False, None),
    "r": ("request", TEXT, True, "-"),
    "U": ("uri", TEXT, True, "-"),
    "R": ("handler", TEXT, True, "-"),
}
WITH_ARGUMENT = {
    "i": "http_",
    "o": "sent_http_",
    "e": "env_",
    "n": "note_",
    "C": "cookie_",
    "x": "ssl_",
    "c": "ssl_",
    "^ti": "trailer_in_",
    "^to": "trailer_out_",
}

# strftime directives Apache's %{...}t may use that edgelog can read back: regex, width.
STRFTIME: dict[str, tuple[str, int | None]] = {
    "Y": ("[0-9]{4}", 4),
    "m": ("[0-9]{2}", 2),
    "d": ("[0-9]{2}", 2),
    "H": ("[0-9]{2}", 2),
    "M": ("[0-9]{2}", 2),
    "S": ("[0-9]{2}", 2),
    "y": ("[0-9]{2}", 2),
    "j": ("[0-9]{3}", 3),
    "z": ("[+-][0-9]{4}", 5),
    "b": ("[A-Za-z]{3}", 3),
    "h": ("[A-Za-z]{3}", 3),
    "a": ("[A-Za-z]{3}", 3),
    "A": ("[A-Za-z]+?", None),
    "B": ("[A-Za-z]+?", None),
    "%": ("%", 1),
}
STRFTIME_SHORTHANDS = {"T": "%H:%M:%S", "F": "%Y-%m-%d", "R": "%H:%M", "D": "%m/%d/%y"}


def strftime_kind(fmt: str, source: str) -> tuple[Kind, str]:
    """The grammar of ``%{fmt}t`` values and the strftime format with shorthands expanded."""
    for short, long in STRFTIME_SHORTHANDS.items():
        fmt = fmt.replace("%" + short, long)
    parts: list[str] = []
    width: int | None = 0
    alphabet: set[str] = set()
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%":
            d = fmt[i + 1 : i + 2]
            if d not in STRFTIME:
                raise FormatError(
                    f"Apache log format: {source} uses strftime directive %{d} that edgelog cannot read back",
                    hint="use %Y %m %d %H %M %S %z %b %a %j %T %F or %t (CLF time)",
                )
            pattern, w = STRFTIME[d]
            parts.append(pattern)
            width = None if width is None or w is None else width + w
            alphabet |= set("0123456789+-%") | set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
            i += 2
        else:
            parts.append(re_literal(c))
            width = None if width is None else width + 1
            alphabet.add(c)
            i += 1
    if not any(p for p in parts if not p.startswith("\\") and len(p) > 1):
        raise FormatError(
            f"Apache log format: {source} has no time directive", hint="e.g. %{%Y-%m-%dT%H:%M:%S}t"
        )
    return Kind("strftime", "".join(parts), frozenset(alphabet), width=width or None), fmt


def _time_items(arg: str, source: str, null: str | None) -> list[Item]:
    """``%t`` / ``%{...}t``: the CLF time in brackets, an epoch count, a fraction or a strftime format."""
    for prefix in ("begin:", "end:"):
        if arg.startswith(prefix):
            arg = arg[len(prefix) :]
    if arg in ("", "begin", "end"):
        return [Literal("["), Field(source, "time_local", CLF_TIME, null=null), Literal("]")]
    epochs = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}
    if arg in epochs:
        return [Field(source, f"time_{arg}", EPOCH_INT, null=null, unit=epochs[arg])]
    if arg == "msec_frac":
        return [Field(source, "time_msec_frac", FRAC3, null=null, unit=1e-3)]
    if arg == "usec_frac":
        return [Field(source, "time_usec_frac", FRAC6, null=null, unit=1e-6)]
    kind, expanded = strftime_kind(arg, source)
    return [Field(source, "time_custom", kind, null=null, strftime=expanded)]


def _directive(letter: str, arg: str | None, source: str, conditional: bool) -> list[Item]:
    null = "-" if conditional else None
    if letter == "t":
        return _time_items(arg or "", source, null)
    if letter == "s":
        return [Field(source, "status" if ">" in source else "status_orig", STATUS, null="-")]
    if letter == "T":
        units = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}
        unit = units.get((arg or "").lower())
        if unit is None:
            raise FormatError(f"Apache log format: {source}: unknown unit {arg!r}", hint="use s, ms or us")
        return [Field(source, "request_time_" + ("s" if unit == 1.0 else "ms" if unit == 1e-3 else "us"),
                      INT, null=null, unit=unit)]  # fmt: skip
    if letter == "D":
        return [Field(source, "request_time_us", INT, null=null, unit=1e-6)]
    if letter == "p":
        which = (arg or "canonical").lower()
        names = {"canonical": "server_port", "local": "server_port", "remote": "remote_port"}
        if which not in names:
            raise FormatError(
                f"Apache log format: {source}: unknown port {arg!r}", hint="canonical, local, remote"
            )
        return [Field(source, names[which], INT, null=null)]
    if letter == "P":
        which = (arg or "pid").lower()
        if which not in ("pid", "tid", "hextid"):
            raise FormatError(
                f"Apache log format: {source}: unknown argument {arg!r}", hint="pid, tid or hextid"
            )
        return [Field(source, which, TOKEN if which == "hextid" else INT, null=null)]
    if letter == "a" and arg == "c":
        return [Field(source, "peer_addr", ADDR, null="-")]
    if letter in WITH_ARGUMENT:
        if not arg:
            raise FormatError(
                f"Apache log format: {source} needs a name in braces", hint=f"e.g. %{{Referer}}{letter}"
            )
        name = WITH_ARGUMENT[letter] + arg.lower().replace("-", "_")
        return [Field(source, name, TEXT, escaped=True, null="-")]
    if letter in SIMPLE:
        name, kind, escaped, dash = SIMPLE[letter]
        return [Field(source, name, kind, escaped=escaped, null="-" if conditional else dash)]
    raise FormatError(
        f"Apache log format: unrecognized LogFormat directive {source!r}",
        hint="see https://httpd.apache.org/docs/2.4/mod/mod_log_config.html#formats",
    )


def _literal(text: str) -> str:
    """LogFormat's own escapes in literal text (``parse_log_misc_string``)."""
    return re.sub(r"\\([\\rnt])", lambda m: {"\\": "\\", "r": "\r", "n": "\n", "t": "\t"}[m.group(1)], text)


def parse_format(definition: str, *, name: str | None = None, config_escaped: bool = True) -> LogFormat:
    """Compile a LogFormat string.

    With ``config_escaped`` (the default) the string is taken as written between the quotes of a
    ``LogFormat "..."`` line, so ``\\"`` is a quote, as Apache's config reader makes it.
    """
    text = unquote_config(definition) if config_escaped else definition
    items: list[Item] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != "%":
            j = text.find("%", i)
            j = n if j < 0 else j
            items.append(Literal(_literal(text[i:j])))
            i = j
            continue
        start = i
        i += 1
        if i < n and text[i] == "%":
            items.append(Literal("%"))
            i += 1
            continue
        arg: str | None = None
        conditional = False
        while True:
            if i >= n:
                raise FormatError(
                    f"Apache log format: {text[start:]!r} ends before its directive letter",
                    hint="e.g. %h, %>s, %{Referer}i",
                )
            c = text[i]
            if c in "!<>,":
                i += 1
            elif c.isdigit():
                conditional = True
                while i < n and text[i].isdigit():
                    i += 1
            elif c == "{":
                j = text.find("}", i)
                if j < 0:
                    raise FormatError(
                        f"Apache log format: {text[start : start + 20]!r}: missing '}}'",
                        hint="close the brace",
                    )
                arg = text[i + 1 : j]
                i = j + 1
            else:
                break
        letter = text[i : i + 3] if text[i] == "^" and text[i : i + 3] in ("^ti", "^to") else text[i]
        i += len(letter)
        items.extend(_directive(letter, arg, text[start:i], conditional))
    if not any(isinstance(x, Field) for x in items):
        raise FormatError(f"Apache log format {definition!r} has no % directives", hint="e.g. '%h %l %u %t'")
    fmt = LogFormat("apache", "apache", definition, normalise(items), name)
    check_unambiguous(fmt)
    return fmt


def unquote_config(text: str) -> str:
    """Undo the config reader's escapes in a double-quoted argument: ``\\"`` -> ``"``, ``\\\\`` -> ``\\``."""
    return re.sub(r'\\([\\"])', r"\1", text)


# --- config files ---------------------------------------------------------------------------------


def split_args(line: str) -> list[str]:
    """Words of a config line as ``ap_getword_conf`` returns them (quotes removed, ``\\"`` kept escaped)."""
    words: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        q = line[i]
        if q in "\"'":
            j = i + 1
            while j < n and line[j] != q:
                j += 2 if line[j] == "\\" and j + 1 < n and line[j + 1] in (q, "\\") else 1
            words.append(line[i + 1 : j])  # still config-escaped: parse_format unquotes
            i = j + 1
        else:
            j = i
            while j < n and not line[j].isspace():
                j += 1
            words.append(line[i:j])
            i = j
    return words


def logical_lines(text: str) -> list[str]:
    """Config lines with backslash-newline continuations joined and comment lines dropped."""
    out: list[str] = []
    buf = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            buf += raw[:-1]
            continue
        line = (buf + raw).strip()
        buf = ""
        if line and not line.startswith("#"):
            out.append(line)
    if buf.strip() and not buf.strip().startswith("#"):
        out.append(buf.strip())
    return out


MAX_INCLUDE_DEPTH = 16


def read_formats(path: Path, *, root: Path | None = None, depth: int = 0) -> dict[str, str]:
    """Every named ``LogFormat`` in a config and its includes: nickname -> format string (config-escaped).

    ``Include``/``IncludeOptional`` paths are relative to ``ServerRoot`` (default: the main file's
    directory); ``CLF`` is predefined. A ``LogFormat`` without a nickname sets the default format, named
    ``default`` here.
    """
    if depth > MAX_INCLUDE_DEPTH:
        raise FormatError(f"{path}: includes nested more than {MAX_INCLUDE_DEPTH} deep (a cycle?)")
    root = root or path.parent
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise FormatError(f"cannot read Apache config {path}: {exc.strerror or exc}") from None
    found: dict[str, str] = {}
    for line in logical_lines(text):
        words = split_args(line)
        if not words:
            continue
        directive = words[0].lower()
        if directive == "serverroot" and len(words) == 2 and depth == 0:
            root = Path(words[1])
        elif directive == "logformat" and len(words) in (2, 3):
            found[words[2] if len(words) == 3 else "default"] = words[1]
        elif directive in ("include", "includeoptional") and len(words) == 2:
            for p in expand(words[1], root):
                if p.is_dir():
                    children = sorted(c for c in p.rglob("*") if c.is_file())
                    for child in children:
                        found.update(read_formats(child, root=root, depth=depth + 1))
                elif p.is_file() or directive == "include":
                    found.update(read_formats(p, root=root, depth=depth + 1))
    return found
