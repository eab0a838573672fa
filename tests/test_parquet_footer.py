"""The row count of a Parquet file read from its footer bytes in Python equals DuckDB's, or is None.

A merge checks every listed row count of every node's tables (53,000 files at 1,000 nodes). It reads every
byte of those files anyway to hash them, so the footer comes from the same read; DuckDB answers for any file
the small reader cannot decode or whose count disagrees with the manifest (so the problem named is DuckDB's).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from edgelog import parquet_footer, resultdir
from edgelog.analysis import analyze
from edgelog.fileio import hash_file, hash_file_tail
from edgelog.parquet_footer import row_count

TABLES = {
    "empty": "SELECT 1::INTEGER AS a, 'x' AS b LIMIT 0",
    "one row": "SELECT 42::BIGINT AS n",
    "many row groups": "SELECT range AS i, range::VARCHAR AS s FROM range(300000)",
    # more than 14 schema elements: the compact protocol's long list header
    "wide": "SELECT " + ", ".join(f"{i}::SMALLINT AS c{i}" for i in range(40)) + " FROM range(3)",
    "nested types": (
        "SELECT [1, 2] AS l, {'a': 1, 'b': 'x'} AS s, MAP {'k': 1} AS m, 1.5::DECIMAL(9, 2) AS d, "
        "TIMESTAMPTZ '2026-11-23 08:00:00+00' AS ts, uuid() AS u, true AS flag, NULL::DOUBLE AS nothing "
        "FROM range(1000)"
    ),
    "large count": "SELECT 1::TINYINT AS x FROM range(5000000)",
}


@pytest.mark.parametrize("sql", TABLES.values(), ids=list(TABLES))
@pytest.mark.parametrize("compression", ["zstd", "uncompressed"])
def test_the_footer_row_count_is_duckdbs(tmp_path: Path, sql: str, compression: str) -> None:
    target = tmp_path / "t.parquet"
    con = duckdb.connect()
    con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION {compression})")
    want = con.execute("SELECT num_rows FROM parquet_file_metadata(?)", [str(target)]).fetchone()
    size, digest, tail = hash_file_tail(str(target))
    assert (size, digest) == hash_file(target)
    assert row_count(tail) == want[0]


@pytest.mark.parametrize("remembered", [4 << 20, 0], ids=["schemas remembered", "none remembered"])
def test_files_of_one_layout_and_of_layouts_alike_are_each_counted_as_duckdb_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remembered: int
) -> None:
    # a footer's schema is recognised by its bytes once decoded: files of the same columns, and of columns
    # that begin alike (the same first bytes) but differ later, must each still give their own count
    monkeypatch.setattr(parquet_footer, "_MAX_KNOWN_BYTES", remembered)
    monkeypatch.setattr(parquet_footer, "_known", {})
    monkeypatch.setattr(parquet_footer, "_known_bytes", 0)
    con = duckdb.connect()
    first = ", ".join(f"{i}::INTEGER AS a_long_column_name_shared_by_both_tables_{i}" for i in range(4))
    layouts = [f"SELECT {first}, 'x' AS tail", f"SELECT {first}, 1.5::DOUBLE AS tail"]
    for n, (k, sql) in enumerate((k, sql) for k in range(3) for sql in layouts):
        target = tmp_path / f"{n}.parquet"
        con.execute(f"COPY ({sql} FROM range({k * 7 + n})) TO '{target}' (FORMAT parquet)")
        want = con.execute("SELECT num_rows FROM parquet_file_metadata(?)", [str(target)]).fetchone()
        assert row_count(hash_file_tail(str(target))[2]) == want[0] == k * 7 + n


def test_every_table_of_a_result_is_counted_as_its_manifest_lists(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    line = '10.0.0.{i} - - [23/Nov/2026:08:00:0{s} +0000] "GET /p{i} HTTP/1.1" 200 5 "-" "curl/8.5.0"'
    (logs / "access.log").write_text("\n".join(line.format(i=i, s=i % 10) for i in range(50)) + "\nbad\n")
    out = analyze([logs], tmp_path / "out").out
    manifest = resultdir.read(out)
    counted: dict[str, int | None] = {}
    assert manifest.verify(out, footer_rows=counted) == []
    listed = {o.path: o.rows for o in manifest.outputs if o.path.endswith(".parquet")}
    assert listed and counted == listed


@pytest.mark.parametrize(
    "tail",
    [
        b"",
        b"PAR1",
        b"PAR1 not a Parquet file PAR1",
        b"PAR1" + b"\x00" * 20 + (16).to_bytes(4, "little") + b"PAR1",  # a footer of STOP bytes only
        b"PAR1" + b"\xff" * 20 + (20).to_bytes(4, "little") + b"PAR1",  # varints that never end
        # field 1 a list of 2^28 - 1 booleans, or a map of as many boolean pairs, in an 8-byte footer
        b"PAR1" + b"\x19\xf1\xff\xff\xff\x7f\x00\x00" + (8).to_bytes(4, "little") + b"PAR1",
        b"PAR1" + b"\x1b\xff\xff\xff\x7f\x11\x00\x00" + (8).to_bytes(4, "little") + b"PAR1",
    ],
)
def test_what_is_not_a_footer_counts_as_unknown(tail: bytes) -> None:
    assert row_count(tail) is None


def test_a_footer_longer_than_the_tail_kept_counts_as_unknown(tmp_path: Path) -> None:
    target = tmp_path / "wide.parquet"
    columns = ", ".join(f"{i}::SMALLINT AS column_with_a_long_name_{i}" for i in range(600))
    duckdb.connect().execute(f"COPY (SELECT {columns}) TO '{target}' (FORMAT parquet)")
    size, _, tail = hash_file_tail(str(target), tail=1024)
    assert size > 1024 and len(tail) == 1024
    assert row_count(tail) is None
    assert row_count(hash_file_tail(str(target), tail=size)[2]) == 1
