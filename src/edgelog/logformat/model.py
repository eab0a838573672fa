"""The compiled form of a log format: literals and typed fields, with how each field is written.

A definition (nginx ``log_format`` or Apache ``LogFormat``) compiles to a :class:`LogFormat`: a sequence of
literal text and :class:`Field` items. Each field has a :class:`Kind` (the grammar of its written value as an
RE2/Python regex, the characters it can contain, whether it is fixed-width) and knows how an absent value is
written (``-`` or nothing). That is enough to check a definition for ambiguity here, to write lines (the
generator, the tests) and to compile it to DuckDB SQL, without looking back at the server syntax.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral

from edgelog.errors import UsageError

Syntax = TypingLiteral["nginx", "apache"]
# How text values are escaped when written: nginx's escape=default (\xHH), escape=json, escape=none, and
# Apache's ap_escape_logitem (\" \\ \t \n \r \v \b \xhh).
Escape = TypingLiteral["default", "json", "none", "apache"]
ESCAPES: tuple[Escape, ...] = ("default", "json", "none", "apache")

DIGITS = frozenset(string.digits)
PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F))


class FormatError(UsageError):
    """A log format definition that cannot be used: unknown syntax, unsupported or ambiguous field."""


@dataclass(frozen=True)
class Kind:
    """The grammar of one field's written value.

    ``pattern`` is an RE2 regex (also valid Python ``re``) without capture groups and with lazy repetition,
    so the first way a line can be split is the one taken (the SQL fast path cuts at the first separator and
    must agree). ``alphabet`` is every character the written value can contain (``None``: any text, which
    then depends on the escaping). ``width`` is set when every value has the same length, so the field may
    be followed by another field with no literal in between.
    """

    name: str
    pattern: str | None
    alphabet: frozenset[str] | None = None
    width: int | None = None
    text: bool = False  # escaped free text: the pattern depends on the escaping and the quotes around it


def _chars(*parts: str | frozenset[str]) -> frozenset[str]:
    out: set[str] = set()
    for p in parts:
        out |= set(p)
    return frozenset(out)


_NUM = r"[0-9]+?"
_SECS = r"[0-9]+?\.[0-9]{3}"
_LIST_SEP = r"(?:, | : )"

TEXT = Kind("text", None, None, text=True)
# An address or host name: never contains spaces or quotes (nginx and Apache log them unescaped or escaped).
TOKEN = Kind("token", r"[^ \"]*?", PRINTABLE - {" ", '"'})
# An IP address (v4, v6 with an optional zone), a host name, or nginx's "unix:" for a unix socket.
ADDR = Kind("addr", r"[0-9A-Za-z.:%_/\[\]-]*?", _chars(DIGITS, string.ascii_letters, ".:%_/[]-"))
CLF_TIME = Kind(
    "clf_time",
    r"[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}",
    _chars(DIGITS, string.ascii_letters, "/: +-"),
    width=26,
)
ISO_TIME = Kind(
    "iso_time",
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}",
    _chars(DIGITS, "-T:+"),
    width=25,
)
EPOCH_MSEC = Kind("epoch_msec", _SECS, _chars(DIGITS, "."))  # nginx $msec: 1732345678.123
EPOCH_INT = Kind("epoch_int", _NUM, DIGITS)  # Apache %{sec}t, %{msec}t, %{usec}t
FRAC3 = Kind("frac3", r"[0-9]{3}", DIGITS, width=3)  # Apache %{msec_frac}t
FRAC6 = Kind("frac6", r"[0-9]{6}", DIGITS, width=6)  # Apache %{usec_frac}t
SECONDS = Kind("seconds", _SECS, _chars(DIGITS, "."))  # nginx $request_time: 0.123
INT = Kind("int", _NUM, DIGITS)
STATUS = Kind("status", r"[0-9]{3}", DIGITS, width=3)
REQUEST_ID = Kind("request_id", r"[0-9a-f]{32}", _chars(string.hexdigits.lower()), width=32)
RATIO = Kind("ratio", r"[0-9]+?\.[0-9]{2}", _chars(DIGITS, "."))  # nginx $gzip_ratio
PIPE = Kind("pipe", r"[p.]", frozenset("p."), width=1)
# nginx upstream lists: one entry per upstream tried, ", " between servers, " : " across internal redirects.
SECONDS_LIST = Kind("seconds_list", rf"(?:{_SECS}|-)(?:{_LIST_SEP}(?:{_SECS}|-))*?", _chars(DIGITS, ".-,: "))
STATUS_LIST = Kind(
    "status_list", rf"(?:[0-9]{{3}}|-)(?:{_LIST_SEP}(?:[0-9]{{3}}|-))*?", _chars(DIGITS, "-,: ")
)
ADDR_LIST = Kind("addr_list", rf"[^ ,\"]+?(?:{_LIST_SEP}[^ ,\"]+?)*?", PRINTABLE - {'"'})
KINDS = {
    k.name: k
    for k in (
        TEXT,
        TOKEN,
        ADDR,
        CLF_TIME,
        ISO_TIME,
        EPOCH_MSEC,
        EPOCH_INT,
        FRAC3,
        FRAC6,
        SECONDS,
        INT,
        STATUS,
        REQUEST_ID,
        RATIO,
        PIPE,
        SECONDS_LIST,
        STATUS_LIST,
        ADDR_LIST,
    )
}


# Fields that place a request in time, most precise first.
TIME_FIELDS = ("msec", "time_usec", "time_msec", "time_sec", "time_iso8601", "time_local", "time_custom")


@dataclass(frozen=True)
class Field:
    """One field of a format.

    ``source`` is the field as written in the definition (``$remote_addr``, ``%{Referer}i``); ``name`` is
    its canonical name, shared by both syntaxes where they mean the same thing (``http_referer``,
    ``status``, ``time_local``); ``key`` is unique within the format. ``escaped`` fields go through the
    format's escaping; ``null`` is how the server writes an absent value (``-``, or ``""`` for nginx's
    json/none escaping); ``unit`` scales numeric values to seconds (``%D`` is microseconds).
    """

    source: str
    name: str
    kind: Kind
    escaped: bool = False
    null: str | None = None
    unit: float = 1.0
    key: str = ""
    strftime: str | None = None  # Apache %{...}t: the strftime format the value is written in

    def with_key(self, key: str) -> Field:
        return Field(
            self.source, self.name, self.kind, self.escaped, self.null, self.unit, key, self.strftime
        )


@dataclass(frozen=True)
class Literal:
    """Text written as is between fields."""

    text: str


Item = Field | Literal


@dataclass(frozen=True)
class LogFormat:
    """A compiled log format definition."""

    syntax: Syntax
    escape: Escape
    definition: str  # verbatim, as given
    items: tuple[Item, ...]
    name: str | None = None
    fields: tuple[Field, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(i for i in self.items if isinstance(i, Field)))

    @property
    def label(self) -> str:
        """How messages name this format: its name, else its definition."""
        return self.name or self.definition

    def field(self, name: str) -> Field | None:
        """The first field with canonical ``name``, if any."""
        return next((f for f in self.fields if f.name == name), None)

    def has(self, *names: str) -> bool:
        return any(f.name in names for f in self.fields)


_REGEX_META = set("\\.^$|?*+()[]{}")


def re_literal(text: str) -> str:
    """``text`` as a regex matching itself, valid in RE2 and Python (tabs and other controls kept raw)."""
    return "".join("\\" + c if c in _REGEX_META else c for c in text)


def normalise(items: list[Item]) -> tuple[Item, ...]:
    """Merge adjacent literals, drop empty ones and give every field a unique key (``name``, ``name_2``)."""
    out: list[Item] = []
    seen: dict[str, int] = {}
    for item in items:
        if isinstance(item, Literal):
            if not item.text:
                continue
            if out and isinstance(out[-1], Literal):
                out[-1] = Literal(out[-1].text + item.text)
            else:
                out.append(item)
        else:
            n = seen[item.name] = seen.get(item.name, 0) + 1
            out.append(item.with_key(item.name if n == 1 else f"{item.name}_{n}"))
    return tuple(out)


LISTS = ("seconds_list", "status_list", "addr_list")
_ENTRY_CHARS = {
    "seconds_list": _chars(DIGITS, ".-"),
    "status_list": _chars(DIGITS, "-"),
    "addr_list": PRINTABLE - {" ", ",", '"'},
}


def _list_can_hold(f: Field, text: str) -> bool:
    """A list's spaces are only in its separators: each is after a ``,`` or before a ``:``."""
    for k, c in enumerate(text):
        if c == " " and 0 < k < len(text) - 1 and text[k - 1] != "," and text[k + 1] != ":":
            return False
    alphabet = f.kind.alphabet
    return alphabet is None or all(c in alphabet for c in text)


def contains(f: Field, escape: Escape, text: str) -> bool:
    """Whether ``f``'s written value can contain ``text`` anywhere (conservative: ``True`` when unsure).

    Escaped text never holds a raw double quote (nginx writes ``\\x22``, Apache and JSON ``\\"``), nor
    anything outside printable ASCII with nginx's default or Apache's escaping; ``escape=none`` writes
    anything.
    """
    if f.kind.text:
        if escape == "none" or not f.escaped:
            return True
        if '"' in text:
            return False
        if escape == "json":
            return all(c >= " " for c in text)
        return all(c in PRINTABLE for c in text)
    if f.null and text in f.null:
        return True
    if f.kind.name in LISTS:
        return _list_can_hold(f, text)
    alphabet = f.kind.alphabet
    return alphabet is None or all(c in alphabet for c in text)


def can_start_with(f: Field, escape: Escape, ch: str) -> bool:
    """Whether ``f``'s written value can begin with ``ch``."""
    if f.kind.name in ("seconds_list", "status_list"):
        return ch in _ENTRY_CHARS[f.kind.name]
    return contains(f, escape, ch)


def extends_past(f: Field, escape: Escape, text: str, following: Field | None) -> bool:
    """Whether a value of ``f`` can go on past an occurrence of ``text`` right after a valid shorter value.

    Cutting ``f`` at the first ``text`` is then not certain. A list (``0.010, 0.020 : 0.005``) can go on
    only with an entry character or a separator (``", "``, ``" : "``): a lone space only when ``following``
    could start with the ``:`` of ``" : "``.
    """
    if f.kind.name in LISTS and text:
        if not _list_can_hold(f, text.rstrip(" ")):
            return False
        c = text[0]
        if c in _ENTRY_CHARS[f.kind.name] or c == ",":
            return True
        if c == " ":
            if len(text) == 1:
                return following is None or can_start_with(following, escape, ":")
            return text[1] == ":"
        return False
    return contains(f, escape, text)


def extends_before(f: Field, escape: Escape, text: str) -> bool:
    """Whether a value of ``f`` can begin before an occurrence of ``text`` right before a valid shorter
    value (cutting ``f`` from the right, at the last ``text``, is then not certain)."""
    if f.kind.name in LISTS and text:
        if not _list_can_hold(f, text.lstrip(" ")):
            return False
        c = text[-1]
        if c in _ENTRY_CHARS[f.kind.name]:
            return True
        if c == " ":
            return len(text) == 1 or text[-2] in ",:"
        return False
    return contains(f, escape, text)


def check_unambiguous(fmt: LogFormat) -> None:
    """Refuse definitions whose lines cannot be split into fields one way only.

    Two fields with no literal between them are ambiguous unless the first is fixed-width. A field that can
    contain the literal after it (the user name in ``combined`` can contain `` [``) is still split one way
    when a later literal that neither it nor the fields in between can contain anchors the split (``] "``:
    a name cannot hold a raw quote), and each field in between can be cut from the right (it cannot begin
    before the literal in front of it, or is fixed-width); the line end anchors in the same way. Anything
    else is refused, naming the two fields that cannot be told apart.
    """
    items = fmt.items
    esc = fmt.escape
    for i, item in enumerate(items):
        if not isinstance(item, Field):
            continue
        nxt = items[i + 1] if i + 1 < len(items) else None
        if isinstance(nxt, Field):
            if item.kind.width is None:
                raise FormatError(
                    f"log format {fmt.label!r}: {item.source} and {nxt.source} are adjacent with no literal "
                    "text between them, so a line cannot be split between the two",
                    hint=f"put a separator (a space, a quote) between {item.source} and {nxt.source}",
                )
            continue
        if nxt is None or item.kind.width is not None:
            continue
        after = items[i + 2] if i + 2 < len(items) else None
        if not extends_past(item, esc, nxt.text, after if isinstance(after, Field) else None):
            continue
        culprit = _unanchored(items, i, esc)
        if culprit is not None:
            if esc == "none":
                why = "with escape=none values are written raw"
            else:
                why = f"{item.source} may itself contain {nxt.text!r}"
            raise FormatError(
                f"log format {fmt.label!r}: {item.source} and {culprit.source} cannot be told apart: {why}, "
                f"and nothing after {item.source} fixes where it ends",
                hint="use escape=default or escape=json, or put typed fields between them"
                if esc == "none"
                else f"quote {item.source} and {culprit.source}, or separate them by a label such as ' rt='",
            )


def _unanchored(items: tuple[Item, ...], i: int, esc: Escape) -> Field | None:
    """For the field at ``i`` that may run past its separator: ``None`` when a later literal or the line
    end fixes where it ends, else the first field after it that cannot be cut from the right."""
    f = items[i]
    assert isinstance(f, Field)
    between: list[Field] = []
    prev_lit = ""
    for item in items[i + 1 :]:
        if isinstance(item, Literal):
            if not any(contains(x, esc, item.text) for x in [f, *between]):
                return None  # anchor: its first occurrence ends the fields before it
            prev_lit = item.text
            continue
        if item.kind.width is None and extends_before(item, esc, prev_lit):
            return item
        between.append(item)
    return None  # the line end anchors: every field after f can be cut from the right
