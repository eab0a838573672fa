"""``analyze`` and ``merge``: rotated log files in, a verified results directory out.

Both paths end in the same finalize step over merged partials, which is why ``merge(node outputs)`` equals
``analyze(union of inputs)`` exactly: ``analyze`` computes partials from ``requests`` and runs each report's
merge SQL over them once; ``merge`` concatenates the nodes' partials and runs the same merge SQL.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from edgelog import __version__, resultdir
from edgelog.analysis import parse
from edgelog.analysis.library import (
    MACROS_DIR,
    MacroFile,
    Report,
    default_tags_file,
    install_macros,
    load_library,
    load_macros,
    load_tag_rules,
    sha256_bytes,
)
from edgelog.errors import ConfigError, ExitCode, IntegrityError, UsageError
from edgelog.fileio import hash_file
from edgelog.naming import check_node_id, is_temporary, parse_rotated_name
from edgelog.resultdir import InputEntry, Manifest, MergedFrom, QueryEntry, TagRules, Totals, Window

ROTATION_SLACK = timedelta(seconds=60)  # records may be stamped up to this long after their file's window
FILES_SCHEMA = """
    node_id VARCHAR, name VARCHAR, format VARCHAR, status VARCHAR, lines_read BIGINT, lines_parsed BIGINT,
    lines_quarantined BIGINT, lines_outside_window BIGINT, first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ
"""
ON_DISK_BYTES = 256 * 1024 * 1024  # above this much (uncompressed) input, DuckDB works from a temp file


@dataclass
class RunResult:
    """What a run produced: its status, the exit code the CLI should use, the manifest and the directory."""

    status: str
    exit_code: ExitCode
    manifest: Manifest
    out: Path


@dataclass
class _Input:
    path: Path
    name: str
    node_id: str | None
    rotated_at: datetime | None
    status: str = "ok"
    error: str | None = None
    fmt: str | None = None
    counts: parse.FileCounts = field(default_factory=parse.FileCounts)
    size: int | None = None
    sha256: str | None = None


# --- helpers --------------------------------------------------------------------------------------


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str | datetime | None, option: str) -> datetime | None:
    """Parse a --since/--until value; empty means no bound (job templates pass empty strings)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strip()
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option}: {value!r} is not an ISO-8601 time", hint=f"e.g. {option} 2026-11-23T08:00:00Z"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _connect(tmp: Path, *, on_disk: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with bounded memory that spills to a private temp directory.

    Large inputs use a database file in that directory instead of memory: DuckDB then stores the parsed rows
    compressed (dictionary/FSST suit user agents and paths), which spills far less than uncompressed
    in-memory tables. Small inputs stay in memory, where they are faster.
    """
    config: dict[str, Any] = {
        "memory_limit": os.environ.get("EDGELOG_MEMORY_LIMIT", "1GB"),
        "temp_directory": str(tmp),
        "preserve_insertion_order": True,
    }
    threads = os.environ.get("EDGELOG_THREADS")
    if threads:
        config["threads"] = int(threads)
    con = duckdb.connect(str(tmp / "work.duckdb") if on_disk else ":memory:", config=config)
    con.execute("SET TimeZone = 'UTC'")
    return con


def _estimated_bytes(files: list[_Input]) -> int:
    """Uncompressed input size, roughly (gzip'd logs are about 10x smaller), to pick memory or disk."""
    total = 0
    for f in files:
        if f.status == "skipped":
            continue
        try:
            size = f.path.stat().st_size
        except OSError:
            continue
        total += size * 10 if f.name.endswith(".gz") else size
    return total


def discover_inputs(inputs: Sequence[Path | str], exclude: Path | None = None) -> list[Path]:
    """Expand directories recursively, skipping dot-files, dot-directories and ``exclude`` (the output
    directory, so re-running into a directory below the input never reads its own results)."""
    found: list[Path] = []
    skip = exclude.resolve() if exclude is not None else None
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(
                    d for d in dirs if not d.startswith(".") and (Path(root) / d).resolve() != skip
                )
                found.extend(Path(root) / f for f in sorted(files) if not is_temporary(f))
        elif p.is_file():
            found.append(p)
        elif not p.exists():
            raise UsageError(f"input {p} does not exist", hint="pass log files or directories that hold them")
        else:
            raise UsageError(f"input {p} is not a regular file or directory")
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def select_window(files: list[_Input], since: datetime | None, until: datetime | None) -> None:
    """Mark rotated files that cannot hold records in [since, until) as skipped, by their name's stamp.

    A file stamped T holds records written before T, after the previous rotation of the same node and stream.
    Files without a rotation stamp are always read; records are filtered by time afterwards either way.
    """
    groups: dict[tuple[str, str], list[_Input]] = {}
    for f in files:
        rn = parse_rotated_name(f.name)
        if rn is not None:
            groups.setdefault((rn.stream, rn.node), []).append(f)
    for group in groups.values():
        group.sort(key=lambda f: f.rotated_at or datetime.min.replace(tzinfo=UTC))
        prev: datetime | None = None
        for f in group:
            assert f.rotated_at is not None
            if since is not None and f.rotated_at + ROTATION_SLACK <= since:
                f.status, f.error = "skipped", "rotated before --since"
            elif until is not None and prev is not None and prev - ROTATION_SLACK >= until:
                f.status, f.error = "skipped", "starts after --until"
            prev = f.rotated_at


def _clean_out(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in resultdir.OWNED:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for sub in (resultdir.REPORTS, resultdir.PARTIALS):
        (out / sub).mkdir()


def _copy_parquet(con: duckdb.DuckDBPyConnection, sql: str, dest: Path) -> int:
    row = con.execute(
        f"COPY ({sql}) TO {parse.sql_str(str(dest))} (FORMAT parquet, COMPRESSION zstd)"
    ).fetchone()
    return int(row[0]) if row else 0


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:1000] if text else type(exc).__name__


# --- shared finalize ------------------------------------------------------------------------------


def _run_library(
    con: duckdb.DuckDBPyConnection,
    reports: list[Report],
    out: Path,
    rows: dict[str, int],
    load_partial: Any,
) -> list[QueryEntry]:
    """Build merged partials ``p_<name>`` via ``load_partial``, write them, then write every report."""
    entries = {
        r.name: QueryEntry(name=r.name, file=f"queries/{r.file.name}", sha256=r.sha256) for r in reports
    }
    for r in reports:
        if r.partial_sql is None:
            continue
        try:
            con.execute("DROP TABLE IF EXISTS partial")
            load_partial(r)
            con.execute(f"CREATE OR REPLACE TABLE p_{r.name} AS {r.merge_sql}")
            con.execute("DROP TABLE IF EXISTS partial")
            rel = resultdir.partial_table(r.name)
            rows[rel] = _copy_parquet(con, f"SELECT * FROM p_{r.name} ORDER BY ALL", out / rel)
        except duckdb.Error as exc:
            entries[r.name].status, entries[r.name].error = (
                "failed",
                f"{r.file.name} (partial): {_short(exc)}",
            )
    rel = resultdir.partial_table(resultdir.FILES_PARTIAL)
    rows[rel] = _copy_parquet(con, "SELECT * FROM p_files ORDER BY node_id, name", out / rel)
    for r in reports:
        entry = entries[r.name]
        if entry.status == "failed":
            continue
        try:
            table = con.sql(r.final_sql)
            problem = r.column_problem(table.columns, [str(t) for t in table.types])
            if problem:
                entry.status, entry.error = "failed", f"{r.file.name}: {problem}"
                continue
            rel = resultdir.report_table(r.name)
            rows[rel] = _copy_parquet(con, r.final_sql, out / rel)
        except duckdb.Error as exc:
            entry.status, entry.error = "failed", f"{r.file.name}: {_short(exc)}"
    return list(entries.values())


def _macro_entries(macros: list[MacroFile]) -> list[QueryEntry]:
    """Macro files are recorded (and hashed) like reports: they decide what the reports say."""
    return [
        QueryEntry(name=m.name, file=f"queries/{MACROS_DIR}/{m.file.name}", sha256=m.sha256, kind="macro")
        for m in macros
    ]


def _status(failed_any: bool, usable: bool) -> tuple[str, ExitCode]:
    if not usable:
        return "failed", ExitCode.FAILED
    if failed_any:
        return "partial", ExitCode.PARTIAL
    return "ok", ExitCode.OK


# --- analyze --------------------------------------------------------------------------------------


def _check_user_queries(queries: Sequence[Path | str]) -> list[tuple[str, Path, str]]:
    """Read every --query file up front: a missing or empty file is a usage error before any work."""
    taken = set()
    result = []
    for q in queries:
        p = Path(q)
        if not p.is_file():
            raise UsageError(f"--query {p}: no such file", hint="pass the path of a .sql file")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--query {p}: cannot read: {exc}") from None
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
    return result


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
) -> RunResult:
    """Analyse log files into ``out`` (reports, partials, quarantine, manifest); see docs/analysis.md."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    out = Path(out)
    if fmt in ("", "auto"):
        fmt = None
    if fmt is not None and fmt not in parse.FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of auto, {', '.join(parse.FORMATS)}")
    since_dt = parse_time(since, "--since")
    until_dt = parse_time(until, "--until")
    if since_dt and until_dt and since_dt >= until_dt:
        raise UsageError("--since must be before --until", hint="swap the two times")
    job_id = job_id or os.environ.get("BACALHAU_JOB_ID") or None
    execution_id = execution_id or os.environ.get("BACALHAU_EXECUTION_ID") or None
    if node_id:
        check_node_id(node_id, source="--node-id")
    elif os.environ.get("EDGELOG_NODE_ID"):
        node_id = check_node_id(os.environ["EDGELOG_NODE_ID"], source="EDGELOG_NODE_ID")
    library = load_library()
    macros = load_macros()
    user_queries = _check_user_queries(queries)
    tags_path = Path(tags) if tags else default_tags_file()
    paths = discover_inputs(inputs, exclude=out)
    if out.resolve() in {Path(p).resolve() for p in inputs if Path(p).is_dir()}:
        raise UsageError("--out must not be one of the input directories")

    files: list[_Input] = []
    for p in paths:
        rn = parse_rotated_name(p.name)
        f = _Input(p, p.name, node_id or (rn.node if rn else None), rn.rotated_at if rn else None)
        if rn is not None and rn.stream != "access":
            f.status, f.error = "skipped", f"{rn.stream} log stream is not analysed"
        files.append(f)
    select_window(files, since_dt, until_dt)
    names_nodes = {f.node_id for f in files if f.status != "skipped" and f.node_id}
    run_node = node_id or (names_nodes.pop() if len(names_nodes) == 1 else None)

    _clean_out(out)
    tmp = Path(tempfile.mkdtemp(prefix="edgelog-duckdb-"))
    rows: dict[str, int] = {}
    try:
        threshold = int(os.environ.get("EDGELOG_DISK_THRESHOLD", ON_DISK_BYTES))
        con = _connect(tmp, on_disk=_estimated_bytes(files) > threshold)
        rules = load_tag_rules(tags_path, con)
        install_macros(con, macros, rules)
        parse.create_request_store(con)
        since_sql = f"'{_iso(since_dt)}'::TIMESTAMPTZ" if since_dt else "'-infinity'::TIMESTAMPTZ"
        until_sql = f"'{_iso(until_dt)}'::TIMESTAMPTZ" if until_dt else "'infinity'::TIMESTAMPTZ"

        selected = [f for f in files if f.status != "skipped"]
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            hashes = {id(f): pool.submit(hash_file, f.path, "sha256") for f in selected}
            for file_id, f in enumerate(selected):
                try:
                    f.fmt = fmt or parse.detect_format(f.path)
                    f.counts = parse.load_file(
                        con,
                        f.path,
                        f.fmt,
                        file_label=f.name,
                        node_id=f.node_id,
                        since_sql=since_sql,
                        until_sql=until_sql,
                        scratch=tmp,
                        file_id=file_id,
                    )
                except parse.FileReadError as exc:
                    f.status, f.error = "failed", str(exc)
                    f.counts = parse.FileCounts()
            for f in selected:
                try:
                    f.size, f.sha256 = hashes[id(f)].result()
                except OSError as exc:
                    f.status, f.error = "failed", f"cannot read: {exc.strerror or exc}"
        for f in files:
            if f.size is None:
                try:
                    f.size = f.path.stat().st_size
                except OSError:
                    f.size = None

        con.execute(f"CREATE TABLE p_files ({FILES_SCHEMA})")
        for f in selected:
            c = f.counts
            con.execute(
                "INSERT INTO p_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ)",
                [
                    f.node_id,
                    f.name,
                    f.fmt,
                    f.status,
                    c.lines_read,
                    c.lines_parsed,
                    c.lines_quarantined,
                    c.lines_outside_window,
                    c.first_ts,
                    c.last_ts,
                ],
            )

        def load_partial(r: Report) -> None:
            con.execute(f"CREATE TEMP TABLE partial AS {r.partial_sql}")

        query_entries = _run_library(con, library, out, rows, load_partial) + _macro_entries(macros)
        rows[resultdir.QUARANTINE] = _copy_parquet(
            con, "SELECT * FROM quarantine ORDER BY node_id, file, line_no", out / resultdir.QUARANTINE
        )
        query_failed = any(q.status == "failed" for q in query_entries)
        if user_queries:
            (out / resultdir.QUERIES).mkdir(exist_ok=True)
        for name, p, text in user_queries:
            entry = QueryEntry(name=name, file=str(p), sha256=sha256_bytes(text.encode()), kind="user")
            sql = text.strip().rstrip(";").strip()
            try:
                rel = resultdir.query_table(name)
                rows[rel] = _copy_parquet(con, sql, out / rel)
            except duckdb.Error as exc:
                entry.status, entry.error = "failed", f"{p}: {_short(exc)}"
                query_failed = True
            query_entries.append(entry)
        con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    failed_files = [f for f in selected if f.status == "failed"]
    usable = not selected or len(failed_files) < len(selected)
    status, code = _status(bool(failed_files) or query_failed, usable)
    entries = [_input_entry(f) for f in files]
    manifest = Manifest(
        kind="analyze",
        status=status,
        run_id=uuid.uuid4().hex,
        job_id=job_id,
        node_id=run_node,
        execution_id=execution_id,
        edgelog_version=__version__,
        duckdb_version=duckdb.__version__,
        started_at=_iso(started),
        window=Window(_iso(since_dt), _iso(until_dt)),
        inputs=entries,
        queries=query_entries,
        tag_rules=TagRules(str(tags_path), sha256_bytes(tags_path.read_bytes())),
        totals=Totals.of(entries),
    )
    _finish_manifest(manifest, out, rows, t0)
    return RunResult(status, code, manifest, out)


def _finish_manifest(manifest: Manifest, out: Path, rows: dict[str, int], t0: float) -> None:
    """Hash every output, stamp the end time and write ``manifest.json`` last (its presence means done)."""
    manifest.outputs = resultdir.output_entries(out, rows)
    manifest.finished_at = _iso(datetime.now(UTC))
    manifest.duration_s = round(time.monotonic() - t0, 3)
    manifest.write(out)


def _input_entry(f: _Input) -> InputEntry:
    c = f.counts
    return InputEntry(
        name=f.name,
        path=str(f.path),
        node_id=f.node_id,
        size=f.size,
        sha256=f.sha256,
        format=f.fmt,
        status=f.status,
        error=f.error,
        lines_read=c.lines_read,
        lines_parsed=c.lines_parsed,
        lines_quarantined=c.lines_quarantined,
        lines_outside_window=c.lines_outside_window,
        first_ts=c.first_ts,
        last_ts=c.last_ts,
    )


# --- merge ----------------------------------------------------------------------------------------


def read_manifest(directory: Path, *, verify: bool = True) -> Manifest:
    """Load a results directory's manifest and (by default) check every listed output against it."""
    manifest = resultdir.read(directory)
    if verify:
        problems = manifest.verify(directory)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise IntegrityError(f"{directory}: {problems[0]}{more}")
    return manifest


def merge(dirs: Sequence[Path | str], out: Path | str) -> RunResult:
    """Merge analyze/merge result directories into ``out``: exactly ``analyze`` over the union of inputs."""
    started = datetime.now(UTC)
    t0 = time.monotonic()
    out = Path(out)
    sources = [Path(d) for d in dirs]
    if not sources:
        raise UsageError("merge needs at least one results directory")
    if out.resolve() in {s.resolve() for s in sources}:
        raise UsageError("--out must differ from the directories being merged")
    manifests = [read_manifest(s) for s in sources]
    library = load_library()
    macros = load_macros()
    _clean_out(out)
    tmp = Path(tempfile.mkdtemp(prefix="edgelog-duckdb-"))
    rows: dict[str, int] = {}
    try:
        con = _connect(tmp)
        install_macros(con, macros, None)
        con.execute(f"CREATE TABLE requests ({parse.REQUESTS_SCHEMA})")
        con.execute(f"CREATE TABLE p_files ({FILES_SCHEMA})")
        con.execute(f"CREATE TABLE quarantine ({parse.QUARANTINE_SCHEMA})")
        for s in sources:
            for table, rel in (
                ("p_files", resultdir.partial_table(resultdir.FILES_PARTIAL)),
                ("quarantine", resultdir.QUARANTINE),
            ):
                for src in resultdir.table_files(s, rel):
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [str(src)])

        def load_partial(r: Report) -> None:
            con.execute(f"CREATE TEMP TABLE partial AS SELECT * FROM ({r.partial_sql}) LIMIT 0")
            for s in sources:
                for src in resultdir.table_files(s, resultdir.partial_table(r.name)):
                    con.execute("INSERT INTO partial BY NAME SELECT * FROM read_parquet(?)", [str(src)])

        query_entries = _run_library(con, library, out, rows, load_partial) + _macro_entries(macros)
        rows[resultdir.QUARANTINE] = _copy_parquet(
            con, "SELECT * FROM quarantine ORDER BY node_id, file, line_no", out / resultdir.QUARANTINE
        )
        con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    inputs: list[InputEntry] = []
    merged_from = []
    for s, m in zip(sources, manifests, strict=True):
        inputs.extend(m.inputs)
        merged_from.append(
            MergedFrom(
                path=str(s),
                kind=m.kind,
                node_id=m.node_id,
                execution_id=m.execution_id,
                job_id=m.job_id,
                manifest_sha256=sha256_bytes((s / resultdir.MANIFEST).read_bytes()),
                status=m.status,
            )
        )
    statuses = [m.status for m in manifests]
    query_failed = any(q.status == "failed" for q in query_entries)
    usable = any(st in ("ok", "partial") for st in statuses)
    status, code = _status(query_failed or any(st != "ok" for st in statuses), usable)
    job_ids = {m.job_id for m in manifests}
    windows = {(m.window.since, m.window.until) for m in manifests}
    manifest = Manifest(
        kind="merge",
        status=status,
        run_id=uuid.uuid4().hex,
        job_id=job_ids.pop() if len(job_ids) == 1 else None,
        edgelog_version=__version__,
        duckdb_version=duckdb.__version__,
        started_at=_iso(started),
        window=Window(*windows.pop()) if len(windows) == 1 else Window(),
        inputs=inputs,
        queries=query_entries,
        totals=Totals.of(inputs),
        merged_from=merged_from,
    )
    _finish_manifest(manifest, out, rows, t0)
    return RunResult(status, code, manifest, out)


__all__ = ["ConfigError", "RunResult", "analyze", "discover_inputs", "merge", "parse_time", "read_manifest"]
