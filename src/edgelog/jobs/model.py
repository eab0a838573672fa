"""A Bacalhau v1 job spec as typed values: the one place that reads fields out of a job mapping.

Bacalhau reads JSON/YAML field names case-insensitively (Go's encoding/json), so ``tasks``, ``Tasks`` and
``TASKS`` are the same field. :func:`lookup_field` implements that once; the validator uses it to report
problems against the raw mapping, and :class:`JobSpec` uses it to give every other reader (the local runner,
``job submit``, ``job validate``) typed fields. A ``JobSpec`` is built from a mapping the validator accepted,
so it converts rather than re-checks. The publisher's key rules (how Bacalhau expands it, and which bucket
prefix ``edgelog fetch`` must list) live here too, next to the fields they read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edgelog.errors import UsageError

DEFAULT_ENCODING = "gzip"  # Bacalhau's S3 publisher default when Encoding is empty
# Bacalhau's S3 publisher uploads with aws-sdk-go-v2's manager.Uploader (default part size 5 MiB): objects of
# this size or more go multipart with CRC32 checksum trailers, which GCS and S3-compatible stores reject.
S3_MULTIPART_BYTES = 5 * 1024 * 1024
# the nodes' Compute.AllowListedLocalPaths (cloud-init/compute.yaml.tftpl)
DEFAULT_ALLOW_LIST = ("/var/log/logs_to_process:ro", "/var/cache/edgelog/parse:rw")


def lookup_field(mapping: dict[str, Any], key: str) -> tuple[str | None, Any]:
    """Case-insensitive field lookup, as Go's encoding/json does: (actual key, value)."""
    if key in mapping:
        return key, mapping[key]
    for actual, value in mapping.items():
        if isinstance(actual, str) and actual.lower() == key.lower():
            return actual, value
    return None, None


def field_value(mapping: Any, key: str) -> Any:
    """The value of ``key`` (any case) in ``mapping``; None when absent or ``mapping`` is not a mapping."""
    return lookup_field(mapping, key)[1] if isinstance(mapping, dict) else None


def canonical_fields(mapping: dict[str, Any], known: Iterable[str]) -> dict[str, Any]:
    """The known fields under their canonical names."""
    out = {}
    for key in known:
        actual, value = lookup_field(mapping, key)
        if actual is not None:
            out[key] = value
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class InputSource:
    """One ``InputSources`` entry: where it appears in the task and what backs it."""

    target: str
    type: str  # local, localDirectory, inline, s3, ...
    source_path: str = ""  # local: the node's directory
    read_write: bool = False  # local
    url: str = ""  # inline / urlDownload

    @property
    def is_local(self) -> bool:
        return self.type in ("local", "localDirectory")


@dataclass(frozen=True)
class Publisher:
    """``Tasks[0].Publisher``: where results go, and the key rules of Bacalhau's S3 publisher."""

    type: str | None  # lower-case: s3, noop, local, ...; None when the task publishes nothing
    bucket: str = ""
    key: str = ""
    endpoint: str = ""
    region: str = ""
    encoding: str = DEFAULT_ENCODING

    def object_key(self, *, job_id: str, node_id: str, execution_id: str, now: datetime | None = None) -> str:
        """The object key (plain: the folder, with ``/``; gzip: the archive) one execution uploads to.

        As pkg/publisher/s3 derives it: ``.tar.gz`` appended for archives, a trailing ``/`` for plain trees,
        then ``{nodeID}``, ``{executionID}``, ``{jobID}``, ``{date}``, ``{time}`` replaced (node local time).
        """
        key = self.key
        if self.encoding != "plain" and not key.endswith(".tar.gz"):
            key += ".tar.gz"
        if self.encoding == "plain" and not key.endswith("/"):
            key += "/"
        stamp = now or datetime.now()
        for placeholder, value in (
            ("{nodeID}", node_id),
            ("{executionID}", execution_id),
            ("{jobID}", job_id),
            ("{date}", stamp.strftime("%Y%m%d")),
            ("{time}", stamp.strftime("%H%M%S")),
        ):
            key = key.replace(placeholder, value)
        return key

    @property
    def is_aws_endpoint(self) -> bool:
        """pkg/s3.IsAWSEndpoint: an empty endpoint or one ending in amazonaws.com."""
        return not self.endpoint or self.endpoint.endswith("amazonaws.com")

    @property
    def results_prefix(self) -> str:
        """The prefix ``edgelog fetch`` lists: the part of the key before ``{jobID}`` (fixed text only)."""
        before, found, _after = self.key.partition("{jobID}")
        if not found or "{" in before:
            raise UsageError(
                f"the publisher Key {self.key!r} does not start with a fixed prefix followed by {{jobID}}, "
                "so edgelog cannot find the job's results by its id",
                hint="use Key: <prefix>/{jobID}/{nodeID}/{executionID}, or fetch with --prefix yourself",
            )
        return before.strip("/")

    @property
    def bucket_url(self) -> str:
        """The bucket as ``edgelog fetch`` opens it (the publisher writes to GCS through its S3 endpoint)."""
        if not self.bucket:
            raise UsageError("the spec's publisher names no Bucket", hint="pass --bucket gs://NAME")
        return f"gs://{self.bucket}"


@dataclass(frozen=True)
class Task:
    """``Tasks[0]``: the fields edgelog runs, publishes and reports with."""

    name: str
    engine: str  # lower-case: docker, wasm
    image: str = ""
    entrypoint: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    environment_variables: tuple[str, ...] = ()  # Engine.Params.EnvironmentVariables, NAME=value
    working_directory: str = ""
    env: dict[str, str] = field(default_factory=dict)  # Task.Env (values may be env:HOST_VAR)
    inputs: tuple[InputSource, ...] = ()
    result_paths: tuple[tuple[str, str], ...] = ()  # (name, path)
    publisher: Publisher = field(default_factory=lambda: Publisher(None))
    execution_timeout: int = 0  # seconds; 0: none
    cpu: str = ""  # Resources.CPU as written (Kubernetes quantity); "": the node's default
    memory: str = ""  # Resources.Memory as written (go-humanize size); "": the node's default
    gpu: str = ""  # Resources.GPU
    network: str = ""  # Network.Type as written; "": Bacalhau's default (bridge for docker)


# Constraint keys with this prefix only rank nodes (pkg/orchestrator/selection/ranking/labels.go).
FAVOUR_PREFIX = "favour_"
_LABEL_TEXT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_./-]*[A-Za-z0-9])?$")
_SELECTOR_OPS = {"=": "=", "==": "==", "!=": "!=", "gt": ">", "lt": "<"}


@dataclass(frozen=True)
class Constraint:
    """One ``Constraints`` entry: a Kubernetes-style label requirement on the nodes."""

    key: str
    operator: str  # in, notin, exists, !, =, ==, !=, gt, lt
    values: tuple[str, ...] = ()

    def selector(self) -> str:
        """This requirement in the label-selector syntax ``bacalhau node list --labels`` parses
        (k8s.io/apimachinery labels.ParseToRequirements)."""
        for text in (self.key, *self.values):
            if not _LABEL_TEXT.match(text):
                raise UsageError(
                    f"constraint {self.key} {self.operator} {list(self.values)}: {text!r} cannot be written "
                    "as a label selector",
                    hint="label keys and values are letters, digits, '-', '_', '.' and '/'",
                )
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        return f"{self.key}{_SELECTOR_OPS[self.operator]}{self.values[0]}"


@dataclass(frozen=True)
class JobSpec:
    """A validated job spec as typed values (what every reader but the validator uses)."""

    name: str
    type: str  # batch | ops | daemon | service
    count: int | None
    task: Task
    constraints: tuple[Constraint, ...] = ()

    @property
    def runs_on_every_node(self) -> bool:
        """ops and daemon jobs run once on every node the constraints select; batch/service on Count."""
        return self.type in ("ops", "daemon")

    @property
    def label_selector(self) -> str:
        """The nodes this job may run on, as ``bacalhau node list --labels`` takes them ("" selects all).

        The orchestrator filters nodes with the same requirements (``favour_`` keys only rank nodes)."""
        return ",".join(c.selector() for c in self.constraints if not c.key.startswith(FAVOUR_PREFIX))

    @property
    def requested_executions(self) -> int | None:
        """Executions a batch/service job asks for (Count, default 1); None for ops/daemon (every node)."""
        if self.type in ("batch", "service"):
            return self.count if self.count is not None else 1
        return None

    @classmethod
    def from_job(cls, job: dict[str, Any]) -> JobSpec:
        tasks = field_value(job, "Tasks")
        task = _mapping(tasks[0] if isinstance(tasks, list) and tasks else None)
        count = field_value(job, "Count")
        return cls(
            name=_text(field_value(job, "Name")),
            type=_text(field_value(job, "Type")).lower() or "batch",
            count=int(count) if count not in (None, "") else None,
            task=_task(task),
            constraints=tuple(
                Constraint(
                    key=_text(field_value(c, "Key")),
                    operator=_text(field_value(c, "Operator")),
                    values=tuple(_text(v) for v in field_value(c, "Values") or ()),
                )
                for c in field_value(job, "Constraints") or ()
                if isinstance(c, dict)
            ),
        )


def _task(task: dict[str, Any]) -> Task:
    engine = _mapping(field_value(task, "Engine"))
    params = _mapping(field_value(engine, "Params"))
    publisher = _mapping(field_value(task, "Publisher"))
    pparams = _mapping(field_value(publisher, "Params"))
    timeouts = _mapping(field_value(task, "Timeouts"))
    resources = _mapping(field_value(task, "Resources"))
    return Task(
        name=_text(field_value(task, "Name")),
        engine=_text(field_value(engine, "Type")).lower(),
        image=_text(field_value(params, "Image")),
        entrypoint=tuple(str(a) for a in field_value(params, "Entrypoint") or ()),
        parameters=tuple(str(a) for a in field_value(params, "Parameters") or ()),
        environment_variables=tuple(str(a) for a in field_value(params, "EnvironmentVariables") or ()),
        working_directory=_text(field_value(params, "WorkingDirectory")),
        env={str(k): _text(v) for k, v in _mapping(field_value(task, "Env")).items()},
        inputs=tuple(_input(_mapping(item)) for item in field_value(task, "InputSources") or ()),
        result_paths=tuple(
            (_text(field_value(r, "Name")), _text(field_value(r, "Path")))
            for r in field_value(task, "ResultPaths") or ()
        ),
        publisher=Publisher(
            type=_text(field_value(publisher, "Type")).lower() or None,
            bucket=_text(field_value(pparams, "Bucket")),
            key=_text(field_value(pparams, "Key")),
            endpoint=_text(field_value(pparams, "Endpoint")),
            region=_text(field_value(pparams, "Region")),
            encoding=_text(field_value(pparams, "Encoding")) or DEFAULT_ENCODING,
        ),
        execution_timeout=int(field_value(timeouts, "ExecutionTimeout") or 0),
        cpu=_text(field_value(resources, "CPU")),
        memory=_text(field_value(resources, "Memory")),
        gpu=_text(field_value(resources, "GPU")),
        network=_text(field_value(_mapping(field_value(task, "Network")), "Type")),
    )


def _input(item: dict[str, Any]) -> InputSource:
    source = _mapping(field_value(item, "Source"))
    params = _mapping(field_value(source, "Params"))
    rw = field_value(params, "ReadWrite")
    return InputSource(
        target=_text(field_value(item, "Target")),
        type=_text(field_value(source, "Type")),
        source_path=_text(field_value(params, "SourcePath")),
        read_write=rw is True or rw == "true",
        url=_text(field_value(params, "URL")),
    )
