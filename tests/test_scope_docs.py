"""README says what edgelog is for and is not, and its example of reading results from the bucket works.

The DuckDB example is run for real against a bucket of real analyses published under the access-log-report
spec's own keys (the object layout Bacalhau's S3 publisher and the local runner write); only the `gs://`
prefix and the two cloud-only statements (the httpfs extension cannot be downloaded here, the HMAC secret is
for GCS) are swapped for the local directory.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
from support.results import analyze_node, publish_plain, stage_execution
from support.tools import REPO_ROOT
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.jobs.local import new_execution_id, new_job_id
from edgelog.jobs.spec import load_spec
from edgelog.storage import open_bucket

runner = CliRunner()
README = (REPO_ROOT / "README.md").read_text()


def _section() -> str:
    start = README.index("## Scope: what edgelog is for, and what it is not")
    return README[start : README.index("\n## ", start + 1)]


def test_readme_states_what_edgelog_is_and_is_not() -> None:
    scope = _section()
    assert "batch analysis at the edge" in scope
    for outside in ("web UI", "REST search API", "Kafka", "Elasticsearch", "Kubernetes"):
        assert re.search(rf"\*\*Not [^*]*{re.escape(outside)}", scope), outside
    assert "Parquet" in scope and "BigQuery" in scope
    assert "[Scope](#scope-what-edgelog-is-for-and-what-it-is-not)" in README  # in the contents line


def test_readme_bucket_example_reads_every_nodes_results(tmp_path: Path, samples_dir: Path) -> None:
    (sql,) = re.findall(r"```sql\n(.*?)```", _section(), re.DOTALL)
    bucket = tmp_path / "bucket"
    job_id = new_job_id()
    publisher = load_spec("access-log-report", {"bucket": "b", "image": "i"}).spec.task.publisher
    for node, sample in (("node-1", "nginx_small.log"), ("node-2", "apache_small.log")):
        d = tmp_path / node
        d.mkdir()
        shutil.copyfile(samples_dir / sample, d / f"access-{node}-20261122T232500Z.log")
        ids = {"job_id": job_id, "node_id": node, "execution_id": new_execution_id()}
        outputs = analyze_node(d, tmp_path / "results" / node, **ids)
        publish_plain(open_bucket(str(bucket)), stage_execution(outputs, tmp_path / "stage" / node),
                      publisher.object_key(**ids))  # fmt: skip

    query = "\n".join(
        line for line in sql.splitlines() if not line.startswith(("INSTALL", "CREATE SECRET"))
    ).replace("gs://acme-results/edgelog/j-6f1c2a9e/", f"{bucket}/edgelog/{job_id}/")
    rows = duckdb.sql(query).fetchall()
    expected = []
    for node in ("node-1", "node-2"):
        (table,) = bucket.glob(f"edgelog/{job_id}/{node}/*/outputs/reports/time_5min.parquet")
        expected += [(node, b, h) for b, h in duckdb.sql(f"SELECT bucket, hits FROM '{table}'").fetchall()]
    assert sorted(rows) == sorted(expected) and {r[0] for r in rows} == {"node-1", "node-2"}

    # and the JSON-lines export for Kafka/Elasticsearch
    export = re.search(r'duckdb -c "(COPY .*?)"', _section(), re.DOTALL)
    assert export
    merged = tmp_path / "DIR" / "merged"
    fetch = runner.invoke(app, ["fetch", job_id, "--bucket", str(bucket), "--out", str(merged.parent)])
    assert fetch.exit_code == 0, fetch.output
    statement = export.group(1).replace("DIR/", f"{merged.parent}/").replace("'anomalies.jsonl'", "?")
    target = tmp_path / "anomalies.jsonl"
    duckdb.sql(statement.replace("?", f"'{target}'"))
    lines = target.read_text().splitlines()
    anomalies = duckdb.sql(f"SELECT count(*) FROM '{merged}/reports/anomalies.parquet'").fetchall()
    assert [(len(lines),)] == anomalies and lines
