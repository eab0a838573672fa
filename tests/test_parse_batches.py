"""Files are read in batches (many files per DuckDB read); results never depend on how files are batched.

Every way a file can be read (whole and split in SQL when small, by DuckDB's line reader when large or odd,
many per read or one at a time) must give the same rows, line numbers and quarantine as every other.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from edgelog.analysis import RunResult, analyze, parse, workspace

GOOD = '10.0.0.{n} - - [23/Nov/2026:08:{m:02d}:00 +0000] "GET /p{n} HTTP/1.1" 200 {n} "-" "curl/8.5.0"'


LARGE = 16_000  # lines of a gzip file too large to be read whole (~137 KB: counted 10x, over 1 MiB)


def good(n: int) -> bytes:
    return GOOD.format(n=n, m=n % 60).encode()


def corpus(root: Path, samples_dir: Path) -> Path:
    """Rotated files of every kind a batch can hold: clean, odd bytes, CRLF, BOM, empty, gzip, JSON."""
    d = root / "in"
    d.mkdir()
    files: dict[str, bytes] = {
        "clean": b"".join(good(i) + b"\n" for i in range(40)),
        "no-final-newline": good(1) + b"\n" + good(2),
        "empty": b"",
        "only-newline": b"\n",
        "blank-lines": good(3) + b"\n\n \n" + good(4) + b"\n\n",
        "invalid-utf8": good(5) + b"\n" + good(6)[:-2] + b'\xff"\n' + good(7) + b"\n",
        "nul-byte": good(8) + b"\na\x00b\n" + good(9) + b"\n",
        "crlf": good(10) + b"\r\n" + good(11) + b"\r\n",
        "bare-cr": good(12) + b"\n" + good(13)[:20] + b"\r" + good(13)[20:] + b"\n",
        "bom": b"\xef\xbb\xbf" + good(14) + b"\n" + good(15) + b"\n",
        "garbage": b"not a log line\n" + good(16) + b"\n",
        "nginx": (samples_dir / "nginx_small.log").read_bytes(),
        "apache": (samples_dir / "apache_small.log").read_bytes(),
    }
    for i, (name, data) in enumerate(files.items()):
        (d / f"access-n{i % 3}-20261123T08{i:02d}00Z.log").write_bytes(data)
        del name
    (d / "access-n1-20261123T090000Z.log.gz").write_bytes(gzip.compress(good(17) + b"\n" + good(18) + b"\n"))
    # expands past the whole-file limit (a small gzip may hold a thousandfold), and two gzip members
    expands = (good(19) + b"\n") * 13_000
    assert len(expands) > parse.SMALL_FILE_BYTES
    (d / "access-n2-20261123T090500Z.log.gz").write_bytes(gzip.compress(expands))
    (d / "access-n0-20261123T090700Z.log.gz").write_bytes(
        gzip.compress(good(20) + b"\n") + gzip.compress(good(21))
    )
    (d / "access-n2-20261123T091000Z.jsonl").write_bytes(
        b'{"ts": "2026-11-23T08:00:00Z", "remote_addr": "10.1.1.1", "status": 200}\n{bad\n'
    )
    return d


def rows(out: Path) -> dict[str, list[tuple]]:
    """Every request and quarantined line, and the per-file counts, of a result."""
    return {
        "requests": duckdb.sql(f"SELECT * FROM '{out}/queries/dump.parquet' ORDER BY ALL").fetchall(),
        "quarantine": duckdb.sql(f"SELECT * FROM '{out}/quarantine.parquet' ORDER BY ALL").fetchall(),
        "files": duckdb.sql(f"SELECT * FROM '{out}/partials/files.parquet' ORDER BY ALL").fetchall(),
    }


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    q = tmp_path_factory.mktemp("query") / "dump.sql"
    columns = "node_id, file, line_no, ts, ip, request, path, status, bytes, user_agent, vh"
    q.write_text(f"SELECT {columns} FROM requests")
    return q


@pytest.fixture(scope="module")
def batched(
    tmp_path_factory: pytest.TempPathFactory, samples_dir: Path, dump: Path
) -> tuple[Path, RunResult]:
    """The corpus and its run with the default batching, made once per module (no test changes either)."""
    root = tmp_path_factory.mktemp("batched")
    d = corpus(root, samples_dir)
    return d, analyze([d], root / "batched", queries=[dump])


def test_batched_reads_equal_one_file_at_a_time(
    tmp_path: Path, batched: tuple[Path, RunResult], dump: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d, batched_run = batched
    assert batched_run.status == "ok"
    monkeypatch.setattr(parse, "BATCH_FILES", 1)
    single = analyze([d], tmp_path / "single", queries=[dump])
    monkeypatch.setattr(parse, "SMALL_FILE_BYTES", 0)  # every file through DuckDB's line reader
    reader = analyze([d], tmp_path / "reader", queries=[dump])
    monkeypatch.setattr(parse, "BATCH_FILES", 512)
    reader_batched = analyze([d], tmp_path / "reader-batched", queries=[dump])
    expected = rows(tmp_path / "single")
    assert rows(batched_run.out) == expected
    assert rows(tmp_path / "reader") == expected
    assert rows(tmp_path / "reader-batched") == expected
    for result in (batched_run, single, reader, reader_batched):
        assert [
            (i.name, i.lines_read, i.lines_parsed, i.lines_quarantined) for i in result.manifest.inputs
        ] == [(i.name, i.lines_read, i.lines_parsed, i.lines_quarantined) for i in single.manifest.inputs]
    by_name = {i.name: i for i in batched_run.manifest.inputs}
    assert by_name["access-n0-20261123T080000Z.log"].lines_parsed == 40
    assert by_name["access-n2-20261123T080200Z.log"].lines_read == 0  # empty file
    assert by_name["access-n1-20261123T080400Z.log"].lines_quarantined == 3  # two blank lines and " "
    quarantine = {(r[1], r[2]): r[3] for r in expected["quarantine"]}
    assert quarantine[("access-n2-20261123T080500Z.log", 2)] == "invalid UTF-8"
    assert quarantine[("access-n0-20261123T080600Z.log", 2)] == "contains a NUL byte"


def test_one_unreadable_file_fails_alone_in_a_batch(
    tmp_path: Path, batched: tuple[Path, RunResult], dump: Path
) -> None:
    # Two gzip files too large to be read whole, so DuckDB's line reader reads them in one batch: a sound
    # one, and one cut off mid-stream (disk full during rotation) far enough in that its first line, which
    # format detection reads, is whole. The batch's read fails; each file is then read alone.
    d = Path(shutil.copytree(batched[0], tmp_path / "in"))
    lines = b"".join(good(i) + b"\n" for i in range(LARGE))
    sound = d / "access-n1-20261123T094500Z.log.gz"
    sound.write_bytes(gzip.compress(lines))
    bad = d / "access-n0-20261123T095000Z.log.gz"
    cut = gzip.compress(lines)
    bad.write_bytes(cut[: len(cut) * 9 // 10])
    assert min(sound.stat().st_size, bad.stat().st_size) * 10 > parse.SMALL_FILE_BYTES
    result = analyze([d], tmp_path / "out", queries=[dump])
    assert result.status == "partial"
    status = {i.name: i.status for i in result.manifest.inputs}
    assert status.pop(bad.name) == "failed"
    assert set(status.values()) == {"ok"}
    # the same rows as the corpus with the sound file alone
    got = rows(tmp_path / "out")["requests"]
    assert sum(1 for r in got if r[1] == sound.name) == LARGE
    assert [r for r in got if r[1] != sound.name] == rows(batched[1].out)["requests"]


def test_whole_file_reads_are_bounded(tmp_path: Path) -> None:
    """Only small, single-member, complete UTF-8 text is read whole; everything else streams."""

    def small(name: str, data: bytes, gz: bool) -> str | None:
        path = tmp_path / name
        path.write_bytes(data)
        return parse._small_text(parse.ParseInput(0, path, "combined", gz, name, None))

    assert small("ok.gz", gzip.compress(good(1) + b"\n"), True) == good(1).decode() + "\n"
    bomb = gzip.compress(b"x" * (parse.SMALL_FILE_BYTES * 4))
    assert len(bomb) * 10 <= parse.SMALL_FILE_BYTES  # small enough on disk to be read whole
    assert small("bomb.gz", bomb, True) is None
    assert small("two.gz", gzip.compress(b"a\n") + gzip.compress(b"b\n"), True) is None
    assert small("cut.gz", gzip.compress(good(1) * 50)[:-12], True) is None
    assert small("big.log", b"y" * (parse.SMALL_FILE_BYTES + 1), False) is None
    assert small("cr.log", b"a\r\nb\r\n", False) is None
    assert small("latin1.log", b"caf\xe9\n", False) is None


def test_a_process_parses_the_workspace_statements_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tables and views every analyze creates, and the statements that split a small file into lines
    and count each file's lines, have the same text every run: a process keeps them parsed
    (workspace.statement) instead of parsing them again each run (~1.5 ms of parsing a small analyze)."""
    monkeypatch.setattr(workspace, "_STATEMENTS", {})
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "access-n1-20261123T0805Z.log").write_bytes(good(5) + b"not a line\n")
    assert analyze([tmp_path / "in"], tmp_path / "out").status == "ok"
    kept = [" ".join(text.split()) for text in workspace._STATEMENTS]
    for start in (
        "CREATE TABLE parsed (",
        "CREATE VIEW requests AS",
        "CREATE VIEW quarantine AS",
        "CREATE TABLE stream_quarantine",
        "CREATE OR REPLACE VIEW quarantine AS",
        "CREATE TABLE error_lines",
        "CREATE VIEW errors AS",
        "CREATE TABLE app_lines",
        "CREATE VIEW app_events AS",
        "CREATE OR REPLACE TEMP TABLE _split AS",
        "CREATE OR REPLACE TEMP VIEW _lines AS",
        "CREATE OR REPLACE TEMP TABLE _rejected AS",
        "SELECT file_id, count(*)",
        "CREATE TABLE p_files (",
        "INSERT INTO p_files SELECT",
    ):
        assert [t for t in kept if t.startswith(start)], start


def test_a_single_file_is_parsed_by_one_kept_statement_naming_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement that parses one file into ``parsed`` (5 KB of SQL, ~2.3 ms to parse) takes the file's
    label and node as parameters: its text is the same for every file, kept parsed (workspace.statement),
    and names no file; the rows are labelled as before."""
    monkeypatch.setattr(workspace, "_STATEMENTS", {})
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "access-n7-20261123T080500Z.log").write_bytes(good(5) + b"not a line\n")
    result = analyze([tmp_path / "in"], tmp_path / "out")
    assert result.status == "ok"
    kept = [text for text in workspace._STATEMENTS if "INSERT INTO parsed" in text]
    assert len(kept) == 2, kept  # the requests, and the lines rejected before parsing
    assert not [t for t in kept if "access-n7" in t or "'n7'" in t]
    rows = duckdb.sql(
        f"SELECT DISTINCT node_id, name FROM '{tmp_path}/out/partials/files.parquet'"
    ).fetchall()
    assert rows == [("n7", "access-n7-20261123T080500Z.log")]
    quarantined = duckdb.sql(f"SELECT node_id, file FROM '{tmp_path}/out/quarantine.parquet'").fetchall()
    assert quarantined == [("n7", "access-n7-20261123T080500Z.log")]
