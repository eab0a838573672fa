"""A merge whose partials are larger than DuckDB's memory limit still merges, with the same tables.

A fleet's node results each hold one row per (path, visitor) and per visitor fragment; nodes see mostly their
own visitors, so a merge of many nodes aggregates tens of millions of distinct keys (1,000 nodes of the
merge bench with their own visitors: 57M top_paths rows). DuckDB's hash aggregate and window operators did
not fit such a merge into the 1 GB default: ``top_paths`` and ``sessions`` failed with "Out of Memory" and
the merge ended ``partial``. Here two nodes of 62k lines, every line its own path and client, merged four
reports at a time (a quarter of a 64 MiB limit each), hold more than fits the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support.results import backfill_inputs, parquet_outputs, write_wide_log

from edgelog import resultdir
from edgelog.analysis import RunResult, analyze, merge, merger, writer
from edgelog.analysis.library import Report, load_library

# Each node's visitors and (path, visitor) rows: merged, more than a DuckDB row group (122,880 rows), which
# a table of the disk workspace writes to the file's blocks as it is stored (the dropped-partial test sees
# them; at 2x50k it stayed in memory until its drop)
LINES = 62_000
VHOST_FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" $request_time $host'
)


@pytest.fixture(scope="module")
def wide_results(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("wide")
    out = []
    for i, node in enumerate(("node-a", "node-b")):
        logs = root / f"in-{node}"
        write_wide_log(logs, node, lines=LINES, seed=7 + i)
        out.append(analyze([logs], root / f"out-{node}").out)
    return out


@pytest.fixture(scope="module")
def roomy(
    wide_results: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunResult, dict[str, bytes]]:
    """The merge of ``wide_results`` with the default limits, settings and threads, and its Parquet outputs:
    what every merge of them under other limits or in other passes must equal (merged once per module). The
    memory limit is the default's, 1 GB, whatever the environment says."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGELOG_MEMORY_LIMIT", "1GB")
        result = merge(wide_results, tmp_path_factory.mktemp("roomy") / "merged")
    assert result.status == "ok"
    return result, parquet_outputs(result.out)


def test_a_merge_larger_than_its_memory_limit_is_complete_and_equal_to_one_with_room(
    wide_results: list[Path],
    roomy: tuple[RunResult, dict[str, bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four reports side by side (on any machine) share 64 MiB: the estimate merges top_paths and sessions
    in passes, and DuckDB still fills its limit and spills (one run: 64 MiB peak, 13 MB spilled; 21 MB with
    every report in one pass)."""
    monkeypatch.setenv("EDGELOG_MEMORY_LIMIT", "64MiB")
    monkeypatch.setenv("EDGELOG_THREADS", "4")
    real = writer._merge_partial
    passes: dict[str, int] = {}

    def counted(cur: duckdb.DuckDBPyConnection, r: Report, rows: str | None, n: int) -> None:
        passes[r.name] = n
        real(cur, r, rows, n)

    monkeypatch.setattr(writer, "_merge_partial", counted)
    tight = merge(wide_results, tmp_path / "tight")
    failed = {q.name: q.error for q in tight.manifest.queries if q.status != "ok"}
    assert tight.status == "ok", failed
    assert passes["top_paths"] > 1 and passes["sessions"] > 1, passes  # more than one pass holds at once
    assert parquet_outputs(tight.out) == roomy[1]
    # every (path, visitor) is its own row, on either node: the merged partial is as large as both inputs
    table = resultdir.partial_table("top_paths")
    assert (
        sum(o.rows or 0 for o in tight.manifest.outputs if resultdir.table_of(o.path) == table) == 2 * LINES
    )


def test_every_partition_column_splits_its_merge_into_parts_that_give_the_same_rows(tmp_path: Path) -> None:
    """What ``-- partition:`` claims, checked per report: the merge over hash parts of ``partial``, one
    pass each, gives exactly the rows of one merge over all of it (generator traffic, so every report has
    rows: 404s, sessions of several page views; and a log with virtual hosts)."""
    # two results of one node's traffic (its first and last files): the same keys in both, with other sums
    files = sorted(backfill_inputs(tmp_path / "traffic", "node-c", hours=0.5))
    halves = [files[: len(files) // 2], files[len(files) // 2 :]]
    traffic = [analyze(h, tmp_path / f"out-node-c{i}").out for i, h in enumerate(halves)]
    hosts = tmp_path / "vhosts"  # the generator's formats log no virtual host
    hosts.mkdir()
    (hosts / "access-node-d-20261123T090000Z.log").write_text(
        "".join(
            f'10.1.{i % 7}.{i % 251} - - [23/Nov/2026:08:{i % 60:02d}:00 +0000] "GET /v{i % 13} HTTP/1.1" '
            f'{200 if i % 5 else 503} 10 "-" "curl/8.5.0" 0.{i % 1000:03d} h{i % 3}.example\n'
            for i in range(600)
        )
    )
    with_hosts = analyze([hosts], tmp_path / "out-node-d", log_format=VHOST_FORMAT).out
    reports = [r for r in load_library() if r.partition]
    assert {"top_paths", "sessions"} <= {r.name for r in reports}
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for r in reports:
        files = [str(d / resultdir.partial_table(r.name)) for d in [*traffic, with_hosts]]
        rows = f"SELECT * FROM read_parquet({files!r})"
        got = {}
        for passes in (1, 3, 7):  # the table as stored: the same rows in the same order
            writer._merge_partial(con, r, rows, passes)
            got[passes] = con.execute(f"SELECT * FROM p_{r.name} ORDER BY rowid").fetchall()
        assert got[3] == got[1], r.name
        assert got[7] == got[1], r.name
        assert got[1], f"{r.name}: no rows to compare"
        ordered = con.execute(f"SELECT * FROM p_{r.name} {writer.partition_order(r)}").fetchall()
        assert got[1] == ordered, f"{r.name}: not stored in its partition order"


class StarvedBelow:
    """A connection whose statements of a merge pass run out of memory while the merge is cut into fewer
    than ``passes`` passes (as a low estimate would leave them); it records each attempt's pass count."""

    def __init__(self, con: duckdb.DuckDBPyConnection, passes: int):
        self.con, self.passes = con, passes
        self.attempts: list[int] = []

    def execute(self, statement: duckdb.Statement | str, *args: object) -> duckdb.DuckDBPyConnection:
        text = statement if isinstance(statement, str) else statement.query
        cut = re.search(r"\* (\d+)\) >> 32\) = (\d+)", text)
        passes, index = (int(cut.group(1)), int(cut.group(2))) if cut else (1, 0)
        if index == 0:
            self.attempts.append(passes)
        if passes < self.passes:
            raise duckdb.OutOfMemoryException(f"Out of Memory Error: a pass of {passes}")
        return self.con.execute(statement, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def test_a_pass_that_still_runs_out_of_memory_is_retried_in_more_passes(wide_results: list[Path]) -> None:
    """The estimate may be low (strings longer than the bench's, other DuckDB versions): a merge whose passes
    still run out of memory starts again in four times as many, until they fit, and gives the same table;
    at :data:`writer.MAX_MERGE_PASSES` running out of memory fails the report. (DuckDB 2.0 spills rather
    than run out at 64 MiB here, so the pass statements are made to run out.)"""
    (r,) = [r for r in load_library() if r.name == "top_paths"]
    files = [str(f) for d in wide_results for f in resultdir.table_files(d, resultdir.partial_table(r.name))]
    rows = f"SELECT * FROM read_parquet({files!r})"
    con = duckdb.connect()
    writer._merge_partial(con, r, rows, 1)
    once = con.execute(f"SELECT hash(q) FROM (SELECT * FROM p_{r.name} ORDER BY rowid) q").fetchall()
    con.execute(f"DROP TABLE p_{r.name}")

    starved = StarvedBelow(con, passes=16)
    writer._merge_partial(starved, r, rows, 1)  # type: ignore[arg-type]
    assert starved.attempts == [1, 4, 16]
    again = con.execute(f"SELECT hash(q) FROM (SELECT * FROM p_{r.name} ORDER BY rowid) q").fetchall()
    assert again == once

    never = StarvedBelow(con, passes=writer.MAX_MERGE_PASSES + 1)
    with pytest.raises(duckdb.OutOfMemoryException):
        writer._merge_partial(never, r, rows, 64)  # type: ignore[arg-type]
    assert never.attempts == [64, writer.MAX_MERGE_PASSES]


def test_the_pass_estimate_counts_rows_that_several_results_repeat_once(
    wide_results: list[Path], tmp_path: Path
) -> None:
    """Rows that results repeat are one group of the merge: their share of distinct rows scales the pass
    estimate, or the bench's 1,000 nodes of ten nodes' visitors were merged in a dozen passes, each reading
    every file (2.3x the CPU). Groups held with other sums (the wide nodes share their visitors, not their
    (path, visitor) rows) count once per result: the estimate errs towards more passes."""
    table = resultdir.partial_table("top_paths")
    a, b = (str(d / table) for d in wide_results)
    copies = []
    for i in range(3):  # node a's table again, as three more results
        (tmp_path / f"copy{i}" / "partials").mkdir(parents=True)
        copies.append(str(tmp_path / f"copy{i}" / table))
        Path(copies[-1]).write_bytes(Path(a).read_bytes())
    con = duckdb.connect()
    assert merger._distinct_row_share(con, [a, b]) == pytest.approx(1.0, abs=0.05)
    assert merger._distinct_row_share(con, [a, *copies]) == pytest.approx(0.25, abs=0.02)
    assert merger._distinct_row_share(con, [a, b, *copies]) == pytest.approx(2 / 5, abs=0.03)


@dataclass
class PassMerges:
    """Two merges of ``wide_results`` below a 1 MiB object limit, and what the second saw while it ran."""

    one: RunResult  # on one thread, in one pass
    many: RunResult  # on two threads, partitioned reports in 5 passes, anomalies' first attempt starved
    passes: list[int]  # the passes each report's merge was asked for
    attempts: list[str]  # each report's merge attempts, by name


@pytest.fixture(scope="module")
def in_passes(wide_results: list[Path], tmp_path_factory: pytest.TempPathFactory) -> PassMerges:
    """The merges the two tests below compare (once per module: each merge of the wide results costs ~0.7 CPU
    s): one on one thread in one pass; the other with reports side by side on two threads (on any machine),
    every report with a ``-- partition:`` column in 5 passes, and the anomalies report's first attempt made
    to run out of memory. Top_paths is written in 3 parts."""
    root = tmp_path_factory.mktemp("passes")
    limit = 1024 * 1024
    real = writer._merge_partial
    seen: list[int] = []
    attempts: list[str] = []

    def starved_once_in_passes(
        cur: duckdb.DuckDBPyConnection, r: Report, rows: str | None, passes: int
    ) -> None:
        seen.append(passes)
        attempts.append(r.name)
        if r.name == "anomalies" and attempts.count("anomalies") == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: held by the report beside it")
        real(cur, r, rows, 5 if r.partition else passes)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGELOG_THREADS", "1")
        one = merge(wide_results, root / "one", max_object_bytes=limit)
        mp.setattr(writer, "_merge_partial", starved_once_in_passes)
        mp.setenv("EDGELOG_THREADS", "2")
        many = merge(wide_results, root / "many", max_object_bytes=limit)
    return PassMerges(one, many, seen, attempts)


def test_a_report_that_runs_out_of_memory_beside_others_runs_again_alone(in_passes: PassMerges) -> None:
    """Reports merge side by side, so one may run out of memory that its neighbours hold (seen in CI: the
    anomalies merge, which has no partition column, at 64 MiB). Such a report runs again after the others,
    alone. Here its first attempt is made to run out (in the merge in passes of ``in_passes``), and the
    merge equals one where nothing ran out."""
    again = in_passes.many
    assert again.status == "ok", {q.name: q.error for q in again.manifest.queries if q.status != "ok"}
    assert in_passes.attempts.count("anomalies") == 2
    assert parquet_outputs(again.out) == parquet_outputs(in_passes.one.out)


def test_partitioned_partials_are_written_in_their_partition_order(wide_results: list[Path]) -> None:
    """A partial with a ``-- partition:`` column is written ordered by the hash of that column, then all its
    columns: hash passes are consecutive runs of that order, so each pass is sorted on its own and the whole
    table is never sorted at once (``ORDER BY ALL`` sorted 57M top_paths rows of 1,000 nodes, spilling)."""
    reports = [r for r in load_library() if r.partition]
    con = duckdb.connect()
    for r in reports:
        files = [str(f) for f in resultdir.table_files(wide_results[0], resultdir.partial_table(r.name))]
        rows = f"SELECT * FROM read_parquet({files!r})"
        # each row as the hash of all its columns: 100k rows fetched as Python tuples (time zone-aware
        # datetimes through pytz) cost 4.8 CPU s for the ten tables, their hashes 0.6
        stored = con.execute(f"SELECT hash(q) FROM ({rows}) q").fetchall()
        ordered = con.execute(f"SELECT hash(q) FROM ({rows} {writer.partition_order(r)}) q").fetchall()
        assert stored == ordered, r.name


def test_a_merge_in_passes_writes_the_same_bytes_and_parts_as_one_in_one_pass(in_passes: PassMerges) -> None:
    """Passes, threads and the object limit's parts together: the parts are cut from the stored order, not
    at the passes' boundaries, and DuckDB's row groups do not follow how the table was appended to."""
    one, many = in_passes.one, in_passes.many
    assert one.status == "ok"
    assert many.status == "ok", {q.name: q.error for q in many.manifest.queries if q.status != "ok"}
    assert in_passes.passes, "the merge did not go through _merge_partial"
    parts = [o.path for o in one.manifest.outputs if o.path.startswith("partials/top_paths/")]
    assert len(parts) > 1, "top_paths was not split into parts"
    assert parquet_outputs(many.out) == parquet_outputs(one.out)


def test_a_partial_merged_in_passes_is_written_as_the_same_bytes_as_in_one(tmp_path: Path) -> None:
    """Passes of more rows than a DuckDB row group (122,880) are appended as row groups of their own, so a
    table built in passes is laid out differently from one built at once: what is written must not follow
    that layout (the bytes of 1 pass and of 2, ~150k rows each, on 1 thread and on 2)."""
    (top_paths,) = [r for r in load_library() if r.name == "top_paths"]
    rows = (
        "SELECT 'https://example.com/p' || (i % 5000) AS path, hash(i // 3) AS vh, 1::BIGINT AS hits, "
        "i::BIGINT AS bytes FROM range(300000) t(i)"
    )
    written = {}
    for threads, passes in ((1, 1), (1, 2), (2, 2), (2, 1)):
        con = duckdb.connect(config={"threads": threads, "preserve_insertion_order": True})
        writer._merge_partial(con, top_paths, rows, passes)
        out = tmp_path / f"t{threads}-p{passes}"
        w = writer.ResultWriter(out, "merge", max_object_bytes=1 << 40)
        assert w.copy_stored(con, "p_top_paths", "partials/top_paths.parquet") == 300_000
        written[(threads, passes)] = parquet_outputs(out)
        con.close()
    assert written[(1, 2)] == written[(1, 1)]
    assert written[(2, 2)] == written[(1, 1)]
    assert written[(2, 1)] == written[(1, 1)]


def test_a_merge_gives_duckdb_only_its_share_of_the_memory_limit(
    roomy: tuple[RunResult, dict[str, bytes]],
) -> None:
    """DuckDB's ``memory_limit`` bounds only its buffers: a 1,000-node merge's process held 0.2-0.45 GiB more
    (the interpreter, the manifests, Parquet readers' and writers' buffers), 1.4 GiB at the 1 GB default. A
    merge gives DuckDB a share of ``$EDGELOG_MEMORY_LIMIT`` and leaves the rest to the process."""
    result = roomy[0]  # at 1 GB
    p = result.manifest.processing
    assert p is not None
    assert p.duckdb_memory_limit is not None and p.duckdb_memory_limit.endswith(" MiB")
    given = float(p.duckdb_memory_limit.removesuffix(" MiB")) * (1 << 20)
    assert given <= 0.6 * 1_000_000_000, p.duckdb_memory_limit  # was 953.6 MiB: all of it


@dataclass
class DiskMerge:
    """One merge of ``wide_results`` from a database file, in passes, and what was seen while it ran."""

    result: RunResult
    split: list[str]  # the reports merged in passes while their input files were moved away
    stored_at_start: dict[str, list[str]]  # by report, in the order their merges started
    free_at_start: dict[str, int]


@pytest.fixture(scope="module")
def on_disk(wide_results: list[Path], tmp_path_factory: pytest.TempPathFactory) -> DiskMerge:
    """The merge the three tests below look at (once per module: each merge of the wide results costs ~0.6 CPU
    s): inputs above ``$EDGELOG_DISK_THRESHOLD``, so it works from a database file; 64 MiB and one report at
    a time on one thread, with the pass estimate's bytes per row made four times larger, so top_paths and
    sessions are merged in passes (2x50k lines fit in one pass of one thread's 64 MiB by the real figures).

    While a report's passes run, its input files are moved away (a pass that read them fails); when each
    report's merge starts, the workspace's stored partials and free blocks are recorded."""
    real = writer._merge_partial
    split: list[str] = []
    stored_at_start: dict[str, list[str]] = {}
    free_at_start: dict[str, int] = {}

    def watched(cur: duckdb.DuckDBPyConnection, r: Report, rows: str | None, passes: int) -> None:
        found = cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'stored\\_partial\\_%' ESCAPE '\\'"
        ).fetchall()
        stored_at_start[r.name] = sorted(t for (t,) in found)
        size = cur.execute(
            "SELECT free_blocks FROM pragma_database_size() WHERE database_name = current_database()"
        ).fetchone()
        free_at_start[r.name] = int(size[0]) if size else 0
        if passes <= 1:
            return real(cur, r, rows, passes)
        split.append(r.name)
        files = [f for d in wide_results for f in resultdir.table_files(d, resultdir.partial_table(r.name))]
        for f in files:
            f.rename(f.with_name(f".{f.name}.away"))
        try:
            real(cur, r, rows, passes)
        finally:
            for f in files:
                f.with_name(f".{f.name}.away").rename(f)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(writer, "_merge_partial", watched)
        mp.setattr(merger, "PASS_ROW_BYTES", merger.PASS_ROW_BYTES * 4)
        mp.setattr(merger, "PASS_STORED_FACTOR", merger.PASS_STORED_FACTOR * 4)
        mp.setenv("EDGELOG_THREADS", "1")
        mp.setenv("EDGELOG_MEMORY_LIMIT", "64MiB")
        mp.setenv("EDGELOG_DISK_THRESHOLD", "100000")
        result = merge(wide_results, tmp_path_factory.mktemp("on-disk") / "tight")
    return DiskMerge(result, split, stored_at_start, free_at_start)


def test_a_merge_of_large_inputs_works_from_a_database_file_with_the_same_outputs(
    on_disk: DiskMerge, roomy: tuple[RunResult, dict[str, bytes]]
) -> None:
    """The merged tables of a large merge do not fit in memory (1,000 nodes: 5.6 GB of DuckDB spill at half of
    the 1 GB default); in a database file they are stored compressed (0.24 GB of spill, 9% less CPU). A merge
    whose inputs hold more bytes than ``$EDGELOG_DISK_THRESHOLD`` works from one, with the same outputs."""
    in_memory, in_memory_outputs = roomy
    assert in_memory.manifest.processing is not None
    assert in_memory.manifest.processing.workspace == "memory"
    assert on_disk.result.status == "ok"
    assert on_disk.result.manifest.processing is not None
    assert on_disk.result.manifest.processing.workspace == "disk"
    assert parquet_outputs(on_disk.result.out) == in_memory_outputs


def test_a_merge_in_passes_on_disk_reads_each_input_partial_once(
    on_disk: DiskMerge, roomy: tuple[RunResult, dict[str, bytes]]
) -> None:
    """Each pass of a merge in passes scanned every node's Parquet files again (1,000 nodes' top_paths: 23
    scans of 1,000 files); on the disk workspace the partials are read once, into a table the passes scan.
    Seen here as: the input files of a report are moved away while its passes run, and it still merges to
    the same outputs as a merge with room."""
    tight = on_disk.result
    assert "top_paths" in on_disk.split
    assert tight.status == "ok", {q.name: q.error for q in tight.manifest.queries if q.status != "ok"}
    assert parquet_outputs(tight.out) == roomy[1]


def test_a_partial_read_once_for_its_passes_is_dropped_once_its_report_is_merged(
    on_disk: DiskMerge, roomy: tuple[RunResult, dict[str, bytes]]
) -> None:
    """A report merged in passes on the disk workspace reads its partials into a table of the database file
    (``stored_partial_<name>``). Kept until every report was built, the inputs of all such reports were held
    in the file at once (1,000 nodes: top_paths, sessions, tags, referring_urls and hosts); each is dropped
    as soon as its report's merged partial is built, and the file checkpointed: DuckDB reuses a dropped
    table's blocks only after a checkpoint (none came before the merge ended: the file grew to 2.7 GB either
    way). Seen here as: when a report's merge starts, no other report's stored partial is left in the
    workspace, and the blocks of the one dropped before it are free in the file for its tables (one report
    at a time, on one thread)."""
    tight, stored_at_start, free_at_start = on_disk.result, on_disk.stored_at_start, on_disk.free_at_start
    assert tight.status == "ok", {q.name: q.error for q in tight.manifest.queries if q.status != "ok"}
    order = list(stored_at_start)  # the reports in the order their merges started
    stored = [name for name in order if f"stored_partial_{name}" in stored_at_start[name]]
    assert stored and stored[0] != order[-1], f"no report merged after one from a stored table: {order}"
    left = {
        name: [t for t in found if t != f"stored_partial_{name}"] for name, found in stored_at_start.items()
    }
    assert not any(left.values()), left
    after = order[order.index(stored[0]) + 1]  # the report merged right after the first stored partial
    assert free_at_start[after] > 0, free_at_start
    assert parquet_outputs(tight.out) == roomy[1]
