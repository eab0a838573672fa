"""Job specs: Go-template rendering, v1 model validation, and submit/poll against a stub bacalhau CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from support.waiting import record_polls
from typer.testing import CliRunner

from edgelog import __version__
from edgelog.cli.main import app
from edgelog.errors import ConfigError, ExitCode
from edgelog.jobs.spec import available_specs, load_spec, render_spec, spec_variables
from edgelog.jobs.submit import EXECUTION_STATES, JOB_STATES, parse_describe, state_name
from edgelog.jobs.template import render, variables_used
from edgelog.jobs.validate import doublestar_match, problems

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "bacalhau"
runner = CliRunner()

VARS = {"bucket": "edgelog-results", "image": f"us-east1-docker.pkg.dev/p/edgelog/edgelog-job:{__version__}"}
SPEC_VARS = {
    "access-log-report": VARS,
    "access-log-report-batch": {**VARS, "region": "us-east1"},
    "adhoc-query": {**VARS, "sql_b64": "U0VMRUNUIDE7"},
}


def _task(job: dict) -> dict:
    return job["Tasks"][0]


# -- templates --------------------------------------------------------------------------------------------


def test_template_vars_defaults_and_conditionals() -> None:
    text = (
        'a: {{.x}}\nb: {{or (index . "y") "dflt"}}\n'
        '{{- if index . "z"}}\nc: "{{.z}}"\n{{- else}}\nc: none\n{{- end}}\n'
        '{{/* a comment */}}d: {{ `raw` }} {{eq .x "1"}} {{not (index . "y")}}\n'
    )
    assert render(text, {"x": "1"}) == "a: 1\nb: dflt\nc: none\nd: raw true true\n"
    assert render(text, {"x": "2", "y": "Y", "z": "Z"}) == 'a: 2\nb: Y\nc: "Z"\nd: raw false false\n'


def test_template_missing_key_names_variable_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        render("a: 1\nb: {{.bucket}}\n", {}, path="spec.yaml")
    text = str(info.value)
    assert "spec.yaml: line 2" in text and "'bucket' is not set" in text and "--var bucket=VALUE" in text


@pytest.mark.parametrize(
    "bad",
    [
        "{{.a | printf}}",
        "{{range .a}}x{{end}}",
        "{{if .a}}x",
        "{{end}}",
        "{{.a",
        "{{frobnicate .a}}",
        "{{.a.b}}",
    ],
)
def test_template_rejects_what_it_does_not_implement(bad: str) -> None:
    with pytest.raises(ConfigError):
        render(bad, {"a": "1"})


def test_variables_used_splits_required_and_optional() -> None:
    required, optional = variables_used('{{.a}} {{or (index . "b") "x"}} {{if index . "c"}}{{.c}}{{end}}')
    assert required == {"a"}
    assert optional == {"b", "c"}


# -- the shipped specs ------------------------------------------------------------------------------------


def test_every_spec_is_covered() -> None:
    assert sorted(available_specs()) == sorted(SPEC_VARS)


@pytest.mark.parametrize("name", sorted(SPEC_VARS))
def test_every_spec_renders_and_validates(name: str) -> None:
    spec = load_spec(name, SPEC_VARS[name])
    job = spec.job
    task = _task(job)
    assert job["Type"] in ("ops", "batch")
    assert task["Engine"]["Type"] == "docker"
    params = task["Engine"]["Params"]
    assert params["Image"] == VARS["image"]
    assert params["Entrypoint"] == ["edgelog"]
    assert params["Parameters"][:4] == ["analyze", "/inputs", "--out", "/outputs"]
    source = task["InputSources"][0]
    assert source == {
        "Alias": "logs",
        "Target": "/inputs",
        "Source": {"Type": "local", "Params": {"SourcePath": "/var/log/logs_to_process", "ReadWrite": False}},
    }
    assert task["ResultPaths"] == [{"Name": "outputs", "Path": "/outputs"}]
    pub = task["Publisher"]
    assert pub["Type"] == "s3"
    assert pub["Params"] == {
        "Bucket": "edgelog-results",
        "Key": "edgelog/{jobID}/{nodeID}/{executionID}",
        "Endpoint": "https://storage.googleapis.com",
        "Region": "us-east1",
        "Encoding": "plain",
    }
    assert task["Network"] == {"Type": "None"}
    timeouts = task["Timeouts"]
    assert all(isinstance(v, int) for v in timeouts.values())
    assert timeouts["ExecutionTimeout"] + timeouts["QueueTimeout"] <= timeouts["TotalTimeout"]
    assert all(c["Operator"] == c["Operator"].lower() for c in job["Constraints"])
    text = spec.path.read_text()
    assert "AWS_SECRET" not in text.replace("AWS_SECRET_ACCESS_KEY)", "")  # named in a comment only, no value
    assert "secret" not in json.dumps(job).lower()


def test_since_until_and_defaults_are_rendered() -> None:
    job = render_spec(
        "access-log-report", {**VARS, "since": "2026-11-23T08:00:00Z", "until": "2026-11-23T09:00:00Z"}
    ).job
    params = _task(job)["Engine"]["Params"]["Parameters"]
    assert params[4:] == ["--since", "2026-11-23T08:00:00Z", "--until", "2026-11-23T09:00:00Z"]
    job = render_spec(
        "access-log-report", {**VARS, "prefix": "p/q", "encoding": "gzip", "name": "nightly"}
    ).job
    assert job["Name"] == "nightly"
    assert _task(job)["Publisher"]["Params"]["Key"] == "p/q/{jobID}/{nodeID}/{executionID}"
    assert _task(job)["Publisher"]["Params"]["Encoding"] == "plain"  # not a variable: gzip breaks on GCS


def test_batch_spec_selects_region_with_count() -> None:
    job = render_spec("access-log-report-batch", {**VARS, "region": "europe-west1", "count": "4"}).job
    assert job["Type"] == "batch" and job["Count"] == 4
    assert {"Key": "region", "Operator": "in", "Values": ["europe-west1"]} in job["Constraints"]


def test_adhoc_query_carries_sql_inline(tmp_path: Path) -> None:
    sql = tmp_path / "q.sql"
    sql.write_text("SELECT status, count(*) FROM requests GROUP BY 1;\n")
    result = runner.invoke(
        app, ["job", "render", "adhoc-query", "--sql", str(sql), "-V", "bucket=b", "-V", "image=i:1"]
    )
    assert result.exit_code == 0, result.output
    job = yaml.safe_load(result.output)
    inline = _task(job)["InputSources"][1]
    assert inline["Source"]["Type"] == "inline" and inline["Target"] == "/query/query.sql"
    import base64

    assert base64.b64decode(inline["Source"]["Params"]["URL"].split(",", 1)[1]) == sql.read_bytes()
    assert "/query/query.sql" in _task(job)["Engine"]["Params"]["Parameters"]


def test_spec_variables_documented_in_each_spec() -> None:
    for name in SPEC_VARS:
        required, optional = spec_variables(name)
        text = (REPO / "jobs" / f"{name}.yaml").read_text()
        header = text.split("\nName:")[0]
        for var in required | optional:
            assert f"  {var} " in header or f" {var}," in header or f", {var}" in header, (name, var)


def test_render_cli_missing_variable_is_usage_error() -> None:
    result = runner.invoke(app, ["job", "render", "access-log-report", "--var", "image=i:1"])
    assert result.exit_code == ExitCode.USAGE
    assert "'bucket' is not set" in result.output and "Traceback" not in result.output


def test_unknown_spec_name_lists_the_available_ones() -> None:
    result = runner.invoke(app, ["job", "render", "nope"])
    assert result.exit_code == ExitCode.USAGE
    assert "access-log-report" in result.output


# -- validation -------------------------------------------------------------------------------------------


def _valid_job() -> dict:
    return render_spec("access-log-report", VARS).job


def _messages(job: dict, **kw: object) -> list[str]:
    return [str(p) for p in problems(job, path="spec.yaml", **kw)]


def test_valid_job_has_no_problems() -> None:
    assert _messages(_valid_job()) == []


def _mutate(path: str, value: object) -> dict:
    job = _valid_job()
    target = job
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return job


@pytest.mark.parametrize(
    ("path", "value", "field", "expected"),
    [
        ("Tasks.0.Publisher.Params.Key", "edgelog/{jobID}/", "Tasks[0].Publisher.Params.Key", "no {nodeID}"),
        ("Constraints.0.Operator", "In", "Constraints[0].Operator", "write 'in'"),
        ("Tasks.0.Engine.Type", "podman", "Tasks[0].Engine.Type", "unknown engine 'podman'"),
        (
            "Tasks.0.InputSources.0.Source.Params.SourcePath",
            "/var/log/nginx",
            "Tasks[0].InputSources[0].Source.Params.SourcePath",
            "not allow-listed",
        ),
        ("Schedule", "daily", "Schedule", "unknown top-level field"),
        ("Count", 2, "Count", "Count 2 is invalid"),
        ("ID", "j-1", "ID", "set by the Bacalhau server"),
        ("State", {"StateType": "Running"}, "State", "set by the Bacalhau server"),
        ("Type", "cron", "Type", "invalid job type"),
        ("Type", KeyError, "Type", "missing job type"),
        ("Tasks.0.Publisher", KeyError, "Tasks[0].Publisher", "Publisher is required when ResultPaths"),
        ("Tasks.0.Publisher.Type", "ftp", "Tasks[0].Publisher.Type", "unknown publisher"),
        (
            "Tasks.0.Publisher.Params.Encoding",
            "zip",
            "Tasks[0].Publisher.Params.Encoding",
            "invalid encoding",
        ),
        ("Tasks.0.Publisher.Params.Compress", True, "Tasks[0].Publisher.Params.Compress", "use Encoding"),
        (
            "Tasks.0.Publisher.Params.Key",
            "e/{jobID}/{node}/{executionID}",
            "Tasks[0].Publisher.Params.Key",
            "{node}",
        ),
        ("Tasks.0.Network.Type", "Internet", "Tasks[0].Network.Type", "unknown network type"),
        (
            "Tasks.0.Network.Domains",
            ["example.com"],
            "Tasks[0].Network.Domains",
            "only allowed with Type: HTTP",
        ),
        ("Tasks.0.Resources.CPU", "fast", "Tasks[0].Resources.CPU", "invalid CPU"),
        ("Tasks.0.Resources.Memory", "lots", "Tasks[0].Resources.Memory", "invalid size"),
        ("Tasks.0.Resources.GPU", "-1", "Tasks[0].Resources.GPU", "unsigned integer"),
        ("Tasks.0.Timeouts.ExecutionTimeout", "30m", "Tasks[0].Timeouts.ExecutionTimeout", "whole seconds"),
        ("Tasks.0.Timeouts.TotalTimeout", 60, "Tasks[0].Timeouts.TotalTimeout", "exceeds TotalTimeout"),
        ("Tasks.0.Env", {"lower": "x"}, "Tasks[0].Env.lower", "upper case"),
        ("Tasks.0.Env", {"BACALHAU_X": "x"}, "Tasks[0].Env.BACALHAU_X", "reserved"),
        ("Tasks.0.Env", {"EMPTY": ""}, "Tasks[0].Env.EMPTY", "non-empty"),
        ("Tasks.0.ResultPaths.0.Path", "outputs", "Tasks[0].ResultPaths[0].Path", "absolute"),
        ("Tasks.0.Engine.Params.Image", "", "Tasks[0].Engine.Params.Image", "needs an Image"),
        (
            "Tasks.0.Engine.Params.WorkingDirectory",
            "tmp",
            "Tasks[0].Engine.Params.WorkingDirectory",
            "absolute",
        ),
        ("Tasks.0.Engine.Params.Entrypont", ["x"], "Tasks[0].Engine.Params.Entrypont", "silently ignores"),
        ("Tasks.0.ResultPath", [], "Tasks[0].ResultPath", "silently ignores"),
        ("Tasks.0.Name", " ", "Tasks[0].Name", "non-blank Name"),
        (
            "Tasks.0.InputSources.0.Source.Params.ReadWrite",
            True,
            "Tasks[0].InputSources[0].Source.Params.ReadWrite",
            "read-only",
        ),
        ("Tasks.0.InputSources.0.Target", "", "Tasks[0].InputSources[0].Target", "needs a Target"),
        (
            "Tasks.0.InputSources.0.Source.Type",
            "nfs",
            "Tasks[0].InputSources[0].Source.Type",
            "unknown source type",
        ),
        ("Constraints.0.Values", ["a", "b"], "Constraints[0].Values", "exactly one value"),
        ("Constraints.0.Key", "", "Constraints[0].Key", "non-blank"),
        ("Labels", {"n": 3}, "Labels.n", "must be a string"),
        ("Tasks", [], "Tasks", "exactly one task"),
    ],
)
def test_invalid_specs_are_rejected_with_field_and_fix(
    path: str, value: object, field: str, expected: str
) -> None:
    messages = _messages(_mutate(path, value))
    assert any(m.startswith(f"spec.yaml: {field}: ") and expected in m for m in messages), messages


def test_constraint_operator_value_counts() -> None:
    job = _valid_job()
    job["Constraints"] = [
        {"Key": "a", "Operator": "exists"},
        {"Key": "b", "Operator": "!", "Values": ["x"]},
        {"Key": "c", "Operator": "in"},
        {"Key": "d", "Operator": "gt", "Values": ["ten"]},
        {"Key": "e", "Operator": "notin", "Values": ["x", "y"]},
    ]
    messages = _messages(job)
    assert len(messages) == 3, messages
    assert any("Constraints[1].Values" in m and "takes no values" in m for m in messages)
    assert any("Constraints[2].Values" in m and "at least one value" in m for m in messages)
    assert any("Constraints[3].Values" in m and "integers" in m for m in messages)


def test_gzip_key_with_trailing_slash_and_duplicates() -> None:
    job = _valid_job()
    task = _task(job)
    task["Publisher"]["Params"].update(Encoding="gzip", Key="r/{jobID}/{nodeID}/")
    task["ResultPaths"].append({"Name": "outputs", "Path": "/outputs"})
    task["InputSources"].append(dict(task["InputSources"][0]))
    messages = _messages(job)
    assert any(".tar.gz" in m for m in messages)
    assert any("duplicate result path name" in m for m in messages)
    assert any("duplicate result path '/outputs'" in m for m in messages)
    assert any("duplicate alias" in m for m in messages)
    assert any("duplicate target" in m for m in messages)


def test_keys_match_case_insensitively_like_go_json() -> None:
    job = _valid_job()
    job["type"] = job.pop("Type")
    assert _messages(job) == []


def test_allow_list_suffixes_and_globs() -> None:
    assert doublestar_match("/var/log/**", "/var/log/logs_to_process")
    assert doublestar_match("/var/log/**", "/var/log")
    assert doublestar_match("/var/*/logs_to_process", "/var/log/logs_to_process")
    assert not doublestar_match("/var/*", "/var/log/logs_to_process")
    assert doublestar_match("/data/{a,b}/x", "/data/b/x")
    job = _valid_job()
    cache = "/var/cache/edgelog/parse:rw"  # the specs also mount the parse cache, read-write
    assert _messages(job, allow_list=["/var/log/**:ro", cache]) == []
    assert _messages(job, allow_list=["/var/log/logs_to_process", cache]) == []  # no suffix: read-only
    read_only_cache = _messages(job, allow_list=["/var/log/**:ro", "/var/cache/edgelog/parse:ro"])
    assert any("allow-listed read-only" in m and "parse" in m for m in read_only_cache), read_only_cache
    # the documented-but-wrong '/data:/data:ro' form is the literal path '/data:/data'
    assert any("not allow-listed" in m for m in _messages(job, allow_list=["/var/log/logs_to_process:/x:ro"]))
    assert any("not allow-listed" in m for m in _messages(job, allow_list=[]))
    _task(job)["InputSources"][0]["Source"]["Params"]["ReadWrite"] = "true"
    assert any("read-only" in m for m in _messages(job))
    assert _messages(job, allow_list=["/var/log/logs_to_process:rw", cache]) == []


def test_validate_cli_reports_every_problem_exit_2(tmp_path: Path) -> None:
    job = _valid_job()
    job["Count"] = 2
    job["Constraints"][0]["Operator"] = "In"
    _task(job)["Publisher"]["Params"]["Key"] = "edgelog/{jobID}"
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(job, sort_keys=False))
    result = runner.invoke(app, ["job", "validate", str(spec)])
    assert result.exit_code == ExitCode.USAGE
    assert "3 problems" in result.output
    for fragment in ("Count", "Constraints[0].Operator", "Tasks[0].Publisher.Params.Key", "fix:"):
        assert fragment in result.output
    assert "Traceback" not in result.output


def test_validate_cli_ok_and_custom_allow_list(tmp_path: Path) -> None:
    args = ["job", "validate", "access-log-report", "--var", "bucket=b", "--var", f"image={VARS['image']}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "OK" in result.output
    result = runner.invoke(app, [*args, "--allow-listed-path", "/srv/logs:ro"])
    assert result.exit_code == ExitCode.USAGE and "/srv/logs:ro" in result.output


VALIDATE = ["job", "validate", "access-log-report", "--var", "bucket=b"]


@pytest.mark.parametrize(
    ("image", "extra", "env", "problem"),
    [
        (VARS["image"], [], "", None),
        (f"{VARS['image']}@sha256:{'a' * 64}", [], "", None),
        ("python:3.12", [], "", "not the job image the nodes pre-pull by default"),
        ("reg.example/edgelog-job:0.0.1", [], "", "not the job image the nodes pre-pull by default"),
        (f"edgelog-job:{__version__}", [], "", "not the job image the nodes pre-pull by default"),
        ("reg.example/mine:2", ["--pre-pulled-image", "reg.example/mine:2"], "", None),
        ("reg.example/mine:2", [], "reg.example/gen:1, reg.example/mine:2", None),
        ("reg.example/mine:3", [], "reg.example/gen:1 reg.example/mine:2", "pre-pull (reg.example/gen:1, "),
        (VARS["image"], ["--pre-pulled-image", "reg.example/mine:2"], "", "not one of the images"),
    ],
)
def test_validate_checks_the_image_is_one_the_nodes_pre_pull(
    image: str, extra: list[str], env: str, problem: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGELOG_PRE_PULLED_IMAGES", env)
    result = runner.invoke(app, [*VALIDATE, "--var", f"image={image}", *extra], env={"COLUMNS": "250"})
    if problem is None:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "Tasks[0].Engine.Params.Image" in result.output and problem in result.output
    assert "terraform -chdir=terraform output -json pre_pulled_images" in result.output


def test_submit_refuses_an_image_the_nodes_do_not_have_before_calling_bacalhau(stub_bacalhau) -> None:
    state = stub_bacalhau("completed")
    args = [*SUBMIT, "--var", "image=python:3.12"]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.USAGE and "pre-pull" in result.output
    assert not (state / "calls.log").exists()


def test_validate_cli_yaml_error(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("Type: ops\nTasks: [\n")
    result = runner.invoke(app, ["job", "validate", str(spec)])
    assert result.exit_code == ExitCode.USAGE and "not valid YAML" in result.output


# -- submit against the stub bacalhau CLI -----------------------------------------------------------------


def test_state_names_follow_go_enums() -> None:
    assert state_name("Completed", JOB_STATES) == "Completed"
    assert state_name(4, JOB_STATES) == "Completed"
    assert state_name(9, EXECUTION_STATES) == "Completed"
    assert state_name(10, EXECUTION_STATES) == "Failed"
    assert state_name(8, EXECUTION_STATES) == "BidRejected"


def _describe(scenario: str) -> dict:
    files = sorted((FIXTURES / scenario).glob("describe-*.json"))
    return json.loads(files[-1].read_text())


def test_parse_describe_reads_state_types_and_run_output() -> None:
    status = parse_describe(_describe("partial"))
    assert status.state == "Failed" and status.terminal
    assert [e.state for e in status.executions] == ["Completed", "Completed", "Failed"]
    assert [e.outcome for e in status.executions] == ["ok", "ok", "failed"]
    assert status.executions[2].message == "Execution timed out after 30m0s"
    assert "reading access" in status.executions[2].stderr  # the lower-case `stderr` JSON key
    assert status.exit_code() == ExitCode.PARTIAL
    assert parse_describe(_describe("completed")).exit_code() == ExitCode.OK
    assert parse_describe(_describe("failed")).exit_code() == ExitCode.FAILED
    errors = parse_describe(_describe("task-errors"))
    assert errors.state == "Completed"
    assert [e.outcome for e in errors.executions] == ["ok", "partial", "failed"]
    assert errors.exit_code() == ExitCode.PARTIAL


SUBMIT = [
    "job",
    "submit",
    "access-log-report",
    "--var",
    "bucket=b",
    "--var",
    f"image={VARS['image']}",  # the shipped job image: what the nodes pre-pull by default
    "--poll-interval",
    "0.1",
]


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between polls of `job submit`, recorded instead of slept (a fake clock moves on by each)."""
    return record_polls(monkeypatch)


@pytest.mark.parametrize(
    "extra",
    [
        ["--timeout", "inf"],
        ["--timeout", "1e12"],
        ["--poll-interval", "inf"],
        ["--poll-interval", "nan"],
        ["--poll-interval", "86400"],
    ],
    ids=" ".join,
)
def test_submit_waits_are_bounded(extra: list[str], tmp_path: Path) -> None:
    """A wait that could never end (or never poll) is refused before anything is submitted."""
    res = runner.invoke(app, [*SUBMIT, *extra, "--bacalhau", str(tmp_path / "no-bacalhau")])
    assert res.exit_code == ExitCode.USAGE, res.output
    assert extra[0] in res.output and "Traceback" not in res.output


@pytest.mark.parametrize(
    ("scenario", "code", "fragment"),
    [
        ("completed", ExitCode.OK, "Completed"),
        (
            "failed",
            ExitCode.FAILED,
            "3 failed (execution e-0f3a2b1c failed: volume /var/log/logs_to_process is not",
        ),
        ("partial", ExitCode.PARTIAL, "2 ok, 1 failed"),
        ("task-errors", ExitCode.PARTIAL, "1 ok, 1 partial, 1 failed"),
    ],
)
def test_submit_polls_to_terminal_state_and_maps_exit_code(
    stub_bacalhau, polls: list[float], scenario: str, code: ExitCode, fragment: str
) -> None:
    state = stub_bacalhau(scenario)
    result = runner.invoke(app, SUBMIT)
    assert result.exit_code == code, result.output
    assert fragment in result.output
    job_id = (FIXTURES / scenario / "job_id").read_text().strip()
    assert job_id in result.output
    calls = [json.loads(line) for line in (state / "calls.log").read_text().splitlines()]
    assert calls[0] == ["node", "list", "--labels", "role=log-node", "--output", "json"]
    assert calls[1][:5] == ["job", "run", "--wait=false", "--id-only", "--no-template"]
    describes = [c for c in calls if c[:2] == ["job", "describe"]]
    assert describes and all(c == ["job", "describe", job_id, "--output", "json"] for c in describes)
    responses = len(list((FIXTURES / scenario).glob("describe-*.json")))
    assert len(describes) == responses  # polled until the terminal response, then stopped
    assert polls == [0.1] * (responses - 1)  # --poll-interval between two polls
    submitted = yaml.safe_load((state / "submitted-1.yaml").read_text())
    assert submitted["Name"].startswith("access-log-report-") and submitted["Name"] != "access-log-report"
    assert "{{" not in (state / "submitted-1.yaml").read_text()
    if scenario == "partial":
        assert "Execution timed out" in result.output and "reading access" in result.output


def test_submit_names_are_unique_unless_given(stub_bacalhau, polls: list[float]) -> None:
    state = stub_bacalhau("completed")
    assert runner.invoke(app, [*SUBMIT, "--name", "nightly-report"]).exit_code == 0
    assert yaml.safe_load((state / "submitted-1.yaml").read_text())["Name"] == "nightly-report"


def test_submit_validates_before_calling_bacalhau(stub_bacalhau) -> None:
    state = stub_bacalhau("completed")
    result = runner.invoke(app, [*SUBMIT, "--allow-listed-path", "/elsewhere"])
    assert result.exit_code == ExitCode.USAGE
    assert not (state / "calls.log").exists()


def test_submit_timeout_says_job_keeps_running(stub_bacalhau, polls: list[float]) -> None:
    stub_bacalhau("completed")
    # the stub's first response is Pending; a tiny timeout gives up before the terminal response
    result = runner.invoke(app, [*SUBMIT, "--timeout", "1", "--poll-interval", "5"])
    assert result.exit_code == ExitCode.FAILED
    assert polls == [1.0]  # the wait is cut to what is left of the timeout, then it gives up
    assert "is still Running after 1s" in result.output and "bacalhau job describe" in result.output


def test_submit_without_bacalhau_points_at_run_local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(app, SUBMIT)
    assert result.exit_code == ExitCode.USAGE
    assert "not on PATH" in result.output and "edgelog job run-local" in result.output


def test_submit_reports_bacalhau_errors(stub_bacalhau, polls: list[float], tmp_path: Path) -> None:
    stub_bacalhau("completed")
    result = runner.invoke(app, [*SUBMIT, "--bacalhau", str(FIXTURES / "bin" / "bacalhau"), "--name", "x"])
    assert result.exit_code == 0
    # a describe of an unknown job fails in the stub exactly like the real CLI: non-zero exit and a message
    from edgelog.errors import EdgelogError
    from edgelog.jobs.submit import BacalhauCLI

    with pytest.raises(EdgelogError) as info:
        BacalhauCLI().describe("j-unknown")
    assert "job not found" in str(info.value)


@pytest.mark.slow
def test_submit_fetch_merges_what_the_nodes_published(stub_bacalhau, tmp_path: Path) -> None:
    """The job the stub reports was really run (by the local runner) under the same job and node ids."""
    from datetime import UTC, datetime, timedelta

    from edgelog.generator import backfill, load_config
    from edgelog.jobs.local import LocalNode, LocalRunner

    describe = _describe("completed")
    job_id = describe["Job"]["ID"]
    node_ids = [e["NodeID"] for e in describe["Executions"]["Items"]]
    config = load_config(None)
    nodes = []
    for i, node_id in enumerate(node_ids):
        folder = tmp_path / "logs" / node_id
        start = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
        backfill(  # the generator's node name is the Bacalhau node id, as cloud-init sets it
            config, folder, node=node_id, start=start, duration=timedelta(minutes=10), seed=i, rate=2.0
        )
        nodes.append(LocalNode(node_id, folder))
    bucket = tmp_path / "bucket"
    LocalRunner(load_spec("access-log-report", VARS), bucket_url=str(bucket)).run(nodes, job_id=job_id)

    stub_bacalhau("completed")
    out = tmp_path / "fetched"
    result = runner.invoke(app, [*SUBMIT, "--fetch", "--bucket", str(bucket), "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "merged" / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert sorted(m["node_id"] for m in manifest["merged_from"]) == sorted(node_ids)


def test_submit_fetch_refuses_a_key_it_could_not_follow_before_submitting(
    stub_bacalhau, tmp_path: Path
) -> None:
    state = stub_bacalhau("completed")
    args = [*SUBMIT, "--var", "prefix=r/{date}", "--fetch", "--out", str(tmp_path / "o")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "jobID" in result.output and "Traceback" not in result.output
    assert not (state / "calls.log").exists() or "run" not in (state / "calls.log").read_text()


def test_submit_fetch_of_missing_results_fails(stub_bacalhau, polls: list[float], tmp_path: Path) -> None:
    stub_bacalhau("completed")
    args = [*SUBMIT, "--fetch", "--bucket", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    # the fetch names each node that left the result short and why, not only its verdict
    describe = _describe("completed")
    fetched = result.output.partition(f"Job {describe['Job']['ID']}: nodes")[2]
    for execution in describe["Executions"]["Items"]:
        assert execution["NodeID"][:11] in fetched, result.output
    assert "missing" in fetched, result.output


def test_job_list_shows_every_spec_with_its_variables() -> None:
    result = runner.invoke(app, ["job", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in SPEC_VARS:
        assert name in result.output
    assert "sql_b64" in result.output and "batch" in result.output


def test_submit_passes_the_orchestrator_address(stub_bacalhau, polls: list[float]) -> None:
    state = stub_bacalhau("completed")
    result = runner.invoke(app, [*SUBMIT, "--api-host", "10.0.0.5"])
    assert result.exit_code == 0, result.output
    calls = [json.loads(line) for line in (state / "calls.log").read_text().splitlines()]
    assert all(c[-2:] == ["--api-host", "10.0.0.5"] for c in calls)


def test_unique_names_differ_within_one_second() -> None:
    from datetime import UTC, datetime

    from edgelog.jobs.submit import unique_name

    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    names = {unique_name("access-log-report", now) for _ in range(20)}
    assert len(names) > 1
    assert all(re_name.startswith("access-log-report-20261123t090000z-") for re_name in names)
