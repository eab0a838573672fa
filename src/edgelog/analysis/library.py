"""The report library: ``queries/*.sql`` reports, ``queries/macros/*.sql`` shared macros, and the tag rules.

A report file has a header comment and up to three sections introduced by marker lines. The header is the one
place a report is described; everything else (the report list, the expected table schema, the docs table) is
read from it:

* ``-- report: <name>`` (the file's stem), ``-- answers: <question>``, ``-- merge: <why merging is exact>``;
* ``-- columns: name TYPE, name TYPE (note), ...``: the final table's columns in order with DuckDB types,
  checked against what the report writes every time it runs;
* ``-- partition: <column>`` (optional): the merge never combines partial rows whose values of this column
  differ (it groups, or partitions its windows, by it), so it gives the same rows run on disjoint hash parts
  of ``partial`` one after another. A merge too large for memory does that (``writer.write_library``).

Sections:

* ``-- @partial``: SQL over ``requests`` giving the mergeable partial aggregate (optional);
* ``-- @merge``: SQL over ``partial`` (the concatenated partials of this report) that re-aggregates it;
  running it on its own output changes nothing, which is what makes merging exact;
* ``-- @final``: SQL giving the report table; it reads merged partials as ``p_<name>`` (any report's).

A macro file holds ``CREATE [OR REPLACE] MACRO edgelog_...`` statements only, under a ``-- macros:`` header;
files are installed in name order, so a file may use the macros of files sorted before it.

Every run reads the files again, but parses only text it has not seen: what a file parses to is kept per
process, keyed by its path and its whole text (so an edited file is parsed again), and shared, so the parsed
objects are immutable. Parsing checks every column type and splits every macro file with DuckDB's module
functions (its default connection: opening a connection of its own costs ~14 ms, the first use of the
default one ~20 ms, and a run's first parse needs one of them); each distinct type spelling is looked up
once per process. That is tens of milliseconds in a process's first run, which a process that analyses
many times (a test suite, a long-lived caller) would otherwise pay each time.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb
import yaml

from edgelog.analysis.parse import sql_ident, sql_str
from edgelog.analysis.workspace import statement
from edgelog.errors import ConfigError, UsageError, shown
from edgelog.settings import package_data_dir

_MARKER = re.compile(r"^--\s*@(partial|merge|final)\s*$", re.MULTILINE)
_HEADER_KEY = re.compile(r"^--\s*(report|answers|columns|merge|partition|macros):\s?(.*)$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_COLUMN = re.compile(r"^([a-z_][a-z0-9_]*)\s+([A-Za-z][A-Za-z0-9_ ]*?)\s*(\(.*\))?$")
# A statement's text may start with the comments before it (DuckDB 2.0.1's extract_statements keeps them,
# 2.0.0 dropped them).
_MACRO_NAME = re.compile(
    r"^(?:\s*(?:--[^\n]*(?:\n|$)|/\*.*?\*/))*\s*CREATE\s+(?:OR\s+REPLACE\s+)?MACRO\s+(edgelog_[a-z0-9_]+)\s*\(",
    re.IGNORECASE | re.DOTALL,
)
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MACROS_DIR = "macros"
MAX_TAG_RULES_BYTES = 1 << 20


@dataclass(frozen=True)
class Column:
    """One declared column of a report table: its name and DuckDB type (canonical spelling)."""

    name: str
    type: str

    def __str__(self) -> str:
        return f"{self.name} {self.type}"


@dataclass(frozen=True)
class Report:
    """One report of the library, as its file declares it (shared between runs: see the module's doc)."""

    name: str
    file: Path
    sha256: str
    partial_sql: str | None
    merge_sql: str | None
    final_sql: str
    answers: str
    columns: tuple[Column, ...]
    merge_note: str
    header: str = ""
    partition: str | None = None  # ``-- partition:``: a column the merge may split ``partial`` by

    def column_problem(self, names: list[str], types: list[str]) -> str | None:
        """Why a table with these columns is not what ``-- columns:`` declares (None when it is)."""
        written = tuple(Column(n, t) for n, t in zip(names, types, strict=True))
        if written == self.columns:
            return None
        declared_only = [str(c) for c in self.columns if c not in written]
        written_only = [str(c) for c in written if c not in self.columns]
        detail = (
            f"declares {', '.join(declared_only)}; writes {', '.join(written_only)}"
            if declared_only or written_only
            else "columns are in another order"
        )
        return f"the table does not match the file's -- columns: header ({detail})"


def partial_casts(con: duckdb.DuckDBPyConnection, partial_sql: str) -> str:
    """``CAST(c AS type) AS c, ...`` over the columns of a report's partial as its SQL types them: partial
    rows read back from Parquet (other nodes' results, cached chunks) get exactly the columns and types the
    report's merge SQL expects. ``con`` must hold what the partial SQL reads (its tables may be empty)."""
    shape = con.sql(f"SELECT * FROM ({partial_sql}) LIMIT 0")
    return ", ".join(
        f"CAST({sql_ident(c)} AS {t}) AS {sql_ident(c)}"
        for c, t in zip(shape.columns, shape.types, strict=True)
    )


@dataclass(frozen=True)
class MacroFile:
    """A file of shared DuckDB macros: its statements and the macro names they define."""

    name: str
    file: Path
    sha256: str
    statements: tuple[str, ...]
    macros: tuple[str, ...]


_REPORTS: dict[tuple[Path, str], Report] = {}
_MACRO_FILES: dict[tuple[Path, str], MacroFile] = {}


def queries_dir() -> Path:
    """Where the report library lives: ``$EDGELOG_QUERIES_DIR``, else the copy installed with the package.

    The one place that locates the library (reports, macros, tag rules). The package data directory
    ``edgelog/data/queries`` is, in a checkout or an editable install, a symlink to the top-level
    ``queries/``; a wheel carries real files there.
    """
    env = os.environ.get("EDGELOG_QUERIES_DIR")
    if env:
        return Path(env)
    return package_data_dir("queries", marker="summary.sql", env="EDGELOG_QUERIES_DIR")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_T = TypeVar("_T")
_PARSED_MAX = 256  # distinct (path, text) kept per kind; a process that sees more starts again


def _parsed(
    parsed: dict[tuple[Path, str], _T], path: Path, text: str, parse: Callable[[Path, str], _T]
) -> _T:
    """What ``parse(path, text)`` gives, parsed once per process for the same path and text (only a parse
    that succeeded is kept: an error is raised every time)."""
    got = parsed.get((path, text))
    if got is None:
        got = parse(path, text)
        if len(parsed) >= _PARSED_MAX:
            parsed.clear()
        parsed[(path, text)] = got
    return got


def _header_fields(path: Path, header: str) -> dict[str, str]:
    """``-- key: value`` lines of a header, continuation lines (``--`` + indent) joined to their key."""
    fields: dict[str, str] = {}
    key = None
    for line in header.splitlines():
        m = _HEADER_KEY.match(line)
        if m:
            key = m[1]
            if key in fields:
                raise ConfigError(path, f"-- {key}:", "appears twice in the header")
            fields[key] = m[2].strip()
        elif key and line.startswith("--") and line[2:3].isspace() and line[2:].strip():
            fields[key] += " " + line[2:].strip()
        elif line.strip():
            key = None
    return fields


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses (notes like ``(top 100 by hits desc, path asc)`` hold commas)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def parse_columns(path: Path, text: str) -> tuple[Column, ...]:
    """``name TYPE (note), ...`` -> columns with DuckDB's canonical type names; bad ones name the column."""
    columns = []
    for item in _split_top_level(text):
        m = _COLUMN.match(item)
        if not m:
            raise ConfigError(
                path, "-- columns:", f"cannot read column {item!r}", hint="write `name TYPE (note)`"
            )
        try:
            canonical = _canonical_type(m[2])
        except duckdb.Error:
            raise ConfigError(
                path, "-- columns:", f"column {m[1]}: {m[2]!r} is not a DuckDB type", hint="e.g. BIGINT"
            ) from None
        columns.append(Column(m[1], canonical))
    if len({c.name for c in columns}) != len(columns):
        raise ConfigError(path, "-- columns:", "a column is declared twice")
    return tuple(columns)


@functools.lru_cache(maxsize=256)
def _canonical_type(spelling: str) -> str:
    """DuckDB's canonical name of a type spelling (``TIMESTAMPTZ`` -> ``TIMESTAMP WITH TIME ZONE``): the
    library spells a few types ~150 times; each spelling is asked once per process (an error is not kept)."""
    return str(duckdb.sqltype(spelling))


def parse_report(path: Path) -> Report:
    """Split a report file into its header and sections; anything missing is a config error naming it."""
    return _parsed(_REPORTS, path, path.read_text(encoding="utf-8"), _parse_report)


def _parse_report(path: Path, text: str) -> Report:
    name = path.stem
    if not NAME_RE.match(name):
        raise ConfigError(path, None, f"report name {name!r} must match {NAME_RE.pattern}")
    parts = _MARKER.split(text)
    header = parts[0]
    fields = _header_fields(path, header)
    for key in ("report", "answers", "columns", "merge"):
        if not fields.get(key):
            raise ConfigError(
                path, f"-- {key}:", "missing from the header", hint="see the header of queries/summary.sql"
            )
    if fields["report"] != name:
        raise ConfigError(
            path, "-- report:", f"says {fields['report']!r}, the file is {name!r}", hint="they must be equal"
        )
    sections: dict[str, str] = {}
    for kind, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[kind] = body.strip().rstrip(";").strip()
    if "final" not in sections:
        raise ConfigError(
            path, "-- @final", "report file has no final section", hint="add '-- @final' and SQL"
        )
    if ("partial" in sections) != ("merge" in sections):
        raise ConfigError(path, "-- @merge", "a report with a partial needs a merge section and vice versa")
    partition = fields.get("partition")
    if partition is not None and not (_IDENT.match(partition) and "merge" in sections):
        raise ConfigError(
            path, "-- partition:", f"{partition!r} must name one column of a report with a merge section"
        )
    return Report(
        name=name,
        file=path,
        sha256=sha256_bytes(text.encode()),
        partial_sql=sections.get("partial"),
        merge_sql=sections.get("merge"),
        final_sql=sections["final"],
        answers=fields["answers"],
        columns=parse_columns(path, fields["columns"]),
        merge_note=fields["merge"],
        header=header,
        partition=partition,
    )


def load_library(directory: Path | None = None) -> list[Report]:
    """All reports of the library, in name order: the one list of reports edgelog has."""
    directory = directory or queries_dir()
    files = sorted(directory.glob("*.sql"))
    if not files:
        raise UsageError(f"no report files in {directory}", hint="set EDGELOG_QUERIES_DIR")
    return [parse_report(p) for p in files]


def report_names() -> list[str]:
    """The names of the library's reports (what a results directory should hold)."""
    return [r.name for r in load_library()]


def _parse_macro_file(path: Path, text: str) -> MacroFile:
    """A macro file's text; every statement must be ``CREATE [OR REPLACE] MACRO edgelog_...``."""
    if not _header_fields(path, text.split("CREATE", 1)[0]).get("macros"):
        raise ConfigError(path, "-- macros:", "missing from the header", hint="-- macros: edgelog_x(arg)")
    try:
        statements = duckdb.extract_statements(text)  # parsing only: nothing is run or created
    except duckdb.Error as exc:
        raise ConfigError(path, None, f"not valid SQL: {str(exc).splitlines()[0]}") from None
    sql, names = [], []
    for st in statements:
        m = _MACRO_NAME.match(st.query)
        if st.type != duckdb.StatementType.CREATE or not m:
            raise ConfigError(
                path,
                None,
                f"only CREATE MACRO edgelog_... belongs in a macro file, not {st.query.strip()[:60]!r}",
                hint="put queries in queries/<report>.sql",
            )
        sql.append(st.query)
        names.append(m[1])
    return MacroFile(path.stem, path, sha256_bytes(text.encode()), tuple(sql), tuple(names))


def load_macros(directory: Path | None = None) -> list[MacroFile]:
    """Every macro file of the library (``queries/macros/*.sql``), in name order (the install order);
    DuckDB splits the statements of a file whose text is new to the process."""
    directory = directory or queries_dir() / MACROS_DIR
    return [
        _parsed(_MACRO_FILES, path, path.read_text(encoding="utf-8"), _parse_macro_file)
        for path in sorted(directory.glob("*.sql"))
    ]


# --- tag rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagRule:
    tag: str
    path: str
    methods: tuple[str, ...] | None


_TAG_RULES: dict[tuple[Path, str], tuple[TagRule, ...]] = {}


def default_tags_file() -> Path:
    return queries_dir() / "tags.yaml"


def load_tag_rules(path: Path, con: duckdb.DuckDBPyConnection) -> list[TagRule]:
    """Read and validate the YAML tag rules; every problem names the file, the field and a fix.

    The file is bounded in size, and messages show values through :func:`shown` (a few hundred bytes of YAML
    aliases expand to billions of items when formatted whole)."""
    try:
        if path.stat().st_size > MAX_TAG_RULES_BYTES:
            raise ConfigError(
                path,
                None,
                f"is larger than {MAX_TAG_RULES_BYTES >> 20} MiB ({path.stat().st_size} bytes)",
                hint="tag rules are a short list of name/path rules",
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            path, None, f"cannot read: {exc.strerror or exc}", hint="pass an existing file"
        ) from None
    rules = _parsed(_TAG_RULES, path, text, lambda p, t: _parse_tag_rules(p, t, con))
    return list(rules)


def _parse_tag_rules(path: Path, text: str, con: duckdb.DuckDBPyConnection) -> tuple[TagRule, ...]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, f"not valid YAML: {exc}", hint="fix the YAML syntax") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tags"), list):
        raise ConfigError(path, "tags", "must be a list of rules", hint="tags: [{name: api, path: '^/api/'}]")
    unknown = set(doc) - {"version", "tags"}
    if unknown:
        raise ConfigError(
            path,
            shown(sorted(str(k) for k in unknown)[0]),
            "unknown key",
            hint="only 'version' and 'tags' are allowed",
        )
    rules: list[TagRule] = []
    for i, item in enumerate(doc["tags"]):
        where = f"tags[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(
                path, where, "must be a mapping with name and path", hint="{name: api, path: '^/api/'}"
            )
        extra = set(item) - {"name", "path", "methods"}
        if extra:
            raise ConfigError(
                path,
                f"{where}.{shown(sorted(str(k) for k in extra)[0])}",
                "unknown key",
                hint="use name, path, methods",
            )
        name = item.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ConfigError(
                path,
                f"{where}.name",
                f"must be a tag name matching {NAME_RE.pattern}, got {shown(name)}",
                hint="use lower-case letters, digits and _",
            )
        pattern = item.get("path")
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(
                path, f"{where}.path", "must be a non-empty regular expression", hint="e.g. '^/api/'"
            )
        try:
            con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchone()
        except duckdb.Error as exc:
            raise ConfigError(
                path,
                f"{where}.path",
                f"invalid RE2 regular expression {shown(pattern)}: {str(exc).splitlines()[0][:200]}",
                hint="RE2 syntax has no look-around or back-references",
            ) from None
        methods = item.get("methods")
        if methods is not None:
            if (
                not isinstance(methods, list)
                or not methods
                or not all(isinstance(m, str) and re.fullmatch(r"[A-Za-z]+", m) for m in methods)
            ):
                raise ConfigError(
                    path,
                    f"{where}.methods",
                    "must be a non-empty list of HTTP methods",
                    hint="methods: [POST, PUT]",
                )
            methods = tuple(m.upper() for m in methods)
        rules.append(TagRule(name, pattern, methods))
    return tuple(rules)


def tags_macro_sql(rules: list[TagRule]) -> str:
    """``edgelog_tags(url_path, method)`` -> sorted distinct list of tags whose rules match."""
    by_tag: dict[str, list[str]] = {}
    for r in rules:
        cond = f"regexp_matches(p, {sql_str(r.path)})"
        if r.methods:
            cond += " AND upper(m) IN (" + ", ".join(sql_str(x) for x in r.methods) + ")"
        by_tag.setdefault(r.tag, []).append(f"({cond})")
    if not by_tag:
        return "CREATE OR REPLACE MACRO edgelog_tags(p, m) AS []::VARCHAR[]"
    items = ", ".join(
        f"CASE WHEN coalesce({' OR '.join(conds)}, false) THEN {sql_str(tag)} END"
        for tag, conds in sorted(by_tag.items())
    )
    return f"CREATE OR REPLACE MACRO edgelog_tags(p, m) AS list_filter([{items}], lambda x: x IS NOT NULL)"


ON_DEMAND_MACROS = frozenset({"client_ip"})
"""Macro files installed only by the step that uses them (``analysis.client_ip``, with --trusted-proxies and
only for addresses it cannot classify itself): DuckDB takes tenths of a second to bind each nested realip
macro, which every run would otherwise pay."""


def install_macros(
    con: duckdb.DuckDBPyConnection,
    macros: list[MacroFile],
    rules: list[TagRule] | None,
    *,
    on_demand: bool = False,
) -> str:
    """Create the library's macros and ``edgelog_tags`` (generated from the tag rules) on ``con``; return
    the sha256 of every statement run, in order (what identifies the macros created, for
    :meth:`ResultWriter.write_library`'s ``macros_key``).

    The files in :data:`ON_DEMAND_MACROS` are left out unless ``on_demand`` (see :func:`install_macro_files`).
    """
    files = [m for m in macros if on_demand or m.name not in ON_DEMAND_MACROS]
    install_macro_files(con, files)
    tags = tags_macro_sql(rules or [])
    con.execute(statement(con, tags))
    return sha256_bytes("\0".join([*(sql for m in files for sql in m.statements), tags]).encode())


def install_macro_files(con: duckdb.DuckDBPyConnection, macros: list[MacroFile]) -> None:
    """Run the statements of these macro files on ``con``; a failing one is a ConfigError naming its file.

    Each is parsed once per process (:func:`workspace.statement`): their text is the same every run, and
    parsing it again cost ~3 of the ~8 ms the macros took."""
    for macro_file in macros:
        for sql in macro_file.statements:
            try:
                con.execute(statement(con, sql))
            except duckdb.Error as exc:
                raise ConfigError(
                    macro_file.file, None, f"cannot create macro: {str(exc).splitlines()[0]}"
                ) from None
