"""The local runner: Bacalhau's execution environment, publisher layout and failure semantics, locally."""

from __future__ import annotations

import json
import os
import signal
import sys
import tarfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from support.signals import alive, stop_when
from support.waiting import wait_for
from typer.testing import CliRunner

from edgelog.analysis import analyze
from edgelog.cli.main import app
from edgelog.errors import ExitCode, UsageError
from edgelog.generator import backfill, load_config
from edgelog.jobs.local import LocalNode, map_paths, parse_nodes, run_local
from edgelog.jobs.spec import load_spec
from edgelog.results import fetch_job
from edgelog.storage import open_bucket

runner = CliRunner()

# A task that reports what it sees: its argv, the environment Bacalhau sets, the files under /inputs.
PROBE = textwrap.dedent(
    """
    import json, os, sys, time, pathlib
    args = sys.argv[1:]
    out = pathlib.Path(args[args.index("--out") + 1])
    inputs = pathlib.Path(args[0])
    mode = os.environ.get("PROBE_MODE", "ok")
    node = sorted(inputs.iterdir())[0].name.split("-20")[0].removeprefix("access-")  # as analyze: file names
    if mode == "fail-node-2" and node == "node-2":
        print("cannot read inputs", file=sys.stderr)
        sys.exit(1)
    if mode == "sleep-node-2" and node == "node-2":
        (out / "pid").write_text(str(os.getpid()))
        print("about to hang", file=sys.stderr, flush=True)
        time.sleep(30)
    if mode == "write-input":
        (inputs / "oops.txt").write_text("x")
    env = {k: v for k, v in os.environ.items() if k.startswith(("BACALHAU_", "EDGELOG_", "PROBE_", "TZ"))}
    query = args[args.index("--query") + 1] if "--query" in args else None
    (out / "probe.json").write_text(json.dumps({
        "args": args, "env": env, "cwd": os.getcwd(),
        "inputs": sorted(p.name for p in inputs.iterdir()),
        "query": pathlib.Path(query).read_text() if query else None,
    }))
    print(f"probe ok on {node}")
    """
)


def _spec(
    tmp_path: Path, *, job_type: str = "ops", encoding: str = "plain", extra: str = "", timeout: int = 60
) -> Path:
    (tmp_path / "probe.py").write_text(PROBE)
    count = "Count: 2\n" if job_type == "batch" else ""
    spec = f"""
Name: probe
Type: {job_type}
{count}Tasks:
  - Name: main
    Engine:
      Type: docker
      Params:
        Image: "{{{{.image}}}}"
        Entrypoint: ["{sys.executable}", "{tmp_path / "probe.py"}"]
        Parameters: ["/inputs", "--out=/outputs", "--out", "/outputs", "--query", "/query/q.sql", "/inputsx"]
        EnvironmentVariables: ["TZ=UTC", "PROBE_DIR=/outputs/sub"]
        WorkingDirectory: /tmp
    Env:
      PROBE_MODE: "{{{{or (index . "mode") "ok"}}}}"
    InputSources:
      - Alias: logs
        Target: /inputs
        Source: {{Type: local, Params: {{SourcePath: /var/log/logs_to_process, ReadWrite: false}}}}
      - Alias: query
        Target: /query/q.sql
        Source: {{Type: inline, Params: {{URL: "data:text/plain;base64,U0VMRUNUIDQyOw=="}}}}
    ResultPaths: [{{Name: outputs, Path: /outputs}}]
    Publisher:
      Type: s3
      Params:
        Bucket: "{{{{.bucket}}}}"
        Key: "res/{{jobID}}/{{nodeID}}/{{executionID}}"
        Encoding: {encoding}
    Timeouts: {{ExecutionTimeout: {timeout}, TotalTimeout: 0}}
{extra}"""
    path = tmp_path / "probe.yaml"
    path.write_text(spec)
    return path


def _nodes(tmp_path: Path, n: int = 3) -> list[LocalNode]:
    nodes = []
    for i in range(1, n + 1):
        folder = tmp_path / "nodes" / f"node-{i}"
        folder.mkdir(parents=True)
        (folder / f"access-node-{i}-20261123T080500Z.log").write_text("x\n")
        nodes.append(LocalNode(f"node-{i}", folder))
    return nodes


VARS = {"bucket": "b", "image": "i:1"}


def test_map_paths_replaces_whole_components_only() -> None:
    mapping = {"/inputs": Path("/h/n1"), "/outputs": Path("/h/o")}
    assert map_paths("/inputs", mapping) == "/h/n1"
    assert map_paths("--out=/outputs/x", mapping) == "--out=/h/o/x"
    assert map_paths("/inputsx", mapping) == "/inputsx"
    assert map_paths("/data/inputs", mapping) == "/data/inputs"


def test_execution_environment_and_plain_layout(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path), VARS)
    nodes = _nodes(tmp_path)
    bucket_dir = tmp_path / "bucket"
    run = run_local(spec, nodes, bucket_url=str(bucket_dir))
    assert run.state == "Completed" and run.status.exit_code() == ExitCode.OK
    assert run.job_id.startswith("j-") and len(run.job_id) == 38
    execution_ids = {e.execution_id for e in run.executions}
    assert len(execution_ids) == 3 and all(e.startswith("e-") for e in execution_ids)
    for execution in run.executions:
        node = execution.node
        base = bucket_dir / "res" / run.job_id / node.node_id / execution.execution_id
        assert execution.published_key == f"res/{run.job_id}/{node.node_id}/{execution.execution_id}/"
        assert sorted(p.name for p in base.iterdir()) == ["exitCode", "outputs", "stderr", "stdout"]
        assert (base / "exitCode").read_text() == "0"  # no newline, as Bacalhau writes it
        assert (base / "stdout").read_text() == f"probe ok on {node.node_id}\n"
        probe = json.loads((base / "outputs" / "probe.json").read_text())
        args = probe["args"]
        assert args[0] == str(node.path)
        assert args[1].startswith("--out=/") and args[1].endswith("/outputs") and args[2] == "--out"
        assert args[6] == "/inputsx"  # a longer name is not a mapped path
        assert probe["inputs"] == [f"access-{node.node_id}-20261123T080500Z.log"]
        assert probe["query"] == "SELECT 42;"
        env = probe["env"]
        assert env["BACALHAU_JOB_ID"] == run.job_id
        assert env["BACALHAU_EXECUTION_ID"] == execution.execution_id
        assert env["BACALHAU_JOB_TYPE"] == "ops"
        assert env["BACALHAU_PARTITION_INDEX"] == "0" and env["BACALHAU_PARTITION_COUNT"] == "0"
        assert not {k for k in env if k.startswith("EDGELOG_NODE")}  # Bacalhau sets no node id (envvars.go)
        assert env["PROBE_MODE"] == "ok" and env["TZ"] == "UTC"
        assert env["PROBE_DIR"].endswith("/outputs/sub") and not env["PROBE_DIR"].startswith("/outputs")
        assert probe["cwd"] != "/tmp" and "edgelog-run-local" in probe["cwd"]  # unmapped WorkingDirectory


def test_gzip_specs_are_refused_before_anything_runs(tmp_path: Path) -> None:
    """gzip is one archive of the whole result: GCS refuses it from 5 MiB on, so no runner accepts it."""
    with pytest.raises(UsageError, match=r"Encoding: gzip: the whole result becomes one \.tar\.gz"):
        load_spec(_spec(tmp_path, encoding="gzip"), VARS)


def test_batch_job_uses_count_nodes_and_partitions(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, job_type="batch"), VARS)
    run = run_local(spec, _nodes(tmp_path), bucket_url=str(tmp_path / "bucket"))
    assert [e.node.node_id for e in run.executions] == ["node-1", "node-2"]
    envs = []
    for e in run.executions:
        base = tmp_path / "bucket" / "res" / run.job_id / e.node.node_id / e.execution_id
        envs.append(json.loads((base / "outputs" / "probe.json").read_text())["env"])
    assert [(x["BACALHAU_PARTITION_INDEX"], x["BACALHAU_PARTITION_COUNT"]) for x in envs] == [
        ("0", "2"),
        ("1", "2"),
    ]
    with pytest.raises(UsageError, match="Count 2"):
        run_local(spec, _nodes(tmp_path / "one", 1), bucket_url=str(tmp_path / "bucket"))


def test_non_zero_exit_is_completed_but_counts_as_failed(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path), {**VARS, "mode": "fail-node-2"})
    run = run_local(spec, _nodes(tmp_path), bucket_url=str(tmp_path / "bucket"))
    states = {e.node.node_id: (e.state, e.exit_code) for e in run.executions}
    assert states == {"node-1": ("Completed", 0), "node-2": ("Completed", 1), "node-3": ("Completed", 0)}
    assert run.state == "Completed"  # as in Bacalhau: the task ran and its results were published
    assert run.status.exit_code() == ExitCode.PARTIAL
    failed = next(e for e in run.executions if e.node.node_id == "node-2")
    assert "cannot read inputs" in failed.stderr_tail
    base = tmp_path / "bucket" / "res" / run.job_id / "node-2" / failed.execution_id
    assert (base / "exitCode").read_text() == "1"


def test_timeout_fails_the_execution_and_the_ops_job(tmp_path: Path) -> None:
    # the smallest ExecutionTimeout (whole seconds): the probe on nodes 1 and 3 takes ~0.05 s
    spec = load_spec(_spec(tmp_path, timeout=1), {**VARS, "mode": "sleep-node-2"})
    started = datetime.now(UTC)
    run = run_local(spec, _nodes(tmp_path), bucket_url=str(tmp_path / "bucket"))
    assert datetime.now(UTC) - started < timedelta(seconds=20)
    hung = next(e for e in run.executions if e.node.node_id == "node-2")
    assert hung.state == "Failed" and "timed out after 1s" in hung.message
    assert "about to hang" in hung.stderr_tail
    assert run.state == "Failed"  # ops job: any failed execution fails the job
    assert run.status.exit_code() == ExitCode.PARTIAL
    published = {o.key.split("/")[2] for o in open_bucket(str(tmp_path / "bucket")).list()}
    assert published == {"node-1", "node-3"}  # a failed execution publishes nothing


def test_task_may_not_write_its_read_only_input(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path), {**VARS, "mode": "write-input"})
    run = run_local(spec, _nodes(tmp_path, 1), bucket_url=str(tmp_path / "bucket"))
    assert run.executions[0].state == "Failed" and "read-only input" in run.executions[0].message
    assert run.status.exit_code() == ExitCode.FAILED


def test_parse_nodes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    nodes = parse_nodes([str(tmp_path / "a"), f"web-2={tmp_path / 'b'}"])
    assert [(n.node_id, n.path.name) for n in nodes] == [("a", "a"), ("web-2", "b")]
    with pytest.raises(UsageError, match="given twice"):
        parse_nodes([str(tmp_path / "a"), f"a={tmp_path / 'b'}"])
    with pytest.raises(UsageError, match="not a directory"):
        parse_nodes([str(tmp_path / "missing")])
    with pytest.raises(UsageError, match="no --node"):
        parse_nodes([])


def test_run_local_cli_reports_failures_like_bacalhau(tmp_path: Path) -> None:
    _spec(tmp_path)
    nodes = _nodes(tmp_path)
    args = ["job", "run-local", str(tmp_path / "probe.yaml"), "--bucket", str(tmp_path / "bucket")]
    args += [a for n in nodes for a in ("--node", f"{n.node_id}={n.path}")]
    result = runner.invoke(app, [*args, "--var", "mode=fail-node-2"])
    assert result.exit_code == ExitCode.PARTIAL, result.output
    assert "node-2" in result.output and "cannot read inputs" in result.output
    assert "2 ok, 1 failed" in result.output
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Completed" in result.output


def test_run_local_cli_rejects_invalid_spec(tmp_path: Path) -> None:
    path = _spec(tmp_path)
    path.write_text(path.read_text().replace("/var/log/logs_to_process", "/etc"))
    result = runner.invoke(app, ["job", "run-local", str(path), "--node", str(tmp_path)])
    assert result.exit_code == ExitCode.USAGE and "not allow-listed" in result.output


# -- the real spec, the real analyze, the real fetch -------------------------------------------------------


def _tables(result_dir: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect()
    out = {}
    for path in sorted((result_dir / "reports").glob("*.parquet")):
        rows = con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
        out[path.stem] = sorted(rows, key=repr)
    return out


def test_a_node_whose_files_name_another_node_is_corrupt(tmp_path: Path, samples_dir: Path) -> None:
    """One node, one name: the generator's node name (in rotated file names) must be the Bacalhau node id
    the result is published under. Bacalhau gives the task no node id, so nothing can paper over a
    difference; fetch names it and leaves that node out (exit 4)."""
    good, bad = tmp_path / "logs" / "edge-1", tmp_path / "logs" / "edge-2"
    for folder, name in ((good, "edge-1"), (bad, "edge-9")):  # edge-2's generator calls itself edge-9
        folder.mkdir(parents=True)
        (folder / f"access-{name}-20261123T080500Z.log").write_bytes(
            (samples_dir / "nginx_small.log").read_bytes()
        )
    spec = load_spec("access-log-report", VARS)
    bucket = str(tmp_path / "bucket")
    run = run_local(spec, [LocalNode("edge-1", good), LocalNode("edge-2", bad)], bucket_url=bucket)
    assert run.status.exit_code() == ExitCode.OK
    fetched = fetch_job(bucket, run.job_id, tmp_path / "out", expected_nodes=["edge-1", "edge-2"])
    assert fetched.exit_code == ExitCode.INTEGRITY and fetched.status == "partial"
    by_node = {n.node_id: n for n in fetched.nodes}
    assert by_node["edge-1"].status == "ok"
    assert by_node["edge-2"].status == "corrupt"
    assert "published as node 'edge-2'" in (by_node["edge-2"].reason or "")
    assert "'edge-9'" in (by_node["edge-2"].reason or "")
    assert fetched.merged_dir is not None
    merged = json.loads((fetched.merged_dir / "manifest.json").read_text())
    assert [m["node_id"] for m in merged["merged_from"]] == ["edge-1"]
    assert merged["status"] == "partial"


@pytest.mark.slow
def test_run_local_then_fetch_equals_analyze_over_the_same_files(tmp_path: Path) -> None:
    config = load_config(None)
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    nodes = []
    for i in (1, 2):
        folder = tmp_path / "logs" / f"node-{i}"
        backfill(
            config,
            folder,
            node=f"node-{i}",
            start=start,
            duration=timedelta(minutes=15),
            seed=i,
            rate=3.0,
            gzip=(i == 2),
        )
        nodes.append(LocalNode(f"node-{i}", folder))
    bucket = str(tmp_path / "bucket")
    args = ["job", "run-local", "access-log-report", "--bucket", bucket]
    args += [a for n in nodes for a in ("--node", f"{n.node_id}={n.path}")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    job_id = next(w for w in result.output.split() if w.startswith("j-"))
    fetched = fetch_job(bucket, job_id, tmp_path / "fetched", expected_nodes=["node-1", "node-2"])
    assert fetched.exit_code == ExitCode.OK and fetched.merged_dir is not None
    direct = analyze([n.path for n in nodes], tmp_path / "direct")
    assert direct.exit_code == ExitCode.OK
    merged, reference = _tables(fetched.merged_dir), _tables(tmp_path / "direct")
    assert merged.keys() == reference.keys() and len(merged) >= 10
    for name in reference:  # nodes too: a node's id comes from its file names in both
        assert merged[name] == reference[name], name
    manifest = json.loads((fetched.merged_dir / "manifest.json").read_text())
    assert manifest["kind"] == "merge" and manifest["status"] == "ok"
    # the spec's parse cache is a writable directory of its own, never the (read-only) log directory
    assert {i["parse_cache"] for i in manifest["inputs"]} == {"stored"}
    assert all(p.name.startswith("access-") for n in nodes for p in n.path.iterdir())
    submitted = yaml.safe_load(load_spec("access-log-report", {"bucket": "b", "image": "i"}).text)
    assert submitted["Type"] == "ops"


def test_cancel_stops_running_tasks_and_their_process_groups(tmp_path: Path) -> None:
    """What Ctrl-C does: tasks run in their own sessions, so the runner must kill them itself."""
    import threading

    from edgelog.jobs.local import LocalRunner

    spec = load_spec(_spec(tmp_path), {**VARS, "mode": "sleep-node-2"})
    work = tmp_path / "work"
    work.mkdir()
    local_runner = LocalRunner(spec, bucket_url=str(tmp_path / "bucket"), workdir=work)
    outcome: dict[str, object] = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("run", local_runner.run(_nodes(tmp_path))))
    started = time.monotonic()
    thread.start()
    # node-2's task has written its pid: it sleeps for 30 s from here
    assert wait_for(lambda: any(p.read_text() for p in work.rglob("pid")), 15)
    local_runner._cancel()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert time.monotonic() - started < 20
    run = outcome["run"]
    hung = next(e for e in run.executions if e.node.node_id == "node-2")
    assert hung.state == "Failed" and "cancelled" in hung.message


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_run_local_stops_its_tasks_and_leaves_nothing_behind(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """Ctrl-C or SIGTERM (`timeout`, a service manager) ends `edgelog job run-local` within seconds with its
    exit code and one line, and takes its tasks with it: they run in their own sessions, so a SIGTERM that
    killed edgelog alone left them running (a task for its full ExecutionTimeout) and its temporary
    directory behind."""
    spec = _spec(tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    argv = ["job", "run-local", str(spec), "--var", "mode=sleep-node-2", "--bucket", str(tmp_path / "bucket")]
    argv += [arg for n in _nodes(tmp_path) for arg in ("--node", f"{n.node_id}={n.path}")]
    tasks: list[int] = []

    def task_sleeping() -> bool:  # node-2's task has written its pid and sleeps for 30 s
        tasks.extend(int(text) for p in tmp.rglob("pid") if (text := p.read_text()))
        return bool(tasks)

    stopped = stop_when(
        [sys.executable, "-m", "edgelog", *argv], task_sleeping, sig, env={**os.environ, "TMPDIR": str(tmp)}
    )
    assert stopped.returncode == code, stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] in ("interrupted", "terminated"), stopped.stderr
    assert not alive(tasks[0]), "the task outlived edgelog"
    assert list(tmp.iterdir()) == []


def test_adhoc_query_runs_user_sql_from_the_inline_source(tmp_path: Path, samples_dir: Path) -> None:
    node = tmp_path / "node-1"
    node.mkdir()
    (node / "access-node-1-20261123T090000Z.log").write_bytes((samples_dir / "nginx_small.log").read_bytes())
    sql = tmp_path / "by_status.sql"
    sql.write_text("SELECT status, count(*) AS hits FROM requests GROUP BY status ORDER BY status\n")
    bucket = tmp_path / "bucket"
    args = [
        "job",
        "run-local",
        "adhoc-query",
        "--sql",
        str(sql),
        "--node",
        str(node),
        "--bucket",
        str(bucket),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    outputs = next(bucket.rglob("outputs"))
    rows = (
        duckdb.connect()
        .execute(f"SELECT * FROM read_parquet('{outputs / 'queries' / 'query.parquet'}')")
        .fetchall()
    )
    expected = (
        duckdb.connect()
        .execute(
            f"SELECT status, sum(hits) FROM read_parquet('{outputs / 'reports' / 'status_codes.parquet'}') "
            "GROUP BY status ORDER BY status"
        )
        .fetchall()
    )
    assert [(int(s), int(h)) for s, h in rows] == [(int(s), int(h)) for s, h in expected]


def test_inline_sources_become_a_file_or_a_directory(tmp_path: Path) -> None:
    import base64
    import io

    from edgelog.jobs.local import _inline_file

    plain = _inline_file(
        "data:text/plain;base64," + base64.b64encode(b"SELECT 1;").decode(), tmp_path / "f" / "q.sql"
    )
    assert plain.read_bytes() == b"SELECT 1;"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("sql/a.sql")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    folder = _inline_file(
        "data:application/gzip;base64," + base64.b64encode(buf.getvalue()).decode(), tmp_path / "d"
    )
    assert (folder / "sql" / "a.sql").read_bytes() == b"abc"
    with pytest.raises(UsageError):
        _inline_file("http://example.invalid/x", tmp_path / "x")


@pytest.mark.needs_tool("gcp-storage-emulator")
def test_run_local_publishes_to_a_real_gcs_server_and_fetch_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gcs_emulator: str
) -> None:
    """The same runner against gcp-storage-emulator: gs:// buckets get Bacalhau's layout too."""
    from support.gcs import new_bucket

    config = load_config(None)
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    nodes = []
    for i in (1, 2):
        folder = tmp_path / "logs" / f"node-{i}"
        backfill(
            config, folder, node=f"node-{i}", start=start, duration=timedelta(minutes=10), seed=i, rate=2.0
        )
        nodes.append(LocalNode(f"node-{i}", folder))
    endpoint = gcs_emulator
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    url = new_bucket(endpoint, root="results")
    run = run_local(load_spec("access-log-report", VARS), nodes, bucket_url=url)
    assert run.status.exit_code() == ExitCode.OK
    keys = [o.key for o in open_bucket(url).list()]
    assert {k.split("/")[2] for k in keys} == {"node-1", "node-2"}
    assert all(k.startswith(f"edgelog/{run.job_id}/") for k in keys)
    fetched = fetch_job(url, run.job_id, tmp_path / "out", expected_nodes=["node-1", "node-2"])
    assert fetched.exit_code == ExitCode.OK and fetched.merged_dir is not None


def test_publish_failure_fails_the_execution(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path), VARS)
    blocker = tmp_path / "bucket" / "res"
    blocker.parent.mkdir()
    blocker.write_text("a file where the key prefix needs a directory")
    run = run_local(spec, _nodes(tmp_path, 1), bucket_url=str(tmp_path / "bucket"))
    execution = run.executions[0]
    assert execution.state == "Failed" and execution.message.startswith("publishing failed")
    assert execution.exit_code == 0  # the task itself ran fine
    assert run.state == "Failed" and run.status.exit_code() == ExitCode.FAILED
