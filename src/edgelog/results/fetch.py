"""Fetch a job's per-node results from a bucket, verify every byte, and merge them into one result.

Why so careful: a merged report that silently lacks a node, or includes a truncated file, looks exactly like a
correct one. So every file is checked (size and md5/crc32c from the bucket listing; sha256 and size from the
node's ``outputs/manifest.json``), every node gets a status, and anything short of "every node ok" makes the
merged result *partial* (exit code 3) or an *integrity* failure (exit code 4), in the manifest and in the exit
code. Downloads are resumable: a file already on disk that verifies is not fetched again.

Local layout below ``out_dir``::

    nodes/<nodeID>/<executionID>/{outputs/..., stdout, stderr, exitCode}   what each node published
    nodes/<nodeID>/<executionID>.tar.gz                                      (gzip encoding: the archive)
    merged/                                                                  edgelog.analysis.merge output
    fetch.json                                                               this run's per-node statuses
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tarfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from edgelog import resultdir
from edgelog.errors import EdgelogError, ExitCode, UsageError
from edgelog.fileio import hash_file, write_text_atomic
from edgelog.resultdir import FetchInfo, FetchNode, Manifest, ManifestError, OutputEntry, safe_relpath
from edgelog.results.layout import (
    CONTROL_FILES,
    OUTPUTS,
    Execution,
    JobSummary,
    job_prefix,
    parse_job,
    summarize_jobs,
)
from edgelog.settings import RESULTS_PREFIX
from edgelog.storage.base import Bucket, ObjectInfo, open_bucket

MANIFEST = f"{OUTPUTS}/{resultdir.MANIFEST}"  # an execution's manifest, relative to its result folder
USABLE = ("ok", "partial")
# Which execution of a node to use when it published more than one (a retried execution): best status first.
STATUS_RANK = {"ok": 0, "partial": 1, "failed": 2, "corrupt": 3, "missing": 4}


@dataclass
class NodeResult:
    """What fetch found for one node (the execution it used, and why it is or is not in the merge)."""

    node_id: str
    status: str  # ok | partial | failed | missing | corrupt
    reason: str | None = None
    execution_id: str | None = None
    encoding: str | None = None  # plain | gzip
    exit_code: int | None = None  # the execution's exitCode file
    files: int = 0  # files verified
    bytes: int = 0
    downloaded: int = 0  # files transferred in this run
    skipped: int = 0  # files already on disk and verified (resume)
    outputs_dir: Path | None = None
    manifest: Manifest | None = None
    problems: list[str] = field(default_factory=list)
    other_executions: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.status in USABLE

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "execution_id": self.execution_id,
            "status": self.status,
            "reason": self.reason,
            "encoding": self.encoding,
            "exit_code": self.exit_code,
            "files": self.files,
            "bytes": self.bytes,
            "downloaded": self.downloaded,
            "skipped": self.skipped,
            "outputs_dir": str(self.outputs_dir) if self.outputs_dir else None,
            "manifest_status": self.manifest.status if self.manifest else None,
            "lines_read": self.manifest.totals.lines_read if self.manifest else None,
            "problems": self.problems,
            "other_executions": self.other_executions,
        }


@dataclass
class FetchResult:
    """The outcome of :func:`fetch_job`: where the merged result is, each node's status, and the verdict."""

    job_id: str
    bucket_url: str
    prefix: str
    out_dir: Path
    merged_dir: Path | None
    nodes: list[NodeResult]
    status: str  # ok | partial | failed
    exit_code: ExitCode
    partial: bool
    problems: list[str] = field(default_factory=list)  # what makes the result incomplete
    warnings: list[str] = field(default_factory=list)  # worth knowing, but the result is still complete
    downloaded: int = 0
    skipped: int = 0
    bytes_downloaded: int = 0
    retries: int = 0
    duration_s: float = 0.0
    merge_status: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "edgelog.fetch/1",
            "job_id": self.job_id,
            "bucket": self.bucket_url,
            "prefix": self.prefix,
            "out_dir": str(self.out_dir),
            "merged_dir": str(self.merged_dir) if self.merged_dir else None,
            "status": self.status,
            "exit_code": int(self.exit_code),
            "partial": self.partial,
            "merge_status": self.merge_status,
            "problems": self.problems,
            "warnings": self.warnings,
            "downloaded": self.downloaded,
            "skipped": self.skipped,
            "bytes_downloaded": self.bytes_downloaded,
            "retries": self.retries,
            "duration_s": round(self.duration_s, 3),
            "nodes": [n.to_json() for n in self.nodes],
        }


# -- checks ----------------------------------------------------------------------------------------


def _crc32c_b64(path: Path) -> str:
    import google_crc32c

    checksum = google_crc32c.Checksum()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            checksum.update(chunk)
    return base64.b64encode(checksum.digest()).decode("ascii")


def _listing_mismatch(path: Path, info: ObjectInfo) -> str | None:
    """Why a local file is not the object the bucket listed (None when it is)."""
    size = path.stat().st_size
    if size != info.size:
        return f"size {size} != {info.size} in bucket"
    if info.md5_hex and hash_file(path, "md5")[1] != info.md5_hex:
        return "md5 differs from the bucket's"
    if not info.md5_hex and info.crc32c_b64 and _crc32c_b64(path) != info.crc32c_b64:
        return "crc32c differs from the bucket's"
    return None


def _checker(entry: OutputEntry) -> Callable[[Path], str | None]:
    """Why a local file is not what the node's manifest says it wrote (None when it is)."""

    def check(path: Path) -> str | None:
        return resultdir.file_mismatch(path, entry.size, entry.sha256)

    return check


def _validate_job_id(job_id: str) -> None:
    if not job_id or "/" in job_id or job_id in (".", "..") or any(c.isspace() for c in job_id):
        raise UsageError(
            f"invalid job id {job_id!r}", hint="job ids look like j-<uuid>; list them with `edgelog jobs`"
        )


# -- per-execution work ----------------------------------------------------------------------------


@dataclass
class _Work:
    """Mutable state of one execution while it is fetched."""

    execution: Execution
    root: Path  # local copy of the execution's result directory
    status: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    manifest: Manifest | None = None
    files: int = 0
    bytes: int = 0
    downloaded: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, status: str, reason: str) -> None:
        """Record the first, most specific reason; a corrupt file outranks everything else."""
        with self.lock:
            if self.status is None or (status == "corrupt" and self.status != "corrupt"):
                self.status, self.reason = status, reason
            else:
                self.problems.append(reason)


class _Fetcher:
    def __init__(self, bucket: Bucket, workers: int, progress: _Progress):
        self.bucket = bucket
        self.workers = max(1, workers)
        self.progress = progress
        self.bytes_downloaded = 0
        self.lock = threading.Lock()
        # Circuit breaker: when this many downloads in a row fail (each after its own retries), the bucket is
        # unreachable; the rest are not attempted, so an outage costs seconds instead of one timeout per file.
        self.max_consecutive_failures = max(4, 2 * self.workers)
        self.consecutive_failures = 0
        self.unreachable: str | None = None

    def _download(self, key: str, local: Path) -> None:
        if self.unreachable:
            raise EdgelogError(f"not attempted: {self.unreachable}")
        try:
            self.bucket.download_file(key, local)
        except FileNotFoundError:
            raise
        except Exception as exc:
            if isinstance(exc, EdgelogError) and exc.exit_code == ExitCode.INTEGRITY:
                raise
            with self.lock:
                self.consecutive_failures += 1
                if self.consecutive_failures >= self.max_consecutive_failures and not self.unreachable:
                    self.unreachable = (
                        f"bucket unreachable ({self.consecutive_failures} downloads in a row failed; last: "
                        f"{getattr(exc, 'message', None) or f'{type(exc).__name__}: {exc}'})"
                    )
            raise
        with self.lock:
            self.consecutive_failures = 0

    def _get(
        self, work: _Work, key: str, local: Path, info: ObjectInfo, check: Callable[[Path], str | None]
    ) -> str | None:
        """Download ``key`` to ``local`` unless a verified copy is there; return why it is bad, or None."""
        if local.is_file() and check(local) is None and _listing_mismatch(local, info) is None:
            with work.lock:
                work.skipped += 1
                work.files += 1
                work.bytes += info.size
            self.progress.advance(info.size)
            return None
        self._download(key, local)
        with self.lock:
            self.bytes_downloaded += info.size
        self.progress.advance(info.size)
        bad = _listing_mismatch(local, info) or check(local)
        with work.lock:
            work.downloaded += 1
            if bad is None:
                work.files += 1
                work.bytes += info.size
        if bad is not None:
            local.unlink(missing_ok=True)  # never leave a bad copy that a later run could mistake for good
        return bad

    def run(self, tasks: list[tuple[_Work, Callable[[], None]]]) -> None:
        """Run download tasks in parallel; a task's unexpected error marks its execution failed.

        A stop (Ctrl-C, SIGTERM: ``KeyboardInterrupt`` in this thread) cancels the downloads still queued, so
        the command ends once the few running ones (one object each, at most ``workers``) have finished and
        renamed or removed their temporary files; a pool left to its ``with`` block would run every queued
        download first (a 1,000-object job: tens of seconds after the Ctrl-C)."""
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fetch")
        try:
            futures = {pool.submit(fn): work for work, fn in tasks}
            for future in as_completed(futures):
                work = futures[future]
                try:
                    future.result()
                except EdgelogError as exc:
                    status = "corrupt" if exc.exit_code == ExitCode.INTEGRITY else "failed"
                    work.fail(status, f"download failed: {exc.message}")
                except Exception as exc:  # network errors after retries, disk full, ...
                    work.fail("failed", f"download failed: {type(exc).__name__}: {exc}")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    # plain encoding ------------------------------------------------------------------------------------

    def phase1_plain(self, work: _Work) -> list[Callable[[], None]]:
        """Control files and the manifest first: they decide what else to fetch."""
        tasks = []
        for rel in (*CONTROL_FILES, MANIFEST):
            info = work.execution.objects.get(rel)
            if info is None:
                continue
            tasks.append(self._file_task(work, rel, info, lambda p: None, "corrupt"))
        return tasks

    def _file_task(
        self, work: _Work, rel: str, info: ObjectInfo, check: Callable[[Path], str | None], bad_status: str
    ) -> Callable[[], None]:
        def task() -> None:
            bad = self._get(work, work.execution.base_key + rel, work.root / rel, info, check)
            if bad:
                work.fail(bad_status, f"{rel}: {bad}")

        return task

    def phase2_plain(self, work: _Work) -> list[Callable[[], None]]:
        tasks = []
        listed = set()
        for entry in work.manifest.outputs if work.manifest else []:
            rel = safe_relpath(entry.path)
            if rel is None:
                work.fail("corrupt", f"manifest lists an unsafe output path {entry.path!r}")
                continue
            listed.add(f"{OUTPUTS}/{rel}")
            info = work.execution.objects.get(f"{OUTPUTS}/{rel}")
            if info is None:
                work.fail(
                    "corrupt", f"{OUTPUTS}/{rel} is in the manifest but not in the bucket (incomplete upload)"
                )
                continue
            tasks.append(self._file_task(work, f"{OUTPUTS}/{rel}", info, _checker(entry), "corrupt"))
        extra = sorted(set(work.execution.objects) - listed - {MANIFEST, *CONTROL_FILES})
        if extra:
            work.problems.append(
                f"{len(extra)} object(s) not in the manifest were ignored: {', '.join(extra[:5])}"
            )
        return tasks

    # gzip encoding -------------------------------------------------------------------------------------

    def archive_task(self, work: _Work, archive: Path) -> Callable[[], None]:
        def task() -> None:
            info = work.execution.objects[""]
            bad = self._get(work, work.execution.base_key, archive, info, lambda p: None)
            if bad:
                work.fail("corrupt", f"{archive.name}: {bad}")
                return
            try:
                _extract(archive, work.root)
            except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
                work.fail("corrupt", f"{archive.name}: cannot unpack: {exc}")

        return task


def _extract(archive: Path, dest: Path) -> None:
    """Unpack a publisher archive safely (no links, devices or paths outside ``dest``), replacing ``dest``.

    The tree may sit at the archive root or below one wrapping folder; either way ``dest`` ends up holding
    ``outputs/``, ``stdout``, ``stderr`` and ``exitCode``.
    """
    tmp = dest.with_name(f".{dest.name}.unpack")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(tmp, filter="data")
    root = tmp
    entries = [p for p in root.iterdir()]
    while len(entries) == 1 and entries[0].is_dir() and entries[0].name != OUTPUTS:
        root = entries[0]
        entries = list(root.iterdir())
    shutil.rmtree(dest, ignore_errors=True)
    root.replace(dest)
    shutil.rmtree(tmp, ignore_errors=True)


def _read_exit_code(work: _Work) -> None:
    path = work.root / "exitCode"
    if work.execution.encoding == "plain" and "exitCode" not in work.execution.objects:
        return
    if not path.is_file():
        return
    text = path.read_text(errors="replace").strip()
    try:
        work.exit_code = int(text)
    except ValueError:
        work.fail("failed", f"exitCode file is not a number: {text[:40]!r}")


def _read_manifest(work: _Work, job_id: str) -> None:
    path = work.root / MANIFEST
    if work.execution.encoding == "plain" and MANIFEST not in work.execution.objects:
        return  # a copy from an earlier fetch does not count when the bucket no longer has it
    if not path.is_file():
        return
    try:
        manifest = Manifest.loads(path.read_text(errors="replace"), MANIFEST)
    except ManifestError as exc:
        work.fail("corrupt", exc.message)
        return
    if manifest.job_id not in (None, job_id):
        work.problems.append(f"manifest says job {manifest.job_id!r}, fetched as {job_id!r}")
    work.manifest = manifest
    mismatch = node_mismatch(manifest, work.execution.node_id)
    if mismatch:
        work.fail("corrupt", mismatch)
    # the data-range object's name is what `edgelog jobs` shows unverified: a wrong one is not merged
    for problem in manifest.data_range_problems():
        work.fail("corrupt", f"{OUTPUTS}/{problem}")


def node_mismatch(manifest: Manifest, node_id: str) -> str | None:
    """Why a result published under ``node_id`` (the ``{nodeID}`` of its key) speaks for another node.

    The manifest's node comes from the rotated files' names (the generator's node name); the key's from
    Bacalhau. They are the same name by construction (cloud-init passes one name to both), so a difference
    means a misconfigured node, or logs copied between nodes: which node's traffic the numbers are cannot be
    known, and merging them could count another node's lines twice. Such a result is corrupt: not merged.
    """
    claimed = {i.node_id for i in manifest.inputs if i.status != "skipped" and i.node_id}
    if manifest.node_id:
        claimed.add(manifest.node_id)
    others = sorted(claimed - {node_id})
    if not others:
        return None
    return (
        f"node identity mismatch: published as node {node_id!r}, but its manifest speaks for "
        f"{', '.join(repr(o) for o in others[:3])}{' ...' if len(others) > 3 else ''} (rotated file names); "
        "the generator's node name must be the Bacalhau node id (serve --name), so it is not merged"
    )


def _stderr_tail(work: _Work) -> str:
    path = work.root / "stderr"
    if not path.is_file():
        return ""
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return f": {lines[-1][:200]}" if lines else ""


def _cross_check(work: _Work) -> None:
    """A node's manifest numbers must agree with its own (verified) tables, or the node is corrupt: its
    checksums only prove the files are the ones that manifest lists, not that the manifest is true."""
    from edgelog.analysis.merger import totals_problems

    if work.status is not None or work.manifest is None or work.manifest.status not in USABLE:
        return
    problems = totals_problems(work.root / OUTPUTS, work.manifest)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        work.fail("corrupt", f"the manifest does not match its own tables: {problems[0]}{more}")


def _decide(work: _Work) -> None:
    """The execution's final status once everything it needs is downloaded and checked."""
    if work.status is not None:
        return
    if work.exit_code not in (None, 0):
        manifest_status = work.manifest.status if work.manifest else None
        # `edgelog analyze` exits 3 when it produced results but some input files failed: usable, partial.
        if work.exit_code == ExitCode.PARTIAL and manifest_status == "partial" and work.manifest:
            work.status, work.reason = "partial", _partial_reason(work.manifest)
            return
        work.status, work.reason = "failed", f"job exited with code {work.exit_code}{_stderr_tail(work)}"
        return
    if work.manifest is None:
        work.status, work.reason = "missing", f"no {MANIFEST}: the node published no results"
        return
    manifest_status = work.manifest.status
    if manifest_status == "failed":
        work.status, work.reason = "failed", "the node's analysis failed (manifest status failed)"
    elif manifest_status == "partial":
        work.status, work.reason = "partial", _partial_reason(work.manifest)
    elif manifest_status == "ok":
        work.status = "ok"
    else:
        work.status, work.reason = "corrupt", f"manifest has an unknown status {manifest_status!r}"


def _partial_reason(manifest: Manifest) -> str:
    """What a node's partial result lacks: input files (its totals are lower bounds) or reports/queries."""
    parts = []
    if manifest.totals.files_failed:
        parts.append(f"{manifest.totals.files_failed} input file(s) failed")
    for q in manifest.failed_queries:
        parts.append(f"{'query' if q.kind == 'user' else 'report'} {q.name} failed")
    return "analysis was partial: " + ("; ".join(parts) or "see the node's manifest")


# -- progress --------------------------------------------------------------------------------------


class _Progress:
    """A rich progress bar over bytes when a console is given; silent otherwise."""

    def __init__(self, console: Console | None, label: str):
        self.console = console
        self.label = label
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.console is not None:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=0)
        return self

    def grow(self, nbytes: int) -> None:
        if self._progress is not None:
            task = self._progress.tasks[0]
            self._progress.update(self._task, total=(task.total or 0) + nbytes)

    def advance(self, nbytes: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, nbytes)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)


# -- the whole fetch -------------------------------------------------------------------------------


def fetch_job(
    bucket_url: str | Path | Bucket,
    job_id: str,
    out_dir: str | Path,
    *,
    prefix: str = RESULTS_PREFIX,
    workers: int = 8,
    expected_nodes: Sequence[str] | Mapping[str, str | None] = (),
    console: Console | None = None,
    merge: bool = True,
) -> FetchResult:
    """Download, verify and merge every node's results for ``job_id``.

    ``expected_nodes`` names nodes that must have published (a node that never uploaded anything is otherwise
    invisible), optionally with a note on each (what the network said about it at submit time), which a
    missing node's reason repeats. ``console`` shows a progress bar. Raises :class:`UsageError` when the
    bucket holds nothing for the job; every per-node problem is reported in the result instead of raised, so
    callers always get the per-node picture. The merged directory's ``manifest.json`` carries a ``fetch``
    section with the same statuses, and its ``status`` is ``partial`` unless every node was ok.
    """
    _validate_job_id(job_id)
    started = time.monotonic()
    out = Path(out_dir).expanduser().resolve()
    bucket = bucket_url if isinstance(bucket_url, Bucket) else open_bucket(bucket_url)
    retries = [0]
    previous = getattr(bucket, "on_retry", None)
    counts = hasattr(bucket, "on_retry")

    def count(exc: BaseException) -> None:
        retries[0] += 1
        if previous is not None:
            previous(exc)

    if counts:
        bucket.on_retry = count  # type: ignore[attr-defined]
    expected = (
        dict(expected_nodes) if isinstance(expected_nodes, Mapping) else dict.fromkeys(expected_nodes, None)
    )
    try:
        return _fetch(bucket, job_id, out, prefix, workers, expected, console, merge, retries, started)
    finally:
        if counts:
            bucket.on_retry = previous  # type: ignore[attr-defined]


def _fetch(
    bucket: Bucket,
    job_id: str,
    out: Path,
    prefix: str,
    workers: int,
    expected_nodes: Mapping[str, str | None],
    console: Console | None,
    merge: bool,
    retries: list[int],
    started: float,
) -> FetchResult:
    """The body of :func:`fetch_job`, which counts the bucket's retries around it."""
    listing = parse_job(job_id, prefix, bucket.list(job_prefix(prefix, job_id)))
    if not listing.executions and not expected_nodes:
        where = f"{bucket.url}/{job_prefix(prefix, job_id)}"
        raise UsageError(
            f"no results for job {job_id} at {where}",
            hint=f"check --bucket/--prefix, or list the jobs there: edgelog jobs --bucket {bucket.url}",
        )
    resultdir.check_out(out)
    with resultdir.writing(out):  # one fetch at a time writes ``out``
        nodes_dir = out / "nodes"
        _remove_leftovers(out)
        works = []
        for execution in listing.executions:
            node_dir = nodes_dir / execution.node_id
            name = execution.execution_id or "_"
            works.append(_Work(execution, node_dir / name))

        with _Progress(console, f"fetch {job_id}") as progress:
            fetcher = _Fetcher(bucket, workers, progress)
            first: list[tuple[_Work, Callable[[], None]]] = []
            for work in works:
                if work.execution.encoding == "gzip":
                    progress.grow(work.execution.size)
                    first.append(
                        (work, fetcher.archive_task(work, work.root.with_name(work.root.name + ".tar.gz")))
                    )
                else:
                    tasks = fetcher.phase1_plain(work)
                    progress.grow(
                        sum(
                            work.execution.objects[r].size
                            for r in (*CONTROL_FILES, MANIFEST)
                            if r in work.execution.objects
                        )
                    )
                    first += [(work, t) for t in tasks]
            fetcher.run(first)

            second: list[tuple[_Work, Callable[[], None]]] = []
            for work in works:
                if work.status is not None:
                    continue
                _read_exit_code(work)
                _read_manifest(work, job_id)
                if work.manifest is None or work.status is not None:
                    continue
                if work.execution.encoding == "plain":
                    tasks = fetcher.phase2_plain(work)
                    for entry in work.manifest.outputs:
                        rel = safe_relpath(entry.path)
                        info = work.execution.objects.get(f"{OUTPUTS}/{rel}") if rel else None
                        progress.grow(info.size if info else 0)
                    second += [(work, t) for t in tasks]
                else:
                    _verify_unpacked(work)
            fetcher.run(second)

        for work in works:
            _cross_check(work)
            _decide(work)
            if work.execution.encoding == "plain":
                _prune_plain(work)

        node_results = _choose_per_node(works, expected_nodes)
        result = FetchResult(
            job_id=job_id,
            bucket_url=bucket.url,
            prefix=prefix,
            out_dir=out,
            merged_dir=None,
            nodes=node_results,
            status="failed",
            exit_code=ExitCode.FAILED,
            partial=True,
            downloaded=sum(w.downloaded for w in works),
            skipped=sum(w.skipped for w in works),
            bytes_downloaded=fetcher.bytes_downloaded,
        )
        if listing.stray:
            keys = ", ".join(o.key for o in listing.stray[:5])
            result.warnings.append(
                f"{len(listing.stray)} object(s) fit no known layout and were ignored: {keys}"
            )

        if fetcher.unreachable:
            result.problems.append(f"stopped downloading: {fetcher.unreachable}; run fetch again to resume")
        usable = [n for n in node_results if n.usable]
        if merge and usable:
            _merge(result, usable)
        result.retries = retries[0]
        _verdict(result, merged=merge)
        result.duration_s = time.monotonic() - started
        if result.merged_dir is not None:
            _annotate_manifest(result)
        _write_json(out / "fetch.json", result.to_json())
        return result


def _prune_plain(work: _Work) -> None:
    """Drop local files the execution no longer publishes, so the merge sees exactly the verified set."""
    keep = {work.root / rel for rel in work.execution.objects}
    for entry in work.manifest.outputs if work.manifest else []:
        rel = safe_relpath(entry.path)
        if rel:
            keep.add(work.root / OUTPUTS / rel)
    if not work.root.is_dir():
        return
    for path in work.root.rglob("*"):
        if path.is_file() and path not in keep:
            path.unlink(missing_ok=True)


def _remove_leftovers(out: Path) -> None:
    """Temporary files of an interrupted earlier run (half downloads, half merges) are never reused."""
    for pattern in (".merged.tmp-*", ".merged.old-*"):
        for path in out.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)
    nodes = out / "nodes"
    if nodes.is_dir():
        for path in nodes.rglob(".*"):
            if path.is_file() and (path.name.endswith(".part") or ".tmp" in path.name):
                path.unlink(missing_ok=True)
            elif path.is_dir() and path.name.endswith(".unpack"):
                shutil.rmtree(path, ignore_errors=True)


def _verify_unpacked(work: _Work) -> None:
    """A gzip archive's files are checked against the manifest it carries (its md5 covered the transfer)."""
    for entry in work.manifest.outputs if work.manifest else []:
        problem = resultdir.check_output(work.root / OUTPUTS, entry)
        if problem is not None:
            work.fail("corrupt", problem if problem.startswith("manifest") else f"{OUTPUTS}/{problem}")
            continue
        work.files += 1
        work.bytes += entry.size or 0


def _choose_per_node(works: list[_Work], expected_nodes: Mapping[str, str | None]) -> list[NodeResult]:
    by_node: dict[str, list[_Work]] = {}
    for work in works:
        by_node.setdefault(work.execution.node_id, []).append(work)
    results = []
    for node_id in sorted(set(by_node) | set(expected_nodes)):
        candidates = by_node.get(node_id, [])
        if not candidates:
            note = expected_nodes.get(node_id)
            reason = "expected node published nothing to the bucket" + (f" ({note})" if note else "")
            results.append(NodeResult(node_id, "missing", reason))
            continue
        candidates.sort(key=lambda w: (STATUS_RANK.get(w.status or "", 9), -_ts(w.execution)))
        best = candidates[0]
        results.append(
            NodeResult(
                node_id=node_id,
                status=best.status or "failed",
                reason=best.reason,
                execution_id=best.execution.execution_id,
                encoding=best.execution.encoding,
                exit_code=best.exit_code,
                files=best.files,
                bytes=best.bytes,
                downloaded=sum(w.downloaded for w in candidates),
                skipped=sum(w.skipped for w in candidates),
                outputs_dir=best.root / OUTPUTS if best.status in USABLE else None,
                manifest=best.manifest,
                problems=best.problems,
                other_executions=[
                    {"execution_id": w.execution.execution_id, "status": w.status, "reason": w.reason}
                    for w in candidates[1:]
                ],
            )
        )
    return results


def _ts(execution: Execution) -> float:
    return execution.updated.timestamp() if execution.updated else 0.0


def _merge(result: FetchResult, usable: list[NodeResult]) -> None:
    """Merge into a temporary directory, then swap it in, so a failed merge never leaves a half result."""
    from edgelog.analysis import merge as merge_dirs
    from edgelog.analysis.merger import merged_problems, totals_problems

    final = result.out_dir / resultdir.FETCH_MERGED
    tmp = result.out_dir / f".merged.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    parts = [(n.outputs_dir, n.manifest) for n in usable if n.outputs_dir is not None and n.manifest]
    try:
        run = merge_dirs([d for d, _ in parts], tmp)
    except EdgelogError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        result.problems.append(f"merge failed: {exc.message}")
        result.merge_status = "failed"
        return
    result.merge_status = str(getattr(run, "status", "ok"))
    if result.merge_status == "failed" or not (tmp / resultdir.MANIFEST).is_file():
        result.problems.append("merge produced no result")
        result.merge_status = "failed"
        shutil.rmtree(tmp, ignore_errors=True)
        return
    problems = totals_problems(tmp, run.manifest) + merged_problems(run.manifest, parts)
    if problems:  # every node added up, so the merge itself went wrong: nothing merged can be trusted
        result.problems.append(f"the merged result does not add up: {'; '.join(problems[:3])}")
        result.merge_status = "corrupt"
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = result.out_dir / f".merged.old-{os.getpid()}"
    if final.exists():
        final.replace(old)
    tmp.replace(final)
    shutil.rmtree(old, ignore_errors=True)
    result.merged_dir = final


def _verdict(result: FetchResult, *, merged: bool) -> None:
    statuses = [n.status for n in result.nodes]
    usable = [s for s in statuses if s in USABLE]
    corrupt = "corrupt" in statuses or result.merge_status == "corrupt"
    if merged and result.merged_dir is None:
        result.exit_code = ExitCode.INTEGRITY if corrupt else ExitCode.FAILED
        result.status, result.partial = "failed", True
        return
    if not usable:
        result.exit_code = ExitCode.INTEGRITY if corrupt else ExitCode.FAILED
        result.status, result.partial = "failed", True
        return
    incomplete = any(s != "ok" for s in statuses) or result.merge_status == "partial" or bool(result.problems)
    result.partial = incomplete
    result.status = "partial" if incomplete else "ok"
    if corrupt:
        result.exit_code = ExitCode.INTEGRITY
    elif incomplete:
        result.exit_code = ExitCode.PARTIAL
    else:
        result.exit_code = ExitCode.OK


def _annotate_manifest(result: FetchResult) -> None:
    """Record in the merged manifest which nodes made it in, so the report can never show it as complete."""
    assert result.merged_dir is not None
    manifest = resultdir.read(result.merged_dir)
    if result.partial and manifest.status == "ok":
        manifest.status = "partial"
    if manifest.job_id is None:
        manifest.job_id = result.job_id
    manifest.fetch = FetchInfo(
        job_id=result.job_id,
        bucket=result.bucket_url,
        prefix=result.prefix,
        fetched_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        status=result.status,
        partial=result.partial,
        problems=list(result.problems),
        nodes=[
            FetchNode(
                node_id=n.node_id,
                execution_id=n.execution_id,
                status=n.status,
                reason=n.reason,
                files=n.files,
                lines_read=n.manifest.totals.lines_read if n.manifest else None,
            )
            for n in result.nodes
        ],
    )
    manifest.write(result.merged_dir)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def list_jobs(bucket_url: str | Path | Bucket, *, prefix: str = RESULTS_PREFIX) -> list[JobSummary]:
    """Every job id with results below ``<prefix>/`` in the bucket: node counts, sizes, publish time range."""
    bucket = bucket_url if isinstance(bucket_url, Bucket) else open_bucket(bucket_url)
    base = prefix.strip("/") + "/" if prefix.strip("/") else ""
    return summarize_jobs(prefix, bucket.list(base))
