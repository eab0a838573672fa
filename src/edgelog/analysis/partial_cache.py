"""Report partials cached per chunk of rotated files, beside the parse cache: a warm run merges them.

A cached file still costs its share of every report's partial SQL. Reports combine partials exactly (that is
what ``edgelog merge`` relies on), so a run may compute a report's partial per chunk of files, store each
chunk's partials, and later merge the stored ones with the partial of whatever is new. A chunk is the files
of one node rotated in one UTC hour (a 24 h window is 24 chunks, not 288 files: per-file partials would cost
a statement per file and report) holding at least ``MIN_CHUNK_REQUESTS`` requests. Only files whose every
request lies inside the run's window belong to a chunk (a file straddling ``--since``/``--until`` is
computed with the run, from its rows); only reports whose partial reads ``requests`` alone are chunked (the
error and application logs are not cached).

An entry is ``<key>.json`` (the record) and ``<key>.<report>.parquet`` per chunked report. The key is a
sha256 over what decides the partials: each file's node, name, sha256 and format (rows carry the node and
file name), the parser (``parse_cache.parser_id``), the report library (every report file, macro file and
the tag rules), the trusted proxies (they rewrite ``client_ip`` and the visitor hash), and the DuckDB and
edgelog versions. Trust is as for parsed rows: an entry is used only when its record names all of that and
every Parquet file has the recorded size and sha256; anything else is a miss, computed and rewritten.
Writes are atomic (temporaries renamed, Parquet files first, the record last). Retention: the same pruning
as the parse cache (an entry is written after its files were rotated).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from edgelog import __version__
from edgelog.analysis.library import partial_casts
from edgelog.analysis.parse import sql_str
from edgelog.analysis.parse_cache import ParseCache, parser_id
from edgelog.fileio import hash_file

ENTRY_FORMAT = 1
# A chunk costs a statement per report when it is stored (~7 ms each on the bench machine) and a verified
# read per later run; below this many requests an hour is cheaper to compute with the run than to chunk.
MIN_CHUNK_REQUESTS = 10_000


@dataclass(frozen=True)
class ChunkFile:
    """One file of a chunk as the partials see it: its rows carry node and name; sha256 and format decide
    the rows."""

    node_id: str | None
    name: str
    sha256: str
    fmt: str


@dataclass
class Chunk:
    """Files of one node and hour whose partials are read from, or written to, one entry."""

    file_ids: list[int]
    files: list[ChunkFile]
    key: str = ""
    hit: dict[str, Path] = field(default_factory=dict)  # report -> verified Parquet (empty: a miss)
    pending: dict[str, tuple[Path, int]] = field(default_factory=dict)  # report -> (temporary, rows)
    failed: bool = False
    record: dict[str, Any] = field(default_factory=dict)  # the verified record of a hit

    def file_counts(self) -> dict[str, dict[str, Any]]:
        """Per file name, what the record says of its lines (``FileCounts`` fields and the first and last
        request as epoch microseconds): lets a run use a hit without loading the chunk's rows."""
        found = self.record.get("file_counts")
        return found if isinstance(found, dict) else {}


def library_id(parts: Sequence[bytes]) -> str:
    """A digest of the report library as one run uses it (report and macro files, tag rules)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


class PartialCache:
    """Chunk entries in a parse-cache directory: ``lookup`` answers only with verified entries."""

    def __init__(self, cache: ParseCache, library: str, trusted: Sequence[str], reports: Sequence[str]):
        self.root = cache.root
        self.library = library
        self.trusted = sorted(trusted)
        self.reports = sorted(reports)
        self._verified: dict[str, tuple[dict[str, Path], dict[str, Any]]] = {}

    def _fields(self, files: list[ChunkFile]) -> dict[str, object]:
        return {
            "entry_format": ENTRY_FORMAT,
            "kind": "partials",
            "files": sorted([f.node_id, f.name, f.sha256, f.fmt] for f in files),
            "parser": parser_id(),
            "library": self.library,
            "trusted_proxies": self.trusted,
            "reports": self.reports,
            "duckdb_version": duckdb.__version__,
            "edgelog_version": __version__,
        }

    def key(self, files: list[ChunkFile]) -> str:
        return hashlib.sha256(json.dumps(self._fields(files), sort_keys=True).encode()).hexdigest()

    def _record_path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def _parquet(self, key: str, report: str) -> Path:
        return self.root / key[:2] / f"{key}.{report}.parquet"

    def lookup(self, chunk: Chunk) -> None:
        """Set ``chunk.key`` and, when its entry passes every check, ``chunk.hit``."""
        chunk.key = self.key(chunk.files)
        if chunk.key in self._verified:  # looked up (and hashed) once per run
            chunk.hit, chunk.record = self._verified[chunk.key]
            return
        try:
            record = json.loads(self._record_path(chunk.key).read_text(encoding="utf-8"))
            if not isinstance(record, dict) or record.get("key") != chunk.key:
                return
            if any(record.get(k) != v for k, v in self._fields(chunk.files).items()):
                return
            stored = record.get("parquet")
            if not isinstance(stored, dict) or sorted(stored) != self.reports:
                return
            hit = {}
            for report in self.reports:
                path, meta = self._parquet(chunk.key, report), stored[report]
                size, digest = hash_file(path, "sha256")
                if not isinstance(meta, dict) or [size, digest] != [meta.get("size"), meta.get("sha256")]:
                    return
                hit[report] = path
            if not isinstance(record.get("file_counts"), dict):
                return
        except (OSError, ValueError):
            return
        chunk.hit, chunk.record = hit, record
        self._verified[chunk.key] = (hit, record)

    def write_pending(self, con: duckdb.DuckDBPyConnection, chunk: Chunk, report: str, table: str) -> None:
        """Write ``table`` (this chunk's partial of ``report``) under a temporary name; :meth:`commit`
        renames it into place once every report of the chunk was written. Never fails the run."""
        if chunk.failed:
            return
        tmp = self.root / chunk.key[:2] / f".{chunk.key}.{report}.{uuid.uuid4().hex}.parquet"
        try:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            row = con.execute(
                f"COPY (SELECT * FROM {table}) TO {sql_str(str(tmp))} (FORMAT parquet, COMPRESSION zstd)"
            ).fetchone()
            chunk.pending[report] = (tmp, int(row[0]) if row else 0)
        except (OSError, duckdb.Error):
            chunk.failed = True
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def commit(self, chunk: Chunk, file_counts: dict[str, dict[str, Any]]) -> bool:
        """Rename a chunk's pending Parquet files into place and write its record last; False (and nothing
        left behind) when a report is missing or the cache cannot be written."""
        tag = uuid.uuid4().hex
        tmp_record = self.root / chunk.key[:2] / f".{chunk.key}.{tag}.json"
        try:
            if chunk.failed or sorted(chunk.pending) != self.reports:
                return False
            stored = {}
            for report, (tmp, rows) in chunk.pending.items():
                size, digest = hash_file(tmp, "sha256")
                stored[report] = {"rows": rows, "size": size, "sha256": digest}
            record = {
                "key": chunk.key,
                **self._fields(chunk.files),
                "parquet": stored,
                "file_counts": file_counts,
            }
            tmp_record.write_text(json.dumps(record, indent=1), encoding="utf-8")
            for report, (tmp, _) in chunk.pending.items():
                tmp.replace(self._parquet(chunk.key, report))
            tmp_record.replace(self._record_path(chunk.key))
            return True
        except OSError:
            return False
        finally:
            for tmp, _ in chunk.pending.values():
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                tmp_record.unlink(missing_ok=True)
            chunk.pending.clear()


def chunkable_reports(
    con: duckdb.DuckDBPyConnection, reports: Sequence[tuple[str, str]], request_columns: str
) -> list[str]:
    """The reports (name, partial SQL) whose partial reads ``requests`` and nothing else, so can be computed
    per chunk. DuckDB names the tables a statement reads with views expanded, so ``requests`` is shadowed
    by an empty temp table of its columns while asking (``con`` must hold the library's macros)."""
    con.execute(f"CREATE TEMP TABLE requests AS SELECT {request_columns} FROM parsed LIMIT 0")
    try:
        found = []
        for name, sql in reports:
            try:
                if con.get_table_names(sql, qualified=False) == {"requests"}:
                    found.append(name)
            except duckdb.Error:
                continue
        return found
    finally:
        con.execute("DROP TABLE IF EXISTS temp.requests")


class ChunkedPartials:
    """The ``partial`` of a chunked report: stored chunks read back, missing chunks computed (and queued for
    the cache), and the rest of the requests (files in no chunk) computed as one more piece."""

    def __init__(self, cache: PartialCache, chunks: list[Chunk], rest: bool, request_columns: str):
        self.cache = cache
        self.chunks = chunks
        self.rest = rest
        self.request_columns = request_columns
        self.chunked_ids = sorted(i for c in chunks for i in c.file_ids)
        self._temps: list[str] = []  # tables the current ``partial`` view reads

    def load(self, con: duckdb.DuckDBPyConnection, report: str, partial_sql: str) -> None:
        """Create the temp view ``partial`` of ``report`` from its pieces (as ``merge`` does: the merge SQL
        streams the stored chunks from their Parquet files instead of from a copy of them in a table). The
        tables of the pieces computed here stay until the next :meth:`load` or :meth:`release`."""
        self.release(con)
        cols = partial_casts(con, partial_sql)
        pieces = []
        hits = [str(c.hit[report]) for c in self.chunks if c.hit]
        if hits:
            files = ", ".join(sql_str(p) for p in hits)
            pieces.append(f"SELECT {cols} FROM read_parquet([{files}], union_by_name = true)")
        try:
            for n, c in enumerate(c for c in self.chunks if not c.hit):
                table = f"_chunk_{n}"
                self._temps.append(table)
                self._with_requests(con, f"IN ({', '.join(map(str, c.file_ids))})", table, partial_sql)
                self.cache.write_pending(con, c, report, table)
                pieces.append(f"SELECT * FROM {table}")
            if self.rest or not pieces:
                where = f"NOT IN ({', '.join(map(str, self.chunked_ids))})" if self.chunked_ids else ""
                self._temps.append("_chunk_rest")
                self._with_requests(con, where, "_chunk_rest", partial_sql)
                pieces.append("SELECT * FROM _chunk_rest")
            con.execute("CREATE TEMP VIEW partial AS " + " UNION ALL BY NAME ".join(pieces))
        except BaseException:
            self.release(con)
            raise

    def release(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop the tables of the pieces the last :meth:`load` computed (``partial`` must be gone first)."""
        while self._temps:
            con.execute(f"DROP TABLE IF EXISTS {self._temps.pop()}")

    def _with_requests(self, con: duckdb.DuckDBPyConnection, file_ids: str, table: str, sql: str) -> None:
        """``CREATE TEMP TABLE table AS sql`` with ``requests`` limited to some files (a temp view of that
        name shadows the workspace's own while the statement runs)."""
        where = f"AND file_id {file_ids}" if file_ids else ""
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW requests AS SELECT {self.request_columns} FROM parsed "
            f"WHERE reason IS NULL AND in_window {where}"
        )
        try:
            con.execute(f"CREATE TEMP TABLE {table} AS {sql}")
        finally:
            con.execute("DROP VIEW IF EXISTS temp.requests")

    def commit(self, file_counts: Callable[[list[int]], dict[str, dict[str, Any]]]) -> None:
        """Write the record of every chunk computed in this run (its Parquet files are already written);
        ``file_counts(file_ids)`` gives what the record says of each file's lines."""
        for c in self.chunks:
            if not c.hit and c.pending:  # commit also removes the temporaries of a chunk it refuses
                self.cache.commit(c, file_counts(c.file_ids))
