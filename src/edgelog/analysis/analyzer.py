"""``analyze``: rotated log files in, a verified results directory out (docs/analysis.md)."""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import duckdb

from edgelog import interrupts, resultdir
from edgelog.analysis import chunks, parse, streams
from edgelog.analysis.client_ip import resolve_client_ips
from edgelog.analysis.inputs import (
    FileChanged,
    InputFile,
    Snapshot,
    discover_inputs,
    estimated_bytes,
    parse_time,
    plan_inputs,
    run_node,
    select_window,
)
from edgelog.analysis.library import (
    Report,
    default_tags_file,
    install_macros,
    load_library,
    load_macros,
    load_tag_rules,
    sha256_bytes,
)
from edgelog.analysis.parse_cache import ParseCache
from edgelog.analysis.parse_cache import from_env as parse_cache_from_env
from edgelog.analysis.partial_cache import PartialCache
from edgelog.analysis.runstats import ANALYZE_PHASES, DuckDBMemory, PhaseClock
from edgelog.analysis.sandbox import MAX_SQL_BYTES, Limits, QueryFailed, QueryRejected, Sandbox, check_query
from edgelog.analysis.workspace import Workspace, on_disk_threshold, statement, workspace
from edgelog.analysis.writer import (
    FILES_SCHEMA,
    ObjectTooLarge,
    ResultWriter,
    RunResult,
    iso_utc,
    object_limit,
)
from edgelog.errors import UsageError
from edgelog.logformat import LogFormat, resolve
from edgelog.logformat.definitions import check_analysable
from edgelog.logformat.realip import Network, parse_networks
from edgelog.naming import check_node_id
from edgelog.resultdir import LogFormatEntry, QueryEntry, TagRules, Totals, Window


@dataclass(frozen=True)
class Options:
    """The checked options of one run (every usage error is raised before any output is touched)."""

    fmt: str | None
    log_format: LogFormat | None  # --log-format / --log-format-from: one definition for every input
    trusted: tuple[Network, ...]  # --trusted-proxies
    trusted_spec: list[str] | None
    since: datetime | None
    until: datetime | None
    job_id: str | None
    node_id: str | None
    execution_id: str | None
    tags: Path
    queries: tuple[tuple[str, Path, str], ...]  # (name, file, SQL) of each --query
    limits: Limits  # how long a --query may run and how large its result may be
    cache: ParseCache | None = None

    @property
    def window_sql(self) -> tuple[str, str]:
        """The window as two TIMESTAMPTZ literals (unbounded sides are +-infinity)."""
        since = f"'{iso_utc(self.since)}'::TIMESTAMPTZ" if self.since else "'-infinity'::TIMESTAMPTZ"
        until = f"'{iso_utc(self.until)}'::TIMESTAMPTZ" if self.until else "'infinity'::TIMESTAMPTZ"
        return since, until


def analyze(
    inputs: Sequence[Path | str],
    out: Path | str,
    *,
    fmt: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    queries: Sequence[Path | str] = (),
    job_id: str | None = None,
    node_id: str | None = None,
    execution_id: str | None = None,
    tags: Path | str | None = None,
    max_object_bytes: int | str | None = None,
    parse_cache: Path | str | None = None,
    log_format: str | None = None,
    log_format_from: Path | str | None = None,
    log_format_name: str | None = None,
    trusted_proxies: str | Sequence[str] | None = None,
) -> RunResult:
    """Analyse log files into ``out`` (reports, partials, quarantine, manifest); see docs/analysis.md.

    Every file written is smaller than ``max_object_bytes`` (default ``$EDGELOG_MAX_OBJECT_BYTES`` or 4 MiB):
    larger tables are split into parts, so a Bacalhau S3 publisher can upload each one to GCS.
    ``log_format``/``log_format_from``/``log_format_name`` name one nginx or Apache definition to parse every
    input with (docs/analysis.md, "Log formats"); ``trusted_proxies`` (CIDRs) makes ``client_ip`` the client
    behind those proxies, as nginx's realip module finds it.
    """
    started, t0 = datetime.now(UTC), time.monotonic()
    clock = PhaseClock(ANALYZE_PHASES)
    out = Path(out)
    resultdir.check_out(out)
    opts = _options(fmt, since, until, queries, job_id, node_id, execution_id, tags, parse_cache)
    limit = object_limit(max_object_bytes)
    opts = _format_options(opts, log_format, log_format_from, log_format_name, trusted_proxies)
    library, macros = load_library(), load_macros()
    if out.resolve() in {Path(p).resolve() for p in inputs if Path(p).is_dir()}:
        raise UsageError("--out must not be one of the input directories")
    with clock.phase("discover"):
        files = plan_inputs(discover_inputs(inputs, exclude=out), opts.node_id)
        select_window(files, opts.since, opts.until)
        selected = [f for f in files if f.selected]

    with resultdir.writing(out):  # one run at a time writes ``out``
        writer = ResultWriter(out, "analyze", started=started, t0=t0, max_object_bytes=limit, clock=clock)
        size = estimated_bytes(files)
        with (
            workspace(on_disk=size > on_disk_threshold(), input_bytes=size) as ws,
            DuckDBMemory(ws.con) as mem,
        ):
            macros_key: str | None = install_macros(ws.con, macros, load_tag_rules(opts.tags, ws.con))
            if opts.trusted:  # resolve_client_ips installs more macros, as the data needs them
                macros_key = None
            with clock.phase("parse"):
                parse.create_request_store(ws.con)
                streams.create_stream_store(ws.con)
                pcache = chunks.partial_cache(
                    ws.con, opts.cache, library, macros, opts.tags, opts.trusted_spec
                )
                # The rows of a chunk whose partials are stored are not needed, but by --query SQL
                _read_files(ws, selected, opts, pcache if not opts.queries else None)
                resolve_client_ips(ws.con, opts.trusted, macros)
                _files_partial(ws.con, selected)
                mem.sample()  # every parsed row is held now

            chunked = chunks.chunked_partials(pcache, selected, opts.log_format)

            def load_partial(r: Report, con: duckdb.DuckDBPyConnection) -> str | None:
                if chunked is not None and r.partial_sql and r.name in chunked.cache.reports:
                    chunked.load(con, r.name, r.partial_sql)
                    return None
                return r.partial_sql  # computed within the report's merge SQL

            with clock.phase("reports"):
                entries = writer.write_library(ws.con, library, macros, load_partial, macros_key=macros_key)
                if chunked is not None:
                    chunked.release(ws.con)
                    chunked.commit(partial(chunks.chunk_file_counts, ws.con, selected))
                entries += _run_queries(writer, ws, opts)
        _stat_unread(files)

        inputs_ = [f.entry() for f in files]
        failed = [f for f in selected if f.status == "failed"]
        manifest = writer.manifest(
            job_id=opts.job_id,
            node_id=run_node(files, opts.node_id),
            execution_id=opts.execution_id,
            window=Window(iso_utc(opts.since), iso_utc(opts.until)),
            inputs=inputs_,
            queries=entries,
            tag_rules=TagRules(str(opts.tags), sha256_bytes(opts.tags.read_bytes())),
            log_format=_format_entry(opts.log_format),
            trusted_proxies=opts.trusted_spec,
            totals=Totals.of(inputs_),
            # every selected file is read whole (hashed), also one that failed to parse
            processing=mem.figures(workspace=ws.kind, bytes_read=sum(f.size or 0 for f in selected)),
        )
        # Nothing useful: every file found is of a kind analyze cannot read, or every file read failed. (No
        # file at all is fine: a node that has rotated nothing yet; neither are files outside the --since
        # window.)
        analysable = not files or any(f.analysable for f in files)
        return writer.finish(
            manifest,
            incomplete=bool(failed),
            usable=analysable and (not selected or len(failed) < len(selected)),
        )


def _options(
    fmt: str | None,
    since: str | datetime | None,
    until: str | datetime | None,
    queries: Sequence[Path | str],
    job_id: str | None,
    node_id: str | None,
    execution_id: str | None,
    tags: Path | str | None,
    parse_cache: Path | str | None = None,
) -> Options:
    """Check every option and fill defaults from the environment Bacalhau (or the local runner) sets.

    Bacalhau v1.9 gives a docker task BACALHAU_JOB_ID, BACALHAU_EXECUTION_ID, BACALHAU_JOB_TYPE and
    BACALHAU_PARTITION_INDEX/COUNT (pkg/compute/envvars.go), but no node id: a node speaks for itself through
    its rotated file names, which on a VM carry the Bacalhau node id (cloud-init gives the generator and
    ``bacalhau serve --name`` the same name), and ``fetch`` checks them against the key it published under.
    """
    if fmt in ("", "auto"):
        fmt = None
    formats = (*parse.FORMATS, *streams.FORMATS)
    if fmt is not None and fmt not in formats:
        raise UsageError(f"--format {fmt!r} is not one of auto, {', '.join(formats)}")
    since_dt, until_dt = parse_time(since, "--since"), parse_time(until, "--until")
    if since_dt and until_dt and since_dt >= until_dt:
        raise UsageError("--since must be before --until", hint="swap the two times")
    if node_id:
        check_node_id(node_id, source="--node-id")
    return Options(
        fmt=fmt,
        log_format=None,
        trusted=(),
        trusted_spec=None,
        since=since_dt,
        until=until_dt,
        job_id=job_id or os.environ.get("BACALHAU_JOB_ID") or None,
        node_id=node_id or None,
        execution_id=execution_id or os.environ.get("BACALHAU_EXECUTION_ID") or None,
        tags=Path(tags) if tags else default_tags_file(),
        queries=_user_queries(queries),
        limits=Limits.from_env(),
        cache=parse_cache_from_env(parse_cache),
    )


def _format_options(
    opts: Options,
    log_format: str | None,
    log_format_from: Path | str | None,
    log_format_name: str | None,
    trusted_proxies: str | Sequence[str] | None,
) -> Options:
    """Resolve the log format and trusted proxies (empty strings mean "not given", as job templates pass)."""
    fmt = resolve(log_format, log_format_from, log_format_name)
    if fmt is not None:
        if opts.fmt is not None:
            raise UsageError(
                f"--format {opts.fmt} and a --log-format definition cannot be combined",
                hint="--log-format replaces --format: drop one of them",
            )
        check_analysable(fmt)
    items = trusted_proxies.split(",") if isinstance(trusted_proxies, str) else list(trusted_proxies or [])
    items = [i.strip() for i in items if i.strip()]
    return replace(opts, log_format=fmt, trusted=parse_networks(items), trusted_spec=items or None)


def _format_entry(fmt: LogFormat | None) -> LogFormatEntry | None:
    if fmt is None:
        return None
    return LogFormatEntry(name=fmt.name, syntax=fmt.syntax, escape=fmt.escape, definition=fmt.definition)


def format_label(fmt: LogFormat) -> str:
    """How the manifest names a definition in each input's ``format``: ``nginx:main``, ``apache:custom``."""
    return f"{fmt.syntax}:{fmt.name or 'custom'}"


def _user_queries(queries: Sequence[Path | str]) -> tuple[tuple[str, Path, str], ...]:
    """Read every --query file up front: a missing or empty file is a usage error before any work."""
    taken = set()
    result = []
    for q in queries:
        p = Path(q)
        if not p.is_file():
            raise UsageError(f"--query {p}: no such file", hint="pass the path of a .sql file")
        try:
            with p.open("rb") as fh:  # never read past the limit: a query is a few kilobytes
                data = fh.read(MAX_SQL_BYTES + 1)
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--query {p}: cannot read: {exc}") from None
        if len(data) > MAX_SQL_BYTES:
            raise UsageError(
                f"--query {p}: larger than {MAX_SQL_BYTES >> 20} MiB", hint="one SELECT is a few kilobytes"
            )
        name = p.stem
        if not name or name in taken:
            raise UsageError(
                f"--query {p}: another query is also named {name!r}", hint="rename one of the files"
            )
        if not text.strip():
            raise UsageError(
                f"--query {p}: the file is empty", hint="write one SELECT over the requests table"
            )
        taken.add(name)
        result.append((name, p, text))
    return tuple(result)


def _read_files(
    ws: Workspace, selected: list[InputFile], opts: Options, pcache: PartialCache | None = None
) -> None:
    """Parse every readable selected file; each file's size and sha256 describe exactly the bytes parsed.
    Access logs go into ``parsed`` in batches, error-log and application-log files one by one into their own
    tables (and the quarantine).

    Each access log's identity is taken before DuckDB reads it (inputs.Snapshot) and exactly its bytes then
    are hashed in a second thread while DuckDB parses. With a parse cache, a file that is unchanged and whose
    verified entry has that sha256 is not parsed: its rows are read from the entry (all entries in one scan);
    every other file is parsed and its entry written afterwards. Of a file in a chunk whose report partials
    are stored (``pcache``, see :func:`chunks.whole_chunks`) only the quarantined lines are read from its
    entry. A file that changed while it was read (appended to, rewritten, replaced) loses its rows and is
    parsed and hashed again from a frozen copy. A rotated error-log or application-log file is read as its
    stream whatever --format says, always from a frozen copy (they are small, and not cached); --format
    applies to the others.
    """
    since_sql, until_sql = opts.window_sql
    cancel = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        snaps: dict[int, tuple[Snapshot, concurrent.futures.Future[str]]] = {}
        inputs: list[parse.ParseInput] = []
        stream_ids: set[int] = set()
        stream_shas: dict[str, InputFile] = {}  # the first stream file read with each sha256
        for file_id, f in enumerate(selected):
            if f.status != "ok":
                continue
            try:
                snap = Snapshot(f.path)
                lf = opts.log_format  # for access logs: a stream file is read as its stream
                try:
                    stream = streams.format_of(f.name)
                    f.fmt = stream or (format_label(lf) if lf else opts.fmt or parse.detect_format(f.path))
                except parse.FileReadError:
                    snaps[file_id] = (snap, pool.submit(snap.hash, cancel))  # failed unparsed: identified
                    raise
                if f.fmt in streams.FORMATS:
                    stream_ids.add(file_id)
                    _load_stream_file(ws, f, file_id, snap, cancel, opts, stream_shas)
                    continue
                snaps[file_id] = (snap, pool.submit(snap.hash, cancel))
                gz = parse.is_gzip(f.path)
            except FileChanged as exc:
                f.fail(f"changed while being read: {exc}")
                continue
            except parse.FileReadError as exc:
                f.fail(str(exc))
                continue
            except OSError as exc:
                f.fail(f"cannot open: {exc.strerror or exc}")
                continue
            inputs.append(parse.ParseInput(file_id, f.path, lf or f.fmt, gz, f.name, f.node_id))
        to_parse = inputs
        whole: dict[int, parse.FileCounts] = {}
        cached: list[tuple[parse.ParseInput, Path]] = []
        if opts.cache is not None:
            to_parse = []
            for i in inputs:
                snap, digest = snaps[i.file_id]
                sha256 = _digest(digest)
                fmt_id = parse.format_id(i.fmt)
                entry = opts.cache.lookup(sha256, fmt_id) if sha256 and not snap.changed() else None
                if entry is None:
                    to_parse.append(i)
                else:
                    f = selected[i.file_id]
                    f.parse_cache, f.size, f.sha256 = "hit", snap.size, sha256
                    cached.append((i, entry.parquet))
            whole = chunks.whole_chunks(
                pcache, selected, inputs, {i.file_id for i, _ in cached}, opts.since, opts.until
            )
            parse.load_parsed(
                ws.con,
                [c for c in cached if c[0].file_id not in whole],
                since_sql=since_sql,
                until_sql=until_sql,
            )
            parse.load_parsed(
                ws.con,
                [c for c in cached if c[0].file_id in whole],
                since_sql=since_sql,
                until_sql=until_sql,
                quarantined_only=True,
            )
            if whole:
                chunks.check_whole(ws.con, whole, cached, since_sql, until_sql)
        errors = parse.load_files(
            ws.con, to_parse, since_sql=since_sql, until_sql=until_sql, scratch=ws.scratch
        )
        changed = _identify_parsed(selected, to_parse, snaps, errors)
        if changed:
            ws.con.execute(
                f"DELETE FROM parsed WHERE file_id IN ({', '.join(str(i.file_id) for i, _, _ in changed)})"
            )
            for i, snap, why in changed:
                _parse_frozen_copy(ws, selected[i.file_id], i, snap, why, errors, cancel, opts)
        if opts.cache is not None:
            for i in to_parse:
                f = selected[i.file_id]
                if i.file_id not in errors and f.sha256 and f.status == "ok":
                    stored = opts.cache.store(ws.con, i.file_id, f.sha256, parse.format_id(i.fmt))
                    f.parse_cache = "stored" if stored else "miss"
        copies = _later_copies(selected, [i.file_id for i in inputs if i.file_id not in errors])
        if copies:
            if whole.keys() & copies.keys():  # a copy's chunk cannot be used whole: its rows are needed
                chunks.load_whole_rows(ws.con, whole, cached, since_sql, until_sql)
            ws.con.execute(f"DELETE FROM parsed WHERE file_id IN ({', '.join(map(str, copies))})")
            for file_id, first in copies.items():
                _skip_copy(selected[file_id], first)
        counts = parse.file_counts(ws.con)
        for file_id, f in enumerate(selected):
            if file_id in errors:
                f.fail(errors[file_id])
            elif f.status == "ok" and file_id not in stream_ids:
                f.counts = whole.get(file_id) or counts.get(file_id, parse.FileCounts())
            elif f.sha256 is None and file_id in snaps:  # failed before parsing: its bytes are identified
                snap, digest = snaps[file_id]
                sha256 = _digest(digest)
                if sha256 is not None:
                    f.size, f.sha256 = snap.size, sha256
    finally:
        cancel.set()  # a run stopped half-way does not wait for the hash of a large file
        pool.shutdown(wait=True, cancel_futures=True)


def _load_stream_file(
    ws: Workspace,
    f: InputFile,
    file_id: int,
    snap: Snapshot,
    cancel: threading.Event,
    opts: Options,
    read: dict[str, InputFile],
) -> None:
    """Parse an error-log or application-log file from a frozen copy, identified by that copy's bytes;
    a copy of a stream file already ``read`` (by sha256) is skipped instead."""
    since_sql, until_sql = opts.window_sql
    copy = ws.scratch / f"stream-{file_id}"
    try:
        f.size, f.sha256 = snap.copy_to(copy, whole_lines=not parse.is_gzip(f.path), cancel=cancel)
        if (first := _copy_of(f, read)) is not None:
            _skip_copy(f, first)
            return
        f.counts = streams.load_file(
            ws.con,
            copy,
            f.fmt or "",
            file_label=f.name,
            node_id=f.node_id,
            since_sql=since_sql,
            until_sql=until_sql,
            scratch=ws.scratch,
            file_id=file_id,
        )
    finally:
        copy.unlink(missing_ok=True)


def _copy_of(f: InputFile, read: dict[str, InputFile]) -> InputFile | None:
    """The file read before ``f`` (``read``: the first file of each sha256) with the same bytes, whose lines
    ``f``'s would count twice (a log copied beside itself); None when ``f`` is the first, which ``read`` then
    records. Empty files are never copies: idle nodes rotate empty files, all alike."""
    if not f.size or f.sha256 is None:
        return None
    first = read.setdefault(f.sha256, f)
    return None if first is f else first


def _later_copies(selected: list[InputFile], file_ids: list[int]) -> dict[int, InputFile]:
    """Of the access logs read whole (``file_ids``, in listing order), each that is a copy of one listed
    before it (:func:`_copy_of`), and that first file."""
    read: dict[str, InputFile] = {}
    copies = {}
    for file_id in file_ids:
        f = selected[file_id]
        if f.status == "ok" and (first := _copy_of(f, read)) is not None:
            copies[file_id] = first
    return copies


def _skip_copy(f: InputFile, first: InputFile) -> None:
    """``f`` holds the bytes of ``first``: skipped, naming it (its size and sha256 stay: it was read)."""
    f.status, f.error = "skipped", f"same content as {first.path}"
    f.counts, f.parse_cache = parse.FileCounts(), None


def _digest(future: concurrent.futures.Future[str]) -> str | None:
    """The sha256 of a snapshot's bytes, or None when they could not be hashed as they were."""
    try:
        return future.result()
    except (OSError, FileChanged):
        interrupts.check()
        return None


def _identify_parsed(
    selected: list[InputFile],
    parsed: list[parse.ParseInput],
    snaps: dict[int, tuple[Snapshot, concurrent.futures.Future[str]]],
    errors: dict[int, str],
) -> list[tuple[parse.ParseInput, Snapshot, str]]:
    """Give each parsed file the size and sha256 of its snapshot when it did not change while it was read;
    return the files that did, with how. A file that failed to parse keeps its snapshot's identity."""
    changed = []
    for i in parsed:
        f = selected[i.file_id]
        snap, digest = snaps[i.file_id]
        try:
            sha256 = digest.result()
            why = snap.changed()
        except FileChanged as exc:
            interrupts.check()
            sha256, why = None, str(exc)
        except OSError as exc:
            interrupts.check()
            errors.setdefault(i.file_id, f"cannot read: {exc.strerror or exc}")
            continue
        if i.file_id in errors:  # nothing parsed: the bytes are still identified when they could be
            if sha256 is not None:
                f.size, f.sha256 = snap.size, sha256
        elif why is None:
            f.size, f.sha256 = snap.size, sha256
        else:
            changed.append((i, snap, why))
    return changed


def _parse_frozen_copy(
    ws: Workspace,
    f: InputFile,
    i: parse.ParseInput,
    snap: Snapshot,
    why: str,
    errors: dict[int, str],
    cancel: threading.Event,
    opts: Options,
) -> None:
    """Parse and hash a private copy of a file that changed while DuckDB read it (its rows were removed)."""
    since_sql, until_sql = opts.window_sql
    copy = ws.scratch / "snapshot"
    try:
        f.size, f.sha256 = snap.copy_to(copy, whole_lines=not i.gz, cancel=cancel)
        error = parse.load_files(
            ws.con, [replace(i, path=copy)], since_sql=since_sql, until_sql=until_sql, scratch=ws.scratch
        ).get(i.file_id)
        if error is None:
            f.error = f"changed while being read ({why}): parsed a copy of its first {f.size} bytes" + (
                "" if i.gz else " (complete lines)"
            )
        else:
            errors[i.file_id] = error
            f.size = f.sha256 = None
    except FileChanged as exc:
        interrupts.check()
        errors[i.file_id] = f"changed while being read: {exc}"
        f.size = f.sha256 = None
    except OSError as exc:
        errors[i.file_id] = f"cannot read: {exc.strerror or exc}"
        f.size = f.sha256 = None
    finally:
        copy.unlink(missing_ok=True)


def _stat_unread(files: list[InputFile]) -> None:
    """Skipped files (and files that could not be hashed) still get their size in the manifest."""
    for f in files:
        if f.size is None:
            try:
                f.size = f.path.stat().st_size
            except OSError:
                f.size = None


def _files_partial(con: duckdb.DuckDBPyConnection, selected: list[InputFile]) -> None:
    """``p_files``: one row per read file, the partial that summary and nodes count files and lines from.

    Inserted in one statement (one list per column), not one INSERT per file: a week of rotated files is
    thousands of rows.
    """
    con.execute(statement(con, f"CREATE TABLE p_files ({FILES_SCHEMA})"))
    columns: list[list[object]] = [[] for _ in range(10)]
    for f in selected:
        if not f.selected:  # a copy of another input, skipped once read
            continue
        c = f.counts
        row = (f.node_id, f.name, f.fmt, f.status, c.lines_read, c.lines_parsed, c.lines_quarantined,
               c.lines_outside_window, c.first_ts, c.last_ts)  # fmt: skip
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    types = ["VARCHAR"] * 4 + ["BIGINT"] * 4 + ["TIMESTAMPTZ"] * 2
    con.execute(
        statement(
            con, "INSERT INTO p_files SELECT " + ", ".join(f"unnest(?::VARCHAR[])::{t}" for t in types)
        ),
        columns,
    )


def _run_queries(writer: ResultWriter, ws: Workspace, opts: Options) -> list[QueryEntry]:
    """Run every --query in the sandbox (analysis/sandbox.py); a rejected or failed one is recorded."""
    entries, accepted = [], []
    for name, path, text in opts.queries:
        entry = QueryEntry(name=name, file=str(path), sha256=sha256_bytes(text.encode()), kind="user")
        entries.append(entry)
        try:
            accepted.append((entry, check_query(text)))
        except QueryRejected as exc:
            entry.status, entry.error = "failed", f"{path}: rejected: {exc}"
    if not accepted:
        return entries
    with Sandbox.of(ws.con, ws.scratch / "sandbox", memory_limit=ws.memory_limit, threads=ws.threads) as box:
        for entry, statement in accepted:
            rel = resultdir.query_table(entry.name)
            try:
                box.run(
                    statement,
                    ws.con,
                    partial(writer.copy, ws.con, rel=rel),
                    partial(writer.written_bytes, rel),
                    opts.limits,
                )
            except QueryFailed as exc:
                writer.discard(rel)
                entry.status, entry.error = "failed", f"{entry.file}: {exc}"
            except ObjectTooLarge as exc:
                writer.discard(rel)
                entry.status, entry.error = "failed", f"{entry.file}: {exc.message}"
    return entries
