"""The report library: ``queries/*.sql`` files, the tag rules, and the SQL macros they share.

A report file has a header comment (``-- report:``, ``-- answers:``, ``-- columns:``, ``-- merge:``) and up to
three sections introduced by marker lines:

* ``-- @partial``: SQL over ``requests`` giving the mergeable partial aggregate (optional);
* ``-- @merge``: SQL over ``partial`` (the concatenated partials of this report) that re-aggregates it;
  running it on its own output changes nothing, which is what makes merging exact;
* ``-- @final``: SQL giving the report table; it reads merged partials as ``p_<name>`` (any report's).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from edgelog.errors import ConfigError, UsageError

_MARKER = re.compile(r"^--\s*@(partial|merge|final)\s*$", re.MULTILINE)
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass
class Report:
    """One report of the library."""

    name: str
    file: Path
    sha256: str
    partial_sql: str | None
    merge_sql: str | None
    final_sql: str
    header: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def queries_dir() -> Path:
    """Where the report library lives: ``$EDGELOG_QUERIES_DIR``, else ``queries/`` of the source tree."""
    env = os.environ.get("EDGELOG_QUERIES_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "queries"
        if (candidate / "summary.sql").is_file():
            return candidate
    raise UsageError(
        "cannot find the report library (queries/*.sql)",
        hint="set EDGELOG_QUERIES_DIR to the directory holding summary.sql, top_paths.sql, ...",
    )


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_report(path: Path) -> Report:
    """Split a report file into its sections; a file without ``-- @final`` is a usage error."""
    text = path.read_text(encoding="utf-8")
    name = path.stem
    if not NAME_RE.match(name):
        raise ConfigError(path, None, f"report name {name!r} must match {NAME_RE.pattern}")
    parts = _MARKER.split(text)
    header = parts[0]
    sections: dict[str, str] = {}
    for kind, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[kind] = body.strip().rstrip(";").strip()
    if "final" not in sections:
        raise ConfigError(
            path, "-- @final", "report file has no final section", hint="add '-- @final' and SQL"
        )
    if ("partial" in sections) != ("merge" in sections):
        raise ConfigError(path, "-- @merge", "a report with a partial needs a merge section and vice versa")
    return Report(
        name=name,
        file=path,
        sha256=sha256_bytes(text.encode()),
        partial_sql=sections.get("partial"),
        merge_sql=sections.get("merge"),
        final_sql=sections["final"],
        header=header,
    )


def load_library(directory: Path | None = None) -> list[Report]:
    """All reports of the library, in name order."""
    directory = directory or queries_dir()
    files = sorted(directory.glob("*.sql"))
    if not files:
        raise UsageError(f"no report files in {directory}", hint="set EDGELOG_QUERIES_DIR")
    return [parse_report(p) for p in files]


# --- tag rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagRule:
    tag: str
    path: str
    methods: tuple[str, ...] | None


def default_tags_file() -> Path:
    return queries_dir() / "tags.yaml"


def load_tag_rules(path: Path, con: duckdb.DuckDBPyConnection) -> list[TagRule]:
    """Read and validate the YAML tag rules; every problem names the file, the field and a fix."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            path, None, f"cannot read: {exc.strerror or exc}", hint="pass an existing file"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, f"not valid YAML: {exc}", hint="fix the YAML syntax") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tags"), list):
        raise ConfigError(path, "tags", "must be a list of rules", hint="tags: [{name: api, path: '^/api/'}]")
    unknown = set(doc) - {"version", "tags"}
    if unknown:
        raise ConfigError(
            path, sorted(unknown)[0], "unknown key", hint="only 'version' and 'tags' are allowed"
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
                path, f"{where}.{sorted(extra)[0]}", "unknown key", hint="use name, path, methods"
            )
        name = item.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ConfigError(
                path,
                f"{where}.name",
                f"must be a tag name matching {NAME_RE.pattern}, got {name!r}",
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
                f"invalid RE2 regular expression {pattern!r}: {str(exc).splitlines()[0]}",
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
    return rules


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def tags_macro_sql(rules: list[TagRule]) -> str:
    """``edgelog_tags(url_path, method)`` -> sorted distinct list of tags whose rules match."""
    by_tag: dict[str, list[str]] = {}
    for r in rules:
        cond = f"regexp_matches(p, {_lit(r.path)})"
        if r.methods:
            cond += " AND upper(m) IN (" + ", ".join(_lit(x) for x in r.methods) + ")"
        by_tag.setdefault(r.tag, []).append(f"({cond})")
    if not by_tag:
        return "CREATE OR REPLACE MACRO edgelog_tags(p, m) AS []::VARCHAR[]"
    items = ", ".join(
        f"CASE WHEN coalesce({' OR '.join(conds)}, false) THEN {_lit(tag)} END"
        for tag, conds in sorted(by_tag.items())
    )
    return f"CREATE OR REPLACE MACRO edgelog_tags(p, m) AS list_filter([{items}], lambda x: x IS NOT NULL)"


# --- classification macros used by the final steps ------------------------------------------------

STATIC_RE = (
    r"(?i)\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|tiff?|woff2?|ttf|otf|eot|mp4|webm|ogg|mp3|"
    r"wav|flv|avi|mpe?g|swf|pdf|txt|csv|xlsx?|docx?|pptx?|zip|gz|tgz|tar|rar|7z|exe|iso|dmg)$"
)
CRAWLER_RE = (
    r"(?i)(bot|crawl|spider|slurp|curl/|wget/|python-requests|python-urllib|go-http-client|java/|okhttp|"
    r"libwww|httpclient|scrapy|headlesschrome|facebookexternalhit|lighthouse|pingdom|uptime|monitor|"
    r"nikto|sqlmap|nmap|masscan|zgrab)"
)

MACROS = [
    f"CREATE OR REPLACE MACRO edgelog_is_static(p) AS coalesce(regexp_matches(p, {_lit(STATIC_RE)}), false)",
    f"""CREATE OR REPLACE MACRO edgelog_crawler(ua) AS CASE
        WHEN ua IS NULL OR NOT regexp_matches(ua, {_lit(CRAWLER_RE)}) THEN NULL
        WHEN regexp_matches(ua, '(?i)googlebot') THEN 'Googlebot'
        WHEN regexp_matches(ua, '(?i)bingbot') THEN 'Bingbot'
        WHEN regexp_matches(ua, '(?i)yandex') THEN 'YandexBot'
        WHEN regexp_matches(ua, '(?i)baiduspider') THEN 'Baiduspider'
        WHEN regexp_matches(ua, '(?i)duckduckbot') THEN 'DuckDuckBot'
        WHEN regexp_matches(ua, '(?i)applebot') THEN 'Applebot'
        WHEN regexp_matches(ua, '(?i)ahrefsbot') THEN 'AhrefsBot'
        WHEN regexp_matches(ua, '(?i)semrushbot') THEN 'SemrushBot'
        WHEN regexp_matches(ua, '(?i)facebookexternalhit') THEN 'Facebook'
        WHEN regexp_matches(ua, '(?i)^curl/') THEN 'curl'
        WHEN regexp_matches(ua, '(?i)^wget/') THEN 'Wget'
        WHEN regexp_matches(ua, '(?i)python-requests') THEN 'python-requests'
        WHEN regexp_matches(ua, '(?i)go-http-client') THEN 'Go-http-client'
        ELSE coalesce(nullif(regexp_extract(ua, '([A-Za-z][A-Za-z0-9_.-]*(?:bot|crawler|spider))', 1), ''),
                      nullif(regexp_extract(ua, '^([A-Za-z][A-Za-z0-9_.-]*)', 1), ''), 'Other crawler')
      END""",
    """CREATE OR REPLACE MACRO edgelog_browser(ua) AS CASE
        WHEN ua IS NULL OR ua IN ('', '-') THEN 'Unknown'
        WHEN edgelog_crawler(ua) IS NOT NULL THEN 'Crawler'
        WHEN regexp_matches(ua, 'Edg(e|A|iOS)?/') THEN 'Edge'
        WHEN regexp_matches(ua, 'OPR/|Opera') THEN 'Opera'
        WHEN regexp_matches(ua, 'SamsungBrowser/') THEN 'Samsung Internet'
        WHEN regexp_matches(ua, 'Firefox/|FxiOS/') THEN 'Firefox'
        WHEN regexp_matches(ua, 'Chrome/|CriOS/|Chromium/') THEN 'Chrome'
        WHEN regexp_matches(ua, 'MSIE |Trident/') THEN 'Internet Explorer'
        WHEN regexp_matches(ua, 'Safari/') AND regexp_matches(ua, 'Version/') THEN 'Safari'
        ELSE 'Others'
      END""",
    """CREATE OR REPLACE MACRO edgelog_os(ua) AS CASE
        WHEN ua IS NULL OR ua IN ('', '-') THEN 'Unknown'
        WHEN edgelog_crawler(ua) IS NOT NULL THEN 'Crawler'
        WHEN regexp_matches(ua, 'Windows') THEN 'Windows'
        WHEN regexp_matches(ua, 'iPhone|iPad|iPod') THEN 'iOS'
        WHEN regexp_matches(ua, 'Mac OS X|Macintosh') THEN 'macOS'
        WHEN regexp_matches(ua, 'Android') THEN 'Android'
        WHEN regexp_matches(ua, 'CrOS') THEN 'ChromeOS'
        WHEN regexp_matches(ua, 'Linux|X11') THEN 'Linux'
        ELSE 'Others'
      END""",
]


def install_report_macros(con: duckdb.DuckDBPyConnection, rules: list[TagRule] | None) -> None:
    for sql in MACROS:
        con.execute(sql)
    con.execute(tags_macro_sql(rules or []))
