"""How job results are laid out in a bucket, and how a listing maps back to jobs, nodes and executions.

Bacalhau's S3 publisher uploads each execution's result directory under the job spec's ``Key``:

* ``Encoding: plain`` -> ``<prefix>/<jobID>/<nodeID>/<executionID>/outputs/...`` plus ``stdout``, ``stderr``
  and ``exitCode`` beside ``outputs/``;
* ``Encoding: gzip`` -> one ``<prefix>/<jobID>/<nodeID>/<executionID>.tar.gz`` holding the same tree.

A Key without the execution id (``<prefix>/<jobID>/<nodeID>/``) is read too: the execution id is then unknown.

A listing has only keys, sizes and times, so ``edgelog jobs`` reads a job's data time range from keys: each
results directory holds ``data-range/<first>_<last>.json`` (see :mod:`edgelog.resultdir`), which a plain
upload lists as ``.../outputs/data-range/<first>_<last>.json``. A gzip archive hides it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from edgelog import resultdir
from edgelog.storage.base import ObjectInfo

CONTROL_FILES = ("exitCode", "stdout", "stderr")
OUTPUTS = "outputs"  # the job's result path: its results directory (edgelog.resultdir)
TOP_LEVEL = (*CONTROL_FILES, OUTPUTS)
DATA_RANGE_KEYS = f"{OUTPUTS}/{resultdir.DATA_RANGE}/"  # an execution's data-range object, below its folder
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


@dataclass
class Execution:
    """The objects one execution published for one node."""

    node_id: str
    execution_id: str | None
    encoding: str  # "plain" or "gzip"
    base_key: str  # plain: the folder holding outputs/ (with trailing /); gzip: the archive's key
    objects: dict[str, ObjectInfo] = field(default_factory=dict)  # plain: path relative to base_key

    @property
    def size(self) -> int:
        return sum(o.size for o in self.objects.values())

    @property
    def updated(self) -> datetime | None:
        stamps = [o.updated for o in self.objects.values() if o.updated]
        return max(stamps) if stamps else None

    @property
    def label(self) -> str:
        return self.execution_id or "-"

    @property
    def data_range(self) -> tuple[str | None, str | None] | None:
        """The (first, last) record time its listing names ((None, None): no records), or None when it names
        none (gzip encoding, or results from before the data-range object)."""
        names = [k[len(DATA_RANGE_KEYS) :] for k in self.objects if k.startswith(DATA_RANGE_KEYS)]
        if len(names) != 1:
            return None  # none, or several: a listing that cannot be read as one claim
        if names[0] == resultdir.DATA_RANGE_EMPTY:
            return None, None
        return resultdir.parse_data_range(names[0])


@dataclass
class JobListing:
    """Everything found below ``<prefix>/<jobID>/``."""

    job_id: str
    executions: list[Execution] = field(default_factory=list)
    stray: list[ObjectInfo] = field(default_factory=list)  # objects that fit no known layout

    @property
    def node_ids(self) -> list[str]:
        return sorted({e.node_id for e in self.executions})

    def for_node(self, node_id: str) -> list[Execution]:
        return [e for e in self.executions if e.node_id == node_id]


def _archive_stem(name: str) -> str | None:
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def job_prefix(prefix: str, job_id: str) -> str:
    """The key prefix of one job's results (always ends with ``/``)."""
    return "/".join(p for p in (prefix.strip("/"), job_id) if p) + "/"


def parse_job(job_id: str, prefix: str, objects: Iterable[ObjectInfo]) -> JobListing:
    """Group a job's objects into executions, accepting every layout the publisher can write."""
    base = job_prefix(prefix, job_id)
    listing = JobListing(job_id=job_id)
    found: dict[tuple[str, str | None, str], Execution] = {}
    for info in objects:
        if not info.key.startswith(base):
            continue
        parts = info.key[len(base) :].split("/")
        if len(parts) == 1:
            stem = _archive_stem(parts[0])  # <job>/<node>.tar.gz: a Key without the execution id
            if stem:
                execution = Execution(stem, None, "gzip", info.key, {"": info})
                found[(stem, None, "gzip")] = execution
            else:
                listing.stray.append(info)
            continue
        node = parts[0]
        if parts[1] in TOP_LEVEL:  # <job>/<node>/outputs/...: no execution level
            execution_id, rest, folder = None, parts[1:], f"{base}{node}/"
        elif len(parts) == 2 and (stem := _archive_stem(parts[1])):
            found[(node, stem, "gzip")] = Execution(node, stem, "gzip", info.key, {"": info})
            continue
        elif len(parts) >= 3 and parts[2] in TOP_LEVEL:
            execution_id, rest, folder = parts[1], parts[2:], f"{base}{node}/{parts[1]}/"
        else:
            listing.stray.append(info)
            continue
        execution = found.setdefault(
            (node, execution_id, "plain"), Execution(node, execution_id, "plain", folder)
        )
        execution.objects["/".join(rest)] = info
    listing.executions = sorted(found.values(), key=lambda e: (e.node_id, e.execution_id or "", e.encoding))
    return listing


@dataclass
class JobSummary:
    """One line of ``edgelog jobs``."""

    job_id: str
    nodes: int
    executions: int
    objects: int
    bytes: int
    first_updated: datetime | None
    last_updated: datetime | None
    data_first_ts: str | None = None  # first record time over the executions that name a data range
    data_last_ts: str | None = None
    data_range_executions: int = 0  # how many executions' listings name one (of ``executions``)

    def to_json(self) -> dict[str, object]:
        return {
            "job_id": self.job_id,
            "nodes": self.nodes,
            "executions": self.executions,
            "objects": self.objects,
            "bytes": self.bytes,
            "first_updated": self.first_updated.isoformat() if self.first_updated else None,
            "last_updated": self.last_updated.isoformat() if self.last_updated else None,
            "data_first_ts": self.data_first_ts,
            "data_last_ts": self.data_last_ts,
            "data_range_executions": self.data_range_executions,
        }


def summarize_jobs(prefix: str, objects: Iterable[ObjectInfo]) -> list[JobSummary]:
    """Group a listing of ``<prefix>/`` by job id; newest job first."""
    base = prefix.strip("/") + "/" if prefix.strip("/") else ""
    by_job: dict[str, list[ObjectInfo]] = {}
    for info in objects:
        rest = info.key[len(base) :] if info.key.startswith(base) else None
        if not rest or "/" not in rest:
            continue
        by_job.setdefault(rest.split("/", 1)[0], []).append(info)
    summaries = []
    for job_id, infos in by_job.items():
        listing = parse_job(job_id, prefix, infos)
        stamps = [o.updated for o in infos if o.updated]
        ranges = [r for r in (e.data_range for e in listing.executions) if r is not None]
        firsts = [first for first, _ in ranges if first]
        lasts = [last for _, last in ranges if last]
        summaries.append(
            JobSummary(
                job_id=job_id,
                nodes=len(listing.node_ids),
                executions=len(listing.executions),
                objects=len(infos),
                bytes=sum(o.size for o in infos),
                first_updated=min(stamps) if stamps else None,
                last_updated=max(stamps) if stamps else None,
                data_first_ts=min(firsts) if firsts else None,
                data_last_ts=max(lasts) if lasts else None,
                data_range_executions=len(ranges),
            )
        )
    summaries.sort(key=lambda s: (s.last_updated is not None, s.last_updated, s.job_id), reverse=True)
    return summaries
