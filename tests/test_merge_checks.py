"""The merge refuses double counting, and a manifest's numbers must agree with the tables they describe.

A results directory's checksums only prove the files are the ones its manifest lists; the manifest itself is
just JSON that anyone with the directory can edit. So ``merge`` (and everything that reads a results
directory through it: fetch, report) also checks that the manifest's totals add up from its inputs, that
``partials/files.parquet`` holds exactly the manifest's per-file counts, that ``quarantine.parquet`` has one
row per quarantined line, that the summary report agrees, and that every listed row count is the Parquet's.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from support.results import forge_result
from typer.testing import CliRunner

from edgelog import resultdir
from edgelog.analysis import analyze, merge
from edgelog.analysis.merger import merged_problems, totals_problems
from edgelog.cli.main import app
from edgelog.errors import ExitCode, IntegrityError, UsageError

runner = CliRunner()
LINE = '10.0.{n}.{i} - - [23/Nov/2026:08:00:0{s} +0000] "GET /p{i} HTTP/1.1" {status} 5 "-" "curl/8.5.0"'


def node_logs(root: Path, node: str, n: int, *, garbage: int = 1) -> Path:
    d = root / f"in-{node}"
    d.mkdir(parents=True)
    lines = [LINE.format(n=n, i=i, s=i % 10, status=200 if i % 3 else 404) for i in range(20)]
    lines += ["not an access log line"] * garbage
    (d / f"access-{node}-20261123T080500Z.log").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("nodes")
    out = {}
    for k, node in enumerate(("n1", "n2")):
        out[node] = analyze([node_logs(root, node, k)], root / f"out-{node}", node_id=node).out
    return out


@pytest.fixture(scope="module")
def third(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A third node's result, outside ``results`` (whose merges count two nodes): made once for the module."""
    root = tmp_path_factory.mktemp("third")
    return analyze([node_logs(root, "n3", 3)], root / "out-n3", node_id="n3").out


@pytest.fixture(scope="module")
def both(results: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The merge of n1 and n2, made once for the module (tests that write over it work on a copy)."""
    return merge([results["n1"], results["n2"]], tmp_path_factory.mktemp("both") / "m").out


@pytest.fixture(scope="module")
def n1_alone(results: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The merge of n1 alone, made once for the module."""
    return merge([results["n1"]], tmp_path_factory.mktemp("n1-alone") / "m").out


def copy_result(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def test_a_merge_of_one_result_writes_each_of_its_tables_byte_for_byte(
    results: dict[str, Path], n1_alone: Path, tmp_path: Path
) -> None:
    # merging one result changes nothing a reader of its Parquet sees, schema included: the quarantine (one
    # line here, none in the second) is written with every column nullable, as analyze writes it, not with
    # the columns a merge's table happens to hold NULL-free marked REQUIRED
    clean = analyze([node_logs(tmp_path, "n9", 9, garbage=0)], tmp_path / "clean", node_id="n9").out
    for one, merged in ((results["n1"], n1_alone), (clean, merge([clean], tmp_path / "m").out)):
        tables = sorted(str(p.relative_to(one)) for p in one.rglob("*.parquet"))
        assert tables == sorted(str(p.relative_to(merged)) for p in merged.rglob("*.parquet"))
        assert resultdir.QUARANTINE in tables
        for rel in tables:
            assert (merged / rel).read_bytes() == (one / rel).read_bytes(), rel


def test_merging_the_same_result_twice_is_refused(results: dict[str, Path], tmp_path: Path) -> None:
    a = results["n1"]
    cli = runner.invoke(app, ["merge", str(a), str(a), "--out", str(tmp_path / "m")])
    assert cli.exit_code == ExitCode.USAGE, cli.output
    assert "twice" in cli.output and str(a) in cli.output
    assert not (tmp_path / "m" / "manifest.json").exists()


def test_a_copy_of_the_same_run_is_refused(results: dict[str, Path], tmp_path: Path) -> None:
    a = results["n1"]
    copy = copy_result(a, tmp_path / "copy-of-n1")
    with pytest.raises(UsageError, match="same run") as err:
        merge([a, results["n2"], copy], tmp_path / "m")
    assert str(copy) in str(err.value) and err.value.exit_code == ExitCode.USAGE


def test_two_results_sharing_an_input_file_are_refused(results: dict[str, Path], tmp_path: Path) -> None:
    # The same log analysed again as another node: every line would count twice.
    again = analyze([results["n1"].parent / "in-n1"], tmp_path / "again", node_id="n9").out
    cli = runner.invoke(app, ["merge", str(results["n1"]), str(again), "--out", str(tmp_path / "m")])
    assert cli.exit_code == ExitCode.USAGE, cli.output
    assert "access-n1-20261123T080500Z.log" in cli.output and "sha256" in cli.output


def test_a_merge_and_one_of_its_parts_are_refused(
    results: dict[str, Path], both: Path, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match=r"access-n2-20261123T080500Z\.log"):
        merge([both, results["n2"]], tmp_path / "m")


def test_the_same_rotated_file_read_twice_at_different_sizes_is_refused(
    results: dict[str, Path], tmp_path: Path
) -> None:
    # A node's rotated file analysed while it was still being copied, and again once complete: the sha256s
    # differ, but the first run's lines are all in the second, so the merge would count them twice. The
    # early run is the module's n1 (its file is compared by node and name, wherever it was read from).
    early = results["n1"]
    d = shutil.copytree(early.parent / "in-n1", tmp_path / "in-n1")
    log = d / "access-n1-20261123T080500Z.log"
    log.write_text(log.read_text() + LINE.format(n=0, i=99, s=9, status=200) + "\n")
    late = analyze([d], tmp_path / "late", node_id="n1").out
    cli = runner.invoke(app, ["merge", str(early), str(late), "--out", str(tmp_path / "m")])
    assert cli.exit_code == ExitCode.USAGE, cli.output
    assert "access-n1-20261123T080500Z.log" in cli.output and "node n1" in cli.output
    assert not (tmp_path / "m" / "manifest.json").exists()


def test_a_node_analysed_in_two_runs_over_different_files_merges(
    results: dict[str, Path], tmp_path: Path
) -> None:
    d2 = tmp_path / "second"  # the first run is the module's n1 (21 lines of its file of 08:05)
    d2.mkdir()
    (d2 / "access-n1-20261123T081000Z.log").write_text(LINE.format(n=0, i=7, s=1, status=200) + "\n")
    runs = [results["n1"], analyze([d2], tmp_path / "out-1", node_id="n1").out]
    assert merge(runs, tmp_path / "m").manifest.totals.lines_read == 22


def test_empty_files_on_two_nodes_are_not_duplicates(tmp_path: Path) -> None:
    outs = []
    for k, node in enumerate(("e1", "e2")):
        d = node_logs(tmp_path, node, k)
        (d / f"access-{node}-20261123T081000Z.log").write_bytes(b"")  # an idle node rotates empty files
        outs.append(analyze([d], tmp_path / f"out-{node}", node_id=node).out)
    assert merge(outs, tmp_path / "m").exit_code == ExitCode.OK


FORGERIES: list[tuple[str, Callable[[dict], None], dict[str, str] | None, str]] = [
    (
        "totals edited",
        lambda m: m["totals"].update(lines_read=m["totals"]["lines_read"] + 1000),
        None,
        "totals",
    ),
    (
        "inputs and totals edited together",
        lambda m: (
            m["inputs"][0].update(lines_parsed=m["inputs"][0]["lines_parsed"] + 5),
            m["totals"].update(lines_parsed=m["totals"]["lines_parsed"] + 5),
        ),
        None,
        "files.parquet",
    ),
    (
        "quarantine rows dropped",
        lambda m: None,
        {"quarantine.parquet": "SELECT * FROM {t} LIMIT 0"},
        "quarantine",
    ),
    (
        "summary doctored",
        lambda m: None,
        {"reports/summary.parquet": "SELECT * REPLACE (total_lines * 2 AS total_lines) FROM {t}"},
        "summary",
    ),
    (
        "files partial doctored",
        lambda m: None,
        {"partials/files.parquet": "SELECT * REPLACE (lines_read + 1 AS lines_read) FROM {t}"},
        "files.parquet",
    ),
    (
        "row count edited",
        lambda m: next(o for o in m["outputs"] if o["path"] == "reports/status_codes.parquet").update(
            rows=99
        ),
        None,
        "rows",
    ),
]


@pytest.mark.parametrize(("label", "edit", "rewrite", "named"), FORGERIES, ids=[f[0] for f in FORGERIES])
def test_manifest_numbers_must_match_the_tables(
    results: dict[str, Path],
    tmp_path: Path,
    label: str,
    edit: Callable[[dict], None],
    rewrite: dict[str, str] | None,
    named: str,
) -> None:
    forged = copy_result(results["n1"], tmp_path / "forged")
    forge_result(forged, edit, rewrite=rewrite)
    problems = totals_problems(forged, resultdir.read(forged))
    assert problems and any(named in p for p in problems), problems
    with pytest.raises(IntegrityError, match=named):
        merge([forged, results["n2"]], tmp_path / "m")
    cli = runner.invoke(app, ["merge", str(forged), "--out", str(tmp_path / "m2")])
    assert cli.exit_code == ExitCode.INTEGRITY and named in cli.output
    report = runner.invoke(app, ["report", str(forged), "--quiet"])
    assert report.exit_code == ExitCode.INTEGRITY and named in report.output


def test_genuine_results_add_up(results: dict[str, Path], both: Path) -> None:
    for d in results.values():
        assert totals_problems(d, resultdir.read(d)) == []
    merged = both
    assert totals_problems(merged, resultdir.read(merged)) == []
    parts = [(d, resultdir.read(d)) for d in results.values()]
    assert merged_problems(resultdir.read(merged), parts) == []
    # told it was made from n1 alone, the same merge names a result it was not given and adds up too much
    named, summed = merged_problems(resultdir.read(merged), parts[:1])
    assert "1 result(s) it was not given" in named
    assert "not the sum of its parts' totals" in summed and "lines_read 42 != 21" in summed


def _unreadable_status_codes(d: Path) -> None:
    (d / "reports/status_codes.parquet").write_bytes(b"PAR1 not a Parquet file PAR1")
    forge_result(d, lambda m: None)


def _status_code_rows_edited(d: Path) -> None:
    status_codes = lambda m: next(o for o in m["outputs"] if o["path"] == "reports/status_codes.parquet")  # noqa: E731
    forge_result(d, lambda m: status_codes(m).update(rows=99))


@pytest.mark.parametrize("spoil", [_unreadable_status_codes, _status_code_rows_edited])
def test_one_bad_result_among_several_is_named_as_it_would_be_alone(
    results: dict[str, Path], third: Path, tmp_path: Path, spoil: Callable[[Path], None]
) -> None:
    # merge checks the tables of all its results together (one query per check); the bad one must still be
    # the one named, with what checking it alone finds, whether its table is unreadable or its numbers forged
    n3 = third
    bad = copy_result(results["n2"], tmp_path / "bad-n2")
    spoil(bad)
    alone = totals_problems(bad, resultdir.read(bad))
    assert alone, "the spoiled result passes its own check"
    for good in (results["n1"], n3):
        assert totals_problems(good, resultdir.read(good)) == []
    with pytest.raises(IntegrityError) as err:
        merge([results["n1"], bad, n3], tmp_path / "m")
    assert str(err.value).startswith(f"{bad}: {alone[0]}"), (str(err.value), alone)
    assert not (tmp_path / "m" / "manifest.json").exists()


def _without_bytes_in_status_codes(d: Path, sql_sha256: str | None) -> None:
    def edit(m: dict) -> None:
        if sql_sha256:
            next(q for q in m["queries"] if q["name"] == "status_codes")["sha256"] = sql_sha256

    forge_result(d, edit, rewrite={"partials/status_codes.parquet": "SELECT * EXCLUDE (bytes) FROM {t}"})


def test_a_partial_of_other_sql_lacking_a_column_merges_with_that_column_null(
    results: dict[str, Path], tmp_path: Path
) -> None:
    # a result of another version, whose status_codes SQL had no bytes column: its partial is read by name
    older = copy_result(results["n2"], tmp_path / "older-n2")
    _without_bytes_in_status_codes(older, "0" * 64)
    run = merge([results["n1"], older], tmp_path / "m")
    assert run.exit_code == ExitCode.OK
    status = next(q for q in run.manifest.queries if q.name == "status_codes")
    assert status.status == "ok", status.error
    total = "SELECT sum(hits), sum(bytes) FROM read_parquet(?)"
    con = duckdb.connect()  # not the module's shared connection, whose open results later tests would meet
    n1, n2 = (
        con.execute(total, [f"{d}/reports/status_codes.parquet"]).fetchall()[0] for d in results.values()
    )
    merged = con.execute(total, [str(run.out / "reports/status_codes.parquet")]).fetchall()[0]
    con.close()
    # the older result's bytes are unknown (NULL), the other's are summed
    assert merged == (n1[0] + n2[0], n1[1])


def test_a_partial_lacking_a_column_its_own_sql_gives_fails_its_report(
    results: dict[str, Path], tmp_path: Path
) -> None:
    # the manifest names the SQL that wrote the partial: a column that SQL gives is never guessed as NULL
    doctored = copy_result(results["n2"], tmp_path / "doctored-n2")
    _without_bytes_in_status_codes(doctored, None)
    run = merge([results["n1"], doctored], tmp_path / "m")
    assert run.exit_code == ExitCode.PARTIAL
    failed = {q.name: q.error or "" for q in run.manifest.queries if q.status == "failed"}
    assert "status_codes.sql (partial)" in failed.get("status_codes", ""), failed
    assert not (run.out / "reports/status_codes.parquet").exists()


def test_an_empty_partial_is_not_read_so_its_columns_are_not_held_against_it(
    results: dict[str, Path], n1_alone: Path, tmp_path: Path
) -> None:
    # a partial its manifest lists with 0 rows (checked against its footer) adds nothing to a merge, so the
    # merge does not open it (a thousand nodes' empty partials cost ~0.1 ms each to open): even one lacking
    # a column its own SQL gives cannot make a number up, and its report merges from the other results
    empty = copy_result(results["n2"], tmp_path / "empty-n2")

    def zero_rows(m: dict) -> None:
        next(o for o in m["outputs"] if o["path"] == "partials/status_codes.parquet")["rows"] = 0

    lacking = "SELECT * EXCLUDE (bytes) FROM {t} LIMIT 0"
    forge_result(empty, zero_rows, rewrite={"partials/status_codes.parquet": lacking})
    run = merge([results["n1"], empty], tmp_path / "m")
    assert run.exit_code == ExitCode.OK, [q.error for q in run.manifest.queries if q.error]
    for rel in ("partials/status_codes.parquet", "reports/status_codes.parquet"):
        assert (run.out / rel).read_bytes() == (n1_alone / rel).read_bytes(), rel


def test_a_merge_refused_for_a_bad_result_leaves_the_previous_merge_in_out(
    results: dict[str, Path], both: Path, tmp_path: Path
) -> None:
    # verification runs alongside the report merges: nothing may be written before it has passed
    out = copy_result(both, tmp_path / "m")  # the previous merge
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = copy_result(results["n2"], tmp_path / "bad-n2")
    _status_code_rows_edited(bad)
    with pytest.raises(IntegrityError, match="rows"):
        merge([results["n1"], bad], out)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert resultdir.verify(out) == []
