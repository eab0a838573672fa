"""``merge``: results directories of several nodes in; out, exactly ``analyze`` over the union of inputs."""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Sequence
from pathlib import Path

from edgelog import resultdir
from edgelog.analysis import parse, streams
from edgelog.analysis.library import Report, install_macros, load_library, load_macros, sha256_bytes
from edgelog.analysis.workspace import workspace
from edgelog.analysis.writer import FILES_SCHEMA, ResultWriter, RunResult, object_limit
from edgelog.errors import IntegrityError, UsageError
from edgelog.resultdir import InputEntry, Manifest, MergedFrom, Totals, Window


def read_manifest(directory: Path, *, verify: bool = True) -> Manifest:
    """Load a results directory's manifest and (by default) check every listed output against it."""
    manifest = resultdir.read(directory)
    if verify:
        problems = manifest.verify(directory)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise IntegrityError(f"{directory}: {problems[0]}{more}")
    return manifest


def merge(
    dirs: Sequence[Path | str], out: Path | str, *, max_object_bytes: int | str | None = None
) -> RunResult:
    """Merge analyze/merge result directories into ``out``: exactly ``analyze`` over the union of inputs.

    Reads tables stored whole or as parts; writes its own below ``max_object_bytes`` (as analyze does).
    """
    out = Path(out)
    limit = object_limit(max_object_bytes)
    sources = [Path(d) for d in dirs]
    if not sources:
        raise UsageError("merge needs at least one results directory")
    if out.resolve() in {s.resolve() for s in sources}:
        raise UsageError("--out must differ from the directories being merged")
    # Verifying hashes every output of every node (46 files each): threads overlap the reads and hashing
    # (hashlib releases the GIL); the first bad directory in argument order is reported.
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        manifests = list(pool.map(read_manifest, sources))
    library, macros = load_library(), load_macros()

    writer = ResultWriter(out, "merge", max_object_bytes=limit)
    with workspace() as ws:
        con = ws.con
        install_macros(con, macros, None)
        con.execute(f"CREATE TABLE requests ({parse.REQUESTS_SCHEMA})")
        streams.create_empty_relations(con)
        con.execute(f"CREATE TABLE p_files ({FILES_SCHEMA})")
        con.execute(f"CREATE TABLE quarantine ({parse.QUARANTINE_SCHEMA})")
        for table, rel in (
            ("p_files", resultdir.partial_table(resultdir.FILES_PARTIAL)),
            ("quarantine", resultdir.QUARANTINE),
        ):
            files = _table_files(sources, rel)
            if files:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {_scan(files)}")

        def load_partial(r: Report) -> None:
            # One parallel scan over every node's part files, typed as the report's partial; the merge SQL
            # streams from it instead of from a table filled one INSERT per file.
            shape = con.sql(f"SELECT * FROM ({r.partial_sql}) LIMIT 0")
            files = _table_files(sources, resultdir.partial_table(r.name))
            if not files:
                con.execute(f"CREATE TEMP TABLE partial AS SELECT * FROM ({r.partial_sql}) LIMIT 0")
                return
            cols = ", ".join(
                f"CAST({_ident(c)} AS {t}) AS {_ident(c)}"
                for c, t in zip(shape.columns, shape.types, strict=True)
            )
            con.execute(f"CREATE TEMP VIEW partial AS SELECT {cols} FROM {_scan(files)}")

        entries = writer.write_library(con, library, macros, load_partial)

    inputs: list[InputEntry] = [i for m in manifests for i in m.inputs]
    job_ids = {m.job_id for m in manifests}
    windows = {(m.window.since, m.window.until) for m in manifests}
    manifest = writer.manifest(
        job_id=job_ids.pop() if len(job_ids) == 1 else None,
        window=Window(*windows.pop()) if len(windows) == 1 else Window(),
        inputs=inputs,
        queries=entries,
        totals=Totals.of(inputs),
        merged_from=[_merged_from(s, m) for s, m in zip(sources, manifests, strict=True)],
    )
    statuses = [m.status for m in manifests]
    return writer.finish(
        manifest,
        incomplete=any(st != "ok" for st in statuses),
        usable=any(st in ("ok", "partial") for st in statuses),
    )


def _table_files(sources: Sequence[Path], rel: str) -> list[Path]:
    """Every Parquet file of table ``rel`` over all ``sources`` (``resultdir.table_files`` finds parts)."""
    return [f for s in sources for f in resultdir.table_files(s, rel)]


def _scan(files: Sequence[Path]) -> str:
    """One ``read_parquet`` over ``files``: DuckDB reads them in parallel, columns matched by name."""
    return f"read_parquet([{', '.join(parse.sql_str(str(f)) for f in files)}], union_by_name = true)"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _merged_from(source: Path, m: Manifest) -> MergedFrom:
    return MergedFrom(
        path=str(source),
        kind=m.kind,
        node_id=m.node_id,
        execution_id=m.execution_id,
        job_id=m.job_id,
        manifest_sha256=sha256_bytes((source / resultdir.MANIFEST).read_bytes()),
        status=m.status,
    )
