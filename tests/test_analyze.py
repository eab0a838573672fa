"""edgelog analyze on the real nginx/Apache samples, checked against an independent reference parser."""

from __future__ import annotations

import collections
import hashlib
import json
import re
from pathlib import Path

import duckdb
import pytest

from edgelog.analysis import analyze
from edgelog.errors import ExitCode

HEAD = re.compile(r'^(\S+) (\S+) (.*?) \[([^\]]+)\] "')


def read_quoted(line: str, pos: int) -> tuple[str, int]:
    """Scan a quoted field starting after its opening quote; a backslash always escapes the next character."""
    i = pos
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return line[pos:i], i + 1
        i += 1
    raise ValueError("unterminated quote")


def unescape(text: str) -> str:
    """Decode nginx (\\xHH) and Apache (\\" \\\\ \\t \\xhh) escapes into the bytes the client sent."""
    out = bytearray()
    i = 0
    simple = {'"': 0x22, "\\": 0x5C, "t": 0x09, "n": 0x0A, "r": 0x0D, "v": 0x0B, "b": 0x08}
    while i < len(text):
        c = text[i]
        if c == "\\" and text[i + 1] == "x":
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        elif c == "\\":
            out.append(simple[text[i + 1]])
            i += 2
        else:
            out += c.encode()
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02X}" for b in out)


def reference_parse(line: str) -> dict[str, object]:
    m = HEAD.match(line)
    assert m, line
    request, pos = read_quoted(line, m.end())
    status_s, bytes_s = line[pos:].split(" ")[1:3]
    pos = line.index('"', pos) + 1
    referer, pos = read_quoted(line, pos)
    assert line[pos : pos + 2] == ' "'
    ua, pos = read_quoted(line, pos + 2)
    assert pos == len(line)
    req = unescape(request)
    rm = re.match(r"^([A-Za-z]+) (.+?)(?: (HTTP/[0-9.]+))?$", req)
    return {
        "ip": m[1],
        "user": None if m[3] == "-" else unescape(m[3]),
        "request": req,
        "method": rm[1] if rm else None,
        "path": rm[2] if rm else None,
        "protocol": rm[3] if rm else None,
        "status": int(status_s),
        "bytes": 0 if bytes_s == "-" else int(bytes_s),
        "referer": None if unescape(referer) in ("-", "") else unescape(referer),
        "ua": unescape(ua),
    }


def load_reference(path: Path) -> list[dict[str, object]]:
    return [reference_parse(line) for line in path.read_text(encoding="ascii").splitlines()]


def rows(con_or_path: Path, sql: str) -> list[tuple]:
    return duckdb.sql(sql.replace("$", str(con_or_path))).fetchall()


@pytest.fixture(scope="module")
def sample_run(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("samples")
    dump = root / "requests_dump.sql"
    dump.write_text(
        "-- every parsed request with the columns the tests compare\n"
        "SELECT file, line_no, ip, remote_user, request, method, path, url_path, protocol, status, bytes,\n"
        "       referer, user_agent, ts FROM requests;\n"
    )
    out = root / "out"
    result = analyze([samples_dir / "nginx_small.log", samples_dir / "apache_small.log"], out, queries=[dump])
    assert result.status == "ok", result.manifest
    assert result.exit_code == ExitCode.OK
    return out


def test_layout_and_manifest_checksums(sample_run: Path) -> None:
    manifest = json.loads((sample_run / "manifest.json").read_text())
    assert manifest["schema"] == "edgelog.manifest/1"
    assert manifest["kind"] == "analyze"
    listed = {o["path"]: o for o in manifest["outputs"]}
    on_disk = {p.relative_to(sample_run).as_posix() for p in sample_run.rglob("*") if p.is_file()}
    assert on_disk - {"manifest.json"} == set(listed)
    for rel, entry in listed.items():
        data = (sample_run / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["size"] == len(data)
        if rel.startswith("data-range/"):  # the one JSON output: the data's time range, in its name
            first = min(i["first_ts"] for i in manifest["inputs"])
            last = max(i["last_ts"] for i in manifest["inputs"])
            assert json.loads(data) == {"first_ts": first, "last_ts": last}
            compact = [t.replace("-", "").replace(":", "") for t in (first, last)]
            assert rel == f"data-range/{compact[0]}_{compact[1]}.json"
            continue
        assert data[:4] == b"PAR1"
        meta = duckdb.sql(
            f"SELECT row_group_num_rows, compression FROM parquet_metadata('{sample_run / rel}')"
        ).fetchall()
        assert all(c == "ZSTD" for _, c in meta), rel
        assert entry["rows"] == duckdb.sql(f"SELECT count(*) FROM '{sample_run / rel}'").fetchall()[0][0]
    for name in ("summary", "status_codes", "top_paths", "sessions", "anomalies", "nodes", "tags"):
        assert f"reports/{name}.parquet" in listed
    assert "quarantine.parquet" in listed
    assert "queries/requests_dump.parquet" in listed
    assert {q["name"] for q in manifest["queries"]} >= {"summary", "top_paths", "requests_dump"}
    assert all(q["status"] == "ok" and len(q["sha256"]) == 64 for q in manifest["queries"])
    for entry in manifest["inputs"]:
        assert entry["status"] == "ok" and entry["format"] == "combined"
        assert entry["lines_read"] == entry["lines_parsed"]
        assert len(entry["sha256"]) == 64
    assert manifest["totals"]["lines_read"] == 491 + 485
    assert manifest["duckdb_version"] == duckdb.__version__


@pytest.mark.parametrize("name, lines", [("nginx_small.log", 491), ("apache_small.log", 485)])
def test_samples_match_reference_parser(sample_run: Path, samples_dir: Path, name: str, lines: int) -> None:
    ref = load_reference(samples_dir / name)
    assert len(ref) == lines
    got = rows(
        sample_run / "queries" / "requests_dump.parquet",
        f"SELECT ip, remote_user, request, method, path, protocol, status, bytes, referer, user_agent "
        f"FROM '$' WHERE file = '{name}' ORDER BY line_no",
    )
    expected = [
        (
            r["ip"],
            r["user"],
            r["request"],
            r["method"],
            r["path"],
            r["protocol"],
            r["status"],
            r["bytes"],
            r["referer"],
            r["ua"],
        )
        for r in ref
    ]
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True), start=1):
        assert g == e, f"{name}:{i}"


def test_samples_exact_counts(sample_run: Path, samples_dir: Path) -> None:
    ref = load_reference(samples_dir / "nginx_small.log") + load_reference(samples_dir / "apache_small.log")
    statuses = collections.Counter(r["status"] for r in ref)
    sc = rows(
        sample_run / "reports" / "status_codes.parquet", "SELECT status, status_class, hits, bytes FROM '$'"
    )
    assert {s: h for s, _, h, _ in sc} == dict(statuses)
    for s, cls, _, b in sc:
        assert cls == f"{s // 100}xx"
        assert b == sum(r["bytes"] for r in ref if r["status"] == s)
    summary = rows(sample_run / "reports" / "summary.parquet", "SELECT * FROM '$'")
    cols = [d[0] for d in duckdb.sql(f"SELECT * FROM '{sample_run}/reports/summary.parquet'").description]
    s = dict(zip(cols, summary[0], strict=True))
    assert s["total_lines"] == 976
    assert s["valid_requests"] == 976
    assert s["quarantined_lines"] == 0
    assert s["failed_files"] == 0
    assert s["bandwidth_bytes"] == sum(r["bytes"] for r in ref)
    assert s["not_found_requests"] == statuses[404]
    visitors = {(r["ip"], r["ua"]) for r in ref}  # one UTC day in the samples
    assert s["unique_visitors"] == len(visitors)
    methods = collections.Counter((r["method"], r["protocol"]) for r in ref)
    mp = rows(sample_run / "reports" / "methods_protocols.parquet", "SELECT method, protocol, hits FROM '$'")
    assert {(m, p): h for m, p, h in mp} == dict(methods)
    # Hand-checked against the samples README: 6 HEAD, lower-case "get" twice per file, 3 HTTP/0.9 lines.
    assert sum(h for m, _, h in mp if m == "HEAD") == 12
    assert sum(h for m, _, h in mp if m == "get") == 4
    # no protocol: 3 HTTP/0.9 lines per file, nginx "POST /for" (408), Apache "GET /sp ace/file" (2x)
    assert sum(h for m, p, h in mp if m is not None and p is None) == (3 + 1) + (3 + 2)
    q = rows(sample_run / "quarantine.parquet", "SELECT count(*) FROM '$'")
    assert q == [(0,)]


def test_nginx_and_apache_escapes_decode_to_the_same_values(sample_run: Path) -> None:
    dump = sample_run / "queries" / "requests_dump.parquet"
    for ua in [
        'He said "hi \\"there\\"" (test)',
        "ends with backslash\\",
        "\\",
        '"',
        "Tab\tSeparated\tAgent",
        "Bot/1.0 (café; 日本)",
    ]:
        got = rows(
            dump, "SELECT DISTINCT file FROM '$' WHERE user_agent = ? ORDER BY 1".replace("?", _lit(ua))
        )
        assert got == [("apache_small.log",), ("nginx_small.log",)], ua
    users = rows(dump, "SELECT DISTINCT remote_user FROM '$' WHERE remote_user IS NOT NULL ORDER BY 1")
    assert ('o"brien',) in users and ("bad user",) in users
    ipv6 = rows(dump, "SELECT count(*) FROM '$' WHERE ip = '::1'")[0][0]
    assert ipv6 > 0
    long_paths = rows(dump, "SELECT count(*) FROM '$' WHERE length(path) > 3900")[0][0]
    assert long_paths == 6


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
