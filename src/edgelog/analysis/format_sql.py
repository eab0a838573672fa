"""Compile a :class:`~edgelog.logformat.LogFormat` into the DuckDB SQL that splits lines into fields.

Two paths with identical results, as for the built-in combined parser:

* **fast**: a line without a backslash (with ``escape=none``: any line) is split on a separator character
  that no field value can contain (``"`` in most formats), each piece is cut at the first occurrence of
  the literal after each field, and every typed field is checked against its grammar. A cut at the first
  occurrence is what the lazy regex below takes whenever the rest of the line then matches, so when every
  check passes the two paths agree;
* **escape-aware**: any other line goes through the format's full-line RE2 regex
  (:func:`edgelog.logformat.codec.line_regex`), and escaped fields are unescaped (``edgelog_unescape``,
  ``edgelog_json_unescape`` in ``queries/macros/log_fields.sql``).

The result has ``file_id``, ``line_no``, ``line`` (carried through: batched parsing labels rows by file),
``matched`` and one VARCHAR column ``f1``..``fN`` per field in the
format's order (the text the client sent for escaped fields). Mapping fields onto ``requests`` columns is
:mod:`edgelog.analysis.format_columns`' job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgelog.logformat.codec import field_pattern, line_regex
from edgelog.logformat.model import Escape, Field, Literal, LogFormat, contains


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def fast_check(f: Field, escape: Escape, v: str) -> str | None:
    """The SQL test that ``v`` matches ``f``'s grammar (``None``: every value does).

    RE2 on a short value is far cheaper than character-set string functions (``ltrim``/``translate`` with
    a set cost 20x more here), and it is the grammar itself, so both paths agree by construction.
    """
    if f.kind.text:
        return None if escape == "none" or not f.escaped else f"NOT contains({v}, '\"')"
    if f.kind.name == "token":  # [^ "]* (the absent "-" is one): two substring tests, no regex
        return f"NOT contains({v}, ' ') AND NOT contains({v}, '\"')"
    return f"regexp_full_match({v}, {lit(field_pattern(f, escape))})"


@dataclass
class Piece:
    """What lies between two separator characters: literals ``lits[0] f1 lits[1] ... fn lits[n]``."""

    lits: list[str] = field(default_factory=lambda: [""])
    fields: list[int] = field(default_factory=list)  # indexes into the format's fields


def split_char(fmt: LogFormat) -> str | None:
    """The character to split lines on: in the literals, in no field value; the most frequent one."""
    text = "".join(i.text for i in fmt.items if isinstance(i, Literal))
    candidates = [c for c in sorted(set(text)) if not any(contains(f, fmt.escape, c) for f in fmt.fields)]
    if not candidates:
        return None
    return max(candidates, key=lambda c: (text.count(c), c == '"'))


def pieces(fmt: LogFormat, sep: str | None) -> list[Piece]:
    out = [Piece()]
    index = {id(f): i for i, f in enumerate(fmt.fields)}
    for item in fmt.items:
        if isinstance(item, Literal):
            parts = item.text.split(sep) if sep else [item.text]
            out[-1].lits[-1] += parts[0]
            for part in parts[1:]:
                out.append(Piece(lits=[part]))
        else:
            out[-1].fields.append(index[id(item)])
            out[-1].lits.append("")
    return out


def fields_sql(fmt: LogFormat, source: str = "_lines", *, fast_path: bool = True) -> str:
    """SELECT file_id, line_no, line, matched, f1..fN FROM ``source`` (columns file_id, line_no, line).

    ``fast_path=False`` sends every line through the regex (the tests compare the two paths).
    """
    fields = fmt.fields
    n = len(fields)
    sep = split_char(fmt)
    parts = pieces(fmt, sep)
    esc = "false" if fmt.escape == "none" else "coalesce(contains(line, '\\'), false)"
    split = f"string_split(line, {lit(sep)})" if sep else "[line]"

    # Level 0: the pieces, each piece's text after its first literal (r<k>_0), and whether it starts right.
    ok: list[str] = [f"len(p) = {len(parts)}"]
    cols: list[str] = []
    for k, piece in enumerate(parts, start=1):
        first = piece.lits[0]
        if not piece.fields:
            ok.append(f"p[{k}] = {lit(first)}")
            continue
        if first:
            ok.append(f"starts_with(p[{k}], {lit(first)})")
            cols.append(f"p[{k}][{len(first) + 1}:] AS r{k}_0")
        else:
            cols.append(f"p[{k}] AS r{k}_0")
    ok0 = "coalesce(" + " AND ".join(ok) + ", false) AS ok0"
    level = (
        f"SELECT file_id, line_no, line, esc, {', '.join([*cols, ok0])} "
        f"FROM (SELECT file_id, line_no, line, {esc} AS esc, CASE WHEN NOT {esc} THEN {split} END AS p "
        f"FROM {source})"
    )
    # Level j: cut the j-th field of every piece that has one; r<k>_<j> is what is left of piece k.
    depth = max(len(p.fields) for p in parts)
    for j in range(depth):
        out: list[str] = [f"v{i}" for p in parts for i in p.fields[:j]]  # values cut before
        checks: list[str] = []
        for k, piece in enumerate(parts, start=1):
            if j >= len(piece.fields):
                continue
            i = piece.fields[j]
            nxt = piece.lits[j + 1]
            r = f"r{k}_{j}"
            if j == len(piece.fields) - 1:  # the piece's last field: everything up to its last literal
                if nxt:
                    out.append(f"{r}[1:len({r}) - {len(nxt)}] AS v{i}")
                    checks.append(f"ends_with({r}, {lit(nxt)})")
                else:
                    out.append(f"{r} AS v{i}")
            elif not nxt:  # adjacent fields: the first one is fixed-width
                w = fields[i].kind.width
                assert w is not None
                out += [f"{r}[1:{w}] AS v{i}", f"{r}[{w + 1}:] AS r{k}_{j + 1}"]
                checks.append(f"len({r}) >= {w}")
            else:
                pos = f"strpos({r}, {lit(nxt)})"
                out += [f"{r}[1:{pos} - 1] AS v{i}", f"{r}[{pos} + {len(nxt)}:] AS r{k}_{j + 1}"]
                checks.append(f"{pos} > 0")
        ok_j = "coalesce(" + " AND ".join([f"ok{j}", *checks]) + f", false) AS ok{j + 1}"
        level = f"SELECT file_id, line_no, line, esc, {', '.join([*out, ok_j])} FROM ({level})"
    # Typed checks on the cut values decide the fast path; the rest takes the regex.
    typed = [c for i, f in enumerate(fields) if (c := fast_check(f, fmt.escape, f"v{i}")) is not None]
    fast = " AND ".join([f"ok{depth}", *typed]) if fast_path else "false"
    regex = line_regex(fmt).replace("'", "''")
    names = ", ".join(lit(f"g{i}") for i in range(n))
    unescape = {"json": "edgelog_json_unescape", "none": ""}.get(fmt.escape, "edgelog_unescape")
    values = []
    for i, f in enumerate(fields):
        slow = f"m.g{i}"
        if f.escaped and unescape:
            slow = f"CASE WHEN esc THEN {unescape}({slow}) ELSE {slow} END"
        values.append(f"CASE WHEN fast THEN v{i} WHEN matched THEN {slow} END AS f{i + 1}")
    return f"""
SELECT file_id, line_no, line, matched, {", ".join(values)}
FROM (
  SELECT *, CASE WHEN fast THEN true ELSE coalesce(regexp_full_match(line, '{regex}'), false) END AS matched,
         CASE WHEN NOT fast THEN regexp_extract(line, '{regex}', [{names}]) END AS m
  FROM (SELECT *, coalesce({fast}, false) AS fast FROM ({level}))
)"""


__all__ = ["field_pattern", "fields_sql", "split_char"]
