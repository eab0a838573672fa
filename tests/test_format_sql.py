"""The DuckDB parser a log format compiles to gives what the Python reference gives, on both paths."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import lanes
from support.formats import definitions, written_value
from support.tools import REPO_ROOT

from edgelog.analysis.format_sql import fields_sql, split_char
from edgelog.analysis.library import install_macros, load_macros
from edgelog.logformat import LogFormat, preset, resolve
from edgelog.logformat.codec import parse_line, render_line

SERVERS = REPO_ROOT / "tests" / "fixtures" / "servers"


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    install_macros(c, load_macros(), None)
    return c


def sql_fields(
    con: duckdb.DuckDBPyConnection, fmt: LogFormat, lines: list[str], *, fast_path: bool = True
) -> list[dict[str, str] | None]:
    """Run the compiled parser over ``lines``; per line the field values by key, or None if not matched."""
    source = (
        "(SELECT 7 AS file_id, generate_subscripts(?::VARCHAR[], 1) AS line_no, unnest(?::VARCHAR[]) AS line)"
    )
    rows = con.execute(
        f"SELECT * FROM ({fields_sql(fmt, source, fast_path=fast_path)}) ORDER BY line_no", [lines, lines]
    ).fetchall()
    out: list[dict[str, str] | None] = []
    for row in rows:
        assert row[0] == 7  # the file id is carried through (batched parsing labels rows by it)
        matched, values = row[3], row[4:]
        out.append({f.key: v for f, v in zip(fmt.fields, values, strict=True)} if matched else None)
    return out


def utf8_lines(path: Path) -> tuple[list[str], int]:
    """Lines DuckDB can hold (valid UTF-8) and how many were not."""
    good, bad = [], 0
    for raw in path.read_bytes().splitlines():
        try:
            good.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            bad += 1
    return good, bad


CASES = [
    ("combined", "/shared/nginx_small.log"),
    ("combined", "/shared/apache_small.log"),
    ("main", "nginx-main.log"),
    ("timing", "nginx-timing.log"),
    ("json", "nginx-json.log"),
    ("vhost_combined", "apache-vhost_combined.log"),
    ("timing", "apache-timing.log"),
]


@pytest.mark.parametrize(("name", "log"), CASES)
def test_real_server_lines_parse_as_the_reference_does(
    con: duckdb.DuckDBPyConnection, samples_dir: Path, name: str, log: str
) -> None:
    if log.startswith("/shared/"):
        path, fmt = samples_dir / log.removeprefix("/shared/"), preset("combined")
    else:
        path = SERVERS / log
        conf = SERVERS / ("nginx.conf" if log.startswith("nginx") else "httpd.conf")
        fmt = resolve(from_path=conf, name=name)  # type: ignore[assignment]
    assert fmt is not None
    lines, not_utf8 = utf8_lines(path)
    assert not_utf8 == (1 if log == "nginx-json.log" else 0)  # escape=json writes a binary request raw
    reference = [parse_line(fmt, line) for line in lines]
    assert all(r is not None for r in reference)
    assert sql_fields(con, fmt, lines) == reference
    assert sql_fields(con, fmt, lines, fast_path=False) == reference


def test_split_character_is_a_quote_for_quoted_formats_and_tab_when_quotes_are_raw() -> None:
    assert split_char(preset("combined")) == '"'
    assert split_char(preset("vhost_combined")) == '"'
    none = resolve("escape=none '$remote_addr\t$status\t$request_time'")
    assert none is not None and split_char(none) == "\t"


def test_lines_that_do_not_match_are_not_matched(con: duckdb.DuckDBPyConnection) -> None:
    fmt = preset("combined_timing")
    good = render_line(
        fmt,
        {
            "remote_addr": "10.0.0.1",
            "remote_user": None,
            "time_local": "23/Nov/2026:08:00:00 +0000",
            "request": "GET / HTTP/1.1",
            "status": "200",
            "body_bytes_sent": "5",
            "http_referer": None,
            "http_user_agent": 'a "b"',
            "request_time": "0.005",
            "upstream_response_time": "0.001, 0.002 : 0.003",
        },
    )
    bad = [good.replace(" 200 ", " 20 "), good + " extra", good.replace("0.005", "0.05"), "", "garbage"]
    assert [r is not None for r in sql_fields(con, fmt, [good, *bad])] == [True] + [False] * len(bad)


@settings(
    max_examples=lanes.examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(st.data())
def test_any_definition_parses_in_sql_as_in_python(
    con: duckdb.DuckDBPyConnection, data: st.DataObject
) -> None:
    fmt = data.draw(definitions(), label="format")
    lines = []
    for _ in range(data.draw(st.integers(1, 4), label="lines")):
        values = {f.key: data.draw(written_value(fmt, f)) for f in fmt.fields}
        line = render_line(fmt, values)
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            continue  # raw invalid UTF-8 (escape=json/none): the reader handles those lines, not the parser
        lines.append(line)
    reference = [parse_line(fmt, line) for line in lines]
    assert sql_fields(con, fmt, lines) == reference, json.dumps([fmt.definition, lines])
    assert sql_fields(con, fmt, lines, fast_path=False) == reference
