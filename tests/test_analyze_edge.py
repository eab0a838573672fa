"""Bad and odd inputs: every line is accounted for, bad files fail alone, exit codes tell outcomes apart."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from edgelog.analysis import RunResult, analyze
from edgelog.cli.main import app
from edgelog.errors import ConfigError, ExitCode, UsageError
from edgelog.resultdir import Manifest, Window

runner = CliRunner()


def line(
    ts: str = "23/Nov/2026:08:00:00",
    path: str = "/a",
    status: int = 200,
    nbytes: str = "5",
    ip: str = "10.0.0.1",
    ua: str = "curl/8.5.0",
) -> str:
    return f'{ip} - - [{ts} +0000] "GET {path} HTTP/1.1" {status} {nbytes} "-" "{ua}"'


def sql(query: str) -> list[tuple]:
    return duckdb.sql(query).fetchall()


def inputs_by_name(manifest: Manifest) -> dict[str, dict]:
    return {i.name: asdict(i) for i in manifest.inputs}


def test_bad_lines_are_quarantined_with_line_numbers(tmp_path: Path) -> None:
    src = tmp_path / "in" / "access-n1-20261123T080500Z.log"
    src.parent.mkdir()
    garbage_1mb = "x" * (1 << 20)
    content = b"".join(
        [
            line().encode() + b"\n",  # 1 ok
            line(path="/caf\xc3\xa9").encode()[:-1] + b'\xff"\n',  # 2 invalid UTF-8
            line(path="/" + "a" * (1 << 20)).encode() + b"\n",  # 3 a 1 MB request line: parsed
            b"\n",  # 4 empty
            garbage_1mb.encode() + b"\n",  # 5 1 MB of garbage
            b"a\x00b\n",  # 6 NUL byte
            line(ts="31/Foo/2026:08:00:00").encode() + b"\n",  # 7 bad timestamp
            line(status=20).encode() + b"\n",  # 8 status not 3 digits
            line(nbytes="12x").encode() + b"\n",  # 9 bad byte count
            b'10.0.0.1 - - [23/Nov/2026:08:00:00 +0000] "GET /x HTTP/1.1" 200 5 "-" "unterminated\n',  # 10
            line(path="/last").encode() + b"\n",  # 11 ok
        ]
    )
    src.write_bytes(content)
    result = analyze([src.parent], tmp_path / "out")
    assert result.status == "ok" and result.exit_code == ExitCode.OK
    entry = inputs_by_name(result.manifest)[src.name]
    assert (entry["lines_read"], entry["lines_parsed"], entry["lines_quarantined"]) == (11, 3, 8)
    q = sql(f"SELECT line_no, reason, length(raw) FROM '{tmp_path}/out/quarantine.parquet' ORDER BY line_no")
    reasons = {n: r for n, r, _ in q}
    assert reasons[2] == "invalid UTF-8"
    assert reasons[4] == "empty line"
    assert reasons[5] == "not a combined/common access log line"
    assert reasons[6] == "contains a NUL byte"
    assert reasons[7].startswith("bad timestamp")
    assert reasons[8] == "bad status: 20"
    assert reasons[9] == "bad byte count: 12x"
    assert reasons[10] == "not a combined/common access log line"
    assert sorted(reasons) == [2, 4, 5, 6, 7, 8, 9, 10]
    assert dict((n, ln) for n, _, ln in q)[5] == 8192  # raw text is capped
    got = sql(f"SELECT length(path) FROM '{tmp_path}/out/partials/top_paths.parquet' ORDER BY 1")
    assert [g[0] for g in got] == [2, 5, (1 << 20) + 1]
    summary = sql(
        f"SELECT total_lines, valid_requests, quarantined_lines FROM '{tmp_path}/out/reports/summary.parquet'"
    )
    assert summary == [(11, 3, 8)]


def test_corrupt_gzip_fails_alone_and_all_failed_is_failure(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    good = gzip.compress((line() + "\n").encode() * 50)
    (d / "access-n1-20261123T080500Z.log.gz").write_bytes(good)
    (d / "access-n1-20261123T081000Z.log.gz").write_bytes(good[: len(good) // 2])  # truncated
    (d / "access-n1-20261123T081500Z.log.gz").write_bytes(b"\x1f\x8b" + b"not deflate data" * 10)
    (d / "access-n1-20261123T082000Z.log").write_text("")  # empty file: fine, nothing to count
    result = analyze([d], tmp_path / "out")
    assert result.status == "partial" and result.exit_code == ExitCode.PARTIAL
    by = inputs_by_name(result.manifest)
    assert by["access-n1-20261123T080500Z.log.gz"]["lines_parsed"] == 50
    for bad in ("access-n1-20261123T081000Z.log.gz", "access-n1-20261123T081500Z.log.gz"):
        assert by[bad]["status"] == "failed" and by[bad]["error"]
        assert by[bad]["sha256"] and by[bad]["size"] > 0
    assert by["access-n1-20261123T082000Z.log"]["status"] == "ok"
    assert result.manifest.totals.files_failed == 2
    assert sql(f"SELECT failed_files, valid_requests FROM '{tmp_path}/out/reports/summary.parquet'") == [
        (2, 50)
    ]
    assert sql(f"SELECT files, files_failed, status FROM '{tmp_path}/out/reports/nodes.parquet'") == [
        (4, 2, "partial")
    ]

    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.log.gz").write_bytes(b"\x1f\x8bgarbage")
    cli = runner.invoke(app, ["analyze", str(only_bad), "--out", str(tmp_path / "out3")])
    assert cli.exit_code == ExitCode.FAILED
    assert "x.log.gz" in cli.output
    assert json.loads((tmp_path / "out3" / "manifest.json").read_text())["status"] == "failed"


def test_mixed_formats_in_one_directory(tmp_path: Path) -> None:
    d = tmp_path / "in"
    (d / ".hidden").mkdir(parents=True)
    (d / "access-n1-20261123T080500Z.log").write_text(line(path="/combined") + "\n")
    (d / "access-n1-20261123T081000Z.log.gz").write_bytes(gzip.compress((line(path="/gz") + "\n").encode()))
    (d / "clf.log").write_text('10.0.0.3 - - [23/Nov/2026:08:00:00 +0000] "GET /common HTTP/1.0" 304 -\n')
    rec = {
        "ts": "2026-11-23T08:00:00.123Z",
        "remote_addr": "10.0.0.4",
        "remote_user": "-",
        "method": "POST",
        "path": "/json?x=1",
        "protocol": "HTTP/2.0",
        "status": 201,
        "bytes": 7,
        "referer": "-",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0",
        "host": "shop",
        "request_id": "r",
        "session_id": "s",
        "user_id": "",
        "response_time_ms": 12.5,
    }
    (d / "access-n1-20261123T080500Z.jsonl").write_text(json.dumps(rec) + "\n{not json\n")
    (d / "access-n1-20261123T080500Z.csv").write_text(
        "ts,remote_addr,remote_user,method,path,protocol,status,bytes,referer,user_agent,host,request_id,"
        "session_id,user_id,response_time_ms\n"
        "2026-11-23T08:00:01.000Z,10.0.0.5,-,GET,/csv,HTTP/1.1,404,0,-,"
        '"Agent, with ""quotes""",shop,r,s,,3.5\n'
    )
    (d / "crlf.log").write_bytes((line(path="/crlf1") + "\r\n" + line(path="/cr\rx") + "\n").encode())
    (d / ".access-n1-20261123T082000Z.log.tmp").write_text("partial copy, never read\n")
    (d / ".hidden" / "x.log").write_text("never read\n")
    (d / "error-n1-20261123T080500Z.log").write_text("2026/11/23 08:00:00 [error] 1#1: not an access log\n")
    (d / "trace-n1-20261123T080500Z.log").write_text("a stream edgelog does not know\n")
    result = analyze([d], tmp_path / "out")
    assert result.status == "ok", result.manifest
    by = inputs_by_name(result.manifest)
    assert by["clf.log"]["format"] == "common"
    assert by["access-n1-20261123T080500Z.jsonl"]["format"] == "json"
    assert by["access-n1-20261123T080500Z.jsonl"]["lines_quarantined"] == 1
    assert by["access-n1-20261123T080500Z.csv"]["format"] == "csv"
    assert by["access-n1-20261123T080500Z.csv"]["lines_read"] == 1  # the header is not a record
    assert by["access-n1-20261123T081000Z.log.gz"]["format"] == "combined"
    error_log = by["error-n1-20261123T080500Z.log"]  # the error-log stream, read as such (not as access)
    assert (error_log["status"], error_log["format"], error_log["lines_parsed"]) == ("ok", "error", 1)
    assert by["trace-n1-20261123T080500Z.log"]["status"] == "skipped"
    assert by["trace-n1-20261123T080500Z.log"]["error"] == "trace log stream is not analysed"
    assert not any(name.startswith(".") for name in by)
    assert "x.log" not in by
    paths = sql(f"SELECT path, hits FROM '{tmp_path}/out/reports/top_paths.parquet' ORDER BY path")
    # A bare CR inside a line is kept as the byte the client sent (the reader escapes it, the parser decodes).
    assert [p for p, _ in paths] == ["/combined", "/common", "/cr\rx", "/crlf1", "/csv", "/gz", "/json"]
    agents = sql(f"SELECT user_agent FROM '{tmp_path}/out/partials/browsers.parquet' ORDER BY 1")
    assert ('Agent, with "quotes"',) in agents
    assert sql(f"SELECT status, hits FROM '{tmp_path}/out/reports/status_codes.parquet'") == [
        (200, 4),
        (201, 1),
        (304, 1),
        (404, 1),
    ]
    forced = analyze([d / "clf.log"], tmp_path / "forced", fmt="combined")
    assert inputs_by_name(forced.manifest)["clf.log"]["format"] == "combined"
    assert forced.manifest.totals.lines_parsed == 1


def test_gzip_and_plain_give_the_same_reports(tmp_path: Path, samples_dir: Path) -> None:
    data = (samples_dir / "nginx_small.log").read_bytes()
    (tmp_path / "plain").mkdir()
    (tmp_path / "gz").mkdir()
    (tmp_path / "plain" / "access-n1-20261123T080500Z.log").write_bytes(data)
    (tmp_path / "gz" / "access-n1-20261123T080500Z.log.gz").write_bytes(gzip.compress(data))
    a = analyze([tmp_path / "plain"], tmp_path / "a")
    b = analyze([tmp_path / "gz"], tmp_path / "b")
    for p in sorted((tmp_path / "a" / "reports").glob("*.parquet")):
        assert sql(f"SELECT * FROM '{p}'") == sql(f"SELECT * FROM '{tmp_path}/b/reports/{p.name}'"), p.name
    assert a.manifest.totals == b.manifest.totals


def test_window_selects_files_by_stamp_then_records_by_time(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    # Three 5-minute files of node n1: records at minutes 0-4, 5-9 and 10-14 after 08:00.
    for k in range(3):
        stamp = f"20261123T08{5 * (k + 1):02d}00Z"
        body = "".join(
            line(ts=f"23/Nov/2026:08:{5 * k + m:02d}:30", path=f"/f{k}m{m}") + "\n" for m in range(5)
        )
        (d / f"access-n1-{stamp}.log").write_text(body)
    r = analyze([d], tmp_path / "o1", since="2026-11-23T08:06:00Z", until="2026-11-23T08:11:00Z")
    by = inputs_by_name(r.manifest)
    assert by["access-n1-20261123T080500Z.log"]["status"] == "skipped"
    assert by["access-n1-20261123T081000Z.log"]["status"] == "ok"
    assert by["access-n1-20261123T081000Z.log"]["lines_outside_window"] == 1  # 08:05:30
    assert by["access-n1-20261123T081500Z.log"]["status"] == "ok"  # starts 08:10, before --until
    assert by["access-n1-20261123T081500Z.log"]["lines_outside_window"] == 4
    paths = sql(f"SELECT path FROM '{tmp_path}/o1/reports/top_paths.parquet' ORDER BY path")
    assert paths == [("/f1m1",), ("/f1m2",), ("/f1m3",), ("/f1m4",), ("/f2m0",)]
    assert r.manifest.window == Window("2026-11-23T08:06:00.000Z", "2026-11-23T08:11:00.000Z")
    assert sql(f"SELECT total_lines, valid_requests FROM '{tmp_path}/o1/reports/summary.parquet'") == [(5, 5)]
    # Idempotent: the same window gives the same reports, byte for byte.
    r2 = analyze([d], tmp_path / "o2", since="2026-11-23T08:06:00Z", until="2026-11-23T08:11:00Z")
    digests = {o.path: o.sha256 for o in r.manifest.outputs}
    assert digests == {o.path: o.sha256 for o in r2.manifest.outputs}
    # Empty strings (from job templates) mean no bound.
    r3 = analyze([d], tmp_path / "o3", since="", until="")
    assert r3.manifest.totals.lines_parsed == 15
    assert r3.manifest.window == Window(None, None)
    with pytest.raises(UsageError, match="ISO-8601"):
        analyze([d], tmp_path / "o4", since="yesterday")
    with pytest.raises(UsageError, match="before"):
        analyze([d], tmp_path / "o4", since="2026-11-23T09:00:00Z", until="2026-11-23T08:00:00Z")


def test_user_queries_good_and_broken(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.log").write_text(line() + "\n" + line(status=404, path="/missing") + "\n")
    good = tmp_path / "per_status.sql"
    good.write_text(
        "-- hits per status\nSELECT status, count(*) AS n FROM requests GROUP BY status ORDER BY status;\n"
    )
    broken = tmp_path / "broken.sql"
    broken.write_text("SELECT no_such_column FROM requests")
    cli = runner.invoke(
        app, ["analyze", str(d), "--out", str(tmp_path / "out"), "--query", str(good), "--query", str(broken)]
    )
    assert cli.exit_code == ExitCode.PARTIAL
    assert "broken.sql" in cli.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "partial"
    entries = {q["name"]: q for q in manifest["queries"]}
    assert entries["per_status"]["status"] == "ok"
    assert entries["broken"]["status"] == "failed"
    assert str(broken) in entries["broken"]["error"] and "no_such_column" in entries["broken"]["error"]
    assert sql(f"SELECT * FROM '{tmp_path}/out/queries/per_status.parquet'") == [(200, 1), (404, 1)]
    assert (tmp_path / "out" / "reports" / "summary.parquet").is_file()
    listed = {o["path"] for o in manifest["outputs"]}
    assert "queries/per_status.parquet" in listed and "queries/broken.parquet" not in listed

    missing = runner.invoke(app, ["analyze", str(d), "--out", str(tmp_path / "c"), "--query", "nope.sql"])
    assert missing.exit_code == ExitCode.USAGE
    assert "nope.sql" in missing.output and "Traceback" not in missing.output


def test_bad_tag_rules_name_file_field_and_fix(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.log").write_text(line() + "\n")
    rules = tmp_path / "tags.yaml"
    rules.write_text("tags:\n  - name: api\n    path: '^/api/('\n")
    with pytest.raises(ConfigError) as exc:
        analyze([d], tmp_path / "out", tags=rules)
    assert exc.value.field == "tags[0].path" and exc.value.hint
    rules.write_text("tags:\n  - name: Bad Name\n    path: x\n")
    cli = runner.invoke(app, ["analyze", str(d), "--out", str(tmp_path / "o"), "--tags", str(rules)])
    assert cli.exit_code == ExitCode.USAGE
    assert "tags[0].name" in cli.output and "fix:" in cli.output
    rules.write_text("tags:\n  - name: mine\n    path: '^/a$'\n    methods: [GET]\n")
    ok = analyze([d], tmp_path / "o2", tags=rules)
    assert sql(f"SELECT tag, hits FROM '{tmp_path}/o2/reports/tags.parquet'") == [("mine", 1)]
    assert ok.manifest.tag_rules and ok.manifest.tag_rules.sha256


def test_ids_from_arguments_environment_and_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "access-edge-7-20261123T080500Z.log").write_text(line() + "\n")
    r = analyze([d], tmp_path / "o1")
    assert (r.manifest.node_id, r.manifest.job_id, r.manifest.execution_id) == ("edge-7", None, None)
    monkeypatch.setenv("BACALHAU_JOB_ID", "j-123")
    monkeypatch.setenv("BACALHAU_EXECUTION_ID", "e-456")
    monkeypatch.setenv("EDGELOG_NODE_ID", "n-env")  # not something Bacalhau sets: the file names decide
    r = analyze([d], tmp_path / "o2")
    assert (r.manifest.node_id, r.manifest.job_id, r.manifest.execution_id) == (
        "edge-7",
        "j-123",
        "e-456",
    )
    assert sql(f"SELECT node_id FROM '{tmp_path}/o2/reports/nodes.parquet'") == [("edge-7",)]
    cli = runner.invoke(
        app, ["analyze", str(d), "--out", str(tmp_path / "o3"), "--node-id", "n-arg", "--job-id", "j-arg"]
    )
    assert cli.exit_code == 0, cli.output
    m = json.loads((tmp_path / "o3" / "manifest.json").read_text())
    assert (m["node_id"], m["job_id"], m["execution_id"]) == ("n-arg", "j-arg", "e-456")


def test_usage_errors(tmp_path: Path) -> None:
    assert (
        runner.invoke(app, ["analyze", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]).exit_code == 2
    )
    (tmp_path / "a.log").write_text(line() + "\n")
    bad_fmt = runner.invoke(
        app, ["analyze", str(tmp_path / "a.log"), "--out", str(tmp_path / "o"), "--format", "xml"]
    )
    assert bad_fmt.exit_code == ExitCode.USAGE and "xml" in bad_fmt.output
    bad_since = runner.invoke(
        app, ["analyze", str(tmp_path / "a.log"), "--out", str(tmp_path / "o"), "--since", "soon"]
    )
    assert bad_since.exit_code == ExitCode.USAGE and "Traceback" not in bad_since.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = analyze([empty], tmp_path / "o5")
    assert r.status == "ok" and r.manifest.totals.files == 0
    assert sql(
        f"SELECT total_lines, valid_requests, unique_visitors FROM '{tmp_path}/o5/reports/summary.parquet'"
    ) == [(0, 0, 0)]


def test_output_directory_inside_the_input_is_never_read(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.log").write_text(line() + "\n")
    first = analyze([d], d / "out")
    second = analyze([d], d / "out")  # re-run into the same directory: only its own paths are replaced
    assert first.manifest.totals == second.manifest.totals
    assert [i.name for i in second.manifest.inputs] == ["a.log"]
    assert second.status == "ok"


def test_on_disk_work_database_gives_the_same_reports(
    tmp_path: Path, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large inputs are parsed into a temp database file instead of memory; the results must not change."""
    inputs = [samples_dir / "nginx_small.log", samples_dir / "apache_small.log"]
    in_memory = analyze(inputs, tmp_path / "mem")
    monkeypatch.setenv("EDGELOG_DISK_THRESHOLD", "0")
    on_disk = analyze(inputs, tmp_path / "disk")
    assert in_memory.manifest.totals == on_disk.manifest.totals
    for p in sorted((tmp_path / "mem" / "reports").glob("*.parquet")):
        assert sql(f"SELECT * FROM '{p}'") == sql(f"SELECT * FROM '{tmp_path}/disk/reports/{p.name}'"), p.name


def test_out_that_cannot_be_a_directory_is_a_clear_usage_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "access-n1-20261123T080500Z.log").write_text(line() + "\n")
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "out"):
        res = runner.invoke(app, ["analyze", str(tmp_path / "in"), "--out", str(out)])
        assert res.exit_code == ExitCode.USAGE, res.output
        assert f"cannot write results to {out}" in res.output
        assert not isinstance(res.exception, OSError)
    assert (tmp_path / "file").read_text() == "x"


def test_unwritable_out_directory_names_owner_and_user_instead_of_a_traceback(tmp_path: Path) -> None:
    """What a Bacalhau node whose bacalhau uid differs from the image's user sees on /outputs."""
    edgelog = Path(sys.executable).parent / "edgelog"
    work = Path(tempfile.mkdtemp(prefix="edgelog-unwritable-"))  # not under pytest's 0700 tmp root
    try:
        work.chmod(0o755)
        (work / "in").mkdir(mode=0o755)
        (work / "in" / "access-n1-20261123T080500Z.log").write_text(line() + "\n")
        out = work / "outputs"
        out.mkdir(mode=0o755)
        as_user: list[str] = []
        if os.geteuid() == 0:  # root writes anywhere: run as nobody, as a container user would be
            as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            probe = subprocess.run([*as_user, str(edgelog), "--version"], capture_output=True, check=False)
            if probe.returncode != 0:
                pytest.skip(f"nobody cannot run {edgelog} here: {probe.stderr[-300:]!r}")
        else:
            out.chmod(0o555)
        res = subprocess.run(
            [*as_user, str(edgelog), "analyze", str(work / "in"), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        uid = 65534 if as_user else os.geteuid()
        assert res.returncode == ExitCode.USAGE, res.stderr
        assert "Traceback" not in res.stderr, res.stderr
        assert f"error: cannot write results to {out}: Permission denied" in res.stderr, res.stderr
        assert f"owned by uid {out.stat().st_uid}, mode 0{oct(out.stat().st_mode & 0o777)[2:]}" in res.stderr
        assert f"edgelog runs as uid {uid}" in res.stderr, res.stderr
        assert list(out.iterdir()) == []
    finally:
        (work / "outputs").chmod(0o755)
        shutil.rmtree(work)


BAD_ENVIRONMENT = [
    ("EDGELOG_THREADS", "abc"),
    ("EDGELOG_THREADS", "-1"),
    ("EDGELOG_THREADS", "0"),
    ("EDGELOG_THREADS", "1e9"),
    ("EDGELOG_THREADS", "2.5"),
    ("EDGELOG_MEMORY_LIMIT", "nan"),
    ("EDGELOG_MEMORY_LIMIT", "-5GB"),
    ("EDGELOG_MEMORY_LIMIT", "1KB"),
    ("EDGELOG_MEMORY_LIMIT", "lots"),
    ("EDGELOG_DISK_THRESHOLD", "nan"),
    ("EDGELOG_DISK_THRESHOLD", "-1"),
    ("EDGELOG_DISK_THRESHOLD", "1" + "0" * 30),
]


@pytest.mark.parametrize(
    ("name", "value"), BAD_ENVIRONMENT, ids=[f"{n}={v}"[:40] for n, v in BAD_ENVIRONMENT]
)
def test_nonsense_workspace_settings_are_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """Memory, threads and the on-disk threshold are numbers like any option: finite, positive, bounded,
    exit 2 naming the variable (they used to give a traceback, or be passed to DuckDB as they were)."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text(line() + "\n")
    monkeypatch.setenv(name, value)
    res = runner.invoke(app, ["analyze", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert res.exit_code == ExitCode.USAGE, (res.exit_code, res.output)
    assert name in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_sensible_workspace_settings_are_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text(line() + "\n")
    for name, value in (
        ("EDGELOG_THREADS", "2"),
        ("EDGELOG_MEMORY_LIMIT", "512MiB"),
        ("EDGELOG_DISK_THRESHOLD", "0"),
    ):
        monkeypatch.setenv(name, value)
    assert analyze([tmp_path / "in"], tmp_path / "out").exit_code == ExitCode.OK


CSV_HEADER = (
    "ts,remote_addr,remote_user,method,path,protocol,status,bytes,referer,user_agent,host,request_id,"
    "session_id,user_id,response_time_ms\n"
)


def good_then_bad(d: Path, node: str, json_lines: tuple[str, str], csv_rows: tuple[str, str]) -> None:
    """One JSON and one CSV access log of ``node``, each a good line then a bad one."""
    d.mkdir(exist_ok=True)
    (d / f"access-{node}-20261123T080500Z.jsonl").write_text("\n".join(json_lines) + "\n")
    (d / f"access-{node}-20261123T080500Z.csv").write_text(CSV_HEADER + "\n".join(csv_rows) + "\n")


BAD_TS = ["-infinity", "infinity", "Infinity"]
BAD_DURATIONS = ['"NaN"', '"Infinity"', '"-inf"', "-5", '"fast"']
BAD_STATUS_OR_BYTES = [
    ("-1", "5", "missing or bad status"),
    ("1000", "5", "missing or bad status"),
    ("200", "-5", "bad bytes"),
    ("200", "lots", "bad bytes"),
]


def case_node(kind: str, index: int) -> str:
    """The node (and path prefix) of one case of the bad-value tests: letters only, so no path rule folds two
    cases' paths into one."""
    return kind + "abcdefghij"[index]


def _bad_ts(d: Path, node: str, ts: str) -> None:
    good = {"ts": "2026-11-23T08:00:00Z", "remote_addr": "10.0.0.4", "method": "GET", "path": f"/{node}/a",
            "protocol": "HTTP/1.1", "status": 200, "bytes": 7}  # fmt: skip
    row = f"10.0.0.5,-,GET,/{node}/csv,HTTP/1.1,404,0,-,curl,shop,r,s,,3.5"
    good_then_bad(
        d,
        node,
        (json.dumps(good), json.dumps({**good, "ts": ts})),
        (f"2026-11-23T08:00:01.000Z,{row}", f"{ts},{row}"),
    )


def _bad_duration(d: Path, node: str, value: str) -> None:
    good = (
        f'{{"ts":"2026-11-23T08:00:00Z","remote_addr":"10.0.0.1","method":"GET","path":"/{node}/a",'
        '"protocol":"HTTP/1.1","status":200,"bytes":1,"response_time_ms":'
    )
    row = f"2026-11-23T08:00:01.000Z,10.0.0.5,-,GET,/{node}/csv,HTTP/1.1,404,0,-,curl,shop,r,s,,"
    csv_value = json.loads(value) if value.startswith('"') else value
    good_then_bad(d, node, (f"{good}12.5}}", f"{good}{value}}}"), (f"{row}3.5", f"{row}{csv_value}"))


def _bad_status_or_bytes(d: Path, node: str, status: str, nbytes: str) -> None:
    rec = {"ts": "2026-11-23T08:00:00Z", "remote_addr": "10.0.0.1", "method": "GET", "path": f"/{node}/a",
           "protocol": "HTTP/1.1", "status": 200, "bytes": 5}  # fmt: skip
    bad = {**rec, "status": int(status), "bytes": int(nbytes) if nbytes.lstrip("-").isdigit() else nbytes}
    row = f"2026-11-23T08:00:01.000Z,10.0.0.5,-,GET,/{node}/csv,HTTP/1.1,{{}},{{}},-,curl,shop,r,s,,3.5"
    good_then_bad(
        d, node, (json.dumps(rec), json.dumps(bad)), (row.format(200, 5), row.format(status, nbytes))
    )


@pytest.fixture(scope="module")
def bad_values(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run over every case of the three bad-value tests below (one analyze instead of twelve): each case
    is a node of its own (a JSON and a CSV file, each a good line then the bad one) with paths of its own
    (``/<node>/...``), so each test reads its own case's files, quarantined lines and report rows."""
    d = tmp_path_factory.mktemp("bad-values") / "in"
    for i, ts in enumerate(BAD_TS):
        _bad_ts(d, case_node("ts", i), ts)
    for i, value in enumerate(BAD_DURATIONS):
        _bad_duration(d, case_node("rt", i), value)
    for i, (status, nbytes, _reason) in enumerate(BAD_STATUS_OR_BYTES):
        _bad_status_or_bytes(d, case_node("sb", i), status, nbytes)
    return analyze([d], d.parent / "out")


def case_inputs(result: RunResult, node: str) -> list[tuple[int | None, int | None]]:
    """(lines parsed, lines quarantined) of each of the case's two files."""
    return [(i.lines_parsed, i.lines_quarantined) for i in result.manifest.inputs if i.node_id == node]


def case_reasons(result: RunResult, node: str) -> list[tuple]:
    return sql(f"SELECT reason FROM '{result.out}/quarantine.parquet' WHERE node_id = '{node}' ORDER BY ALL")


@pytest.mark.parametrize("index", range(len(BAD_TS)), ids=BAD_TS)
def test_a_timestamp_that_is_no_point_in_time_is_quarantined(bad_values: RunResult, index: int) -> None:
    """DuckDB casts 'infinity' and '-infinity' to timestamps; in a log they are bad data, not requests (a
    '-infinity' request fell inside every window without --since and became the report's first request)."""
    node = case_node("ts", index)
    assert case_inputs(bad_values, node) == [(1, 1), (1, 1)]
    assert case_reasons(bad_values, node) == [("missing or bad ts",)] * 2
    first, last = sql(f"SELECT first_ts, last_ts FROM '{bad_values.out}/reports/summary.parquet'")[0]
    assert first.year == last.year == 2026


@pytest.mark.parametrize("index", range(len(BAD_DURATIONS)), ids=BAD_DURATIONS)
def test_a_response_time_that_is_no_duration_is_a_bad_line_not_failed_reports(
    bad_values: RunResult, index: int
) -> None:
    """One JSON/CSV line with a response time of NaN made the latency and anomaly reports fail (a DOUBLE NaN
    cannot become the microseconds they count) and the whole run partial; such a line is quarantined, as
    a bad byte count is."""
    node = case_node("rt", index)
    assert bad_values.status == "ok", [q.error for q in bad_values.manifest.queries if q.error]
    assert case_inputs(bad_values, node) == [(1, 1), (1, 1)]
    assert case_reasons(bad_values, node) == [("bad response_time_ms",)] * 2
    latency = f"'{bad_values.out}/reports/latency_paths.parquet'"
    assert sql(f"SELECT path, requests FROM {latency} WHERE starts_with(path, '/{node}/') ORDER BY path") == [
        (f"/{node}/a", 1),
        (f"/{node}/csv", 1),
    ]


@pytest.mark.parametrize(
    ("index", "reason"),
    [(i, reason) for i, (_s, _b, reason) in enumerate(BAD_STATUS_OR_BYTES)],
    ids=[f"{s}-{b}" for s, b, _r in BAD_STATUS_OR_BYTES],
)
def test_a_status_or_byte_count_no_server_writes_is_a_bad_line(
    bad_values: RunResult, index: int, reason: str
) -> None:
    """The combined parser takes a 3-digit status and a byte count of digits (or '-'); JSON and CSV took any
    integer, and CSV turned a byte count that was no number into 0 without a word. The same rule now holds
    for every format: such a line is quarantined, never counted as something it did not say."""
    node = case_node("sb", index)
    assert case_inputs(bad_values, node) == [(1, 1), (1, 1)]
    assert case_reasons(bad_values, node) == [(reason,)] * 2
    top_paths = f"'{bad_values.out}/partials/top_paths.parquet'"
    assert sql(f"SELECT sum(bytes) FROM {top_paths} WHERE starts_with(path, '/{node}/')") == [(10,)]
