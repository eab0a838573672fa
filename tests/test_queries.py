"""Every report of the query library on a small fixture whose answers were worked out by hand."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from duckdb import _seam

from edgelog.analysis import analyze, merge, workspace, writer
from edgelog.analysis.library import ON_DEMAND_MACROS, load_library, load_macros, load_tag_rules
from edgelog.errors import ConfigError

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def log(ip: str, ts: str, request: str, status: int, nbytes: str, ua: str, ref: str = "-") -> str:
    return f'{ip} - - [{ts} +0000] "{request}" {status} {nbytes} "{ref}" "{ua}"'


# Visitor A (10.0.0.1, Chrome/Windows), B (10.0.0.2, Firefox/Linux), a Googlebot, curl over IPv6.
FIXTURE = [
    log("10.0.0.1", "23/Nov/2026:08:00:00", "GET / HTTP/1.1", 200, "1000", CHROME),
    log(
        "10.0.0.1",
        "23/Nov/2026:08:00:01",
        "GET /static/app.js HTTP/1.1",
        200,
        "500",
        CHROME,
        "https://shop.example/",
    ),
    log(
        "10.0.0.1",
        "23/Nov/2026:08:10:00",
        "GET /product/1 HTTP/1.1",
        200,
        "2000",
        CHROME,
        "https://www.google.com/search?q=x",
    ),
    log("10.0.0.1", "23/Nov/2026:08:20:00", "GET /cart HTTP/1.1", 200, "300", CHROME),
    log("10.0.0.1", "23/Nov/2026:09:00:00", "GET /checkout HTTP/1.1", 200, "400", CHROME),
    log("10.0.0.1", "23/Nov/2026:09:01:00", "GET /checkout/confirmation HTTP/1.1", 200, "100", CHROME),
    log(
        "10.0.0.2",
        "23/Nov/2026:08:01:00",
        "GET /product/1?ref=ad HTTP/1.1",
        200,
        "2000",
        FIREFOX,
        "https://www.google.com/",
    ),
    log("10.0.0.2", "23/Nov/2026:08:02:00", "GET /nope HTTP/1.1", 404, "150", FIREFOX),
    log("10.0.0.2", "23/Nov/2026:08:03:00", "POST /login HTTP/1.1", 302, "0", FIREFOX),
    log("10.0.0.3", "23/Nov/2026:08:05:00", "GET /robots.txt HTTP/1.1", 200, "50", GOOGLEBOT),
    log("10.0.0.3", "23/Nov/2026:08:05:30", "GET /product/2 HTTP/1.1", 500, "100", GOOGLEBOT),
    log("2001:db8::1", "23/Nov/2026:08:06:00", "HEAD / HTTP/1.1", 200, "-", "curl/8.5.0"),
    log("2001:db8::1", "23/Nov/2026:08:06:01", "\\x16\\x03\\x01", 400, "0", "curl/8.5.0"),
    "not a log line at all",
    log("10.0.0.1", "24/Nov/2026:00:10:00", "GET / HTTP/1.1", 200, "1000", CHROME),
]


def t(day: int, h: int, m: int, s: int = 0) -> datetime:
    return datetime(2026, 11, day, h, m, s, tzinfo=UTC)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fixture")
    (root / "in").mkdir()
    (root / "in" / "access-fx-20261124T001500Z.log").write_text("\n".join(FIXTURE) + "\n")
    result = analyze([root / "in"], root / "out")
    assert result.status == "ok"
    return root / "out"


def report(out: Path, name: str) -> list[tuple]:
    return duckdb.sql(f"SELECT * FROM '{out}/reports/{name}.parquet'").fetchall()


def test_every_report_declares_its_columns_and_writes_exactly_them(out: Path) -> None:
    """The ``-- columns:`` header is the one declaration of a report's table: names, order and types."""
    library = load_library()
    assert len(library) >= 21
    for r in library:
        assert r.answers and r.merge_note, r.name
        described = duckdb.sql(f"DESCRIBE SELECT * FROM '{out}/reports/{r.name}.parquet'").fetchall()
        assert [(c.name, c.type) for c in r.columns] == [(d[0], d[1]) for d in described], r.name


def test_design_doc_lists_exactly_the_library(repo_root: Path) -> None:
    """docs/design.md's report table is checked against the headers, so it cannot drift from them."""
    text = (repo_root / "docs" / "design.md").read_text()
    section = text.split("## Report tables", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| `(\w+)`[^|]*\| (.*) \|$", line)
        if m:
            rows[m[1]] = [re.sub(r"\s*\(.*\)$", "", c).strip() for c in m[2].split(", ")]
    assert rows == {r.name: [c.name for c in r.columns] for r in load_library()}


def _library_copy(tmp_path: Path, repo_root: Path) -> Path:
    copy = tmp_path / "queries"
    shutil.copytree(repo_root / "queries", copy)
    return copy


def test_a_report_that_breaks_its_declared_columns_fails_when_it_runs(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = _library_copy(tmp_path, repo_root)
    path = lib / "status_codes.sql"
    path.write_text(path.read_text().replace("-- columns: status INTEGER,", "-- columns: code INTEGER,"))
    path = lib / "hosts.sql"
    path.write_text(path.read_text().replace("hits BIGINT, visitors", "hits DOUBLE, visitors"))
    monkeypatch.setenv("EDGELOG_QUERIES_DIR", str(lib))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text("\n".join(FIXTURE) + "\n")
    result = analyze([tmp_path / "in"], tmp_path / "o")
    failed = {q.name: q.error or "" for q in result.manifest.failed_queries}
    assert set(failed) == {"status_codes", "hosts"}, failed
    assert "code INTEGER" in failed["status_codes"] and "status INTEGER" in failed["status_codes"]
    assert "hits DOUBLE" in failed["hosts"] and "hits BIGINT" in failed["hosts"]
    assert result.status == "partial" and result.exit_code == 3
    assert not (tmp_path / "o" / "reports" / "hosts.parquet").exists()


def test_the_columns_check_binds_each_runs_tables(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process parses a report's final SQL once (workspace.statement), but binds it on every run: the same
    final SQL over a merged partial typed otherwise is checked against that run's tables."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text("\n".join(FIXTURE) + "\n")
    assert analyze([tmp_path / "in"], tmp_path / "first").status == "ok"  # the library's SQL, as shipped
    lib = _library_copy(tmp_path, repo_root)
    path = lib / "methods_protocols.sql"
    text = path.read_text()
    merge_sql = "SELECT method, protocol, sum(hits)::BIGINT AS hits FROM partial"
    assert merge_sql in text
    path.write_text(text.replace(merge_sql, merge_sql.replace("::BIGINT AS hits", "::DOUBLE AS hits")))
    monkeypatch.setenv("EDGELOG_QUERIES_DIR", str(lib))
    result = analyze([tmp_path / "in"], tmp_path / "second")
    failed = {q.name: q.error or "" for q in result.manifest.failed_queries}
    assert set(failed) == {"methods_protocols"}, failed
    assert "hits DOUBLE" in failed["methods_protocols"]
    assert not (tmp_path / "second" / "reports" / "methods_protocols.parquet").exists()


def _final_sql_binds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The report final SQL texts DuckDB's relation layer binds from now on (the -- columns: check's)."""
    ends = {" ".join(r.final_sql.split())[-150:] for r in load_library()}  # (its leading comments may go)
    bound: list[str] = []
    real = _seam.bind

    def bind(con: duckdb.DuckDBPyConnection, sql: object, *args: object, **kwargs: object) -> object:
        text = " ".join(str(getattr(sql, "query", sql)).split())
        if text[-150:] in ends:
            bound.append(text)
        return real(con, sql, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_seam, "bind", bind)
    return bound


def test_the_columns_check_binds_a_final_sql_once_per_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Binding each report's final SQL for the -- columns: check cost ~15 ms a small analyze (the COPY binds
    it again): a process keeps what it bound by the SQL and the catalog it bound against (every table's and
    view's definition, and the macros installed), so a run over the same catalog binds none again, and a
    run with other macros (another tag rules file) binds every one again. Runs with --trusted-proxies,
    which install macros only when the data needs them, always bind."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text("\n".join(FIXTURE) + "\n")
    monkeypatch.setattr(writer, "_COLUMNS", {}, raising=False)  # what other tests bound is not counted
    if hasattr(writer, "_KEPT_BEFORE"):
        monkeypatch.setattr(writer, "_KEPT_BEFORE", threading.Event())
        writer._KEPT_BEFORE.set()  # not a process's first run (that keeps nothing: the next test)
    bound = _final_sql_binds(monkeypatch)
    first = analyze([tmp_path / "in"], tmp_path / "first")
    assert first.status == "ok" and len(bound) > 20
    every = len(bound)
    bound.clear()
    again = analyze([tmp_path / "in"], tmp_path / "again")
    assert again.status == "ok" and bound == []
    for rel in (o.path for o in first.manifest.outputs if o.path.endswith(".parquet")):
        assert (tmp_path / "again" / rel).read_bytes() == (tmp_path / "first" / rel).read_bytes(), rel
    tags = tmp_path / "tags.yaml"
    tags.write_text("tags:\n  - {name: api, path: '^/api/'}\n")
    assert analyze([tmp_path / "in"], tmp_path / "tags", tags=tags).status == "ok"
    assert len(bound) == every
    bound.clear()
    for i in range(2):
        assert analyze([tmp_path / "in"], tmp_path / f"t{i}", trusted_proxies="10.9.0.0/16").status == "ok"
        assert len(bound) == every * (i + 1)


def test_a_process_first_run_keys_no_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that analyses once (a node's job) gains nothing from keeping its binds, and the catalog key
    costs ~6 ms: its first run binds as before and keys nothing; the second keys its catalog once."""
    monkeypatch.setattr(writer, "_KEPT_BEFORE", threading.Event())
    keyed: list[str] = []
    real = writer._catalog

    def catalog(con: duckdb.DuckDBPyConnection, macros_key: str) -> str:
        keyed.append(macros_key)
        return real(con, macros_key)

    monkeypatch.setattr(writer, "_catalog", catalog)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text("\n".join(FIXTURE) + "\n")
    assert analyze([tmp_path / "in"], tmp_path / "first").status == "ok"
    assert keyed == []
    assert analyze([tmp_path / "in"], tmp_path / "second").status == "ok"
    assert len(keyed) == 1


def test_report_headers_are_checked_when_the_library_loads(tmp_path: Path, repo_root: Path) -> None:
    lib = _library_copy(tmp_path, repo_root)
    path = lib / "browsers.sql"
    path.write_text(path.read_text().replace("-- report: browsers", "-- report: browser"))
    with pytest.raises(ConfigError, match="browser"):
        load_library(lib)
    path.write_text(re.sub(r"-- columns:.*\n", "", (repo_root / "queries" / "browsers.sql").read_text()))
    with pytest.raises(ConfigError, match="-- columns:"):
        load_library(lib)
    path.write_text(
        (repo_root / "queries" / "browsers.sql").read_text().replace("hits BIGINT", "hits NOTATYPE")
    )
    with pytest.raises(ConfigError, match="NOTATYPE"):
        load_library(lib)
    for bad in ("vh, path", "Vh"):
        path.write_text(
            (repo_root / "queries" / "browsers.sql")
            .read_text()
            .replace("-- partition: vh", f"-- partition: {bad}")
        )
        with pytest.raises(ConfigError, match="-- partition:"):
            load_library(lib)
    path.write_text((repo_root / "queries" / "browsers.sql").read_text())
    summary = lib / "summary.sql"
    summary.write_text(summary.read_text().replace("-- columns:", "-- partition: vh\n-- columns:", 1))
    with pytest.raises(ConfigError, match=r"-- partition:.*merge section"):
        load_library(lib)


def test_macros_come_from_sql_files_and_are_hashed_like_reports(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = _library_copy(tmp_path, repo_root)
    macro_files = sorted((lib / "macros").glob("*.sql"))
    assert macro_files, "queries/macros/*.sql hold the shared DuckDB macros"
    ua = lib / "macros" / "user_agent.sql"
    ua.write_text(ua.read_text().replace("THEN 'Firefox'", "THEN 'Fox'"))
    monkeypatch.setenv("EDGELOG_QUERIES_DIR", str(lib))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text("\n".join(FIXTURE) + "\n")
    result = analyze([tmp_path / "in"], tmp_path / "o")
    assert ("Fox", 3, 1) in report(tmp_path / "o", "browsers")
    macros = {q.file: q for q in result.manifest.queries if q.kind == "macro"}
    assert set(macros) == {f"queries/macros/{p.name}" for p in macro_files}
    assert macros["queries/macros/user_agent.sql"].sha256 == hashlib.sha256(ua.read_bytes()).hexdigest()
    merged = merge([tmp_path / "o"], tmp_path / "m")
    assert {q.file for q in merged.manifest.queries if q.kind == "macro"} == set(macros)


def test_a_process_parses_library_text_once_and_an_edited_file_again(tmp_path: Path, repo_root: Path) -> None:
    """Reports, macros and tag rules are parsed once per process for the same text (shared, immutable
    objects) and again when a file's text changes, also to the error it now has."""
    lib = _library_copy(tmp_path, repo_root)
    first, again = load_library(lib), load_library(lib)
    assert all(a is b for a, b in zip(first, again, strict=True))
    report_file = lib / "browsers.sql"
    report_file.write_text(report_file.read_text().replace("-- answers:", "-- answers: edited:"))
    edited = {r.name: r for r in load_library(lib)}
    assert edited["browsers"].answers.startswith("edited:")
    assert all(edited[r.name] is r for r in first if r.name != "browsers")
    report_file.write_text(report_file.read_text().replace("hits BIGINT", "hits NOTATYPE"))
    for _ in range(2):
        with pytest.raises(ConfigError, match="NOTATYPE"):
            load_library(lib)

    macros = lib / "macros"
    before = load_macros(macros)
    assert [a is b for a, b in zip(before, load_macros(macros), strict=True)] == [True] * len(before)
    ua = macros / "user_agent.sql"
    ua.write_text(ua.read_text() + "\nCREATE MACRO edgelog_edited(a) AS a;\n")
    after = {m.name: m for m in load_macros(macros)}
    assert after["user_agent"].macros[-1] == "edgelog_edited"
    assert after["user_agent"].sha256 == hashlib.sha256(ua.read_bytes()).hexdigest()

    tags = tmp_path / "tags.yaml"
    tags.write_text("tags:\n  - {name: api, path: '^/api/'}\n")
    with duckdb.connect() as con:
        assert [r.tag for r in load_tag_rules(tags, con)] == ["api"]
        tags.write_text("tags:\n  - {name: admin, path: '^/admin/'}\n")
        assert [r.tag for r in load_tag_rules(tags, con)] == ["admin"]
        tags.write_text("tags:\n  - {name: bad, path: '(?=x)'}\n")
        for _ in range(2):
            with pytest.raises(ConfigError, match="RE2"):
                load_tag_rules(tags, con)


def test_a_process_parses_the_macros_it_creates_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Creating the library's macros cost ~8 ms a run, ~3 of them parsing their text again: a process keeps
    each macro statement parsed (workspace.statement), the tag rules' macro too, and runs them parsed."""
    monkeypatch.setattr(workspace, "_STATEMENTS", {})
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text("\n".join(FIXTURE) + "\n")
    assert analyze([tmp_path / "in"], tmp_path / "o").status == "ok"
    kept = set(workspace._STATEMENTS)
    texts = [sql for m in load_macros() if m.name not in ON_DEMAND_MACROS for sql in m.statements]
    assert len(texts) > 5 and [t[:60] for t in texts if t not in kept] == []
    assert [t for t in kept if t.startswith("CREATE OR REPLACE MACRO edgelog_tags(")]


def test_a_macro_file_holds_only_macro_definitions(tmp_path: Path, repo_root: Path) -> None:
    lib = _library_copy(tmp_path, repo_root)
    (lib / "macros" / "zz.sql").write_text("CREATE MACRO edgelog_x(a) AS a;\nCREATE TABLE t (x INT);\n")
    with pytest.raises(ConfigError, match=r"zz\.sql"):
        load_macros(lib / "macros")


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE MACRO edgelog_x(a) AS a;",
        "-- the comment before it\nCREATE OR REPLACE MACRO edgelog_x(a) AS a;",
        "\n/* a block\n comment */ -- and a line\n  create macro edgelog_x (a) AS a;",
    ],
)
def test_a_macro_statement_is_known_with_the_comments_before_it(statement: str) -> None:
    """DuckDB 2.0.1's extract_statements keeps the comments before a statement in its text (2.0.0 dropped
    them): the macro is still found by name, whichever DuckDB a plain `pip install` brings."""
    from edgelog.analysis.library import _MACRO_NAME

    m = _MACRO_NAME.match(statement)
    assert m is not None and m[1] == "edgelog_x"
    assert _MACRO_NAME.match("-- CREATE MACRO edgelog_x(a) AS a;\nSELECT 1") is None


def test_summary(out: Path) -> None:
    assert report(out, "summary") == [(15, 14, 1, 0, 5, 7600, 10, 1, 2, t(23, 8, 0), t(24, 0, 10))]


def test_status_codes(out: Path) -> None:
    assert report(out, "status_codes") == [
        (200, "2xx", 10, 7350),
        (302, "3xx", 1, 0),
        (400, "4xx", 1, 0),
        (404, "4xx", 1, 150),
        (500, "5xx", 1, 100),
    ]


def test_paths(out: Path) -> None:
    assert report(out, "top_paths") == [
        ("/", 3, 3, 2000),
        ("/product/1", 2, 2, 4000),
        ("/cart", 1, 1, 300),
        ("/checkout", 1, 1, 400),
        ("/checkout/confirmation", 1, 1, 100),
        ("/login", 1, 1, 0),
        ("/nope", 1, 1, 150),
        ("/product/2", 1, 1, 100),
        ("/robots.txt", 1, 1, 50),
        ("/static/app.js", 1, 1, 500),
    ]
    assert report(out, "static_files") == [("/robots.txt", 1, 1, 50), ("/static/app.js", 1, 1, 500)]
    assert report(out, "not_found") == [("/nope", 1, 1)]


def test_hosts_methods_and_time(out: Path) -> None:
    assert report(out, "hosts") == [
        ("10.0.0.1", 7, 2, 5300, t(23, 8, 0), t(24, 0, 10)),
        ("10.0.0.2", 3, 1, 2150, t(23, 8, 1), t(23, 8, 3)),
        ("10.0.0.3", 2, 1, 150, t(23, 8, 5), t(23, 8, 5, 30)),
        ("2001:db8::1", 2, 1, 0, t(23, 8, 6), t(23, 8, 6, 1)),
    ]
    assert report(out, "methods_protocols") == [
        ("GET", "HTTP/1.1", 11),
        ("HEAD", "HTTP/1.1", 1),
        ("POST", "HTTP/1.1", 1),
        (None, None, 1),
    ]
    assert report(out, "time_hourly") == [
        (t(23, 8, 0), 11, 4, 6100),
        (t(23, 9, 0), 2, 1, 500),
        (t(24, 0, 0), 1, 1, 1000),
    ]
    assert report(out, "time_5min") == [
        (t(23, 8, 0), 5, 2, 3650),
        (t(23, 8, 5), 4, 2, 150),
        (t(23, 8, 10), 1, 1, 2000),
        (t(23, 8, 20), 1, 1, 300),
        (t(23, 9, 0), 2, 1, 500),
        (t(24, 0, 10), 1, 1, 1000),
    ]
    assert report(out, "error_rate") == [
        (t(23, 8, 0), 5, 1, 0, 0.2),
        (t(23, 8, 5), 4, 1, 1, 0.5),
        (t(23, 8, 10), 1, 0, 0, 0.0),
        (t(23, 8, 20), 1, 0, 0, 0.0),
        (t(23, 9, 0), 2, 0, 0, 0.0),
        (t(24, 0, 10), 1, 0, 0, 0.0),
    ]


def test_referrers_and_user_agents(out: Path) -> None:
    assert report(out, "referring_urls") == [
        ("https://shop.example/", 1, 1),
        ("https://www.google.com/", 1, 1),
        ("https://www.google.com/search?q=x", 1, 1),
    ]
    assert report(out, "referring_sites") == [("www.google.com", 2, 2), ("shop.example", 1, 1)]
    assert report(out, "browsers") == [("Chrome", 7, 2), ("Crawler", 4, 2), ("Firefox", 3, 1)]
    assert report(out, "operating_systems") == [("Windows", 7, 2), ("Crawler", 4, 2), ("Linux", 3, 1)]
    assert report(out, "crawlers") == [("Googlebot", 2, 1), ("curl", 2, 1)]


def test_sessions(out: Path) -> None:
    # A: / 08:00, /product/1 08:10, /cart 08:20 | 40 min gap | /checkout 09:00, /checkout/confirmation 09:01
    # A next day: / | B: /product/1, /nope, /login (2 min) | bot: /product/2 (robots.txt is static)
    # curl: HEAD /
    assert report(out, "sessions") == [(6, (1200 + 60 + 120) / 6, 11 / 6, 0.5, 0.5)]
    assert report(out, "entry_pages") == [("/", 3), ("/checkout", 1), ("/product/1", 1), ("/product/2", 1)]
    assert report(out, "exit_pages") == [
        ("/", 2),
        ("/cart", 1),
        ("/checkout/confirmation", 1),
        ("/login", 1),
        ("/product/2", 1),
    ]


def test_tags(out: Path) -> None:
    assert report(out, "tags") == [
        ("product", 3, 3, 4100, 1),
        ("checkout", 2, 1, 500, 0),
        ("static", 2, 2, 550, 0),
        ("auth", 1, 1, 0, 0),
        ("cart", 1, 1, 300, 0),
        ("crawler_files", 1, 1, 50, 0),
        ("order_complete", 1, 1, 100, 0),
        ("write", 1, 1, 0, 0),
    ]


def test_nodes_and_quarantine(out: Path) -> None:
    assert report(out, "nodes") == [("fx", 1, 0, 15, 14, 1, 7600, t(23, 8, 0), t(24, 0, 10), "ok")]
    q = duckdb.sql(f"SELECT node_id, file, line_no, reason, raw FROM '{out}/quarantine.parquet'").fetchall()
    assert q == [
        (
            "fx",
            "access-fx-20261124T001500Z.log",
            14,
            "not a combined/common access log line",
            "not a log line at all",
        )
    ]
    assert report(out, "anomalies") == []  # far too little traffic for any rule


def test_anomalies(tmp_path: Path) -> None:
    lines = []
    # Baseline: 12 buckets of 20 requests from distinct IPs, all 200.
    for b in range(12):
        for i in range(20):
            lines.append(
                log(
                    f"10.1.{b}.{i}",
                    f"23/Nov/2026:10:{5 * b:02d}:{i:02d}",
                    "GET / HTTP/1.1",
                    200,
                    "10",
                    FIREFOX,
                )
            )
    # 11:00 bucket: 20 requests, 10 answered 500.
    for i in range(20):
        lines.append(
            log(
                f"10.2.0.{i}",
                f"23/Nov/2026:11:00:{i:02d}",
                "GET /api HTTP/1.1",
                500 if i < 10 else 200,
                "10",
                FIREFOX,
            )
        )
    # A scanner in the 11:30 bucket: 25 x 404 and 5 x 200.
    for i in range(30):
        lines.append(
            log(
                "10.9.9.9",
                f"23/Nov/2026:11:3{i // 10}:{i:02d}",
                f"GET /probe{i} HTTP/1.1",
                404 if i < 25 else 200,
                "10",
                "sqlmap/1.7",
            )
        )
    # A burst at 12:00: 80 requests in one minute from one IP, all fine.
    for i in range(80):
        lines.append(log("10.8.8.8", f"23/Nov/2026:12:00:{i % 60:02d}", "GET / HTTP/1.1", 200, "10", FIREFOX))
    (tmp_path / "a.log").write_text("\n".join(lines) + "\n")
    analyze([tmp_path / "a.log"], tmp_path / "out")
    rows = duckdb.sql(
        "SELECT kind, subject, ts, value, baseline, score, severity "
        f"FROM '{tmp_path}/out/reports/anomalies.parquet'"
    ).fetchall()
    by_kind = {r[0]: r for r in rows}
    assert set(by_kind) == {"error_5xx_spike", "error_4xx_spike", "scanner", "request_burst"}
    assert by_kind["error_5xx_spike"] == ("error_5xx_spike", "site", t(23, 11, 0), 0.5, 0.0, 100, "critical")
    spike4 = by_kind["error_4xx_spike"]
    assert spike4[1:3] == ("site", t(23, 11, 30)) and spike4[3] == 25 / 30
    scanner = by_kind["scanner"]
    # 25 404s from one of 262 IPs: baseline 25/262 404s per IP; score 20*log2(26/(1+25/262)) = 91.4.
    assert scanner[:4] == ("scanner", "10.9.9.9", t(23, 11, 30), 25.0)
    assert scanner[4] == pytest.approx(25 / 262) and scanner[5:] == (91, "critical")
    burst = by_kind["request_burst"]
    # Median requests per IP-minute is 1; 80 in one minute: score min(100, 20*log2(81/2)).
    assert burst[:5] == ("request_burst", "10.8.8.8", t(23, 12, 0), 80.0, 1.0) and burst[5:] == (
        100,
        "critical",
    )
    scores = [r[5] for r in rows]
    assert scores == sorted(scores, reverse=True)
    for r in rows:
        assert 0 <= r[5] <= 100
        assert r[6] == (
            "critical" if r[5] >= 80 else "high" if r[5] >= 60 else "medium" if r[5] >= 40 else "low"
        )


def test_sessions_use_session_id_where_the_format_has_one(tmp_path: Path) -> None:
    def rec(ts: str, ip: str, path: str, sid: str) -> str:
        return json.dumps({
            "ts": ts, "remote_addr": ip, "remote_user": "-", "method": "GET", "path": path,
            "protocol": "HTTP/1.1",
            "status": 200, "bytes": 1, "referer": "-", "user_agent": FIREFOX, "host": "h", "request_id": "r",
            "session_id": sid, "user_id": "", "response_time_ms": 1.0,
        })  # fmt: skip

    (tmp_path / "a.jsonl").write_text("\n".join([
        rec("2026-11-23T08:00:00.000Z", "10.0.0.1", "/a", "s1"),
        rec("2026-11-23T08:05:00.000Z", "10.0.0.99", "/b", "s1"),  # new IP (mobile network), same session
        rec("2026-11-23T08:06:00.000Z", "10.0.0.1", "/c", "s2"),  # same IP + UA, another session id
    ]) + "\n")  # fmt: skip
    analyze([tmp_path / "a.jsonl"], tmp_path / "out")
    assert report(tmp_path / "out", "sessions") == [(2, 150.0, 1.5, 0.5, 0.0)]
    assert report(tmp_path / "out", "entry_pages") == [("/a", 1), ("/c", 1)]


def test_sessions_split_only_at_gaps_over_30_minutes(tmp_path: Path) -> None:
    """Gaps of exactly 30 minutes and page views on both sides of a half-hour keep one session; 41, 45 and
    50 minutes split, also within one clock hour (the partial groups page views by 30-minute bucket)."""
    views = [
        ("08:29:59", "/a"), ("08:30:01", "/b"), ("09:00:01", "/c"),  # 2 s apart across 08:30, then 30:00
        ("09:45:00", "/d"), ("10:00:00", "/e"), ("10:29:00", "/f"),
        ("11:10:00", "/g"), ("12:00:00", "/h"), ("12:45:00", "/i"),
    ]  # fmt: skip
    lines = [log("10.0.0.7", f"23/Nov/2026:{t}", f"GET {p} HTTP/1.1", 200, "1", FIREFOX) for t, p in views]
    (tmp_path / "access.log").write_text("\n".join(lines) + "\n")
    analyze([tmp_path / "access.log"], tmp_path / "out")
    assert report(tmp_path / "out", "sessions") == [(5, (1802 + 2640) / 5, 9 / 5, 0.6, 0.0)]
    assert report(tmp_path / "out", "entry_pages") == [(p, 1) for p in ("/a", "/d", "/g", "/h", "/i")]
    assert report(tmp_path / "out", "exit_pages") == [(p, 1) for p in ("/c", "/f", "/g", "/h", "/i")]


# The sessions merge as it read the partial twice (fragment groups, then every fragment joined to its
# group's session): the reference the one-scan merge must equal, row for row.
SESSIONS_MERGE_BY_JOIN = """
WITH k AS (SELECT visitor, start_ts, max(end_ts) AS group_end FROM partial GROUP BY visitor, start_ts),
o AS (
  SELECT visitor, start_ts, max(group_end) OVER (PARTITION BY visitor ORDER BY start_ts
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
  FROM k
),
s AS (
  SELECT visitor, start_ts,
         sum(CASE WHEN prev_end IS NULL OR start_ts - prev_end > INTERVAL 30 MINUTE THEN 1 ELSE 0 END)
           OVER (PARTITION BY visitor ORDER BY start_ts ROWS UNBOUNDED PRECEDING) AS sid
  FROM o
),
g AS (SELECT p.*, s.sid FROM partial p JOIN s USING (visitor, start_ts))
SELECT visitor, min(start_ts) AS start_ts, max(end_ts) AS end_ts, sum(pages)::BIGINT AS pages,
       arg_min(entry_page, (start_ts, entry_page)) AS entry_page,
       arg_max(exit_page, (end_ts, exit_page)) AS exit_page,
       bool_or(cart) AS cart, bool_or(purchase) AS purchase
FROM g GROUP BY visitor, sid
"""


def test_the_sessions_merge_equals_merging_fragment_by_fragment() -> None:
    # Fragments of a few visitors from many nodes, on a 10-minute grid so that start times, end times, entry
    # and exit pages tie often, and gaps fall on both sides of 30 minutes.
    sessions = next(r for r in load_library() if r.name == "sessions")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SELECT setseed(0.13)")
    con.execute(
        """
        CREATE TABLE partial AS
        SELECT 'v' || (random() * 12)::INT AS visitor, s AS start_ts,
               s + to_minutes(10 * (random() * 4)::INT) AS end_ts, 1 + (random() * 3)::BIGINT AS pages,
               '/p' || (random() * 3)::INT AS entry_page, '/p' || (random() * 3)::INT AS exit_page,
               random() < 0.2 AS cart, random() < 0.1 AS purchase
        FROM (SELECT TIMESTAMPTZ '2026-11-23 00:00:00+00' + to_minutes(10 * (random() * 200)::INT) AS s
              FROM range(600))
        """
    )
    want = con.execute(f"SELECT * FROM ({SESSIONS_MERGE_BY_JOIN}) ORDER BY ALL").fetchall()
    got = con.execute(f"SELECT * FROM ({sessions.merge_sql}) ORDER BY ALL").fetchall()
    assert len(want) > 100 and len({r[0] for r in want}) == 13
    assert got == want
