"""Commands do what they say: clear errors for bad --out, skipped inputs explained, ids never cut, specs that
would fail on every node refused before they are submitted, and every missing template variable named."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from support.results import publish_plain, stage_execution
from typer.testing import CliRunner

from edgelog.analysis import analyze, merge
from edgelog.cli.main import app
from edgelog.errors import ConfigError, ExitCode, UsageError
from edgelog.jobs.spec import load_spec, render_spec
from edgelog.jobs.template import render
from edgelog.storage import open_bucket

runner = CliRunner()
VARS = {"bucket": "edgelog-results", "image": "registry.example/edgelog-job:0.1.0"}
LINE = '10.0.0.1 - - [23/Nov/2026:08:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8.5.0"'


# -- analyze --out ----------------------------------------------------------------------------------------


def test_analyze_and_merge_out_an_existing_file_is_a_usage_error(tmp_path: Path) -> None:
    logs = tmp_path / "in"
    logs.mkdir()
    (logs / "a.log").write_text(LINE + "\n")
    taken = tmp_path / "notes.txt"
    taken.write_text("keep me\n")
    result = runner.invoke(app, ["analyze", str(logs), "--out", str(taken)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no uncaught error
    assert str(taken) in result.output and "not a directory" in result.output
    assert taken.read_text() == "keep me\n"  # nothing lost
    below = runner.invoke(app, ["analyze", str(logs), "--out", str(taken / "out")])
    assert below.exit_code == ExitCode.USAGE and "not a directory" in below.output
    with pytest.raises(UsageError, match="not a directory"):
        analyze([logs], taken)
    good = tmp_path / "good"
    assert analyze([logs], good).status == "ok"
    with pytest.raises(UsageError, match="not a directory"):
        merge([good], taken)
    assert taken.read_text() == "keep me\n"


# -- inputs that are not analysable -----------------------------------------------------------------------


def _unanalysed_streams(d: Path) -> None:
    """Rotated files of streams analyze does not read (it reads access, error and app)."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "audit-n1-20261123T080500Z.log").write_text("2026-11-23T08:00:00Z login ok\n")
    (d / "debug-n1-20261123T080500Z.log").write_text("2026/11/23 08:00:00 [debug] 1#1: hello\n")


def test_only_unanalysable_inputs_say_what_was_skipped_and_fail(tmp_path: Path) -> None:
    logs = tmp_path / "in"
    _unanalysed_streams(logs)
    result = runner.invoke(app, ["analyze", str(logs), "--out", str(tmp_path / "out")])
    assert result.exit_code == ExitCode.FAILED, result.output
    text = " ".join(result.output.split())
    assert "analyze ok" not in text
    assert "audit-n1-20261123T080500Z.log" in text and "debug-n1-20261123T080500Z.log" in text
    assert "skipped 2 files" in text and "log stream is not analysed" in text
    assert "no analysable input" in text
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert {i["status"] for i in manifest["inputs"]} == {"skipped"}


def test_skipped_files_next_to_access_logs_are_listed_but_do_not_fail(tmp_path: Path) -> None:
    logs = tmp_path / "in"
    _unanalysed_streams(logs)
    (logs / "access-n1-20261123T080500Z.log").write_text(LINE + "\n")
    result = runner.invoke(app, ["analyze", str(logs), "--out", str(tmp_path / "out")])
    assert result.exit_code == ExitCode.OK, result.output
    text = " ".join(result.output.split())
    assert "analyze ok: 1 files" in text and "skipped 2 files" in text
    assert "audit-n1-20261123T080500Z.log" in text


def test_empty_input_directory_is_still_ok(tmp_path: Path) -> None:
    """A node that has rotated nothing yet is not an error: zero files, nothing skipped."""
    (tmp_path / "in").mkdir()
    result = runner.invoke(app, ["analyze", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert result.exit_code == ExitCode.OK, result.output


# -- edgelog jobs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", ["80", "60"])
def test_jobs_never_cuts_job_ids(tmp_path: Path, samples_dir: Path, columns: str) -> None:
    logs = tmp_path / "in"
    logs.mkdir()
    shutil.copyfile(samples_dir / "nginx_small.log", logs / "access-n1-20261123T080500Z.log")
    out = tmp_path / "out"
    assert analyze([logs], out).status == "ok"
    bucket = open_bucket(tmp_path / "bucket")
    job_ids = [f"j-{uuid.uuid4()}", f"j-{uuid.uuid4()}"]
    for job_id in job_ids:
        stage = stage_execution(out, tmp_path / "stage")
        publish_plain(bucket, stage, f"edgelog/{job_id}/node-with-a-long-name-1/e-{uuid.uuid4()}")
    table = runner.invoke(app, ["jobs", "--bucket", str(tmp_path / "bucket")], env={"COLUMNS": columns})
    assert table.exit_code == 0, table.output
    for job_id in job_ids:
        assert job_id in table.output, table.output
    listed = runner.invoke(app, ["jobs", "--bucket", str(tmp_path / "bucket"), "--json"])
    assert listed.exit_code == 0
    assert sorted(j["job_id"] for j in json.loads(listed.output)) == sorted(job_ids)


# -- job validate -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "8am"])
@pytest.mark.parametrize("var", ["since", "until"])
def test_validate_rejects_times_analyze_would_refuse_on_every_node(var: str, value: str) -> None:
    for spec in ("access-log-report", "adhoc-query"):
        extra = {"sql_b64": "U0VMRUNUIDE7"} if spec == "adhoc-query" else {}
        with pytest.raises(UsageError) as info:
            load_spec(spec, {**VARS, **extra, var: value})
        text = str(info.value)
        assert f"--{var}" in text and repr(value) in text and "ISO-8601" in text
    result = runner.invoke(app, ["job", "validate", "access-log-report", "--var", f"{var}={value}", *_vars()])
    assert result.exit_code == ExitCode.USAGE and value in result.output


def test_validate_accepts_the_times_analyze_accepts() -> None:
    load_spec("access-log-report", {**VARS, "since": "2026-11-23T08:00:00Z", "until": "2026-11-23T09:00"})


def _vars() -> list[str]:
    return [arg for k, v in VARS.items() for arg in ("--var", f"{k}={v}")]


def test_validate_rejects_a_publisher_key_without_node_id(tmp_path: Path) -> None:
    text = render_spec("access-log-report", VARS).text
    assert "{jobID}/{nodeID}/{executionID}" in text
    for key in ("edgelog/{jobID}/{executionID}", "edgelog/{jobID}/results"):
        spec = tmp_path / "spec.yaml"
        spec.write_text(text.replace("edgelog/{jobID}/{nodeID}/{executionID}", key))
        result = runner.invoke(app, ["job", "validate", str(spec)])
        assert result.exit_code == ExitCode.USAGE, (key, result.output)
        assert "{nodeID}" in result.output and "Key" in result.output
    batch = render_spec("access-log-report-batch", {**VARS, "region": "us-east1"}).text
    spec.write_text(batch.replace("{jobID}/{nodeID}/{executionID}", "{jobID}/{executionID}"))
    assert runner.invoke(app, ["job", "validate", str(spec)]).exit_code == ExitCode.USAGE


# -- job render -------------------------------------------------------------------------------------------


def test_render_names_every_missing_variable() -> None:
    with pytest.raises(ConfigError) as info:
        render("a: {{.bucket}}\nb: {{.image}}\nc: {{.bucket}}\n", {}, path="spec.yaml")
    text = str(info.value)
    assert "'bucket'" in text and "'image'" in text
    assert "--var bucket=VALUE" in text and "--var image=VALUE" in text
    result = runner.invoke(app, ["job", "render", "access-log-report"])
    assert result.exit_code == ExitCode.USAGE
    assert "bucket" in result.output and "image" in result.output
    # a variable only an untaken branch uses is not missing (Go evaluates only the branch it takes)
    assert render('{{if index . "x"}}{{.y}}{{end}}ok', {}) == "ok"
