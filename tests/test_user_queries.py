"""Results people asked for are shown: `--query` tables in analyze's output, in merge/fetch, in both reports.

Real runs only: `edgelog analyze` over the shared nginx/Apache samples, the adhoc-query job spec run on two
nodes by the local runner and fetched from the local bucket, `edgelog report` in the terminal and as HTML.
"""

from __future__ import annotations

import shutil
import subprocess
from io import StringIO
from pathlib import Path

import duckdb
import pytest
from rich.console import Console
from support.results import publish_plain, stage_execution
from support.tools import require_tool
from typer.testing import CliRunner

from edgelog import resultdir
from edgelog.analysis import analyze, merge
from edgelog.cli.main import app
from edgelog.errors import ExitCode
from edgelog.results import fetch_job, load_result
from edgelog.results.html import build_html
from edgelog.results.terminal import print_fetch, render_summary
from edgelog.storage import open_bucket

runner = CliRunner()
BY_STATUS = (
    "-- requests per status\nSELECT status, count(*) AS hits FROM requests GROUP BY status ORDER BY status;\n"
)
BROKEN = "SELECT no_such_column FROM requests"


def _node(tmp_path: Path, samples_dir: Path, node: str, sample: str) -> Path:
    d = tmp_path / "logs" / node
    d.mkdir(parents=True)
    shutil.copyfile(samples_dir / sample, d / f"access-{node}-20261122T232500Z.log")
    return d


@pytest.fixture(scope="module")
def by_status(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> list[Path]:
    """n1 (the nginx sample) and n2 (the Apache sample) analysed with the by_status query, and their merge
    (made once for the module; nothing changes them): [n1, n2, merged]."""
    root = tmp_path_factory.mktemp("by-status")
    query = root / "by_status.sql"
    query.write_text(BY_STATUS)
    outs = []
    for node, sample in (("n1", "nginx_small.log"), ("n2", "apache_small.log")):
        out = root / f"out-{node}"
        assert analyze([_node(root, samples_dir, node, sample)], out, queries=[query]).status == "ok"
        outs.append(out)
    merged = merge(outs, root / "merged")
    assert merged.status == "ok", merged.manifest.queries
    return [*outs, merged.out]


@pytest.fixture(scope="module")
def broken_n1(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """n1 analysed with a query that fails (job j-q), made once for the module; nothing changes it."""
    root = tmp_path_factory.mktemp("broken")
    broken = root / "broken.sql"
    broken.write_text(BROKEN)
    out = root / "out"
    result = analyze([_node(root, samples_dir, "n1", "nginx_small.log")], out, queries=[broken], job_id="j-q")
    assert result.exit_code == ExitCode.PARTIAL
    return out


def _rows(path: Path) -> list[tuple]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()


def _status_hits(result_dir: Path) -> dict[int, int]:
    rows = _rows(result_dir / "reports" / "status_codes.parquet")
    columns = duckdb.sql(
        f"DESCRIBE SELECT * FROM read_parquet('{result_dir / 'reports' / 'status_codes.parquet'}')"
    )
    names = [c[0] for c in columns.fetchall()]
    out: dict[int, int] = {}
    for row in rows:
        r = dict(zip(names, row, strict=True))
        out[int(r["status"])] = out.get(int(r["status"]), 0) + int(r["hits"])
    return out


def _text(data_dir: Path, width: int = 200) -> str:
    out = StringIO()
    render_summary(load_result(data_dir), Console(file=out, width=width, force_terminal=False))
    return out.getvalue()


def test_analyze_query_prints_its_first_rows(
    tmp_path: Path, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = _node(tmp_path, samples_dir, "n1", "nginx_small.log")
    (tmp_path / "by_status.sql").write_text(BY_STATUS)
    monkeypatch.chdir(tmp_path)  # the query as a user names it: by_status.sql
    result = runner.invoke(
        app, ["analyze", str(logs), "--out", str(tmp_path / "out"), "--query", "by_status.sql"]
    )
    assert result.exit_code == 0, result.output
    hits = _status_hits(tmp_path / "out")
    assert "by_status" in result.output and "hits" in result.output
    for status, n in hits.items():  # every row of this small result, as the table shows it
        assert any(str(status) in ln and f"{n:,}" in ln for ln in result.output.splitlines()), (status, n)
    # the row count, the SQL file and where every row is, on one line under the narrow table (not folded)
    where = f"{len(hits)} row(s) · by_status.sql · all rows in queries/by_status.parquet"
    assert where in result.output.splitlines()[-1], result.output


def test_merge_combines_user_query_results_with_a_node_id_column(by_status: list[Path]) -> None:
    *outs, merged_dir = by_status
    merged = resultdir.read(merged_dir)
    table = merged_dir / resultdir.query_table("by_status")
    names = [c[0] for c in duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{table}')").fetchall()]
    assert names == ["node_id", "status", "hits"]
    expected = [("n1", *r) for r in _rows(outs[0] / "queries" / "by_status.parquet")]
    expected += [("n2", *r) for r in _rows(outs[1] / "queries" / "by_status.parquet")]
    assert _rows(table) == expected  # every node's rows, in node order, each in the node's own order
    entry = next(q for q in merged.queries if q.name == "by_status")
    assert (entry.kind, entry.status) == ("user", "ok")
    assert any(o.path == "queries/by_status.parquet" and o.rows == len(expected) for o in merged.outputs)


def test_user_query_failed_on_one_node_keeps_the_others_and_names_the_node(
    tmp_path: Path, samples_dir: Path
) -> None:
    query = tmp_path / "q.sql"  # fails only where the data says so: on node n2
    query.write_text(
        "SELECT count(*) AS n, max(CASE WHEN node_id = 'n2' THEN error('no n2 here') END) AS x FROM requests"
    )
    a = analyze([_node(tmp_path, samples_dir, "n1", "nginx_small.log")], tmp_path / "a", queries=[query])
    b = analyze([_node(tmp_path, samples_dir, "n2", "apache_small.log")], tmp_path / "b", queries=[query])
    assert (a.status, b.status) == ("ok", "partial")
    merged = merge([tmp_path / "a", tmp_path / "b"], tmp_path / "m")
    entry = next(q for q in merged.manifest.queries if q.name == "q")
    assert entry.status == "failed" and "n2: " in (entry.error or "") and "no n2 here" in (entry.error or "")
    assert "n1" not in (entry.error or "")
    assert merged.status == "partial"
    assert [r[0] for r in _rows(tmp_path / "m" / "queries" / "q.parquet")] == ["n1"]  # n1's rows kept

    other = tmp_path / "other" / "q.sql"  # the same name, other SQL: never combined as if it were one query
    other.parent.mkdir()
    other.write_text("SELECT 1 AS n")
    analyze([tmp_path / "logs" / "n2"], tmp_path / "c", queries=[other])
    mixed = merge([tmp_path / "a", tmp_path / "c"], tmp_path / "m2")
    entry = next(q for q in mixed.manifest.queries if q.name == "q")
    assert entry.status == "failed" and "different SQL" in (entry.error or "")
    assert not (tmp_path / "m2" / "queries" / "q.parquet").exists()


def test_report_of_a_failed_query_names_it_and_keeps_totals_complete(broken_n1: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(broken_n1), "--html", str(tmp_path / "r.html")])
    assert res.exit_code == ExitCode.PARTIAL  # a query the user asked for is missing: still not "ok"
    flat = " ".join(res.output.split())
    assert "broken" in flat and "no_such_column" in flat
    assert "lower bound" not in flat and "complete" in flat
    page = (tmp_path / "r.html").read_text()
    assert "lower bound" not in page and "no_such_column" in page and "broken" in page


def test_terminal_report_shows_tags_time_series_and_user_queries(by_status: list[Path]) -> None:
    n1 = by_status[0]
    text = _text(n1)
    data = load_result(n1)
    assert "Tags" in text and data.rows("tags")
    for row in data.rows("tags")[:3]:
        assert str(row["tag"]) in text
    assert "Requests over time" in text
    assert any(ch in text for ch in "▁▂▃▄▅▆▇█")  # the sparkline
    assert "Query by_status" in text
    for status in _status_hits(n1):
        assert str(status) in text


def test_adhoc_query_job_is_combined_by_fetch_and_shown_by_report(tmp_path: Path, samples_dir: Path) -> None:
    """The real path: the adhoc-query spec on two nodes (local runner), fetch, then report and HTML."""
    query = tmp_path / "by_status.sql"
    query.write_text(BY_STATUS)
    n1 = _node(tmp_path, samples_dir, "node-1", "nginx_small.log")
    n2 = _node(tmp_path, samples_dir, "node-2", "apache_small.log")
    bucket = tmp_path / "bucket"
    args = ["job", "run-local", "adhoc-query", "--sql", str(query), "--bucket", str(bucket)]
    run = runner.invoke(app, [*args, "--node", f"node-1={n1}", "--node", f"node-2={n2}"])
    assert run.exit_code == 0, run.output
    (job_id,) = {p.name for p in (bucket / "edgelog").iterdir()}
    fetched = fetch_job(open_bucket(bucket), job_id, tmp_path / "fetched")
    assert fetched.exit_code == ExitCode.OK and fetched.merged_dir is not None
    table = fetched.merged_dir / resultdir.query_table("query")
    rows = _rows(table)
    assert {r[0] for r in rows} == {"node-1", "node-2"}
    per_node = {node: {int(s): int(h) for n, s, h in rows if n == node} for node in ("node-1", "node-2")}
    for node in ("node-1", "node-2"):
        own = next(fetched.merged_dir.parent.glob(f"nodes/{node}/*/outputs"))
        assert per_node[node] == _status_hits(own)

    res = runner.invoke(app, ["report", str(tmp_path / "fetched"), "--html", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert "Query query" in res.output and "node-2" in res.output
    page = build_html(load_result(fetched.merged_dir))
    assert 'id="queries"' in page and "node_id" in page and ">node-2<" in page


def test_fetch_names_the_failed_query_of_a_partial_node(broken_n1: Path, tmp_path: Path) -> None:
    bucket = open_bucket(tmp_path / "bucket")
    publish_plain(bucket, stage_execution(broken_n1, tmp_path / "stage", exit_code=3), "edgelog/j-q/n1/e-1")
    fetched = fetch_job(bucket, "j-q", tmp_path / "fetched")
    assert fetched.exit_code == ExitCode.PARTIAL and fetched.merged_dir is not None
    (node,) = fetched.nodes
    assert node.status == "partial" and node.reason and "query broken failed" in node.reason
    out_text = StringIO()
    print_fetch(fetched, Console(file=out_text, width=200))
    assert "not in it" not in out_text.getvalue()  # the node is in the merge; only its query is missing
    text = " ".join(_text(fetched.merged_dir).split())
    assert "lower bound" not in text and "query broken" in text and "complete" in text


@pytest.mark.needs_tool("chromium")
def test_queries_section_renders_in_headless_chromium(by_status: list[Path], tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    merged = by_status[2]
    page = tmp_path / "r.html"
    page.write_text(build_html(load_result(merged)))
    run = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert [ln for ln in run.stderr.splitlines() if ":CONSOLE" in ln] == []
    section = run.stdout[run.stdout.index('id="queries"') :]
    section = section[: section.index("</section>")]
    assert section.count("<tr>") == 1 + len(_rows(merged / "queries" / "by_status.parquet"))
    assert ">n1<" in section and ">n2<" in section and ">node_id<" in section
