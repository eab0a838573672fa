"""The results directory contract: the typed manifest, its golden bytes, and the one safe-path rule."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest
from support.results import publish_plain, stage_execution
from typer.testing import CliRunner

from edgelog import resultdir
from edgelog.analysis import analyze, merge
from edgelog.cli.main import app
from edgelog.errors import ExitCode, IntegrityError, UsageError
from edgelog.resultdir import Manifest, ManifestError, safe_relpath
from edgelog.results import fetch_job
from edgelog.results.tables import load_result
from edgelog.storage import open_bucket

GOLDEN = Path(__file__).parent / "fixtures" / "manifest"


@pytest.mark.parametrize("name", ["analyze.json", "merge.json", "fetched.json", "analyze-parts.json"])
def test_golden_manifests_round_trip_byte_for_byte(name: str) -> None:
    """Manifests written by edgelog before the typed model (schema /1) and with split tables (/2) read and
    write back to the same bytes."""
    text = (GOLDEN / name).read_text(encoding="utf-8")
    manifest = Manifest.loads(text)
    assert manifest.dumps() == text
    assert Manifest.from_dict(json.loads(text)).to_dict() == json.loads(text)


def test_typed_fields(tmp_path: Path) -> None:
    m = Manifest.loads((GOLDEN / "fetched.json").read_text())
    assert m.kind == "merge" and m.status == "partial" and m.tag_rules is None
    assert m.merged_from is not None and [f.node_id for f in m.merged_from] == ["node-a", "node-b"]
    assert m.fetch is not None and [n.status for n in m.fetch.nodes] == ["partial", "ok", "missing"]
    assert m.totals.files_failed == 1
    assert m.totals.files == len([i for i in m.inputs if i.status != "skipped"])
    assert resultdir.Totals.of(m.inputs) == m.totals
    assert [q.name for q in m.failed_queries] == [] and [i.status for i in m.failed_inputs] == ["failed"]
    a = Manifest.loads((GOLDEN / "analyze.json").read_text())
    assert {q.kind for q in a.queries} == {None, "user"} and a.tag_rules is not None


def test_schema_2_differs_from_1_only_by_table_parts_and_the_object_limit() -> None:
    """/2 is what a run writes when it split a table: parts in <table>/part-NNNNN.parquet, found by
    table_files in order, and the run's max_object_bytes; /1 (no parts) is still what unsplit runs write."""
    v1 = Manifest.loads((GOLDEN / "analyze.json").read_text())
    v2 = Manifest.loads((GOLDEN / "analyze-parts.json").read_text())
    assert (v1.schema, v1.max_object_bytes) == ("edgelog.manifest/1", None)
    assert (v2.schema, v2.max_object_bytes) == ("edgelog.manifest/2", 65536)
    assert resultdir.schema_for(v1.outputs) == v1.schema and resultdir.schema_for(v2.outputs) == v2.schema
    parts = [o.path for o in v2.outputs if resultdir.is_part(o.path)]
    assert "partials/top_paths/part-00001.parquet" in parts and "quarantine/part-00000.parquet" in parts
    assert all(o.size is not None and o.size < 65536 for o in v2.outputs)
    assert set(json.loads((GOLDEN / "analyze-parts.json").read_text())) - set(
        json.loads((GOLDEN / "analyze.json").read_text())
    ) == {"max_object_bytes"}


def test_table_files_finds_one_file_or_the_parts_in_order(tmp_path: Path) -> None:
    (tmp_path / "partials" / "top_paths").mkdir(parents=True)
    for name in (
        "part-00002.parquet",
        "part-00000.parquet",
        "part-00001.parquet",
        "notes.txt",
        "part-1.parquet",
    ):
        (tmp_path / "partials" / "top_paths" / name).write_bytes(b"x")
    (tmp_path / "partials" / "hosts.parquet").write_bytes(b"x")
    assert [p.name for p in resultdir.table_files(tmp_path, "partials/top_paths.parquet")] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert resultdir.table_files(tmp_path, "partials/hosts.parquet") == [tmp_path / "partials/hosts.parquet"]
    assert resultdir.table_files(tmp_path, "partials/gone.parquet") == []
    assert resultdir.part_table("quarantine.parquet", 3) == "quarantine/part-00003.parquet"
    assert resultdir.is_part("queries/q/part-00000.parquet") and not resultdir.is_part("part-00000.parquet")
    for rel in ("quarantine.parquet", "partials/top_paths.parquet"):
        assert resultdir.table_of(resultdir.part_table(rel, 7)) == rel and resultdir.table_of(rel) == rel


def test_unknown_keys_are_kept_after_the_known_ones() -> None:
    data = json.loads((GOLDEN / "analyze.json").read_text())
    data["written_by_a_newer_edgelog"] = {"parse_s": 1.5}
    again = Manifest.from_dict(data).to_dict()
    assert again == data and list(again)[-1] == "written_by_a_newer_edgelog"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.update(schema="edgelog.manifest/3"), "schema"),
        (lambda d: d["outputs"][0].update(sha256=5), "outputs[0].sha256"),
        (lambda d: d["inputs"][1].update(size="big"), "inputs[1].size"),
        (lambda d: d["totals"].update(lines_read=None), "totals.lines_read"),
        (lambda d: d.update(outputs={}), "outputs"),
        (lambda d: d.pop("outputs"), "outputs"),
        (lambda d: d["queries"].append("x"), "queries[23]"),
    ],
)
def test_a_field_of_the_wrong_type_names_itself(edit, field: str) -> None:  # type: ignore[no-untyped-def]
    data = json.loads((GOLDEN / "analyze.json").read_text())
    edit(data)
    with pytest.raises(ManifestError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Manifest.from_dict(data)


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("reports/summary.parquet", "reports/summary.parquet"),
        ("quarantine.parquet", "quarantine.parquet"),
        ("./reports/summary.parquet", None),
        ("reports/./summary.parquet", None),
        ("reports//summary.parquet", None),
        ("reports/", None),
        ("../x", None),
        ("a/../../x", None),
        ("/etc/passwd", None),
        ("reports\\..\\x", None),
        ("", None),
        (None, None),
        (7, None),
    ],
)
def test_the_one_safe_path_rule(text: object, safe: str | None) -> None:
    assert safe_relpath(text) == safe


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("rd")
    (root / "in").mkdir()
    shutil.copyfile(samples_dir / "nginx_small.log", root / "in" / "access-rd-20261122T232500Z.log")
    analyze([root / "in"], root / "out")
    return root / "out"


def _copy_with(result: Path, tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    target = tmp_path / "r"
    shutil.copytree(result, target)
    data = json.loads((target / "manifest.json").read_text())
    edit(data)
    (target / "manifest.json").write_text(json.dumps(data, indent=2) + "\n")
    return target


def test_written_manifests_have_the_golden_shape(result: Path) -> None:
    """New manifests carry exactly the keys, in the order, of the golden ones (values differ): those of /1
    plus the run's object limit after ``outputs`` and its processing figures after ``duration_s``."""
    written = json.loads((result / "manifest.json").read_text())
    golden = json.loads((GOLDEN / "analyze.json").read_text())
    new = ("max_object_bytes", "processing")
    assert [k for k in written if k != "processing"] == list(
        json.loads((GOLDEN / "analyze-parts.json").read_text())
    )
    assert [k for k in written if k not in new] == list(golden)
    assert list(written)[list(written).index("outputs") + 1] == "max_object_bytes"
    assert list(written)[list(written).index("duration_s") + 1] == "processing"
    for key in ("inputs", "outputs", "queries"):
        assert list(written[key][0]) == list(golden[key][0]), key
    for key in ("window", "totals", "tag_rules"):
        assert list(written[key]) == list(golden[key]), key
    assert (
        Manifest.loads((result / "manifest.json").read_text()).dumps()
        == (result / "manifest.json").read_text()
    )


def test_verify_names_each_bad_output_once(result: Path, tmp_path: Path) -> None:
    assert resultdir.verify(result) == []

    def edit(d: dict) -> None:
        d["outputs"][0]["sha256"] = "0" * 64
        d["outputs"][1]["size"] += 1
        d["outputs"][2]["path"] = "../outside.parquet"
        d["outputs"][3]["path"] = "reports/gone.parquet"

    target = _copy_with(result, tmp_path, edit)
    problems = resultdir.verify(target)
    assert len(problems) == 4, problems
    assert "sha256" in problems[0] and "size" in problems[1]
    assert all("checksum mismatch" in p for p in problems[:2])
    assert "unsafe path" in problems[2] and "missing" in problems[3]


def test_merge_and_report_refuse_the_paths_fetch_refuses(result: Path, tmp_path: Path) -> None:
    """``./reports/x`` names a real, matching file but is not a path edgelog writes: every reader says so."""

    def dotted(d: dict) -> None:
        d["outputs"][0]["path"] = "./" + d["outputs"][0]["path"]

    target = _copy_with(result, tmp_path, dotted)
    assert any("unsafe path" in p for p in load_result(target).integrity_problems)
    with pytest.raises(IntegrityError, match="unsafe path"):
        merge([target], tmp_path / "merged")


def test_locate_finds_the_merged_result_of_a_fetch_dir(result: Path, tmp_path: Path) -> None:
    shutil.copytree(result, tmp_path / "fetch" / "merged")
    assert resultdir.locate(tmp_path / "fetch") == tmp_path / "fetch" / "merged"
    assert resultdir.locate(result) == result


def test_a_directory_another_run_is_writing_is_refused_untouched(result: Path, tmp_path: Path) -> None:
    # two runs writing one --out at once (an overlapping cron job, a command started twice) interleaved their
    # files, one failing with a traceback (FileExistsError) and the other's manifest describing a mix, or
    # each removing what the other wrote: the second is refused at once, and the first's files are left be
    out = shutil.copytree(result, tmp_path / "out")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "access.log").write_text(
        '10.0.0.1 - - [23/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8.5.0"\n'
    )
    bucket = tmp_path / "bucket"  # the result published as node rd's of job j-1
    publish_plain(open_bucket(str(bucket)), stage_execution(result, tmp_path / "stage"), "edgelog/j-1/rd/e-1")
    held = os.open(out, os.O_RDONLY | os.O_DIRECTORY)  # what a run writing ``out`` holds: a lock on it
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(UsageError, match="another edgelog run is writing it"):
            analyze([inputs], out)
        with pytest.raises(UsageError, match="another edgelog run is writing it"):
            merge([result], out)
        with pytest.raises(UsageError, match="another edgelog run is writing it"):
            fetch_job(str(bucket), "j-1", out)
        cli = CliRunner().invoke(app, ["analyze", str(inputs), "--out", str(out)])
        assert cli.exit_code == ExitCode.USAGE, cli.output
        assert "another edgelog run is writing it" in cli.output and "Traceback" not in cli.output
    finally:
        os.close(held)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert analyze([inputs], out).status == "ok"  # released when the run holding it ends
    assert fetch_job(str(bucket), "j-1", out).exit_code == ExitCode.OK
