"""A line longer than DuckDB's CSV buffer (16 x max_line_size = 128 MiB) is one quarantined line, never lost.

DuckDB's parallel line reader, with ``ignore_errors``, drops such a line without recording a reject, so before
the fix a file holding one was "ok" with one line fewer and every later line number shifted by one. Here one
analyze run reads a plain access log with a 150,000,000-byte line between two runs of 50 lines, the same log
gzip'd (with another gzip'd log in its batch), and a gzip'd error log with such a line. The plain file is
written once per module: ~150 MB in the temp directory (the gzip'd ones ~650 KB each). The whole module:
3.4-3.7 s, 3.7-4.0 CPU s, peak RSS 350-550 MB over four runs (`flock /work/team/bench.lock /usr/bin/time
pytest -n0 tests/test_long_lines.py`, 2026-12-01 03:16 UTC, load 1.9-2.9; 5.8-6.7 CPU s before the escaped
copy's test wrote a shorter run of raw bytes).
"""

from __future__ import annotations

import gzip
import random
import shutil
import zlib
from pathlib import Path

import duckdb
import pytest

from edgelog.analysis import RunResult, analyze, parse, streams
from edgelog.analysis.parse import MAX_LINE_BYTES, QUARANTINE_RAW_CHARS, SMALL_FILE_BYTES, sanitize_copy
from edgelog.errors import ExitCode

LONG = 150_000_000  # > 128 MiB = 134,217,728 bytes, DuckDB's buffer for an 8 MiB max_line_size
HEAD = 50
ACCESS = "access-n1-20261123T080500Z.log"
ACCESS_GZ = "access-n1-20261123T081000Z.log.gz"
ERRLOG_GZ = "error-n1-20261123T080500Z.log.gz"
OTHER_GZ = "access-n1-20261123T081500Z.log.gz"
OTHER = 8000
LINE = '10.0.0.{i} - - [23/Nov/2026:08:10:00 +0000] "GET /{path} HTTP/1.1" 200 5 "-" "curl/8.5.0"\n'
ERRLOG_LINE = b"2026/11/23 08:00:%02d [error] 7#7: *%d open() failed (2: No such file or directory)\n"


def _head() -> bytes:
    lines = [
        f'10.0.0.{i} - - [23/Nov/2026:08:00:{i % 60:02d} +0000] "GET /p{i} HTTP/1.1" 200 5 "-" "curl/8.5.0"\n'
        for i in range(HEAD)
    ]
    return "".join(lines).encode()


def _gzip_to(path: Path, parts: list[bytes]) -> None:
    """gzip ``parts`` to ``path`` at level 1 (a run of one byte compresses ~1000:1 at any level)."""
    z = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with path.open("wb") as out:
        for part in parts:
            for at in range(0, len(part), 1 << 24):
                out.write(z.compress(part[at : at + (1 << 24)]))
        out.write(z.flush())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("long") / "in"
    d.mkdir()
    head, long_line = _head(), b"A" * LONG + b"\n"
    parts = [head, long_line, b"garbage\n", head, b"garbage\n"]  # lines 1-50, 51, 52, 53-102, 103
    with (d / ACCESS).open("wb") as fh:
        for part in parts:
            fh.write(part)
    _gzip_to(d / ACCESS_GZ, parts)
    errs = b"".join(ERRLOG_LINE % (i, i) for i in range(HEAD))
    bad = b"2026/11/23 08:00:00 [bogus] 7#7: not a level\n"
    _gzip_to(d / ERRLOG_GZ, [errs, long_line, bad, errs, bad])
    # read in one batch with ACCESS_GZ (not small: ~150 KB compressed), so the batch is retried file by file
    rand = random.Random(0)
    other = "".join(LINE.format(i=i % 250, path=f"{rand.getrandbits(128):032x}") for i in range(OTHER))
    (d / OTHER_GZ).write_bytes(gzip.compress(other.encode(), 1))
    assert (d / OTHER_GZ).stat().st_size * 10 > SMALL_FILE_BYTES
    return d


@pytest.fixture(scope="module")
def run(inputs: Path) -> RunResult:
    return analyze([inputs], inputs.parent / "out")


def test_a_line_longer_than_the_readers_buffer_is_one_quarantined_line(run: RunResult) -> None:
    assert run.status == "ok" and run.exit_code == ExitCode.OK
    by_name = {i.name: i for i in run.manifest.inputs}
    for name in (ACCESS, ACCESS_GZ, ERRLOG_GZ):
        entry = by_name[name]
        assert entry.status == "ok", entry.error
        assert entry.lines_read == 2 * HEAD + 3, name
        assert (entry.lines_parsed, entry.lines_quarantined) == (2 * HEAD, 3), name
        q = duckdb.sql(
            f"SELECT line_no, reason, raw FROM '{run.out}/quarantine.parquet' WHERE file = '{name}' "
            "ORDER BY line_no"
        ).fetchall()
        # the long line, then the lines after it at their true numbers
        assert q[0] == (HEAD + 1, f"line longer than {MAX_LINE_BYTES} bytes", "A" * QUARANTINE_RAW_CHARS)
        assert [n for n, _, _ in q[1:]] == [HEAD + 2, 2 * HEAD + 3]
    other = by_name[OTHER_GZ]
    assert (other.status, other.lines_read, other.lines_parsed) == ("ok", OTHER, OTHER)


def test_a_file_whose_copy_still_loses_lines_fails(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named, never "ok": here the copy is not cut, so the reader loses the long line again."""

    def copy_uncut(path: Path, gz: bool, dest: Path) -> tuple[int, int]:
        shutil.copyfile(path, dest)
        return 0, 0

    monkeypatch.setattr(parse, "sanitize_copy", copy_uncut)
    result = analyze([inputs / ACCESS], tmp_path / "out")
    assert result.status == "failed" and result.exit_code == ExitCode.FAILED
    entry = result.manifest.inputs[0]
    assert entry.status == "failed" and entry.lines_read == 0
    assert entry.error == f"lines lost by the reader: {LONG + 1} bytes of the file are in no line read"


def test_a_capped_copy_cuts_only_the_long_lines(tmp_path: Path) -> None:
    src = tmp_path / "a.log"
    src.write_bytes(b"short\r\n" + b"x" * 100 + b"\r\n" + b"y" * 7 + b"\n" + b"z" * 30)
    assert sanitize_copy(src, False, tmp_path / "c", cap=10) == (147, 100)
    assert (tmp_path / "c").read_bytes() == b"short\n" + b"x" * 10 + b"\n" + b"y" * 7 + b"\n" + b"z" * 10
    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    assert sanitize_copy(gz, True, tmp_path / "d", cap=10) == (147, 100)
    assert (tmp_path / "d").read_bytes() == (tmp_path / "c").read_bytes()


def test_a_capped_copy_cuts_lines_across_and_inside_chunks(tmp_path: Path) -> None:
    """Lines longer than the cap that span chunks (4 MiB), start or end in one, or lie inside one."""
    cap = 1 << 20
    sizes = [5, 9 << 20, 3, (3 << 20) + 7, 2 << 20, cap, cap + 1, 0, 4 << 20, 11]
    data = b"\n".join(bytes([65 + n]) * size for n, size in enumerate(sizes))
    (tmp_path / "a.log").write_bytes(data)
    assert sanitize_copy(tmp_path / "a.log", False, tmp_path / "c", cap=cap) == (len(data), 9 << 20)
    assert (tmp_path / "c").read_bytes() == b"\n".join(line[:cap] for line in data.split(b"\n"))


def test_a_long_line_with_other_faults_is_named_by_its_size(tmp_path: Path) -> None:
    """The reader records several errors for such a line (invalid UTF-8, NUL bytes, over the limit)."""
    d = tmp_path / "in"
    d.mkdir()
    long_bad = b"\xff" + b"B" * (MAX_LINE_BYTES + 100) + b"\x00\n"
    (d / ACCESS).write_bytes(_head() + long_bad + _head())
    result = analyze([d], tmp_path / "out")
    q = duckdb.sql(f"SELECT line_no, reason, length(raw) FROM '{tmp_path}/out/quarantine.parquet'").fetchall()
    assert q == [(HEAD + 1, f"line longer than {MAX_LINE_BYTES} bytes", QUARANTINE_RAW_CHARS)]
    assert result.manifest.inputs[0].lines_read == 2 * HEAD + 1


def test_a_gzip_file_of_several_members_is_read_whole(tmp_path: Path) -> None:
    """Its trailer's size is the last member's, so the reader looks short: the file is read again from a
    copy, whose size is exact, and nothing is lost or failed."""
    d = tmp_path / "in"
    d.mkdir()
    (d / ACCESS_GZ).write_bytes(gzip.compress(_head() * 40) + gzip.compress(_head()))
    result = analyze([d], tmp_path / "out")
    entry = result.manifest.inputs[0]
    assert (entry.status, entry.lines_read, entry.lines_parsed) == ("ok", 41 * HEAD, 41 * HEAD)


def test_the_escaped_copy_of_a_stream_file_cuts_its_long_lines(tmp_path: Path) -> None:
    # an error log's raw bytes are escaped as \xHH before DuckDB reads it (four characters a byte): a 3 MB
    # line of raw bytes became a 12 MB line in the copy (a 150 MB one, 600 MB of scratch); the copy now cuts
    # every line one over the reader's limit, as the sanitized copy does, so it is still rejected as too long
    # with the same first characters, and every other line is kept as it was. The long line here is under
    # the limit as written (7.8 MB) and over it escaped (8.7 MB): 300,000 raw bytes, then plain text (each
    # raw byte costs the escaping a Python call, ~0.7 us: 3,000,000 of them took 2 CPU s)
    src = tmp_path / "error.log"
    head = b"2026/11/23 08:00:00 [error] 1#1: "
    long_line = head + b"\xff" * 300_000 + b"a" * 7_500_000
    assert len(long_line) < parse.MAX_LINE_BYTES < len(long_line) + 3 * 300_000
    src.write_bytes(head + b"ok\n" + long_line + b"\n" + head + b"bad \xfe byte\n")
    dest = tmp_path / "escaped.log"
    streams.escape_copy(src, False, dest)
    lines = dest.read_bytes().split(b"\n")
    assert len(lines) == 4 and lines[3] == b""
    assert lines[0] == head + b"ok" and lines[2] == head + b"bad \\xFE byte"
    assert len(lines[1]) == parse.MAX_LINE_BYTES + 1
    assert lines[1] == (head + b"\\xFF" * 300_000 + b"a" * 7_500_000)[: parse.MAX_LINE_BYTES + 1]
