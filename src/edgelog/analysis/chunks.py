"""Which files of a run form chunks for the report-partial cache, and which stored chunks spare their rows.

A chunk is the access-log files of one node rotated in one UTC hour (:mod:`edgelog.analysis.partial_cache`
stores and verifies its partials). Before parsing, :func:`whole_chunks` finds the cached files whose chunk's
partials are stored and whose every request lies in the window: only their quarantined lines are loaded
(:func:`check_whole` falls back to the rows when the counts disagree). After parsing, :func:`chunked_partials`
groups the files that were read whole, unchanged and inside the window into the chunks the reports read from,
or store in, the cache.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from edgelog.analysis import parse, streams
from edgelog.analysis.inputs import InputFile
from edgelog.analysis.library import MacroFile, Report
from edgelog.analysis.parse_cache import ParseCache
from edgelog.analysis.partial_cache import (
    MIN_CHUNK_REQUESTS,
    Chunk,
    ChunkedPartials,
    ChunkFile,
    PartialCache,
    chunkable_reports,
    library_id,
)
from edgelog.logformat import LogFormat
from edgelog.naming import parse_rotated_name


def partial_cache(
    con: duckdb.DuckDBPyConnection,
    cache: ParseCache | None,
    library: list[Report],
    macros: list[MacroFile],
    tags: Path,
    trusted_spec: list[str] | None,
) -> PartialCache | None:
    """With a parse cache, where this run's report partials are cached per chunk (None without one)."""
    if cache is None:
        return None
    with_partial = [(r.name, r.partial_sql) for r in library if r.partial_sql]
    reports = chunkable_reports(con, with_partial, parse.REQUEST_COLUMNS)
    parts = [b"%s\0%s" % (r.name.encode(), r.sha256.encode()) for r in library]
    parts += [m.sha256.encode() for m in macros] + [tags.read_bytes()]
    return PartialCache(cache, library_id(parts), trusted_spec or [], reports)


def _chunk_of(
    files: dict[tuple[str | None, datetime], Chunk], file_id: int, f: InputFile, fmt: str | LogFormat
) -> bool:
    """Add a file to its chunk (one node's access-log files rotated in one UTC hour); False when its name
    is no rotated name (such a file is computed with the run)."""
    rotated = parse_rotated_name(f.name)
    if rotated is None or f.sha256 is None:
        return False
    chunk = files.setdefault((f.node_id, _hour(rotated.rotated_at)), Chunk([], []))
    chunk.file_ids.append(file_id)
    chunk.files.append(ChunkFile(f.node_id, f.name, f.sha256, parse.format_id(fmt)))
    return True


def _hour(rotated_at: datetime) -> datetime:
    return rotated_at.replace(minute=0, second=0, microsecond=0)


def whole_chunks(
    pcache: PartialCache | None,
    selected: list[InputFile],
    inputs: list[parse.ParseInput],
    cached: set[int],
    since: datetime | None,
    until: datetime | None,
) -> dict[int, parse.FileCounts]:
    """The files of chunks whose partials are stored and whose every request lies inside the window (as the
    verified record states), with their line counts from the record: their rows need not be loaded.

    A chunk qualifies only when all of its access-log files are parse-cache hits (the chunk the reports
    then look up is the same set of files)."""
    if pcache is None:
        return {}
    groups: dict[tuple[str | None, datetime], Chunk] = {}
    spoilt = set()  # an hour with a file to parse: its chunk (after parsing) is another set of files
    for pi in inputs:
        if pi.file_id in cached:
            _chunk_of(groups, pi.file_id, selected[pi.file_id], pi.fmt)
        elif rotated := parse_rotated_name(selected[pi.file_id].name):
            spoilt.add((selected[pi.file_id].node_id, _hour(rotated.rotated_at)))
    since_us, until_us = _epoch_us(since), _epoch_us(until)
    whole: dict[int, parse.FileCounts] = {}
    for hour, chunk in groups.items():
        if hour in spoilt:
            continue
        pcache.lookup(chunk)
        counts = chunk.file_counts()
        if not chunk.hit or sorted(counts) != sorted(selected[i].name for i in chunk.file_ids):
            continue
        if not all(_inside(counts[selected[i].name], since_us, until_us) for i in chunk.file_ids):
            continue
        requests = [counts[selected[i].name].get("lines_parsed") for i in chunk.file_ids]
        counted = [n for n in requests if isinstance(n, int)]
        if len(counted) < len(requests) or sum(counted) < MIN_CHUNK_REQUESTS:
            continue  # the run after loading would not take this chunk (a record of another rule)
        for i in chunk.file_ids:
            c = counts[selected[i].name]
            whole[i] = parse.FileCounts(
                lines_read=c["lines_read"],
                lines_parsed=c["lines_parsed"],
                lines_quarantined=c["lines_quarantined"],
                first_ts=c["first_ts"],
                last_ts=c["last_ts"],
            )
    return whole


def _epoch_us(dt: datetime | None) -> int | None:
    return None if dt is None else (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _inside(counts: dict[str, object], since: int | None, until: int | None) -> bool:
    """Whether a file's requests (first and last, epoch microseconds; None: no request) are all inside."""
    first, last = counts.get("first_us"), counts.get("last_us")
    if first is None or last is None:
        return first is None and last is None
    if not isinstance(first, int) or not isinstance(last, int):
        return False
    return (since is None or since <= first) and (until is None or last < until)


def check_whole(
    con: duckdb.DuckDBPyConnection,
    whole: dict[int, parse.FileCounts],
    cached: list[tuple[parse.ParseInput, Path]],
    since_sql: str,
    until_sql: str,
) -> None:
    """The quarantined lines read from the files' entries must be as many as the chunk's record says;
    otherwise every such file's rows are loaded after all (and its chunk is computed with the run)."""
    found = parse.file_counts(con)
    if all(
        found.get(i, parse.FileCounts()).lines_quarantined == c.lines_quarantined for i, c in whole.items()
    ):
        return
    load_whole_rows(con, whole, cached, since_sql, until_sql)


def load_whole_rows(
    con: duckdb.DuckDBPyConnection,
    whole: dict[int, parse.FileCounts],
    cached: list[tuple[parse.ParseInput, Path]],
    since_sql: str,
    until_sql: str,
) -> None:
    """Load every row of the ``whole`` files from their entries after all (only their quarantined lines
    were), and empty ``whole``: their chunks are then computed with the run."""
    if not whole:
        return
    con.execute(f"DELETE FROM parsed WHERE file_id IN ({', '.join(map(str, whole))})")
    parse.load_parsed(
        con, [c for c in cached if c[0].file_id in whole], since_sql=since_sql, until_sql=until_sql
    )
    whole.clear()


def chunked_partials(
    pcache: PartialCache | None, selected: list[InputFile], log_format: LogFormat | None
) -> ChunkedPartials | None:
    """The chunks whose report partials are read from, or stored in, the cache (analysis/partial_cache.py);
    None without a cache.

    A file belongs to a chunk only when it was read whole and unchanged (identified by its sha256), is an
    access log with a rotated name, and has no request outside the window: a file straddling
    ``--since``/``--until`` stays with the rest of the requests, computed in this run.
    """
    if pcache is None:
        return None
    groups: dict[tuple[str | None, datetime], Chunk] = {}
    rest = False
    for file_id, f in enumerate(selected):
        if f.status != "ok" or f.fmt is None or f.fmt in streams.FORMATS:
            continue  # failed files add no rows; error and application logs are no requests
        fmt = log_format or f.fmt
        if f.error or f.counts.lines_outside_window or not _chunk_of(groups, file_id, f, fmt):
            rest = True
    chunks = []
    for chunk in groups.values():
        if sum(selected[i].counts.lines_parsed for i in chunk.file_ids) >= MIN_CHUNK_REQUESTS:
            chunks.append(chunk)
        else:  # too few requests to be worth a statement per report: computed with the run
            rest = True
    for chunk in chunks:
        pcache.lookup(chunk)
        if any(selected[i].parse_cache != "hit" for i in chunk.file_ids):
            chunk.hit = {}  # used only where the manifest says the rows came from the cache, too
    return ChunkedPartials(pcache, chunks, rest, parse.REQUEST_COLUMNS)


def chunk_file_counts(
    con: duckdb.DuckDBPyConnection, selected: list[InputFile], file_ids: list[int]
) -> dict[str, dict[str, object]]:
    """What a chunk's record says of each of its files: line counts and the first and last request."""
    found = con.execute(
        "SELECT file_id, epoch_us(min(ts)), epoch_us(max(ts)) FROM parsed "
        f"WHERE reason IS NULL AND file_id IN ({', '.join(map(str, file_ids))}) GROUP BY file_id"
    ).fetchall()
    span = {r[0]: (r[1], r[2]) for r in found}
    result: dict[str, dict[str, object]] = {}
    for i in file_ids:
        c = selected[i].counts
        first, last = span.get(i, (None, None))
        result[selected[i].name] = {
            "lines_read": c.lines_read,
            "lines_parsed": c.lines_parsed,
            "lines_quarantined": c.lines_quarantined,
            "first_ts": c.first_ts,
            "last_ts": c.last_ts,
            "first_us": first,
            "last_us": last,
        }
    return result
