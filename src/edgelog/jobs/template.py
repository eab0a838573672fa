"""The subset of Go's ``text/template`` that Bacalhau applies to job specs (``bacalhau job run -V k=v``).

``edgelog job render`` must print exactly what Bacalhau would submit, so this follows Go's semantics for what
the specs use: ``{{.var}}`` with ``missingkey=error`` (an unset variable is an error, never an empty string),
``{{index . "k"}}`` (an unset key is ``""``), ``{{or ...}}``/``{{and ...}}``/``{{not ...}}``/``{{eq ...}}``/
``{{ne ...}}``, string literals, parentheses, ``{{if}}``/``{{else}}``/``{{end}}``, ``{{/* comments */}}`` and
the ``{{-``/``-}}`` whitespace trim markers. Anything else is rejected with a clear error instead of guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edgelog.errors import ConfigError

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\()|(?P<rparen>\))|(?P<pipe>\|)
        |(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)
        |(?P<field>\.[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(?P<dot>\.)
        |(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>-?\d+)
        |(?P<bad>\S+)
    )""",
    re.VERBOSE,
)
_FUNCS = {"or", "and", "not", "index", "eq", "ne", "len"}
SYNTAX_HINT = (
    'write {{.name}}, {{or (index . "name") "default"}} or {{if index . "name"}}...{{end}}; '
    "see docs/jobs.md (job render)"
)
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


@dataclass
class _Text:
    text: str


@dataclass
class _Action:
    expr: list
    line: int
    source: str


@dataclass
class _If:
    expr: list
    line: int
    source: str
    then: list = field(default_factory=list)
    orelse: list = field(default_factory=list)


class _Dot:
    """The template's data (``.``); only meaningful as the first argument of ``index``."""


class _Vars(dict[str, str]):
    """The variables, and every ``{{.name}}`` the render needed but did not have (name -> first line)."""

    def __init__(self, values: Mapping[str, str]):
        super().__init__(values)
        self.missing: dict[str, str] = {}


def render(text: str, variables: Mapping[str, str], *, path: str | Path | None = None) -> str:
    """Render ``text`` as Bacalhau does before parsing the YAML; unset ``{{.var}}`` raise one ConfigError
    naming every one of them (Go stops at the first; a user fixing them one run at a time would not)."""
    nodes = _parse(text, path)
    out: list[str] = []
    data = _Vars(variables)
    _execute(nodes, data, out, path)
    if data.missing:
        names = list(data.missing)
        lines = sorted({int(w.split()[-1]) for w in data.missing.values()})
        where = f"line {lines[0]}" if len(lines) == 1 else f"lines {', '.join(map(str, lines))}"
        listed = ", ".join(repr(n) for n in names)
        raise ConfigError(
            path,
            where,
            f"template variable{'s' if len(names) > 1 else ''} {listed} "
            f"{'are' if len(names) > 1 else 'is'} not set ({{{{.name}}}} needs a value: missingkey=error)",
            hint="pass "
            + " ".join(f"--var {n}=VALUE" for n in names)
            + " (bacalhau: "
            + " ".join(f"-V {n}=VALUE" for n in names)
            + ")",
        )
    return "".join(out)


def variables_used(text: str, *, path: str | Path | None = None) -> tuple[set[str], set[str]]:
    """(required, optional) variable names: ``{{.x}}`` must be set, ``index . "x"`` may be left out."""
    required: set[str] = set()
    optional: set[str] = set()

    def walk(expr: list) -> None:
        for i, item in enumerate(expr):
            if isinstance(item, list):
                walk(item)
            elif isinstance(item, tuple) and item[0] == "field":
                required.add(item[1])
            elif item == ("word", "index") and i + 2 < len(expr) and isinstance(expr[i + 1], _Dot):
                key = expr[i + 2]
                if isinstance(key, tuple) and key[0] == "str":
                    optional.add(key[1])

    def visit(nodes: list) -> None:
        for node in nodes:
            if isinstance(node, _Action):
                walk(node.expr)
            elif isinstance(node, _If):
                walk(node.expr)
                visit(node.then)
                visit(node.orelse)

    visit(_parse(text, path))
    return required - optional, optional


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _parse(text: str, path: str | Path | None) -> list:
    root: list = []
    stack: list[tuple[list, _If | None]] = [(root, None)]
    pos = 0
    trim_next = False
    for match in _ACTION.finditer(text):
        chunk = text[pos : match.start()]
        if trim_next:
            chunk = chunk.lstrip()
        if match.group(1):
            chunk = chunk.rstrip()
        if chunk:
            stack[-1][0].append(_Text(chunk))
        trim_next = bool(match.group(3))
        pos = match.end()
        body = match.group(2).strip()
        line = _line_of(text, match.start())
        where = f"line {line}"
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise ConfigError(
                    path, where, f"unterminated template comment {match.group(0)!r}", hint=SYNTAX_HINT
                )
            continue
        if not body:
            raise ConfigError(path, where, "empty template action {{}}", hint=SYNTAX_HINT)
        head, _, rest = body.partition(" ")
        if head == "if":
            node = _If(_tokenize(rest, path, where), line, match.group(0))
            stack[-1][0].append(node)
            stack.append((node.then, node))
        elif head == "else":
            current = stack[-1][1]
            if current is None or rest.strip():
                raise ConfigError(
                    path,
                    where,
                    f"unsupported or misplaced {match.group(0)!r}",
                    hint="use {{if}}...{{else}}...{{end}}",
                )
            stack[-1] = (current.orelse, current)
        elif head == "end":
            if len(stack) == 1:
                raise ConfigError(path, where, "{{end}} without a matching {{if}}", hint=SYNTAX_HINT)
            stack.pop()
        elif head in {"range", "with", "define", "template", "block", "break", "continue"}:
            raise ConfigError(
                path,
                where,
                f"template action {head!r} is not supported by edgelog's renderer",
                hint='job specs use only {{.var}}, {{or (index . "var") "default"}} and {{if}}',
            )
        else:
            stack[-1][0].append(_Action(_tokenize(body, path, where), line, match.group(0)))
    tail = text[pos:]
    if trim_next:
        tail = tail.lstrip()
    if "{{" in tail:
        raise ConfigError(
            path,
            f"line {_line_of(text, pos + tail.index('{{'))}",
            "unclosed template action '{{'",
            hint=SYNTAX_HINT,
        )
    if tail:
        stack[-1][0].append(_Text(tail))
    if len(stack) > 1:
        opened = stack[-1][1]
        assert opened is not None
        raise ConfigError(
            path, f"line {opened.line}", f"{opened.source} has no matching {{{{end}}}}", hint=SYNTAX_HINT
        )
    return root


def _tokenize(body: str, path: str | Path | None, where: str) -> list:
    """Turn an action's body into a nested list: parentheses become sub-lists."""
    tokens: list = []
    stack: list[list] = [tokens]
    for match in _TOKEN.finditer(body):
        kind = match.lastgroup
        value = match.group(kind) if kind else ""
        if kind is None:
            continue
        if kind == "lparen":
            sub: list = []
            stack[-1].append(sub)
            stack.append(sub)
        elif kind == "rparen":
            if len(stack) == 1:
                raise ConfigError(path, where, f"unbalanced ')' in {{{{{body}}}}}", hint=SYNTAX_HINT)
            stack.pop()
        elif kind == "pipe":
            raise ConfigError(
                path, where, f"pipelines ('|') are not supported in {{{{{body}}}}}", hint=SYNTAX_HINT
            )
        elif kind == "str":
            stack[-1].append(
                ("str", re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), value[1:-1]))
            )
        elif kind == "raw":
            stack[-1].append(("str", value[1:-1]))
        elif kind == "field":
            if "." in value[1:]:
                raise ConfigError(
                    path,
                    where,
                    f"nested field {value!r} is not supported: variables are flat",
                    hint=SYNTAX_HINT,
                )
            stack[-1].append(("field", value[1:]))
        elif kind == "dot":
            stack[-1].append(_Dot())
        elif kind == "word":
            if value in ("true", "false"):
                stack[-1].append(("bool", value == "true"))
            elif value in _FUNCS:
                stack[-1].append(("word", value))
            else:
                raise ConfigError(
                    path, where, f"unknown template function {value!r} in {{{{{body}}}}}", hint=SYNTAX_HINT
                )
        elif kind == "num":
            stack[-1].append(("str", value))
        else:
            raise ConfigError(
                path, where, f"cannot parse {value!r} in template action {{{{{body}}}}}", hint=SYNTAX_HINT
            )
    if len(stack) != 1:
        raise ConfigError(path, where, f"unbalanced '(' in {{{{{body}}}}}", hint=SYNTAX_HINT)
    return tokens


def _truthy(value: object) -> bool:
    if isinstance(value, _Dot):
        return True
    return bool(value)


def _eval(expr: list, data: _Vars, path: str | Path | None, where: str) -> object:
    if not expr:
        raise ConfigError(path, where, "empty expression in template action", hint=SYNTAX_HINT)
    head = expr[0]
    if isinstance(head, tuple) and head[0] == "word":
        name = head[1]
        args = expr[1:]
        if name in ("or", "and"):
            if not args:
                raise ConfigError(path, where, f"{name} needs at least one argument", hint=SYNTAX_HINT)
            value: object = None
            for arg in args:  # Go evaluates lazily and returns the deciding argument
                value = _term(arg, data, path, where)
                if _truthy(value) == (name == "or"):
                    return value
            return value
        values = [_term(arg, data, path, where) for arg in args]
        if name == "not":
            if len(values) != 1:
                raise ConfigError(path, where, "not takes exactly one argument", hint=SYNTAX_HINT)
            return not _truthy(values[0])
        if name == "index":
            if len(values) != 2 or not isinstance(values[0], _Dot) or not isinstance(values[1], str):
                raise ConfigError(path, where, 'only index . "name" is supported', hint=SYNTAX_HINT)
            return data.get(
                values[1], ""
            )  # Go: a missing map key is the zero value, even with missingkey=error
        if name in ("eq", "ne"):
            if len(values) != 2:
                raise ConfigError(path, where, f"{name} takes exactly two arguments", hint=SYNTAX_HINT)
            return (values[0] == values[1]) == (name == "eq")
        if name == "len":
            if len(values) != 1 or not isinstance(values[0], str):
                raise ConfigError(path, where, "len takes one string argument", hint=SYNTAX_HINT)
            return len(values[0])
    if len(expr) != 1:
        raise ConfigError(
            path,
            where,
            "a template value cannot take arguments; did you mean a function call?",
            hint=SYNTAX_HINT,
        )
    return _term(head, data, path, where)


def _term(term: object, data: _Vars, path: str | Path | None, where: str) -> object:
    if isinstance(term, list):
        return _eval(term, data, path, where)
    if isinstance(term, _Dot):
        return term
    assert isinstance(term, tuple)
    kind, value = term
    if kind == "field":
        if value not in data:  # render() names every missing variable once the whole template ran
            data.missing.setdefault(value, where)
            return ""
        return data[value]
    if kind in ("str", "bool"):
        return value
    raise ConfigError(
        path, where, f"function {value!r} used as a value; call it in parentheses", hint=SYNTAX_HINT
    )


def _execute(nodes: list, data: _Vars, out: list[str], path: str | Path | None) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _If):
            chosen = node.then if _truthy(_eval(node.expr, data, path, f"line {node.line}")) else node.orelse
            _execute(chosen, data, out, path)
        else:
            value = _eval(node.expr, data, path, f"line {node.line}")
            if isinstance(value, _Dot):
                raise ConfigError(
                    path,
                    f"line {node.line}",
                    f"{node.source} prints the whole variable map",
                    hint=SYNTAX_HINT,
                )
            if isinstance(value, bool):
                out.append("true" if value else "false")
            elif value is None:
                out.append("<no value>")
            else:
                out.append(str(value))
