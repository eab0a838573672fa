"""Every object a job publishes stays below the object limit (Bacalhau's S3 publisher uploads objects of
5 MiB and more in parts with CRC32 trailers, which GCS rejects): tables are split into parts, readers put
them back together, and what analyze and merge print is bounded."""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

import duckdb
import pytest
from support.results import write_wide_log
from support.tools import REPO_ROOT as REPO
from typer.testing import CliRunner

from edgelog import resultdir
from edgelog.analysis import analyze, merge, workspace, writer
from edgelog.analysis.library import load_library
from edgelog.analysis.writer import RunResult, object_limit
from edgelog.cli.main import app
from edgelog.errors import ExitCode, UsageError
from edgelog.results.tables import load_result

LIMIT = 64 * 1024
UNSPLIT = 1 << 40
BIG_QUERY = "SELECT ip, url_path, ts, bytes FROM requests ORDER BY ip, url_path"


def table_rows(root: Path) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """Every table of a results directory (whole or in parts), by its logical path: its columns (name, type)
    and its rows in stored order. Time stamps with a time zone come as microseconds since the epoch (exact;
    as Python datetimes each costs a pytz conversion: seconds for the wide tables here)."""
    manifest = resultdir.read(root)
    tables = sorted(
        {
            (p.rsplit("/", 1)[0] + ".parquet") if resultdir.is_part(p) else p
            for p in (o.path for o in manifest.outputs)
            if p.endswith(".parquet")
        }
    )
    con = duckdb.connect()
    try:
        out = {}
        for rel in tables:
            files = [str(f) for f in resultdir.table_files(root, rel)]
            assert files, rel
            table = con.read_parquet(files)
            columns = [(name, str(kind)) for name, kind in zip(table.columns, table.types, strict=True)]
            values = [
                f'epoch_us("{name}")' if kind == "TIMESTAMP WITH TIME ZONE" else f'"{name}"'
                for name, kind in columns
            ]
            out[rel] = (columns, table.select(", ".join(values)).fetchall())
        return out
    finally:
        con.close()


def largest_file(root: Path) -> int:
    """The size of the largest file below ``root``."""
    return max(p.stat().st_size for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wide")
    # every table of a's that can grow in parts of 64 KiB (top_paths 4, sessions 5, quarantine 6; 315 KiB
    # unsplit), b's in 2-4
    write_wide_log(root / "a", "wide-a", lines=8_000, bad_lines=2_000, seed=1)
    write_wide_log(root / "b", "wide-b", lines=5_000, bad_lines=1_000, seed=2)
    (root / "q.sql").write_text(BIG_QUERY + "\n")
    return root


@pytest.fixture(scope="module")
def split_and_whole(wide: Path) -> tuple[Path, Path]:
    """The same analysis twice: below a 64 KiB object limit, and with no practical limit."""
    q = [wide / "q.sql"]
    split = analyze([wide / "a"], wide / "split-a", queries=q, max_object_bytes=LIMIT)
    whole = analyze([wide / "a"], wide / "whole-a", queries=q, max_object_bytes=UNSPLIT)
    assert split.exit_code == whole.exit_code == ExitCode.OK
    return split.out, whole.out


def test_analyze_splits_every_large_table_below_the_limit(split_and_whole: tuple[Path, Path]) -> None:
    split, whole = split_and_whole
    assert largest_file(whole) > 4 * LIMIT  # the input really is far above the limit
    assert largest_file(split) < LIMIT
    manifest = resultdir.read(split)
    parts = [o.path for o in manifest.outputs if resultdir.is_part(o.path)]
    for table in ("partials/top_paths", "partials/sessions", "quarantine", "queries/q"):
        mine = [p for p in parts if p.startswith(table + "/")]
        assert len(mine) >= 2, table
        assert mine == [f"{table}/part-{i:05d}.parquet" for i in range(len(mine))]
        assert not (split / f"{table}.parquet").exists()
    assert all(o.size is not None and o.size < LIMIT for o in manifest.outputs)
    assert manifest.schema == "edgelog.manifest/2" and manifest.max_object_bytes == LIMIT
    rows = {o.path: o.rows for o in manifest.outputs}
    assert sum(rows[p] or 0 for p in parts if p.startswith("quarantine/")) == 2_000
    assert resultdir.verify(split) == []


def test_split_tables_read_back_exactly_as_the_unsplit_ones(split_and_whole: tuple[Path, Path]) -> None:
    split, whole = split_and_whole
    assert table_rows(split) == table_rows(whole)
    a, b = load_result(split), load_result(whole)
    assert a.integrity_problems == [] and a.missing == []
    assert a.tables == b.tables and a.quarantine_reasons == b.quarantine_reasons


def test_the_tables_a_manifest_lists_are_the_files_table_files_finds(
    split_and_whole: tuple[Path, Path],
) -> None:
    # merge looks tables up in the (verified) manifest, not on disk: the same files, in the same order
    for result in split_and_whole:
        outputs = resultdir.read(result).outputs
        listed = resultdir.listed_tables(result, outputs)
        tables = {
            o.path.rsplit("/", 1)[0] + ".parquet" if resultdir.is_part(o.path) else o.path
            for o in outputs
            if o.path.endswith(".parquet")
        }
        assert sorted(listed) == sorted(tables) and len(tables) > 40
        assert all(listed[rel] == [str(p) for p in resultdir.table_files(result, rel)] for rel in tables)
    split = resultdir.listed_tables(split_and_whole[0], resultdir.read(split_and_whole[0]).outputs)
    assert len(split["partials/top_paths.parquet"]) >= 2


def test_an_unsplit_result_stays_readable_by_manifest_1_readers(split_and_whole: tuple[Path, Path]) -> None:
    _split, whole = split_and_whole
    manifest = resultdir.read(whole)
    assert manifest.schema == "edgelog.manifest/1" and manifest.max_object_bytes == UNSPLIT
    assert not any(resultdir.is_part(o.path) for o in manifest.outputs)


@pytest.fixture(scope="module")
def merged_split(wide: Path, split_and_whole: tuple[Path, Path]) -> tuple[RunResult, list[str]]:
    """The results of a and b below the limit, merged below it (once for the module), and the statement
    texts the writer kept while that merge ran (its cache emptied first)."""
    split_a, _whole_a = split_and_whole
    split_b = analyze([wide / "b"], wide / "split-b", max_object_bytes=LIMIT).out
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workspace, "_STATEMENTS", {})
        merged = merge([split_a, split_b], wide / "merged-split", max_object_bytes=LIMIT)
        return merged, list(workspace._STATEMENTS)


def test_merge_reads_parts_and_writes_its_own_below_the_limit(
    wide: Path, split_and_whole: tuple[Path, Path], merged_split: tuple[RunResult, list[str]]
) -> None:
    _split_a, whole_a = split_and_whole
    merged = merged_split[0]
    whole_b = analyze([wide / "b"], wide / "whole-b", max_object_bytes=UNSPLIT).out
    reference = merge([whole_a, whole_b], wide / "merged-whole", max_object_bytes=UNSPLIT)
    assert merged.exit_code == reference.exit_code == ExitCode.OK
    assert largest_file(merged.out) < LIMIT
    assert table_rows(merged.out) == table_rows(reference.out)


def test_the_statement_cache_keeps_no_text_of_one_run(merged_split: tuple[RunResult, list[str]]) -> None:
    """The writer keeps parsed statements by text (workspace.statement) for SQL whose text is the same every
    run. A part's row range is a parameter, not text, and the combined user-query COPY of a merge, which
    names every node's file (~150 KB of text at 1,000 nodes), is not kept: no text names this run's files
    or a row range."""
    merged, cached = merged_split
    assert merged.exit_code == ExitCode.OK
    parts = [o.path for o in merged.manifest.outputs if resultdir.is_part(o.path)]
    for table in ("partials/top_paths", "queries/q", "quarantine"):  # copy_stored, and copy's split
        assert len([p for p in parts if p.startswith(table + "/")]) >= 2, table
    assert cached, "nothing went through workspace.statement"
    paths = [str(merged.out), *(m.path for m in merged.manifest.merged_from or [])]
    assert len(paths) == 3
    assert not [t[:200] for t in cached if any(p in t for p in paths)]
    assert not [t[:200] for t in cached if re.search(r"(rowid|file_row_number) [<>]=? ?\d", t)]


def test_a_part_the_manifest_does_not_list_is_an_integrity_problem(
    split_and_whole: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    split, _whole = split_and_whole
    copy = tmp_path / "r"
    shutil.copytree(split, copy)
    parts = resultdir.table_files(copy, "partials/top_paths.parquet")
    shutil.copyfile(parts[0], parts[0].with_name("part-09999.parquet"))
    assert resultdir.verify(copy) == [
        "partials/top_paths/part-09999.parquet: a table part the manifest does not list"
    ]


def test_one_row_larger_than_the_limit_fails_that_query_only(wide: Path, tmp_path: Path) -> None:
    sql = tmp_path / "huge.sql"
    sql.write_text("SELECT string_agg(url_path, ',') AS everything FROM requests\n")
    result = analyze([wide / "a"], tmp_path / "out", queries=[sql], max_object_bytes=LIMIT)
    assert result.exit_code == ExitCode.PARTIAL
    (failed,) = result.manifest.failed_queries
    assert failed.name == "huge" and "alone is" in (failed.error or "")
    assert resultdir.table_files(tmp_path / "out", "queries/huge.parquet") == []
    assert largest_file(tmp_path / "out") < LIMIT


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        (None, None, 4 * 1024 * 1024),
        ("1MiB", None, 1024 * 1024),
        ("300k", None, 300 * 1024),
        ("65536", "9MiB", 65536),
        (None, "2m", 2 * 1024 * 1024),
    ],
)
def test_object_limit_from_option_env_or_default(
    value: str | None, env: str | None, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is None:
        monkeypatch.delenv("EDGELOG_MAX_OBJECT_BYTES", raising=False)
    else:
        monkeypatch.setenv("EDGELOG_MAX_OBJECT_BYTES", env)
    assert object_limit(value) == expected


@pytest.mark.parametrize("value", ["4 GB", "-1", "1000", "lots"])
def test_a_bad_object_limit_is_a_usage_error(value: str) -> None:
    with pytest.raises(UsageError, match="max-object-bytes"):
        object_limit(value)


def test_analyze_output_is_bounded_however_many_files_fail(tmp_path: Path) -> None:
    """stdout and stderr are published next to the results: 300 broken files print 20 warnings and a count."""
    logs = tmp_path / "logs"
    logs.mkdir()
    good = logs / "access-n1-20261123T080000Z.log"
    write_wide_log(tmp_path / "tmp", "n1", lines=50)
    good.write_bytes(next((tmp_path / "tmp").iterdir()).read_bytes())
    data = gzip.compress(good.read_bytes() * 4)
    for i in range(300):
        (logs / f"access-n1-20261123T{i // 60 + 10:02d}{i % 60:02d}00Z.log.gz").write_bytes(data[:-20])
    result = CliRunner().invoke(app, ["analyze", str(logs), "--out", str(tmp_path / "out")])
    assert result.exit_code == ExitCode.PARTIAL, result.output
    assert len(result.stdout.splitlines()) == 1 and "analyze partial" in result.stdout
    warnings = result.stderr.splitlines()
    assert len(warnings) == 21 and warnings[-1].startswith("warning: ... and 280 more")
    assert len(result.stderr) < 20 * 520 + 200
    assert len(resultdir.read(tmp_path / "out").failed_inputs) == 300


def test_analyze_help_documents_the_limit() -> None:
    result = CliRunner().invoke(app, ["analyze", "--help"], env={"COLUMNS": "200"})
    assert re.search(r"--max-object-bytes", result.stdout)


# -- publishing through the local runner, the way Bacalhau's S3 publisher does ---------------------


@pytest.mark.slow
def test_a_node_far_above_the_limit_publishes_below_it_and_fetches_exactly(tmp_path: Path) -> None:
    """A node whose unsplit result is tens of MiB (300k distinct paths and clients, 30k bad lines, a user
    query returning every request) publishes no object of 4 MiB or more, and fetch merges it back to exactly
    what one unsplit analyze gives."""
    from edgelog.jobs.local import LocalNode, run_local
    from edgelog.jobs.spec import load_spec, sql_var
    from edgelog.results import fetch_job
    from edgelog.storage import open_bucket

    node = tmp_path / "logs" / "big-1"
    write_wide_log(node, "big-1", lines=300_000, bad_lines=30_000)
    sql = tmp_path / "query.sql"  # the name the job gives it (/query/query.sql)
    sql.write_text(BIG_QUERY + "\n")
    limit = resultdir.DEFAULT_MAX_OBJECT_BYTES

    spec = load_spec("adhoc-query", {"bucket": "b", "image": "edgelog-job:local", **sql_var(sql)})
    bucket = tmp_path / "bucket"
    run = run_local(spec, [LocalNode("big-1", node)], bucket_url=str(bucket))
    assert run.status.exit_code() == ExitCode.OK, run.status.summary()

    objects = list(open_bucket(str(bucket)).list())
    assert len(objects) > 40
    too_big = [(o.key, o.size) for o in objects if o.size >= limit]
    assert too_big == []
    by_name = {o.key.rsplit("/", 1)[-1]: o for o in objects}
    # stdout: the summary line and the query's first 10 rows (cells cut at 100 characters), whatever the input
    assert by_name["stdout"].size < 8 * 1024 and by_name["stderr"].size < 1024

    fetched = fetch_job(bucket, run.job_id, tmp_path / "fetched", expected_nodes=["big-1"])
    assert fetched.exit_code == ExitCode.OK, fetched.problems
    reference = analyze([node], tmp_path / "whole", queries=[sql], max_object_bytes=UNSPLIT)
    total = sum(p.stat().st_size for p in reference.out.rglob("*") if p.is_file())
    assert total > 20 * 1024 * 1024 and largest_file(reference.out) > limit  # tens of MiB unsplit
    (node_result,) = fetched.nodes
    assert node_result.outputs_dir is not None
    assert table_rows(node_result.outputs_dir) == table_rows(reference.out)
    merged = fetched.merged_dir
    assert merged is not None and largest_file(merged) < limit
    whole_merge = merge([reference.out], tmp_path / "whole-merged", max_object_bytes=UNSPLIT)
    assert table_rows(merged) == table_rows(whole_merge.out)


def test_run_local_fails_to_publish_an_object_gcs_would_refuse(tmp_path: Path) -> None:
    """Like Bacalhau's S3 publisher against GCS: an object of 5 MiB or more fails the execution."""
    from edgelog.jobs.local import LocalNode, run_local
    from edgelog.jobs.spec import load_spec

    node = tmp_path / "logs" / "n1"
    write_wide_log(node, "n1", lines=2_000)
    (tmp_path / "task.py").write_text(
        "import pathlib, sys\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('--out') + 1])\n"
        "(out / 'blob.bin').write_bytes(b'x' * (5 * 1024 * 1024))\n"
    )
    spec_file = tmp_path / "spec.yaml"
    text = (REPO / "jobs" / "access-log-report.yaml").read_text()
    text = text.replace(
        'Entrypoint: ["edgelog"]', f'Entrypoint: ["{sys.executable}", "{tmp_path / "task.py"}"]'
    )
    spec_file.write_text(text)
    spec = load_spec(spec_file, {"bucket": "b", "image": "edgelog-job:local"})
    run = run_local(spec, [LocalNode("n1", node)], bucket_url=str(tmp_path / "bucket"))
    (execution,) = run.executions
    assert execution.state == "Failed", (execution.exit_code, execution.stderr_tail, execution.message)
    assert "outputs/blob.bin" in execution.message and "5242880 bytes" in execution.message
    assert "GCS" in execution.message
    assert list(open_bucket_keys(tmp_path / "bucket")) == []


def open_bucket_keys(path: Path) -> list[str]:
    from edgelog.storage import open_bucket

    return [o.key for o in open_bucket(str(path)).list()]


@pytest.mark.parametrize("encoding", ["gzip", "", None])
def test_validate_refuses_gzip_and_default_encoding_for_the_s3_publisher(encoding: str | None) -> None:
    from edgelog.jobs.spec import render_spec
    from edgelog.jobs.validate import problems

    job = render_spec("access-log-report", {"bucket": "b", "image": "i:1"}).job
    params = job["Tasks"][0]["Publisher"]["Params"]
    if encoding is None:
        del params["Encoding"]
    else:
        params["Encoding"] = encoding
    (problem,) = problems(job)
    assert problem.field == "Tasks[0].Publisher.Params.Encoding"
    assert "gzip" in problem.problem and "5 MiB" in problem.problem and "GCS" in problem.problem
    assert "Encoding: plain" in str(problem)


def test_every_shipped_spec_publishes_plain() -> None:
    for path in sorted((REPO / "jobs").glob("*.yaml")):
        assert "\n        Encoding: plain\n" in path.read_text(), path


def _many_files(directory: Path, node: str, files: int) -> Path:
    """``files`` one-line logs: the manifest lists each (~0.5 KB), the one file a run cannot split."""
    directory.mkdir(parents=True)
    for i in range(files):
        (directory / f"access-{node}-{i:04d}.log").write_text(
            f"10.0.{i // 250}.{i % 250} - - [23/Nov/2026:08:00:00 +0000] "
            f'"GET /{node}/{i} HTTP/1.1" 200 5 "-" "curl/8"\n'
        )
    return directory


def test_a_manifest_above_the_object_limit_is_named_with_what_each_command_can_do(tmp_path: Path) -> None:
    one = analyze([_many_files(tmp_path / "a", "a", 160)], tmp_path / "ra", max_object_bytes=LIMIT)
    assert one.exit_code == ExitCode.OK  # every number is right; only a publisher could not upload it
    size = (one.out / resultdir.MANIFEST).stat().st_size
    assert size >= LIMIT
    assert one.warnings == [
        f"manifest.json is {size} bytes (160 inputs), not below the object limit of {LIMIT} bytes: "
        "a Bacalhau S3 publisher cannot upload it to GCS; "
        "analyze a --since/--until window, or keep fewer files on the node"
    ]
    other = analyze([_many_files(tmp_path / "b", "b", 1)], tmp_path / "rb", max_object_bytes=LIMIT)
    merged = merge([one.out, other.out], tmp_path / "merged", max_object_bytes=LIMIT)
    size = (merged.out / resultdir.MANIFEST).stat().st_size
    assert merged.exit_code == ExitCode.OK and size >= LIMIT
    assert merged.warnings == [  # a merge's manifest lists every node's inputs: advice on its own inputs
        f"manifest.json is {size} bytes (161 inputs), not below the object limit of {LIMIT} bytes: "
        "a Bacalhau S3 publisher cannot upload it to GCS; "
        "a local merge is unaffected, a job that publishes one must merge fewer results or narrower windows"
    ]


class _Recording:
    """A connection that records the text of every statement run on it (the rest is the connection's)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.con, name)

    def execute(self, sql: object, params: object = None) -> duckdb.DuckDBPyConnection:
        self.statements.append(str(getattr(sql, "query", sql)))
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)  # type: ignore[arg-type]


@pytest.mark.parametrize("rows", [0, 4, 5, 13])
def test_copy_stored_told_the_rows_writes_what_it_writes_when_it_counts_them(
    rows: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement that built a merged partial says how many rows it stored, so copy_stored need not count
    them again (~0.3 ms a table; an analyze writes ten such partials): told, it runs no count, and writes
    the same bytes and row count as when it counts (below, at and above PROBE_ROWS, and an empty table,
    whose file DuckDB writes with other nullability when its range is not the empty one)."""
    monkeypatch.setattr(writer, "PROBE_ROWS", 5)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE p_t AS SELECT i, 'path-' || i AS s FROM range({rows}) t(i)")
    written = {}
    for told in (None, rows):
        recording = _Recording(con)
        w = writer.ResultWriter(tmp_path / f"out-{told}", "merge", max_object_bytes=UNSPLIT)
        assert w.copy_stored(recording, "p_t", "partials/t.parquet", rows=told) == rows  # type: ignore[arg-type]
        assert w.rows == {"partials/t.parquet": rows}
        written[told] = (tmp_path / f"out-{told}/partials/t.parquet").read_bytes()
        counts = [s for s in recording.statements if "count(*)" in s]
        assert len(counts) == (1 if told is None else 0), recording.statements
    assert written[rows] == written[None]
    con.close()


@pytest.mark.parametrize("passes", [1, 3])
def test_a_merged_partial_says_how_many_rows_it_stored(passes: int) -> None:
    (top_paths,) = [r for r in load_library() if r.name == "top_paths"]
    rows = (
        "SELECT 'p' || (i % 50) AS path, hash(i // 3) AS vh, 1::BIGINT AS hits, i::BIGINT AS bytes "
        "FROM range(900) t(i)"
    )
    con = duckdb.connect()
    stored = writer._merge_partial(con, top_paths, rows, passes)
    assert con.execute("SELECT count(*) FROM p_top_paths").fetchone() == (stored,) and stored > 50
    con.close()


def test_analyze_tells_copy_stored_the_rows_of_each_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    told: dict[str, int | None] = {}
    real = writer.ResultWriter.copy_stored

    def copy_stored(
        self: writer.ResultWriter,
        con: duckdb.DuckDBPyConnection,
        table: str,
        rel: str,
        rows: int | None = None,
    ) -> int:
        told[table] = rows
        return real(self, con, table, rel, rows=rows)

    monkeypatch.setattr(writer.ResultWriter, "copy_stored", copy_stored)
    write_wide_log(tmp_path / "in", "n1", lines=40)
    result = analyze([tmp_path / "in"], tmp_path / "out")
    assert result.status == "ok"
    listed = {o.path: o.rows for o in result.manifest.outputs}
    assert len(told) >= 5 and None not in told.values(), told
    assert all(listed[f"partials/{t.removeprefix('p_')}.parquet"] == n for t, n in told.items())


@pytest.mark.parametrize("kind", ["VIEW", "TABLE", None])
def test_the_partial_is_dropped_with_one_statement_when_it_is_a_view_or_absent(kind: str | None) -> None:
    """``partial`` is a temporary view (a merge, cached partials) or table (a merge of no files), never both
    (one catalog): once ``DROP VIEW IF EXISTS`` succeeds, no table of that name is left to drop (a merge
    dropped each report's view and then tried a table too, ~0.2 ms each)."""
    con = duckdb.connect()
    if kind is not None:
        con.execute(f"CREATE TEMP {kind} partial AS SELECT 1 AS x")
    recording = _Recording(con)
    writer._drop_partial(recording)  # type: ignore[arg-type]
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'partial'").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'partial'").fetchone() == (0,)
    assert len(recording.statements) == (2 if kind == "TABLE" else 1), recording.statements
    con.close()
