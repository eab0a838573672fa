"""No node goes missing without a word: the expected node set comes from `bacalhau node list` at submit
time, and nodes that declined the job or never got an execution are named and make the result partial, in
`edgelog job submit` and in `edgelog fetch`. Fixtures: tests/fixtures/bacalhau (from v1.9.3's structs)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.results import analyze_node, copy_sample, publish_plain, stage_execution
from support.tools import REPO_ROOT
from support.waiting import record_polls
from typer.testing import CliRunner

from edgelog import __version__
from edgelog.cli.main import app
from edgelog.errors import ExitCode, UsageError
from edgelog.jobs.model import Constraint, JobSpec
from edgelog.jobs.network import expected_nodes, parse_node_list, read_expected_nodes
from edgelog.jobs.spec import load_spec, render_spec
from edgelog.jobs.submit import ExecutionStatus, JobStatus, parse_describe

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "bacalhau"
IMAGE = f"reg.example/edgelog/edgelog-job:{__version__}"  # the shipped job image: pre-pulled by default
VARS = {"bucket": "b", "image": IMAGE}
SUBMIT = ["job", "submit", "access-log-report", "--var", "bucket=b", "--var", f"image={IMAGE}"]
SUBMIT += ["--poll-interval", "0.1"]
runner = CliRunner()


def _fixture(scenario: str, name: str) -> object:
    return json.loads((FIXTURES / scenario / name).read_text())


def _node_ids(scenario: str) -> list[str]:
    return [n["Info"]["NodeID"] for n in _fixture(scenario, "node-list.json")]  # type: ignore[index, union-attr]


def _calls(state: Path) -> list[list[str]]:
    return [json.loads(line) for line in (state / "calls.log").read_text().splitlines()]


# -- the network's node list ----------------------------------------------------------------------------


def test_node_list_is_read_as_bacalhau_prints_node_state() -> None:
    nodes = parse_node_list(_fixture("missing", "node-list.json"))
    assert [(n.connection, n.membership, n.is_compute) for n in nodes] == [
        ("CONNECTED", "APPROVED", True),
        ("CONNECTED", "APPROVED", True),
        ("CONNECTED", "APPROVED", True),
        ("DISCONNECTED", "APPROVED", True),
        ("CONNECTED", "PENDING", True),
    ]
    assert [n.schedulable for n in nodes] == [True, True, True, False, False]
    assert nodes[0].labels["role"] == "log-node"
    assert "disconnected, approved when the job was submitted" in nodes[3].absence()
    requester = {"Info": {"NodeID": "orch", "NodeType": "Requester"}, "Membership": "APPROVED"}
    assert list(expected_nodes(parse_node_list([requester, *_fixture("completed", "node-list.json")]))) == (
        _node_ids("completed")
    )
    # The deprecated top-level Connection is the fallback when ConnectionState is absent.
    old = {"Info": {"NodeID": "n1", "NodeType": "Compute"}, "Connection": "DISCONNECTED"}
    assert parse_node_list([old])[0].connection == "DISCONNECTED"


@pytest.mark.parametrize("bad", [{}, [{"Info": {}}], [3], [{"Info": {"NodeID": ""}}]])
def test_anything_but_a_node_list_is_an_error(bad: object) -> None:
    from edgelog.errors import EdgelogError

    with pytest.raises(EdgelogError, match="node"):
        parse_node_list(bad)


def test_the_label_selector_is_the_jobs_constraints() -> None:
    ops = load_spec("access-log-report", VARS).spec
    assert ops.label_selector == "role=log-node" and ops.runs_on_every_node
    batch = load_spec("access-log-report-batch", {**VARS, "region": "us-east1"}).spec
    assert batch.label_selector == "role=log-node,region in (us-east1)" and not batch.runs_on_every_node
    job = JobSpec.from_job(render_spec("access-log-report", VARS).job)
    constraints = (
        Constraint("zone", "notin", ("a", "b")),
        Constraint("gpu", "exists"),
        Constraint("spot", "!"),
        Constraint("cores", "gt", ("4",)),
        Constraint("tier", "!=", ("edge",)),
        Constraint("favour_zone", "=", ("us-east1-b",)),  # only ranks nodes: not a filter
    )
    selector = JobSpec(job.name, job.type, job.count, job.task, constraints).label_selector
    assert selector == "zone notin (a,b),gpu,!spot,cores>4,tier!=edge"
    with pytest.raises(UsageError, match="label selector"):
        Constraint("role", "=", ("log node",)).selector()


# -- judging a job node by node -----------------------------------------------------------------------


def test_a_declined_node_makes_an_ops_job_partial_even_though_bacalhau_says_completed() -> None:
    status = parse_describe(_fixture("rejected", "describe-1.json"))  # type: ignore[arg-type]
    assert status.state == "Completed"
    assert [e.state for e in status.executions] == ["Completed", "Completed", "AskForBidRejected"]
    assert status.exit_code() == ExitCode.PARTIAL
    declined = [n for n in status.nodes() if n.outcome == "rejected"]
    assert [n.node_id for n in declined] == [_node_ids("rejected")[2]]
    assert "insufficient resources" in declined[0].reason and "AskForBidRejected" in declined[0].reason
    assert status.summary().endswith("Completed: 2 ok, 1 rejected")


def test_nodes_without_an_execution_are_missing() -> None:
    status = parse_describe(_fixture("missing", "describe-1.json"))  # type: ignore[arg-type]
    assert status.exit_code() == ExitCode.OK  # what the executions alone say
    status.expected = expected_nodes(parse_node_list(_fixture("missing", "node-list.json")))
    assert status.exit_code() == ExitCode.PARTIAL
    outcomes = {n.node_id: n for n in status.nodes()}
    ids = _node_ids("missing")
    assert [outcomes[i].outcome for i in ids] == ["ok", "ok", "ok", "missing", "missing"]
    assert "disconnected" in outcomes[ids[3]].reason and "pending" in outcomes[ids[4]].reason
    assert status.summary().endswith("Completed: 3 ok, 2 missing")


def test_a_batch_job_needs_count_ok_executions_not_every_node() -> None:
    def run(*outcomes: tuple[str, str, int | None]) -> JobStatus:
        return JobStatus(
            "j-1",
            "b",
            "batch",
            "Completed",
            executions=[ExecutionStatus(f"e-{n}", n, state, exit_code=code) for n, state, code in outcomes],
            job_count=2,
        )

    declined_then_taken = run(
        ("n1", "Completed", 0), ("n2", "AskForBidRejected", None), ("n3", "Completed", 0)
    )
    assert declined_then_taken.exit_code() == ExitCode.OK
    assert run(("n1", "Completed", 0), ("n2", "AskForBidRejected", None)).exit_code() == ExitCode.PARTIAL


# -- edgelog job submit ------------------------------------------------------------------------------


def test_submit_takes_the_expected_nodes_before_submitting(
    stub_bacalhau: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = stub_bacalhau("completed")
    polls = record_polls(monkeypatch)  # the scenario's three responses, without sleeping between them
    result = runner.invoke(app, SUBMIT)
    assert result.exit_code == ExitCode.OK, result.output
    assert polls == [0.1, 0.1]
    calls = _calls(state)
    assert calls[0] == ["node", "list", "--labels", "role=log-node", "--output", "json"]
    assert calls[1][:2] == ["job", "run"]
    assert "expecting results from 3 node(s) matching role=log-node" in result.output


def test_submit_names_a_declined_node_and_exits_partial(stub_bacalhau: Callable[[str], Path]) -> None:
    stub_bacalhau("rejected")
    result = runner.invoke(app, SUBMIT, env={"COLUMNS": "250"})
    assert result.exit_code == ExitCode.PARTIAL, result.output
    declined = _node_ids("rejected")[2]
    assert f"{declined}" in result.output and "rejected" in result.output
    assert "insufficient resources" in result.output
    assert "2 ok, 1 rejected" in result.output


def test_submit_names_nodes_that_got_no_execution(
    stub_bacalhau: Callable[[str], Path], tmp_path: Path
) -> None:
    stub_bacalhau("missing")
    listed = tmp_path / "nodes.json"
    result = runner.invoke(app, [*SUBMIT, "--nodes-out", str(listed)], env={"COLUMNS": "250"})
    assert result.exit_code == ExitCode.PARTIAL, result.output
    ids = _node_ids("missing")
    assert "expecting results from 5 node(s) matching role=log-node, 2 of them not schedulable now" in (
        result.output
    )
    assert f"{ids[3]}: missing: disconnected, approved when the job was submitted" in result.output
    assert f"{ids[4]}: missing: connected, pending when the job was submitted" in result.output
    assert "3 ok, 2 missing" in result.output
    assert list(read_expected_nodes(listed)) == sorted(ids)  # what a later `fetch --expect-nodes` reads


def test_submit_refuses_when_no_node_matches(stub_bacalhau: Callable[[str], Path]) -> None:
    state = stub_bacalhau("completed")
    result = runner.invoke(app, [*SUBMIT, "--var", "role=gpu-node"])
    assert result.exit_code == ExitCode.FAILED, result.output
    assert "no compute node matches the job's constraints (role=gpu-node)" in result.output
    assert [c[:2] for c in _calls(state)] == [["node", "list"]]  # nothing submitted


# -- fetch against the expected set -----------------------------------------------------------------


@pytest.fixture(scope="module")
def missing_bucket(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """The "missing" scenario's bucket: three of its five nodes published (the fetch tests only read it)."""
    return _publish_nodes(
        tmp_path_factory.mktemp("job-nodes"), samples_dir, "missing", _node_ids("missing")[:3]
    )


def _publish_nodes(tmp_path: Path, samples_dir: Path, scenario: str, nodes: list[str]) -> Path:
    """Results of ``nodes`` for the scenario's job id: really analysed (`edgelog.analysis.analyze`, what the
    spec's task runs) in this process and published in the spec's key layout, as the local runner does
    (tests/test_jobs_local.py runs the runner itself, and its results through fetch)."""
    from edgelog.jobs.local import new_execution_id
    from edgelog.storage import open_bucket

    bucket = tmp_path / "bucket"
    job_id = (FIXTURES / scenario / "job_id").read_text().strip()
    publisher = load_spec("access-log-report", VARS).spec.task.publisher
    for node in nodes:
        folder = tmp_path / "logs" / node
        log = copy_sample(samples_dir, "nginx_small.log", folder, node, "20261128T084500Z")
        with log.open("a") as fh:  # each node's own traffic: the same bytes on two nodes are refused by merge
            fh.write(f'127.0.0.1 - - [22/Nov/2026:23:20:18 +0000] "GET /{node} HTTP/1.1" 200 1 "-" "curl"\n')
        execution_id = new_execution_id()
        ids = {"job_id": job_id, "node_id": node, "execution_id": execution_id}
        outputs = analyze_node(folder, tmp_path / "results" / node, **ids)
        key = publisher.object_key(**ids)
        publish_plain(open_bucket(str(bucket)), stage_execution(outputs, tmp_path / "stage" / node), key)
    return bucket


def test_submit_fetch_names_the_nodes_that_never_ran(
    stub_bacalhau: Callable[[str], Path], tmp_path: Path, missing_bucket: Path
) -> None:
    ids = _node_ids("missing")
    bucket = missing_bucket
    stub_bacalhau("missing")
    out = tmp_path / "fetched"
    result = runner.invoke(app, [*SUBMIT, "--fetch", "--bucket", str(bucket), "--out", str(out)])
    assert result.exit_code == ExitCode.PARTIAL, result.output
    fetched = json.loads((out / "fetch.json").read_text())
    by_node = {n["node_id"]: n for n in fetched["nodes"]}
    assert [by_node[i]["status"] for i in ids] == ["ok", "ok", "ok", "missing", "missing"]
    assert "missing at submit: disconnected, approved" in by_node[ids[3]]["reason"]
    merged = json.loads((out / "merged" / "manifest.json").read_text())
    assert merged["status"] == "partial"
    assert {n["node_id"]: n["status"] for n in merged["fetch"]["nodes"]}[ids[4]] == "missing"


def test_fetch_expect_nodes_reads_a_node_list_or_plain_ids(tmp_path: Path, missing_bucket: Path) -> None:
    ids = _node_ids("missing")
    bucket = missing_bucket
    job_id = (FIXTURES / "missing" / "job_id").read_text().strip()
    node_list = tmp_path / "node-list.json"
    shutil.copyfile(FIXTURES / "missing" / "node-list.json", node_list)
    args = ["fetch", job_id, "--bucket", str(bucket), "--json", "--no-summary"]
    listed = runner.invoke(app, [*args, "--out", str(tmp_path / "a"), "--expect-nodes", str(node_list)])
    assert listed.exit_code == ExitCode.PARTIAL, listed.output
    missing = {
        n["node_id"]: n["reason"] for n in json.loads(listed.stdout)["nodes"] if n["status"] == "missing"
    }
    assert sorted(missing) == sorted(ids[3:])
    assert "connected, pending when listed" in missing[ids[4]]

    plain = tmp_path / "nodes.txt"
    plain.write_text("# the log nodes\n" + "\n".join(ids[:3]) + "\n")
    ok = runner.invoke(app, [*args, "--out", str(tmp_path / "b"), "--expect-nodes", str(plain)])
    assert ok.exit_code == ExitCode.OK, ok.output

    bad = tmp_path / "bad.txt"
    bad.write_text("not a node id!\n")
    refused = runner.invoke(app, [*args, "--out", str(tmp_path / "c"), "--expect-nodes", str(bad)])
    assert refused.exit_code == ExitCode.USAGE and "bad.txt:1" in refused.output
