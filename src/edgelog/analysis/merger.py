"""``merge``: results directories of several nodes in; out, exactly ``analyze`` over the union of inputs."""

from __future__ import annotations

import concurrent.futures
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb

from edgelog import interrupts, resultdir
from edgelog.analysis import parse, streams
from edgelog.analysis.library import (
    Report,
    install_macros,
    load_library,
    load_macros,
    partial_casts,
    sha256_bytes,
)
from edgelog.analysis.parse import sql_str
from edgelog.analysis.runstats import MERGE_PHASES, DuckDBMemory, PhaseClock
from edgelog.analysis.workspace import on_cursors, on_disk_threshold, statement, workspace
from edgelog.analysis.writer import (
    FILES_SCHEMA,
    ObjectTooLarge,
    ResultWriter,
    RunResult,
    object_limit,
    short_error,
)
from edgelog.errors import IntegrityError, UsageError
from edgelog.naming import parse_rotated_name
from edgelog.resultdir import InputEntry, Manifest, MergedFrom, QueryEntry, Totals, Window


def read_manifest(directory: Path, *, verify: bool = True) -> Manifest:
    """Load a results directory's manifest and (by default) check every listed output against it, and the
    manifest's numbers against those outputs (:func:`totals_problems`)."""
    manifest = resultdir.read(directory)
    if verify:
        problems = manifest.verify(directory) or totals_problems(directory, manifest)
        if problems:
            raise _integrity_error(directory, problems)
    return manifest


def _read_all(
    directories: Sequence[Path], then: Callable[[Path, Manifest], object] | None = None
) -> tuple[list[Manifest | Exception], list[bytes]]:
    """Each directory's manifest, unverified, or what reading it raised; and the bytes each manifest was
    parsed from (empty where reading failed). ``then(directory, manifest)``: called as each is read."""

    def read(directory: Path) -> tuple[Manifest, bytes]:
        found = resultdir.read_with_bytes(directory)
        if then is not None:
            then(directory, found[0])
        return found

    with concurrent.futures.ThreadPoolExecutor(max_workers=_check_threads()) as pool:
        found = list(pool.map(_attempt(read), directories))
    return (
        [f if isinstance(f, Exception) else f[0] for f in found],
        [b"" if isinstance(f, Exception) else f[1] for f in found],
    )


Checked = tuple[list[str], dict[str, int | None]]


def _check_outputs(directory: Path, m: Manifest, abandon: threading.Event | None = None) -> Checked:
    """The problems :meth:`Manifest.verify` finds in ``directory``, and the footer row counts it read."""
    if abandon is not None and abandon.is_set():
        raise interrupts.stop_exception()
    rows: dict[str, int | None] = {}
    return m.verify(directory, footer_rows=rows), rows


def _verified(
    directories: Sequence[Path],
    read: Sequence[Manifest | Exception],
    abandon: threading.Event | None = None,
    checking: Mapping[Path, concurrent.futures.Future[Checked]] | None = None,
) -> list[Manifest]:
    """The manifests ``read`` from ``directories``, once each is verified (outputs hashed, numbers checked
    against its tables); the first problem in argument order is raised.

    The table checks of :func:`totals_problems` run as one query each over every verified directory's files
    (three queries per directory cost ~5 ms a node, most of it per query), after the outputs are hashed in
    Python's threads (hashlib releases the GIL). Hashing reads each Parquet file whole, so its footer's row
    count comes from that read (``parquet_footer``, ~10 us a file); DuckDB reads the footer of a file only
    where that count is unknown or disagrees with the manifest (~50 us a file, 53,000 files at 1,000 nodes).
    A directory the batch finds a problem in (values of a column are cast to one type over all files), or
    every one when the batch cannot read a file, is checked again on its own, so the problems named are
    exactly :func:`totals_problems`'. ``abandon``: set when nobody waits for the answer any more.
    ``checking``: :func:`_check_outputs` of each readable directory, already started (a merge starts each
    as soon as its manifest is read); else they run here.
    """
    readable = [(d, m) for d, m in zip(directories, read, strict=True) if isinstance(m, Manifest)]
    verified: dict[Path, Checked | Exception]
    if checking is None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=_check_threads()) as pool:
            checks = pool.map(_attempt(lambda dm: _check_outputs(dm[0], dm[1], abandon)), readable)
            verified = dict(zip([d for d, _ in readable], checks, strict=True))
    else:
        verified = {d: _outcome(checking[d]) for d, _ in readable}
    sound: list[tuple[Path, Manifest]] = []  # only the batch's findings for verified directories count
    counted: dict[Path, dict[str, int | None]] = {}
    for d, man in readable:
        checked = verified[d]
        if not isinstance(checked, Exception) and not checked[0]:
            sound.append((d, man))
            counted[d] = checked[1]
    found = dict(zip([d for d, _ in sound], _table_problems_batch(sound, counted), strict=True))
    manifests = []
    for directory, m in zip(directories, read, strict=True):
        if isinstance(m, Exception):
            raise m
        checked = verified[directory]
        if isinstance(checked, Exception):
            raise checked
        problems = checked[0]
        if not problems and found.get(directory):
            problems = totals_problems(directory, m)
        if problems:
            raise _integrity_error(directory, problems)
        manifests.append(m)
    return manifests


_T = TypeVar("_T")
_R = TypeVar("_R")


def _attempt(fn: Callable[[_T], _R]) -> Callable[[_T], _R | Exception]:
    """``fn`` returning what it raises: :func:`_verified` raises the first problem in argument order."""

    def attempt(arg: _T) -> _R | Exception:
        try:
            return fn(arg)
        except Exception as exc:
            return exc

    return attempt


def _outcome(future: concurrent.futures.Future[Checked]) -> Checked | Exception:
    """A future's result, or what it raised (as :func:`_attempt`)."""
    try:
        return future.result()
    except Exception as exc:
        return exc


def _integrity_error(directory: Path, problems: list[str]) -> IntegrityError:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return IntegrityError(f"{directory}: {problems[0]}{more}")


def _check_threads() -> int:
    """Threads for the checks: one per core (hashing in Python holds the GIL between reads: more threads
    only contend for it; 4 threads cost ~12% more CPU than 2 on 2 cores for the same work)."""
    return min(8, os.cpu_count() or 1)


def totals_problems(directory: Path, manifest: Manifest) -> list[str]:
    """Where the manifest's numbers disagree with the tables of ``directory`` ([]: they agree).

    Checksums prove the files are the ones the manifest lists, not that the manifest tells the truth about
    them. These must hold for every directory analyze or merge writes: the totals add up from the inputs;
    ``partials/files.parquet`` has exactly one row per read input with its status and line counts; the
    quarantine has one row per quarantined line; the summary report (when it was written) shows the same
    totals; and every output's ``rows`` is its Parquet's row count. Call after :meth:`Manifest.verify`.
    """
    con = _scratch_cursor()
    try:
        return _table_problems(con, [(directory, manifest)])[0]
    except duckdb.Error as exc:
        interrupts.check()
        return [
            *_totals_diff(manifest),
            f"cannot read the tables to check the manifest: {str(exc).splitlines()[0][:300]}",
        ]
    finally:
        con.close()


def _table_problems_batch(
    dirs: Sequence[tuple[Path, Manifest]], counted: Mapping[Path, Mapping[str, int | None]]
) -> list[list[str]]:
    """The problems :func:`_table_problems` finds in each of ``dirs``, all checked together; every directory
    is marked when a file cannot be read (the caller checks each marked directory again, alone)."""
    if not dirs:
        return []
    con = _scratch_cursor()
    try:
        return _table_problems(con, dirs, counted)
    except duckdb.Error:
        interrupts.check()
        return [["a table cannot be read"]] * len(dirs)
    finally:
        con.close()


def _totals_diff(m: Manifest) -> list[str]:
    diff = m.totals.differences(Totals.of(m.inputs))
    return [f"manifest totals do not add up from its inputs: {', '.join(diff)}"] if diff else []


def _table_problems(
    con: duckdb.DuckDBPyConnection,
    dirs: Sequence[tuple[Path, Manifest]],
    counted: Mapping[Path, Mapping[str, int | None]] | None = None,
) -> list[list[str]]:
    """The checks of :func:`totals_problems` for each of ``dirs``, each check one query over all of them
    (raises duckdb.Error when a table cannot be read). ``counted``: row counts already read from footers, by
    directory and listed path; DuckDB reads the footers where that count is missing or not the manifest's."""
    problems: list[list[str]] = [_totals_diff(m) for _, m in dirs]
    files_rel = resultdir.partial_table(resultdir.FILES_PARTIAL)
    files_of = [resultdir.table_files(d, files_rel) for d, _ in dirs]
    files_rows = _rows_by_file(
        con,
        "node_id, name, status, lines_read, lines_parsed, lines_quarantined, lines_outside_window",
        [f for fs in files_of for f in fs],
    )
    listed = [[o for o in m.outputs if o.rows is not None and o.path.endswith(".parquet")] for _, m in dirs]
    quarantine_of = [  # by path in the directory, as a manifest lists it
        [f.relative_to(d).as_posix() for f in resultdir.table_files(d, resultdir.QUARANTINE)] for d, _ in dirs
    ]
    # Each directory's footer row counts by listed path: those ``counted`` where they are the manifest's,
    # the others from one footer scan over every directory (no data is read). Paths are joined only for
    # the files DuckDB reads (53,000 Path joins cost ~1 s).
    footers: list[dict[str, int]] = []
    unknown: list[tuple[int, str]] = []
    for k, ((d, m), outs) in enumerate(zip(dirs, listed, strict=True)):
        have = (counted or {}).get(d, {})
        agreed = {o.path: o.rows for o in outs if o.rows is not None and have.get(o.path) == o.rows}
        quarantined = {rel: have.get(rel) for rel in quarantine_of[k]}
        known = {rel: n for rel, n in quarantined.items() if n is not None}
        if len(known) == len(quarantined) and sum(known.values()) == m.totals.lines_quarantined:
            agreed.update(known)
        unknown += [
            (k, rel)
            for rel in dict.fromkeys([*(o.path for o in outs), *quarantine_of[k]])
            if rel not in agreed
        ]
        footers.append(agreed)
    read = _footer_rows(con, [dirs[k][0] / rel for k, rel in unknown])
    for k, rel in unknown:
        footers[k][rel] = read.get(str(dirs[k][0] / rel), 0)
    summary_of = [_summary_files(d, m) for d, m in dirs]
    summary_rows = _rows_by_file(
        con,
        "total_lines, valid_requests, quarantined_lines, failed_files",
        [f for fs in summary_of if isinstance(fs, list) for f in fs],
    )
    for k, (_, m) in enumerate(dirs):
        rows = [r for f in files_of[k] for r in files_rows.get(str(f), [])]
        problems[k] += _files_partial_problems(m, files_rel, rows)
        quarantine = sum(footers[k].get(rel, 0) for rel in quarantine_of[k])
        if quarantine != m.totals.lines_quarantined:
            problems[k].append(
                f"{resultdir.QUARANTINE} has {quarantine} rows, the manifest totals "
                f"{m.totals.lines_quarantined} quarantined lines"
            )
        summary = summary_of[k]
        if isinstance(summary, str):
            problems[k].append(summary)
        elif summary:
            found = [r for f in summary for r in summary_rows.get(str(f), [])]
            problems[k] += _summary_problems(m, found[0] if found else None)
        for out in listed[k]:
            rows_in_file = footers[k].get(out.path, 0)
            if rows_in_file != out.rows:
                problems[k].append(f"{out.path} has {rows_in_file} rows, the manifest lists {out.rows}")
    return problems


# A merge reads each of its ~23,000 Parquet files once (1,000 nodes): DuckDB's external file cache, which
# would keep their blocks for a second read, costs ~5% of the report merges' CPU (0.5-1 s at 1,000 nodes).
_NO_FILE_CACHE = "SET enable_external_file_cache = false"
# What a partial's row holds while its report merges (hash table entry, group keys, aggregate state), as a
# base per row plus a factor of its stored (compressed Parquet) bytes for wide strings; decides the passes.
PASS_ROW_BYTES = 64
PASS_STORED_FACTOR = 8

# The share of ``$EDGELOG_MEMORY_LIMIT`` a merge gives DuckDB: its ``memory_limit`` bounds only DuckDB's
# buffers, and a 1,000-node merge's process held 0.2-0.45 GiB more (the interpreter, the manifests, Parquet
# readers' and writers' buffers): 1.4 GiB at the 1 GB default with all of it, 849 MiB with half.
DUCKDB_MEMORY_SHARE = 0.5

_scratch: duckdb.DuckDBPyConnection | None = None
_scratch_lock = threading.Lock()


def _scratch_cursor() -> duckdb.DuckDBPyConnection:
    """A cursor of one in-memory database per process, for the checks' small queries: a new connection
    costs ~15 ms, which a merge of 1,000 nodes would pay 1,000 times; a cursor costs ~0.3 ms."""
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = duckdb.connect()
            _scratch.execute(_NO_FILE_CACHE)
        return _scratch.cursor()


def merged_problems(merged: Manifest, parts: Sequence[tuple[Path, Manifest]]) -> list[str]:
    """Where a merge's manifest disagrees with the results it was made from ([]: it agrees).

    :func:`totals_problems` proves a merged directory is consistent with itself; a merge that left a part
    out (or took one in that it was not given) is consistent too. So whoever hands ``parts`` to a merge
    checks that its ``merged_from`` names exactly those manifests (by sha256) and that its totals are the
    sum of theirs.
    """
    problems = []
    given = {sha256_bytes((d / resultdir.MANIFEST).read_bytes()): d for d, _ in parts}
    named = {m.manifest_sha256 for m in merged.merged_from or []}
    left_out = [str(d) for sha, d in given.items() if sha not in named]
    if left_out:
        more = f" (and {len(left_out) - 1} more)" if len(left_out) > 1 else ""
        problems.append(f"the merge left out {left_out[0]}{more}")
    unknown = len(named - set(given))
    if unknown:
        problems.append(f"the merge names {unknown} result(s) it was not given")
    diff = merged.totals.differences(Totals.sum(m.totals for _, m in parts))
    if diff:
        problems.append(f"the merged totals are not the sum of its parts' totals: {', '.join(diff)}")
    return problems


def _footer_rows(con: duckdb.DuckDBPyConnection, files: list[Path]) -> dict[str, int]:
    """Each file's row count as its Parquet footer gives it (no data is read), by path as given.

    DuckDB reads the footers of one call one after another (~50 us each): many files are split over threads,
    each with a cursor of its own (DuckDB releases the GIL)."""
    if not files:
        return {}
    names = [str(f) for f in files]
    chunks = [names[i :: _check_threads()] for i in range(_check_threads())] if len(names) > 500 else [names]

    def footers(chunk: list[str], cur: duckdb.DuckDBPyConnection) -> list[tuple]:
        return cur.execute("SELECT file_name, num_rows FROM parquet_file_metadata(?)", [chunk]).fetchall()

    found = on_cursors(con, len(chunks), chunks, footers)
    return {str(name): int(rows or 0) for rows_of in found for name, rows in rows_of}


def _rows_by_file(con: duckdb.DuckDBPyConnection, columns: str, files: list[Path]) -> dict[str, list[tuple]]:
    """The rows (``columns``) of every file, in file order, by path as given: one scan over all of them."""
    if not files:
        return {}
    found = con.execute(
        f"SELECT filename, {columns} FROM read_parquet(?, filename = true)", [[str(f) for f in files]]
    ).fetchall()
    rows: dict[str, list[tuple]] = {}
    for name, *values in found:
        rows.setdefault(str(name), []).append(tuple(values))
    return rows


def _files_partial_problems(m: Manifest, rel: str, rows: list[tuple]) -> list[str]:
    listed = [
        (
            i.node_id,
            i.name,
            i.status,
            i.lines_read,
            i.lines_parsed,
            i.lines_quarantined,
            i.lines_outside_window,
        )
        for i in m.inputs
        if i.status != "skipped"
    ]
    key = lambda r: tuple("" if v is None else str(v) for v in r)  # noqa: E731
    if sorted(rows, key=key) == sorted(listed, key=key):
        return []
    extra = sorted(set(rows) - set(listed), key=key)
    missing = sorted(set(listed) - set(rows), key=key)
    example = (
        f"e.g. the table has {extra[0]}"
        if extra
        else f"e.g. the manifest has {missing[0]}"
        if missing
        else ""
    )
    return [
        f"{rel} does not match the manifest's inputs ({len(rows)} rows for {len(listed)} read inputs; "
        f"{example})"
    ]


def _summary_files(directory: Path, m: Manifest) -> list[Path] | str:
    """The summary report's files to check ([]: none to check), or the problem that it is missing."""
    if any(q.name == "summary" and q.kind is None and q.status != "ok" for q in m.queries):
        return []  # a failed summary report is already named in the manifest
    rel = resultdir.report_table("summary")
    files = resultdir.table_files(directory, rel)
    if not files:
        return f"{rel} is missing" if any(q.name == "summary" for q in m.queries) else []
    return files


def _summary_problems(m: Manifest, row: tuple | None) -> list[str]:
    rel = resultdir.report_table("summary")
    # The summary counts access-log lines (edgelog_is_access) and failed files of every stream.
    t = Totals.of(i for i in m.inputs if (i.format or "") not in streams.FORMATS)
    expected = (
        t.lines_read - t.lines_outside_window,
        t.lines_parsed - t.lines_outside_window,
        t.lines_quarantined,
        m.totals.files_failed,
    )
    names = ("total_lines", "valid_requests", "quarantined_lines", "failed_files")
    found = tuple(row) if row else (None,) * 4
    return [
        f"{rel}: {name} is {got}, the manifest totals give {want}"
        for name, got, want in zip(names, found, expected, strict=True)
        if got != want
    ]


def merge(
    dirs: Sequence[Path | str], out: Path | str, *, max_object_bytes: int | str | None = None
) -> RunResult:
    """Merge analyze/merge result directories into ``out``: exactly ``analyze`` over the union of inputs.

    Reads tables stored whole or as parts; writes its own below ``max_object_bytes`` (as analyze does).
    """
    started, t0 = datetime.now(UTC), time.monotonic()
    clock = PhaseClock(MERGE_PHASES)
    out = Path(out)
    limit = object_limit(max_object_bytes)
    sources = [Path(d) for d in dirs]
    if not sources:
        raise UsageError("merge needs at least one results directory")
    resolved = [s.resolve() for s in sources]  # once: ~0.1 ms each (1,000 nodes)
    if out.resolve() in set(resolved):
        raise UsageError("--out must differ from the directories being merged")
    resultdir.check_out(out)
    _refuse_twice_given(sources, resolved)
    with resultdir.writing(out):  # one run at a time writes ``out``
        # Verifying hashes every output of every node (~50 files each) and checks their numbers: each
        # directory's outputs are hashed as soon as its manifest is read (hashing mostly runs without the GIL,
        # reading the manifests mostly with it), and the rest runs alongside the report merges, which only
        # fill DuckDB tables; nothing is written to ``out`` until it has passed (the first bad directory in
        # argument order is raised, and ``out`` is left as it was).
        abandon = threading.Event()
        hashing = concurrent.futures.ThreadPoolExecutor(
            max_workers=_check_threads(), thread_name_prefix="edgelog-hash"
        )
        background = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgelog-verify")
        checking: dict[Path, concurrent.futures.Future[Checked]] = {}

        def check(directory: Path, m: Manifest) -> None:
            checking[directory] = hashing.submit(_check_outputs, directory, m, abandon)

        try:
            with clock.phase("read"):
                read, raw = _read_all(sources, check)
                if any(isinstance(m, Exception) for m in read):
                    _verified(sources, read, abandon, checking)  # raises the first problem in argument order
                manifests = [m for m in read if isinstance(m, Manifest)]
            verifying = background.submit(_verified, sources, read, abandon, checking)
            try:
                _refuse_double_counting(sources, manifests)
            except UsageError:
                verifying.result()  # a bad input is named first, as when verification came first
                raise
            return _merge_reports(
                sources,
                manifests,
                raw,
                out,
                limit=limit,
                clock=clock,
                started=started,
                t0=t0,
                verifying=verifying,
            )
        finally:
            abandon.set()
            background.shutdown(wait=True)
            hashing.shutdown(wait=True)


def _merge_reports(
    sources: list[Path],
    manifests: list[Manifest],
    raw: list[bytes],
    out: Path,
    *,
    limit: int,
    clock: PhaseClock,
    started: datetime,
    t0: float,
    verifying: concurrent.futures.Future[list[Manifest]],
) -> RunResult:
    """The merge proper: every report merged in DuckDB, then (once ``verifying`` has passed) written."""
    library, macros = load_library(), load_macros()
    # A file the manifest lists with no rows adds nothing to any table and is not opened (a thousand nodes'
    # empty partials cost ~0.1 ms each to open); its row count is checked against its footer all the same.
    tables = [
        resultdir.listed_tables(s, [o for o in m.outputs if o.rows != 0])
        for s, m in zip(sources, manifests, strict=True)
    ]

    writer = ResultWriter(
        out, "merge", started=started, t0=t0, max_object_bytes=limit, clock=clock, prepare=False
    )

    def before_write() -> None:
        with clock.phase("read"):
            verifying.result()
        writer.prepare()

    table_bytes: dict[str, int] = {}  # by table, over every input: what a report's merge reads
    table_rows: dict[str, int] = {}
    for m in manifests:
        for o in m.outputs:
            rel = resultdir.table_of(o.path)
            table_bytes[rel] = table_bytes.get(rel, 0) + (o.size or 0)
            table_rows[rel] = table_rows.get(rel, 0) + (o.rows or 0)

    # Inputs of more stored bytes than the disk threshold (256 MiB by default: ~250 nodes of the merge bench)
    # make merged tables too large for memory (1,000 nodes: 5.6 GB of DuckDB spill at 476.8 MiB); a database
    # file stores them compressed (0.24 GB of spill, 331 instead of 346 CPU s, the same outputs).
    stored = sum(table_bytes.values())
    with (
        workspace(memory_share=DUCKDB_MEMORY_SHARE, on_disk=stored > on_disk_threshold()) as ws,
        DuckDBMemory(ws.con) as mem,
    ):
        con = ws.con
        con.execute(statement(con, _NO_FILE_CACHE))
        macros_key = install_macros(con, macros, None)
        con.execute(statement(con, f"CREATE TABLE requests ({parse.REQUESTS_SCHEMA})"))
        streams.create_empty_relations(con)
        for sql in (  # the same text every merge: parsed once per process
            f"CREATE TABLE p_files ({FILES_SCHEMA})",
            f"CREATE TABLE stored_quarantine ({parse.QUARANTINE_SCHEMA})",
            f"CREATE VIEW quarantine AS {parse.nullable_quarantine('stored_quarantine')}",
        ):
            con.execute(statement(con, sql))
        with clock.phase("read"):
            for table, rel in (
                ("p_files", resultdir.partial_table(resultdir.FILES_PARTIAL)),
                ("stored_quarantine", resultdir.QUARANTINE),
            ):
                files = _table_files(tables, rel)
                if files:
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {_scan(files)}")
            mem.sample()

        # A report's partials all have its SQL's columns when every result ran the same SQL for it: then one
        # scan maps them by name without first reading every file's schema (union_by_name: ~1.5 CPU s at
        # 1,000 nodes). Files of different SQL (another version) are read by union, a missing column as NULL;
        # a file that lacks a column its manifest's SQL gives fails its report (named), it is never guessed.
        sql_of: dict[str, set[str]] = {}
        for m in manifests:
            for q in m.queries:
                if q.kind is None:
                    sql_of.setdefault(q.name, set()).add(q.sha256)

        planned: dict[str, int] = {}  # by report: its passes, where load_partial estimated them
        stored_reports: set[str] = set()  # reports whose partials load_partial read into a table

        def load_partial(r: Report, cur: duckdb.DuckDBPyConnection) -> None:
            # One scan over every node's part files, typed as the report's partial; the merge SQL streams
            # from it instead of from a table filled one INSERT per file (so reading the partials counts in
            # the phase that runs the SQL, not in ``read``). A report merged in several passes on the disk
            # workspace reads its files once into a table of the database file instead: each pass then
            # scans that table, not every node's Parquet again (1,000 nodes' top_paths in 23 passes: 72.7
            # instead of 80.5 CPU s, the table included). The rows are the same, in the same order.
            if r.partial_sql is None:  # write_library loads only the partials of reports that have one
                return
            files = _table_files(tables, resultdir.partial_table(r.name))
            if not files:
                cur.execute(f"CREATE TEMP TABLE partial AS SELECT * FROM ({r.partial_sql}) LIMIT 0")
                return
            cols = partial_casts(cur, r.partial_sql)
            scan = _scan(files, by_name=len(sql_of.get(r.name, set())) > 1)
            planned[r.name] = estimate_passes(r, cur)
            if planned[r.name] > 1 and ws.on_disk:
                table = _stored_partial(r)
                stored_reports.add(r.name)
                cur.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {cols} FROM {scan}")
                cur.execute(f"CREATE TEMP VIEW partial AS SELECT * FROM {table}")
                return
            cur.execute(f"CREATE TEMP VIEW partial AS SELECT {cols} FROM {scan}")

        def built(r: Report, cur: duckdb.DuckDBPyConnection) -> None:
            # The report's merged partial is built: the table its partials were read into for its passes
            # goes now, not once every report is built (at 1,000 nodes the inputs of eight reports were all
            # held in the database file at once). DuckDB reuses a dropped table's blocks only after a
            # checkpoint, and none came before the merge ended, so the file is checkpointed here; FORCE
            # waits for the other cursor's statement (a plain CHECKPOINT fails while it writes): 0.2-2.2 s
            # each, 7.3 s of one cursor in all at 1,000 nodes, for a file of 1.56 instead of 2.7 GB.
            if r.name in stored_reports:
                stored_reports.discard(r.name)
                cur.execute(f"DROP TABLE IF EXISTS {_stored_partial(r)}")
                try:
                    cur.execute("FORCE CHECKPOINT")
                except duckdb.Error:  # it only frees blocks for reuse: failing, it fails no report
                    interrupts.check()

        def partial_bytes(r: Report) -> float:
            return table_bytes.get(resultdir.partial_table(r.name), 0)

        # Reports are merged (and tables written) as many at a time as DuckDB has threads, each on one
        # thread, largest first: one after another on all threads, the small reports' scans (mostly per-file
        # work) and each aggregate's tail left a core idle (the 21 merges of 1,000 nodes: 6.0-6.4 s side by
        # side against 6.3-7.0 s one after another, the same CPU seconds within the noise).
        workers = mem.threads or 1

        def passes(r: Report, cur: duckdb.DuckDBPyConnection) -> int:
            """The passes :func:`estimate_passes` gave when the report's partial was loaded."""
            return planned[r.name] if r.name in planned else estimate_passes(r, cur)

        def estimate_passes(r: Report, cur: duckdb.DuckDBPyConnection) -> int:
            """Enough hash parts that one part's merge fits in its share of memory, estimated from the
            partials' rows and stored bytes (strings and window state cost more than the integers). When
            they could not all fit, one scan counts the distinct rows over all files against the sum of each
            result's (HyperLogLog, ~2% error): rows that results repeat byte for byte are held once (the
            bench's shared visitors were merged in a dozen passes, each reading every file: 2.3x the CPU)."""
            rel = resultdir.partial_table(r.name)
            held = table_rows.get(rel, 0) * PASS_ROW_BYTES + table_bytes.get(rel, 0) * PASS_STORED_FACTOR
            naive = math.ceil(held * workers / ws.memory_bytes)
            if naive <= 1 or r.partition is None:
                return 1
            return max(1, math.ceil(naive * _distinct_row_share(cur, _table_files(tables, rel))))

        with clock.phase("reports"):
            con.execute("SET threads = 1")
            try:
                entries = writer.write_library(
                    con,
                    library,
                    macros,
                    load_partial,
                    before_write,
                    workers=workers,
                    cost=partial_bytes,
                    passes=passes,
                    built=built,
                    macros_key=macros_key,
                )
            finally:
                con.execute(f"SET threads = {workers}")
            entries += _combine_user_queries(writer, con, sources, manifests)

    inputs: list[InputEntry] = [i for m in manifests for i in m.inputs]
    job_ids = {m.job_id for m in manifests}
    windows = {(m.window.since, m.window.until) for m in manifests}
    shas = [sha256_bytes(b) for b in raw]  # of the bytes each manifest was parsed from
    manifest = writer.manifest(
        job_id=job_ids.pop() if len(job_ids) == 1 else None,
        window=Window(*windows.pop()) if len(windows) == 1 else Window(),
        inputs=inputs,
        queries=entries,
        totals=Totals.of(inputs),
        merged_from=[_merged_from(s, m, sha) for s, m, sha in zip(sources, manifests, shas, strict=True)],
        runs=[run for m, sha in zip(manifests, shas, strict=True) for run in resultdir.runs_of(m, sha)],
        # every listed file of every source is read whole (verified), and the manifests themselves
        processing=mem.figures(
            workspace=ws.kind,
            bytes_read=sum(
                len(b) + sum(o.size or 0 for o in m.outputs) for b, m in zip(raw, manifests, strict=True)
            ),
        ),
    )
    statuses = [m.status for m in manifests]
    return writer.finish(
        manifest,
        incomplete=any(st != "ok" for st in statuses),
        usable=any(st in ("ok", "partial") for st in statuses),
    )


def _stored_partial(r: Report) -> str:
    """The table of the disk workspace a report's partials are read into for a merge in passes."""
    return f"stored_partial_{r.name}"


def _distinct_row_share(cur: duckdb.DuckDBPyConnection, files: Sequence[str]) -> float:
    """Distinct rows over all ``files``, over the sum of each result's own (a result's files are its
    ``partials/`` table or that table's parts): 1 when no two results hold the same row, 1/n when n results
    hold the same rows. A merge group that several results hold with different sums counts once per result,
    so this errs towards more passes, never fewer."""
    row = cur.execute(
        f"""
        WITH each AS (
          SELECT regexp_extract(filename, '^(.*)/partials/', 1) AS result,
                 approx_count_distinct(hash(*COLUMNS(* EXCLUDE (filename)))) AS n
          FROM {_scan(files, filename=True)} GROUP BY GROUPING SETS ((result), ())
        )
        SELECT sum(n) FILTER (WHERE result IS NOT NULL), max(n) FILTER (WHERE result IS NULL) FROM each
        """
    ).fetchone()
    apart, together = row or (None, None)
    return min(1.0, together / apart) if apart and together is not None else 1.0


def _table_files(tables: Sequence[dict[str, list[str]]], rel: str) -> list[str]:
    """Every Parquet file of table ``rel`` over all sources' listed tables (``resultdir.listed_tables``)."""
    return [f for t in tables for f in t.get(rel, [])]


def _scan(files: Sequence[str], *, by_name: bool = True, filename: bool = False) -> str:
    """One ``read_parquet`` over ``files``: DuckDB reads them in parallel, columns matched by name.

    ``by_name``: files may differ in columns (union_by_name: every file's schema is read first, a column a
    file lacks is NULL); else a file lacking a column of the first file is an error. ``filename``: each row
    also says which file it came from (a ``filename`` column).
    """
    options = (", union_by_name = true" if by_name else "") + (", filename = true" if filename else "")
    return f"read_parquet([{', '.join(parse.sql_str(f) for f in files)}]{options})"


def _combine_user_queries(
    writer: ResultWriter,
    con: duckdb.DuckDBPyConnection,
    sources: list[Path],
    manifests: list[Manifest],
) -> list[QueryEntry]:
    """Each user ``--query`` that ran on the nodes, as one table: every node's rows under a ``node_id``.

    A user query is not a report with a merge rule, so its node results are put side by side, never
    re-aggregated: node order, each node's own row order, ``node_id`` first (a table that already has a
    ``node_id`` column, e.g. from an earlier merge, keeps it). A node where the query failed is named in the
    entry's error and the query is ``failed``; the other nodes' rows are still written.
    """
    runs: dict[str, list[tuple[str, Path, QueryEntry]]] = {}
    for source, m in zip(sources, manifests, strict=True):
        for q in m.queries:
            if q.kind == "user":
                runs.setdefault(q.name, []).append((m.node_id or source.name, source, q))
    entries = []
    for name, node_runs in sorted(runs.items()):
        first = node_runs[0][2]
        entry = QueryEntry(name=name, file=first.file, sha256=first.sha256, kind="user")
        entries.append(entry)
        if len({q.sha256 for _, _, q in node_runs}) > 1:
            entry.status = "failed"
            entry.error = f"the nodes ran different SQL as {name!r} (sha256 differs): results not combined"
            continue
        problems: list[str] = []
        parts: list[str] = []
        for node, source, q in node_runs:
            files = resultdir.table_files(source, resultdir.query_table(name))
            if q.status != "ok":
                problems.append(f"{node}: {q.error or q.status}")
            elif not files:
                problems.append(f"{node}: {resultdir.query_table(name)} is missing")
            for f in files if q.status == "ok" else []:
                described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(f)]).fetchall()
                node_col = "" if "node_id" in [c[0] for c in described] else f"{sql_str(node)} AS node_id, "
                parts.append(
                    f"SELECT {len(parts)} AS __part, file_row_number AS __row, "
                    f"{node_col}* EXCLUDE (file_row_number) "
                    f"FROM read_parquet({sql_str(str(f))}, file_row_number = true)"
                )
        if parts:
            union = " UNION ALL BY NAME ".join(parts)
            try:  # nodes may disagree on a column's type where their data differ
                writer.copy(
                    con,
                    f"SELECT * EXCLUDE (__part, __row) FROM ({union}) ORDER BY __part, __row",
                    resultdir.query_table(name),
                    once=True,  # names every node's file: ~150 KB of text at 1,000 nodes, never repeated
                )
            except duckdb.Error as exc:
                interrupts.check()
                problems = [f"cannot combine the nodes' results: {short_error(exc)}", *problems]
            except ObjectTooLarge as exc:
                problems = [exc.message, *problems]
        if problems:
            entry.status, entry.error = "failed", "; ".join(problems)
    return entries


def _refuse_twice_given(sources: list[Path], resolved: list[Path]) -> None:
    """``resolved``: each source's ``resolve()``."""
    seen: dict[Path, Path] = {}
    for s, key in zip(sources, resolved, strict=True):
        if key in seen:
            raise UsageError(
                f"{s} is given twice (as {seen[key]} and {s}): its lines would be counted twice",
                hint="pass each results directory once",
            )
        seen[key] = s


def _refuse_double_counting(sources: list[Path], manifests: list[Manifest]) -> None:
    """Two results of the same run, or two results that read the same bytes, would count lines twice.

    Inputs are compared by sha256 (a file copied to another node, the same log analysed twice, a merged
    result merged again with one of its parts); empty files are exempt, since idle nodes all rotate them.
    A rotated file is also compared by node and name, which its stamp makes unique: read twice at different
    sizes (once while still being copied), its sha256s differ but the first read's lines are in the second.
    A name is parsed only when its (node, name) was seen in another result (12,000 names parse in ~0.1 s).
    """
    runs: dict[str, Path] = {}
    for s, m in zip(sources, manifests, strict=True):
        if m.run_id and m.run_id in runs:
            raise UsageError(
                f"{runs[m.run_id]} and {s} are the same run (run_id {m.run_id}): its lines would be counted "
                "twice",
                hint="merge each node's result once",
            )
        runs[m.run_id] = s
    first: dict[str, Path] = {}
    rotated: dict[tuple[str, str], Path] = {}
    duplicates = []
    for s, m in zip(sources, manifests, strict=True):
        for i in m.inputs:
            if i.status == "skipped":
                continue
            if i.node_id:
                seen = rotated.setdefault((i.node_id, i.name), s)
                if seen != s and parse_rotated_name(i.name):
                    duplicates.append(f"{i.name} of node {i.node_id} in {seen} and {s}")
                    continue
            if i.sha256 and i.size:
                seen = first.setdefault(i.sha256, s)
                if seen != s:
                    duplicates.append(f"{i.name} (sha256 {i.sha256[:12]}...) in {seen} and {s}")
    if duplicates:
        more = f" (and {len(duplicates) - 1} more)" if len(duplicates) > 1 else ""
        raise UsageError(
            f"the same input is in more than one result, so its lines would be counted twice: "
            f"{duplicates[0]}{more}",
            hint="merge each node's result once; a merged result already holds the results it was made from",
        )


def _merged_from(source: Path, m: Manifest, manifest_sha256: str) -> MergedFrom:
    return MergedFrom(
        path=str(source),
        kind=m.kind,
        node_id=m.node_id,
        execution_id=m.execution_id,
        job_id=m.job_id,
        manifest_sha256=manifest_sha256,
        status=m.status,
    )
