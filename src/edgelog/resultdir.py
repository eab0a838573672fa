"""The results directory: its layout, its manifest (``edgelog.manifest/1``) and the one way to verify it.

``analyze`` and ``merge`` write a results directory, ``fetch`` downloads and checks one per node, ``merge``
reads them, ``report`` and the HTML page show one. All of them go through this module, so the layout, the
manifest's fields and the rule for which paths a manifest may name exist once::

    <dir>/manifest.json              what was read, what was written (sha256 of every other file), the status
    <dir>/reports/<name>.parquet     final report tables
    <dir>/partials/<name>.parquet    mergeable partials (``partials/files.parquet``: one row per input file)
    <dir>/quarantine.parquet         lines that did not parse
    <dir>/queries/<name>.parquet     results of user ``--query`` files
    <dir>/data-range/<first>_<last>.json   the first and last record time, in the name (see below)

A table larger than the run's object limit (``max_object_bytes``: every object a job publishes must stay below
5 MiB, see :data:`DEFAULT_MAX_OBJECT_BYTES`) is stored as parts instead of one file, in its order::

    <dir>/partials/<name>/part-00000.parquet, part-00001.parquet, ...

Such a directory's manifest says ``edgelog.manifest/2``, so an edgelog that only knows ``/1`` (and would look
for ``partials/<name>.parquet`` alone) refuses it instead of silently missing the table; a directory without
parts keeps ``/1``, readable by every edgelog. :func:`table_files` is the one reader-side lookup of both.

The manifest is written exactly as edgelog has always written it (key order, two-space indent, trailing
newline), so a manifest read and written again is byte-identical (tests/fixtures/manifest holds the golden
files). Keys this version does not know are kept, in order, after the known ones. Keys added later
(``processing``, ``runs``) are written only when a run has them, so older manifests keep their bytes, and an
edgelog that predates them keeps them as unknown keys: they need no new schema.

``data-range/`` holds one small object whose *name* carries the first and last record time of the valid
requests the directory holds (``20261123T080000.000Z_20261123T085959.000Z.json``, or ``empty.json``): a
bucket listing has only keys, sizes and times, and this way ``edgelog jobs`` shows what time a job's data
covers without downloading anything. It is an output like the others (hashed in the manifest), and
:meth:`Manifest.verify` checks that its name is what the manifest's inputs say.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from edgelog import parquet_footer
from edgelog.errors import IntegrityError, UsageError
from edgelog.fileio import hash_file, hash_file_tail, write_text_atomic

SCHEMA_V1 = "edgelog.manifest/1"  # every table is one file
SCHEMA = "edgelog.manifest/2"  # a table may be stored as parts (what this edgelog writes when it splits one)
SCHEMAS = (SCHEMA_V1, SCHEMA)
MANIFEST = "manifest.json"
REPORTS = "reports"
PARTIALS = "partials"
QUERIES = "queries"
QUARANTINE = "quarantine.parquet"
FILES_PARTIAL = "files"  # partials/files.parquet: one row per input file (written by analyze, not a report)
QUARANTINE_PARTS = "quarantine"  # the quarantine's parts directory, when it is split
DATA_RANGE = "data-range"  # data-range/<first>_<last>.json: the time the data covers, readable from a listing
DATA_RANGE_EMPTY = "empty.json"  # the name when the directory holds no valid request
OWNED = (MANIFEST, REPORTS, PARTIALS, QUERIES, QUARANTINE, QUARANTINE_PARTS, DATA_RANGE)  # what runs replace
# Below Bacalhau's S3 multipart threshold (5 MiB: aws-sdk-go-v2 manager.Uploader's default part size), with
# margin: larger objects are uploaded in parts with CRC32 trailers, which GCS and other S3-compatible stores
# reject. ``analyze``/``merge --max-object-bytes`` (``$EDGELOG_MAX_OBJECT_BYTES``) change it.
DEFAULT_MAX_OBJECT_BYTES = 4 * 1024 * 1024
MIN_OBJECT_BYTES = 64 * 1024  # a part must hold at least one row of any table edgelog writes itself
PART_RE = re.compile(r"^part-[0-9]{5}\.parquet$")
FETCH_MERGED = "merged"  # the merged result inside a `fetch --out` directory
STATUSES = ("ok", "partial", "failed")

# --- layout ---------------------------------------------------------------------------------------


def report_table(name: str) -> str:
    """Relative path of a report's final table."""
    return f"{REPORTS}/{name}.parquet"


def partial_table(name: str) -> str:
    """Relative path of a report's (or the files') mergeable partial."""
    return f"{PARTIALS}/{name}.parquet"


def query_table(name: str) -> str:
    """Relative path of a user query's result."""
    return f"{QUERIES}/{name}.parquet"


def parts_dir(rel: str) -> str:
    """Where table ``rel`` (``partials/x.parquet``) keeps its parts when split: ``partials/x``."""
    return rel.removesuffix(".parquet")


def part_table(rel: str, index: int) -> str:
    """Relative path of part ``index`` (0-based) of table ``rel``."""
    return f"{parts_dir(rel)}/part-{index:05d}.parquet"


def is_part(rel: str) -> bool:
    """Whether a relative path names a table part (``.../part-NNNNN.parquet``)."""
    return PART_RE.match(rel.rsplit("/", 1)[-1]) is not None and "/" in rel


def table_of(rel: str) -> str:
    """The table a listed file holds rows of: a part's table (``partials/x.parquet`` for
    ``partials/x/part-00000.parquet``), else ``rel`` itself (the inverse of :func:`part_table`)."""
    return rel.rsplit("/", 1)[0] + ".parquet" if is_part(rel) else rel


def table_files(root: Path, rel: str) -> list[Path]:
    """The Parquet files holding table ``rel`` (e.g. ``reports/summary.parquet``) of ``root``; [] if absent.

    Either the one file ``rel`` or, for a table split below the object limit, its parts in order (reading
    them one after another gives the table's rows in the order they were written). Every reader goes through
    here.
    """
    path = root / rel
    if path.is_file():
        return [path]
    folder = root / parts_dir(rel)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if PART_RE.match(p.name) and p.is_file())


def listed_tables(root: Path, outputs: Iterable[OutputEntry]) -> dict[str, list[str]]:
    """Every table the outputs of a manifest list, with the paths of its files as :func:`table_files` orders
    them (strings: they go into SQL).

    For a directory that verifies (every listed file is there, no unlisted part is) this is
    :func:`table_files` of each table without a filesystem lookup (a merge of 1,000 nodes asks ~23,000
    times, for ~53,000 files); a file the manifest does not list is never read.
    """
    base = f"{root}/"
    whole: dict[str, list[str]] = {}
    parts: dict[str, list[str]] = {}
    for o in outputs:
        if not o.path.endswith(".parquet"):
            continue
        if is_part(o.path):
            parts.setdefault(table_of(o.path), []).append(o.path.rsplit("/", 1)[1])
        else:
            whole[o.path] = [base + o.path]
    split = {rel: [f"{base}{parts_dir(rel)}/{n}" for n in sorted(names)] for rel, names in parts.items()}
    return split | whole


def schema_for(outputs: Iterable[OutputEntry]) -> str:
    """The schema a manifest listing ``outputs`` must declare: ``/2`` only when a table is split."""
    return SCHEMA if any(is_part(o.path) for o in outputs) else SCHEMA_V1


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that cannot become a writable results directory, before any work.

    An existing file, or a file where one of its parent directories should be, is refused untouched. Otherwise
    the directory is created and a temporary file written in it: an unwritable one is named with its owner,
    mode and our uid. The usual cause is a Bacalhau node whose ``bacalhau`` user has another uid than the job
    image's user: the node creates /outputs with mode 0755 for itself, and the run would end in a traceback.
    """
    for candidate in (out, *out.parents):
        if candidate.exists() and not candidate.is_dir():
            what = "it" if candidate == out else str(candidate)
            raise UsageError(
                f"cannot write results to {out}: {what} is not a directory",
                hint="pass a new or an existing directory (analyze and merge replace only their own files)",
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out, prefix=".edgelog-write-check-"):
            pass
    except OSError as exc:
        detail = ""
        if out.is_dir():
            st = out.stat()
            mode = st.st_mode & 0o777
            detail = f" (owned by uid {st.st_uid}, mode {mode:04o}; edgelog runs as uid {os.geteuid()})"
        raise UsageError(
            f"cannot write results to {out}: {exc.strerror or exc}{detail}",
            hint="pass a writable --out; in a Bacalhau job the nodes' bacalhau user must have the job"
            " image's uid (EDGELOG_JOB_UID, docs/jobs.md)",
        ) from None


@contextmanager
def writing(out: Path) -> Iterator[None]:
    """Hold ``out`` while one run writes it (call after :func:`check_out`, which makes the directory).

    Two runs writing one directory at once (an overlapping cron job, a command started twice) interleaved
    their files: each removed what the other wrote, one failed with a traceback, and the manifest of the
    other could describe a mix. The second is refused at once instead, the directory left as the first is
    writing it. An advisory lock on the directory itself (``flock`` of an fd on it): no file is added to
    what the directory holds and a publisher uploads, and it is released when the run ends, however it ends
    (the process dying included)."""
    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # writable but not readable (mode 0333): nothing to lock with, unguarded as before
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"cannot write results to {out}: another edgelog run is writing it",
                hint="wait for that run to end, or pass another --out",
            ) from None
        except OSError:
            pass  # a file system without locks (some network ones): the run goes on unguarded, as before
        yield
    finally:
        os.close(fd)


def _compact_ts(iso: str) -> str:
    """``2026-11-23T08:00:00.000Z`` -> ``20261123T080000.000Z``: no ``:``, safe in keys and file names."""
    return iso.replace("-", "").replace(":", "")


_RANGE_NAME = re.compile(r"^(\d{8}T\d{6}\.\d{3}Z)_(\d{8}T\d{6}\.\d{3}Z)\.json$")


def data_range(inputs: Iterable[InputEntry]) -> tuple[str | None, str | None]:
    """First and last record time of the valid requests of the inputs read (ISO-8601 UTC, as the manifest
    writes them); (None, None) when there is none."""
    read = [i for i in inputs if i.status == "ok" and i.first_ts and i.last_ts]
    if not read:
        return None, None
    return min(str(i.first_ts) for i in read), max(str(i.last_ts) for i in read)


def data_range_table(first: str | None, last: str | None) -> str:
    """Relative path of the data-range object for that range (``data-range/empty.json`` without one)."""
    if first is None or last is None:
        return f"{DATA_RANGE}/{DATA_RANGE_EMPTY}"
    return f"{DATA_RANGE}/{_compact_ts(first)}_{_compact_ts(last)}.json"


def parse_data_range(name: str) -> tuple[str, str] | None:
    """The (first, last) ISO times a data-range object's file name carries; None for ``empty.json`` or any
    other name."""
    m = _RANGE_NAME.match(name)
    if not m:
        return None

    def iso(compact: str) -> str:
        d, rest = compact.split("T")
        return f"{d[:4]}-{d[4:6]}-{d[6:]}T{rest[:2]}:{rest[2:4]}:{rest[4:]}"

    return iso(m.group(1)), iso(m.group(2))


def locate(path: Path) -> Path:
    """The results directory a user meant: ``path`` itself, or the merged result of a ``fetch --out`` dir."""
    if not (path / MANIFEST).exists() and (path / FETCH_MERGED / MANIFEST).exists():
        return path / FETCH_MERGED
    return path


def safe_relpath(text: object) -> str | None:
    """The one rule for paths a manifest may name: relative, inside the directory, no ``.``/``..``/``\\``.

    Returns the normalised POSIX path, or None when the path must not be followed. (A path with no empty,
    ``.`` or ``..`` part and no leading ``/`` is already normal: it is returned as given.)
    """
    if not isinstance(text, str) or not text or "\\" in text or text.startswith("/"):
        return None
    if any(p in ("", ".", "..") for p in text.split("/")):
        return None
    return text


def file_mismatch(path: Path, size: int | None, sha256: str | None) -> str | None:
    """Why the file at ``path`` is not the one the manifest describes (None when it is)."""
    return _mismatch(path, path.stat().st_size, size, sha256)


def _mismatch(
    path: Path | str, actual: int, size: int | None, sha256: str | None, digest: str | None = None
) -> str | None:
    """``digest``: the file's sha256 when the caller has already hashed it."""
    if size is not None and actual != size:
        return f"checksum mismatch: size {actual} != {size} in the manifest"
    if (digest or hash_file(path, "sha256")[1]) != sha256:  # a str path from check_output
        return "checksum mismatch: sha256 differs from the manifest's"
    return None


# --- the manifest ---------------------------------------------------------------------------------


class ManifestError(IntegrityError):
    """A manifest that cannot be trusted: unreadable, another schema, or a field of the wrong type."""


@dataclass
class Window:
    """The --since/--until bounds of a run (ISO-8601 UTC, None: unbounded)."""

    since: str | None = None
    until: str | None = None


@dataclass
class InputEntry:
    """One input file and its line accounting."""

    name: str
    path: str
    node_id: str | None = None
    size: int | None = None
    sha256: str | None = None
    format: str | None = None
    status: str = "ok"  # ok | failed | skipped
    error: str | None = None
    lines_read: int = 0
    lines_parsed: int = 0
    lines_quarantined: int = 0
    lines_outside_window: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    # how the rows were obtained with a parse cache: "hit" (a verified entry), "stored" (parsed, then
    # cached), "miss" (parsed, not cached); None without a cache
    parse_cache: str | None = None


@dataclass
class OutputEntry:
    """One file of the directory (every file but the manifest) with its size and sha256."""

    path: str
    size: int | None
    sha256: str
    rows: int | None = None


@dataclass
class QueryEntry:
    """One SQL file the run used: a library report, a shared macro file (``kind: macro``) or a user query."""

    name: str
    file: str
    sha256: str
    status: str = "ok"  # ok | failed
    error: str | None = None
    kind: str | None = None  # None: a library report; "macro"; "user"


@dataclass
class TagRules:
    """The tag rules file a run used."""

    file: str
    sha256: str


@dataclass
class LogFormatEntry:
    """The ``--log-format`` definition a run parsed every input with (analyze only, when one was given)."""

    name: str | None
    syntax: str  # nginx | apache
    escape: str  # default | json | none | apache
    definition: str  # as given (a preset's definition for a preset)


@dataclass
class Totals:
    """Line and file accounting over all inputs (skipped files count only in ``files_skipped``)."""

    files: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    lines_read: int = 0
    lines_parsed: int = 0
    lines_quarantined: int = 0
    lines_outside_window: int = 0

    @classmethod
    def of(cls, inputs: Iterable[InputEntry]) -> Totals:
        all_inputs = list(inputs)
        read = [i for i in all_inputs if i.status != "skipped"]
        return cls(
            files=len(read),
            files_failed=sum(1 for i in read if i.status == "failed"),
            files_skipped=len(all_inputs) - len(read),
            lines_read=sum(i.lines_read for i in read),
            lines_parsed=sum(i.lines_parsed for i in read),
            lines_quarantined=sum(i.lines_quarantined for i in read),
            lines_outside_window=sum(i.lines_outside_window for i in read),
        )

    @classmethod
    def sum(cls, parts: Iterable[Totals]) -> Totals:
        """The totals of several results taken together (what a merge of them must show)."""
        listed = list(parts)
        return cls(**{f.name: sum(getattr(p, f.name) for p in listed) for f in fields(cls)})

    def differences(self, expected: Totals) -> list[str]:
        """``"name got != expected"`` for each number that differs from ``expected`` ([]: all agree)."""
        return [
            f"{f.name} {getattr(self, f.name)} != {getattr(expected, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(expected, f.name)
        ]


@dataclass
class MergedFrom:
    """One results directory a merge read."""

    path: str
    kind: str | None
    node_id: str | None
    execution_id: str | None
    job_id: str | None
    manifest_sha256: str
    status: str | None


@dataclass
class FetchNode:
    """One node as fetch saw it (the merged manifest's ``fetch.nodes``)."""

    node_id: str
    execution_id: str | None
    status: str
    reason: str | None
    files: int
    lines_read: int | None


@dataclass
class FetchInfo:
    """What ``fetch`` adds to the merged manifest: where from, and which nodes made it in."""

    job_id: str
    bucket: str
    prefix: str
    fetched_at: str
    status: str
    partial: bool
    problems: list[str] = field(default_factory=list)
    nodes: list[FetchNode] = field(default_factory=list)


@dataclass
class Processing:
    """How one run went (docs/design.md): where its time went, how fast, how much it read and held.

    These are measurements of a run, not totals of its data: nothing is derived from them, and two runs of
    the same inputs give the same tables with different figures.
    """

    # seconds per phase; disjoint, together ``duration_s`` (to rounding). analyze: setup, discover, parse,
    # reports, write; merge: setup, read, reports, write. ``setup`` is the rest (options, the SQL library,
    # DuckDB's start and stop); ``write`` is writing Parquet (DuckDB runs a table's final SELECT as it writes
    # it), splitting into parts, hashing the outputs.
    phases_s: dict[str, float] = field(default_factory=dict)
    lines_per_s: float | None = None  # lines read / duration_s (analyze); None for a merge
    bytes_read: int | None = None  # analyze: input files read; merge: the results it verified and read
    peak_rss_bytes: int | None = None  # the process's peak resident set (ru_maxrss) when the run ended
    duckdb_peak_memory_bytes: int | None = None  # DuckDB's largest memory use seen (duckdb_memory(), sampled)
    duckdb_peak_spill_bytes: int | None = None  # its largest temporary (spilled) storage seen
    duckdb_threads: int | None = None
    duckdb_memory_limit: str | None = None  # as DuckDB states it, e.g. "953.6 MiB"
    workspace: str | None = None  # memory | disk (a database file, for large inputs)


@dataclass
class RunEntry:
    """One analyze run inside a merged result (``runs``): who ran it, its manifest's sha256, its figures."""

    node_id: str | None
    execution_id: str | None
    job_id: str | None
    run_id: str | None
    status: str | None
    manifest_sha256: str | None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    processing: Processing | None = None  # None: the run's edgelog recorded none


@dataclass
class Manifest:
    """``manifest.json`` of a results directory (docs/design.md lists every field)."""

    kind: str  # analyze | merge
    status: str  # ok | partial | failed
    run_id: str
    job_id: str | None = None
    node_id: str | None = None
    execution_id: str | None = None
    edgelog_version: str | None = None
    duckdb_version: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    processing: Processing | None = None  # this run's phases and resources (written from issue 17 on)
    window: Window = field(default_factory=Window)
    inputs: list[InputEntry] = field(default_factory=list)
    outputs: list[OutputEntry] = field(default_factory=list)
    queries: list[QueryEntry] = field(default_factory=list)
    tag_rules: TagRules | None = None  # analyze only
    log_format: LogFormatEntry | None = None  # analyze with --log-format/--log-format-from only
    trusted_proxies: list[str] | None = None  # analyze with --trusted-proxies only
    totals: Totals = field(default_factory=Totals)
    merged_from: list[MergedFrom] | None = None  # merge only
    runs: list[RunEntry] | None = None  # merge only: every analyze run it holds, however deep, in order
    fetch: FetchInfo | None = None  # a fetched merge only
    max_object_bytes: int | None = None  # the run's object limit (tables above it are split); None: before /2
    extra: dict[str, Any] = field(default_factory=dict)  # keys a newer edgelog wrote, kept as they were
    schema: str = SCHEMA_V1  # the writer sets it from its outputs (schema_for)

    # -- reading ------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: object, where: str = MANIFEST) -> Manifest:
        """Check every field's type while reading; a wrong one raises :class:`ManifestError` naming it."""
        r = _Fields(data, where)
        schema = r.text("schema")
        if schema not in SCHEMAS:
            raise ManifestError(
                f"{where}: schema {schema!r} is not one this edgelog reads ({', '.join(SCHEMAS)})"
            )
        manifest = cls(
            schema=schema,
            kind=r.text("kind"),
            status=r.text("status"),
            run_id=r.text("run_id", ""),
            job_id=r.opt_text("job_id"),
            node_id=r.opt_text("node_id"),
            execution_id=r.opt_text("execution_id"),
            edgelog_version=r.opt_text("edgelog_version"),
            duckdb_version=r.opt_text("duckdb_version"),
            started_at=r.opt_text("started_at"),
            finished_at=r.opt_text("finished_at"),
            duration_s=r.number("duration_s"),
            processing=r.obj("processing", _processing),
            window=r.obj("window", _window) or Window(),
            inputs=r.items("inputs", _input_entry),
            outputs=r.items("outputs", _output_entry, required=True),
            max_object_bytes=r.opt_integer("max_object_bytes"),
            queries=r.items("queries", _query_entry),
            tag_rules=r.obj("tag_rules", _tag_rules),
            log_format=r.obj("log_format", _log_format),
            trusted_proxies=r.texts("trusted_proxies") if "trusted_proxies" in r.data else None,
            totals=r.obj("totals", _totals) or Totals(),
            merged_from=r.items("merged_from", _merged_from) if "merged_from" in r.data else None,
            runs=r.items("runs", _run_entry) if "runs" in r.data else None,
            fetch=r.obj("fetch", _fetch_info),
        )
        manifest.extra = {k: v for k, v in r.data.items() if k not in _KNOWN}
        return manifest

    @classmethod
    def loads(cls, text: str, where: str = MANIFEST) -> Manifest:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ManifestError(f"{where} is not valid JSON: {exc}") from None
        return cls.from_dict(data, where)

    # -- writing ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, keys in the order edgelog has always written them."""
        out: dict[str, Any] = {
            "schema": self.schema,
            "kind": self.kind,
            "status": self.status,
            "run_id": self.run_id,
            "job_id": self.job_id,
            "node_id": self.node_id,
            "execution_id": self.execution_id,
            "edgelog_version": self.edgelog_version,
            "duckdb_version": self.duckdb_version,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
        }
        if self.processing is not None:
            out["processing"] = _plain(self.processing)
        out["window"] = _plain(self.window)
        out["inputs"] = [_input_dict(i) for i in self.inputs]
        out["outputs"] = [_plain(o) for o in self.outputs]
        if self.max_object_bytes is not None:
            out["max_object_bytes"] = self.max_object_bytes
        out["queries"] = [_query_dict(q) for q in self.queries]
        if self.tag_rules is not None:
            out["tag_rules"] = _plain(self.tag_rules)
        if self.log_format is not None:
            out["log_format"] = _plain(self.log_format)
        if self.trusted_proxies is not None:
            out["trusted_proxies"] = list(self.trusted_proxies)
        out["totals"] = _plain(self.totals)
        if self.merged_from is not None:
            out["merged_from"] = [_plain(m) for m in self.merged_from]
        if self.runs is not None:
            out["runs"] = [_run_dict(r) for r in self.runs]
        if self.fetch is not None:
            fetch = _plain(self.fetch)
            fetch["nodes"] = [_plain(n) for n in self.fetch.nodes]
            out["fetch"] = fetch
        out.update(self.extra)
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, directory: Path) -> None:
        """Write ``directory/manifest.json`` atomically (a reader never sees half a manifest)."""
        write_text_atomic(directory / MANIFEST, self.dumps())

    # -- questions every reader asks ------------------------------------------------------------------

    @property
    def failed_inputs(self) -> list[InputEntry]:
        return [i for i in self.inputs if i.status == "failed"]

    @property
    def failed_queries(self) -> list[QueryEntry]:
        return [q for q in self.queries if q.status == "failed"]

    def verify(self, root: Path, *, footer_rows: dict[str, int | None] | None = None) -> list[str]:
        """One problem per listed output that is unsafe, missing or not the file the manifest describes,
        and per part file the manifest does not list (a reader would take it for part of its table).

        ``footer_rows``: filled with the row count each Parquet output's footer states, by listed path
        (None: not decodable by ``parquet_footer``), from the same read that hashes it."""
        problems = [p for p in (check_output(root, e, footer_rows) for e in self.outputs) if p is not None]
        return problems + unlisted_parts(root, self.outputs) + self.data_range_problems()

    def data_range_problems(self) -> list[str]:
        """Why the listed ``data-range/`` object is not the one the inputs give ([] when it is, or when the
        manifest lists none: results written before it existed). ``edgelog jobs`` shows its name unverified,
        so every reader that verifies checks the name against the inputs."""
        listed = [o.path for o in self.outputs if o.path.startswith(f"{DATA_RANGE}/")]
        if not listed:
            return []
        want = data_range_table(*data_range(self.inputs))
        if listed != [want]:
            return [f"{', '.join(listed)}: not the data range of the manifest's inputs ({want})"]
        return []


def runs_of(m: Manifest, manifest_sha256: str | None = None) -> list[RunEntry]:
    """The analyze runs a result holds: an analyze result's own run (``manifest_sha256``: its manifest's, when
    known), or a merge's ``runs`` as it lists them (so a merge of merges lists every node's run once, at any
    depth). A merge written before ``runs`` existed gives one figure-less entry per directory it merged, so
    every node is still named."""
    if m.kind != "merge":
        return [
            RunEntry(
                node_id=m.node_id,
                execution_id=m.execution_id,
                job_id=m.job_id,
                run_id=m.run_id or None,
                status=m.status,
                manifest_sha256=manifest_sha256,
                started_at=m.started_at,
                finished_at=m.finished_at,
                duration_s=m.duration_s,
                processing=m.processing,
            )
        ]
    if m.runs is not None:
        return list(m.runs)
    return [
        RunEntry(f.node_id, f.execution_id, f.job_id, None, f.status, f.manifest_sha256)
        for f in m.merged_from or []
    ]


def check_output(
    root: Path, entry: OutputEntry, footer_rows: dict[str, int | None] | None = None
) -> str | None:
    """Why ``entry`` does not hold in ``root`` (an unsafe path, a missing or different file), or None.

    ``footer_rows``: where a Parquet output's footer row count is recorded (:meth:`Manifest.verify`)."""
    rel = safe_relpath(entry.path)
    if rel is None:
        return f"manifest lists an unsafe path {entry.path!r}"
    # A merge checks ~50 files a node: str paths and one stat (Path objects and is_file + stat cost ~20%)
    path = os.path.join(root, rel)  # noqa: PTH118
    try:
        st: os.stat_result | None = os.stat(path)  # noqa: PTH116
    except OSError as exc:  # as Path.is_file: these mean "no file there", any other error is raised
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP):
            raise
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        return f"{rel}: listed in the manifest but missing"
    if footer_rows is not None and rel.endswith(".parquet"):
        size, digest, tail = hash_file_tail(path)
        footer_rows[entry.path] = parquet_footer.row_count(tail)
        bad = _mismatch(path, size, entry.size, entry.sha256, digest)
    else:
        bad = _mismatch(path, st.st_size, entry.size, entry.sha256)
    return f"{rel}: {bad}" if bad else None


def unlisted_parts(root: Path, outputs: Iterable[OutputEntry]) -> list[str]:
    """Part files in the parts directories of ``root`` that ``outputs`` does not list."""
    listed = {o.path for o in outputs}
    problems = []
    for top in (REPORTS, PARTIALS, QUERIES, QUARANTINE_PARTS):
        folder = root / top
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("part-*.parquet")):
            rel = path.relative_to(root).as_posix()
            if is_part(rel) and rel not in listed:
                problems.append(f"{rel}: a table part the manifest does not list")
    return problems


def read(directory: Path) -> Manifest:
    """The manifest of a results directory; a directory without one is a usage error, a bad one corrupt."""
    return read_with_bytes(directory)[0]


def read_with_bytes(directory: Path) -> tuple[Manifest, bytes]:
    """:func:`read`, and the exact bytes the manifest was parsed from (a merge records their sha256)."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise UsageError(
            f"{directory} is not a directory", hint="pass a results directory written by analyze or fetch"
        )
    if not path.is_file():
        raise UsageError(
            f"{directory} has no manifest.json: not an edgelog results directory",
            hint="pass the directory `edgelog analyze --out` or `edgelog fetch --out DIR` (DIR/merged) wrote",
        )
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable manifest: {exc}") from None
    return Manifest.loads(text, str(path)), data


def verify(directory: Path) -> list[str]:
    """Read the manifest of ``directory`` and return every problem with the files it lists ([]: all good)."""
    return read(directory).verify(directory)


def output_entries(root: Path, rows: Mapping[str, int]) -> list[OutputEntry]:
    """Every file of ``root`` but the manifest, hashed, in path order (what a manifest's outputs list)."""
    entries = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.relative_to(root).as_posix() == MANIFEST:
            continue
        rel = p.relative_to(root).as_posix()
        size, digest = hash_file(p, "sha256")
        entries.append(OutputEntry(rel, size, digest, rows.get(rel)))
    return entries


# --- serialisation helpers ------------------------------------------------------------------------

_KNOWN = frozenset(
    (
        "schema",
        "kind",
        "status",
        "run_id",
        "job_id",
        "node_id",
        "execution_id",
        "edgelog_version",
        "duckdb_version",
        "started_at",
        "finished_at",
        "duration_s",
        "processing",
        "window",
        "inputs",
        "outputs",
        "max_object_bytes",
        "queries",
        "tag_rules",
        "log_format",
        "trusted_proxies",
        "totals",
        "merged_from",
        "runs",
        "fetch",
    )
)


def _plain(obj: Any) -> dict[str, Any]:
    """A flat dataclass as a dict in field order (nested lists are handled by the caller)."""
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


def _run_dict(r: RunEntry) -> dict[str, Any]:
    out = _plain(r)
    out["processing"] = None if r.processing is None else _plain(r.processing)
    return out


def _query_dict(q: QueryEntry) -> dict[str, Any]:
    out = _plain(q)
    if q.kind is None:
        del out["kind"]  # library reports have never carried a kind
    return out


T = TypeVar("T")


class _Fields:
    """Typed access to one JSON object of the manifest; every failure names the field's path."""

    def __init__(self, data: object, where: str):
        if not isinstance(data, dict):
            raise ManifestError(f"{where}: expected a JSON object, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.where = where

    def _bad(self, key: str, want: str) -> ManifestError:
        value = repr(self.data.get(key))
        return ManifestError(f"{self.where}.{key}: expected {want}, got {value[:80]}")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            raise self._bad(key, "a string or null")
        return value

    def integer(self, key: str, default: int = 0) -> int:
        value = self.data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._bad(key, "an integer")
        return value

    def opt_integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise self._bad(key, "an integer or null")
        return value

    def number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise self._bad(key, "a number or null")
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self._bad(key, "true or false")
        return value

    def seconds(self, key: str) -> dict[str, float]:
        value = self.data.get(key) or {}
        if not isinstance(value, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
        ):
            raise self._bad(key, "an object of numbers")
        return dict(value)

    def texts(self, key: str) -> list[str]:
        value = self.data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(key, "a list of strings")
        return list(value)

    def obj(self, key: str, parse: Callable[[_Fields], T]) -> T | None:
        value = self.data.get(key)
        return None if value is None else parse(_Fields(value, f"{self.where}.{key}"))

    def items(self, key: str, parse: Callable[[_Fields], T], *, required: bool = False) -> list[T]:
        value = self.data.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            raise self._bad(key, "a list")
        return [parse(_Fields(v, f"{self.where}.{key}[{i}]")) for i, v in enumerate(value)]


def _window(r: _Fields) -> Window:
    return Window(since=r.opt_text("since"), until=r.opt_text("until"))


def _input_dict(i: InputEntry) -> dict[str, Any]:
    """An input as JSON; ``parse_cache`` only when a parse cache was used (older manifests lack it)."""
    out = _plain(i)
    if out.get("parse_cache") is None:
        out.pop("parse_cache", None)
    return out


def _input_entry(r: _Fields) -> InputEntry:
    return InputEntry(
        name=r.text("name"),
        path=r.text("path", ""),
        node_id=r.opt_text("node_id"),
        size=r.opt_integer("size"),
        sha256=r.opt_text("sha256"),
        format=r.opt_text("format"),
        status=r.text("status"),
        error=r.opt_text("error"),
        lines_read=r.integer("lines_read"),
        lines_parsed=r.integer("lines_parsed"),
        lines_quarantined=r.integer("lines_quarantined"),
        lines_outside_window=r.integer("lines_outside_window"),
        first_ts=r.opt_text("first_ts"),
        last_ts=r.opt_text("last_ts"),
        parse_cache=r.opt_text("parse_cache"),
    )


def _output_entry(r: _Fields) -> OutputEntry:
    return OutputEntry(
        path=r.text("path"), size=r.opt_integer("size"), sha256=r.text("sha256"), rows=r.opt_integer("rows")
    )


def _query_entry(r: _Fields) -> QueryEntry:
    return QueryEntry(
        name=r.text("name"),
        file=r.text("file"),
        sha256=r.text("sha256"),
        status=r.text("status"),
        error=r.opt_text("error"),
        kind=r.opt_text("kind"),
    )


def _tag_rules(r: _Fields) -> TagRules:
    return TagRules(file=r.text("file"), sha256=r.text("sha256"))


def _log_format(r: _Fields) -> LogFormatEntry:
    return LogFormatEntry(
        name=r.opt_text("name"),
        syntax=r.text("syntax"),
        escape=r.text("escape"),
        definition=r.text("definition"),
    )


def _totals(r: _Fields) -> Totals:
    return Totals(
        files=r.integer("files"),
        files_failed=r.integer("files_failed"),
        files_skipped=r.integer("files_skipped"),
        lines_read=r.integer("lines_read"),
        lines_parsed=r.integer("lines_parsed"),
        lines_quarantined=r.integer("lines_quarantined"),
        lines_outside_window=r.integer("lines_outside_window"),
    )


def _merged_from(r: _Fields) -> MergedFrom:
    return MergedFrom(
        path=r.text("path"),
        kind=r.opt_text("kind"),
        node_id=r.opt_text("node_id"),
        execution_id=r.opt_text("execution_id"),
        job_id=r.opt_text("job_id"),
        manifest_sha256=r.text("manifest_sha256"),
        status=r.opt_text("status"),
    )


def _processing(r: _Fields) -> Processing:
    return Processing(
        phases_s=r.seconds("phases_s"),
        lines_per_s=r.number("lines_per_s"),
        bytes_read=r.opt_integer("bytes_read"),
        peak_rss_bytes=r.opt_integer("peak_rss_bytes"),
        duckdb_peak_memory_bytes=r.opt_integer("duckdb_peak_memory_bytes"),
        duckdb_peak_spill_bytes=r.opt_integer("duckdb_peak_spill_bytes"),
        duckdb_threads=r.opt_integer("duckdb_threads"),
        duckdb_memory_limit=r.opt_text("duckdb_memory_limit"),
        workspace=r.opt_text("workspace"),
    )


def _run_entry(r: _Fields) -> RunEntry:
    return RunEntry(
        node_id=r.opt_text("node_id"),
        execution_id=r.opt_text("execution_id"),
        job_id=r.opt_text("job_id"),
        run_id=r.opt_text("run_id"),
        status=r.opt_text("status"),
        manifest_sha256=r.opt_text("manifest_sha256"),
        started_at=r.opt_text("started_at"),
        finished_at=r.opt_text("finished_at"),
        duration_s=r.number("duration_s"),
        processing=r.obj("processing", _processing),
    )


def _fetch_node(r: _Fields) -> FetchNode:
    return FetchNode(
        node_id=r.text("node_id"),
        execution_id=r.opt_text("execution_id"),
        status=r.text("status"),
        reason=r.opt_text("reason"),
        files=r.integer("files"),
        lines_read=r.opt_integer("lines_read"),
    )


def _fetch_info(r: _Fields) -> FetchInfo:
    return FetchInfo(
        job_id=r.text("job_id"),
        bucket=r.text("bucket"),
        prefix=r.text("prefix"),
        fetched_at=r.text("fetched_at"),
        status=r.text("status"),
        partial=r.flag("partial"),
        problems=r.texts("problems"),
        nodes=r.items("nodes", _fetch_node),
    )
