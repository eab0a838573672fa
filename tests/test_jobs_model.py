"""The typed job spec: every reader but the validator gets its fields from edgelog.jobs.model."""

from __future__ import annotations

from datetime import datetime

import pytest

from edgelog.errors import UsageError
from edgelog.jobs.model import JobSpec, Publisher
from edgelog.jobs.spec import load_spec
from edgelog.results.layout import parse_job
from edgelog.storage.base import ObjectInfo

VARS = {"bucket": "edgelog-results", "image": "registry.example/edgelog-job:0.1.0"}


def test_shipped_specs_as_typed_values() -> None:
    ops = load_spec("access-log-report", VARS).spec
    assert (ops.name, ops.type, ops.requested_executions) == ("access-log-report", "ops", None)
    task = ops.task
    assert (task.engine, task.image, task.entrypoint) == ("docker", VARS["image"], ("edgelog",))
    assert task.parameters[:4] == ("analyze", "/inputs", "--out", "/outputs")
    assert [(i.target, i.source_path, i.read_write) for i in task.inputs] == [
        ("/inputs", "/var/log/logs_to_process", False),
        ("/parse-cache", "/var/cache/edgelog/parse", True),  # docs/analysis.md, "Parse cache"
    ]
    assert "EDGELOG_PARSE_CACHE=/parse-cache" in task.environment_variables
    assert task.result_paths == (("outputs", "/outputs"),)
    assert (task.publisher.type, task.publisher.bucket, task.publisher.encoding) == (
        "s3",
        VARS["bucket"],
        "plain",
    )
    assert task.publisher.results_prefix == "edgelog" and task.publisher.bucket_url == "gs://edgelog-results"
    assert task.execution_timeout > 0

    batch = load_spec("access-log-report-batch", {**VARS, "region": "r", "count": "3", "prefix": "a/b"}).spec
    assert (batch.type, batch.requested_executions) == ("batch", 3)
    assert batch.task.publisher.results_prefix == "a/b"
    assert [i.target for i in batch.task.inputs] == ["/inputs", "/parse-cache"]
    assert "EDGELOG_PARSE_CACHE=/parse-cache" in batch.task.environment_variables
    adhoc = load_spec("adhoc-query", {**VARS, "sql_b64": "U0VMRUNUIDE7"}).spec
    assert any(i.type == "inline" and i.url.startswith("data:") for i in adhoc.task.inputs)


def test_field_names_are_case_insensitive_as_in_bacalhau() -> None:
    job = load_spec("access-log-report", VARS).job

    def lower(value: object) -> object:
        if isinstance(value, dict):
            return {k.lower(): lower(v) for k, v in value.items()}
        if isinstance(value, list):
            return [lower(v) for v in value]
        return value

    assert JobSpec.from_job(lower(job)) == JobSpec.from_job(job)  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", ["plain", "gzip"])
@pytest.mark.parametrize(
    "key", ["edgelog/{jobID}/{nodeID}/{executionID}", "x/y/{jobID}/{nodeID}", "{jobID}/{nodeID}"]
)
def test_where_the_publisher_puts_results_is_where_fetch_looks(key: str, encoding: str) -> None:
    publisher = Publisher("s3", bucket="b", key=key, encoding=encoding)
    object_key = publisher.object_key(
        job_id="j-1", node_id="n-7", execution_id="e-3", now=datetime(2026, 1, 2)
    )
    obj = ObjectInfo(object_key + ("outputs/manifest.json" if encoding == "plain" else ""), 1)
    listing = parse_job("j-1", publisher.results_prefix, [obj])
    assert [e.node_id for e in listing.executions] == ["n-7"], (object_key, listing)
    expected_execution = "e-3" if "{executionID}" in key else None
    assert listing.executions[0].execution_id == expected_execution and not listing.stray


@pytest.mark.parametrize("key", ["x/{date}/{jobID}/{nodeID}", "{nodeID}/{executionID}", "p/{jobid}/{nodeID}"])
def test_a_key_fetch_cannot_follow_is_refused(key: str) -> None:
    with pytest.raises(UsageError, match="jobID"):
        _ = Publisher("s3", bucket="b", key=key).results_prefix
