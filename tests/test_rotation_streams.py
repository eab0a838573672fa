"""Rotation of every stream a node writes: the access log, nginx's error log and the application log.

The real edgelog-rotate wrapper with the real logrotate rotates all live files of a node in one run; each is
published under its own stream's rotated name (edgelog.naming), and analyze reads every one of them back.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from support.rotation import WRAPPER, Generator, make_layout, read_lines, rotate

from edgelog.analysis import analyze
from edgelog.naming import parse_rotated_name

pytestmark = pytest.mark.needs_tool("logrotate", "gzip", "flock")

ACCESS_JSON = b'{"ts":"2026-11-23T08:00:00.000Z","remote_addr":"10.0.0.1","status":200}\n'
ERROR_LINE = (
    b"2026/11/23 08:00:01 [error] 23#23: *7 connect() failed (111: Connection refused) while connecting to "
    b'upstream, client: 10.0.0.1, server: shop, request: "GET / HTTP/2.0", '
    b'upstream: "http://10.0.2.15:8080/", host: "shop"\n'
)
APP_LINE = b"2026-11-23T08:00:01.250Z ERROR web GET / failed with 502: upstream timed out request_id=r1\n"


@pytest.mark.parametrize("fmt", ["json", "csv", "combined"])
def test_the_default_extensions_cover_the_error_and_app_logs(tmp_path: Path, fmt: str) -> None:
    """With EDGELOG_FORMAT set (as in the container), the error and app logs (.log) rotate too."""
    layout = make_layout(tmp_path, tmp_path)
    env = layout.env(EDGELOG_FORMAT=fmt)
    del env["EDGELOG_LOG_EXTENSION"]
    out = subprocess.run(
        [str(WRAPPER), "--render"], env=env, capture_output=True, text=True, check=True
    ).stdout
    access_ext = {"json": ".jsonl", "csv": ".csv", "combined": ".log"}[fmt]
    assert f'"{layout.live}/*{access_ext}" {{' in out
    assert f'"{layout.live}/*.log" {{' in out and "extension .log" in out


def test_every_stream_rotates_to_its_own_name_and_is_analysable(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, tmp_path, ext=".jsonl")
    live = {
        "access-n1.jsonl": ACCESS_JSON * 3,
        "error-n1.log": ERROR_LINE * 2,
        "app-n1.log": APP_LINE * 4,
    }
    for name, data in live.items():
        (layout.live / name).write_bytes(data)
    env = layout.env(EDGELOG_FORMAT="json")
    del env["EDGELOG_LOG_EXTENSION"]
    res = subprocess.run([str(WRAPPER)], env=env, capture_output=True, text=True, timeout=90, check=False)
    assert res.returncode == 0 and "unexpected failure" not in res.stderr, res.stderr
    published = {}
    for path in layout.published():
        rn = parse_rotated_name(path.name)
        assert rn is not None and rn.node == "n1" and rn.gzip, path.name
        published[(rn.stream, rn.ext)] = path
    assert set(published) == {("access", ".jsonl"), ("error", ".log"), ("app", ".log")}
    stamps = {parse_rotated_name(p.name).rotated_at for p in published.values()}  # type: ignore[union-attr]
    assert len(stamps) == 1  # one run, one rotation time for every stream
    for name, data in live.items():
        stream = name.split("-", 1)[0]
        assert read_lines(published[(stream, Path(name).suffix)]) == data.splitlines()
        assert not (layout.live / name).exists()
    assert layout.temporaries() == [] and list(layout.staging.iterdir()) == []
    result = analyze([layout.out], tmp_path / "result")
    assert result.status == "ok"
    by_format = {i.format: i for i in result.manifest.inputs}
    assert {f: (i.status, i.lines_parsed) for f, i in by_format.items()} == {
        "json": ("ok", 3),
        "error": ("ok", 2),
        "app": ("ok", 4),
    }


def test_a_second_run_rotates_each_stream_again(tmp_path: Path) -> None:
    """Rotation names stay unique per stream across runs (the same-second guard covers every stream)."""
    layout = make_layout(tmp_path, tmp_path)
    for run in range(2):
        (layout.live / "access-n1.log").write_bytes(b"access %d\n" % run)
        (layout.live / "error-n1.log").write_bytes(ERROR_LINE)
        (layout.live / "app-n1.log").write_bytes(APP_LINE)
        res = rotate(layout)
        assert res.returncode == 0, res.stderr
    names = [parse_rotated_name(p.name) for p in layout.published()]
    assert sorted((n.stream for n in names if n), key=str) == [
        "access",
        "access",
        "app",
        "app",
        "error",
        "error",
    ]
    assert len({p.name for p in layout.published()}) == 6


def test_the_live_generator_s_streams_rotate_without_losing_a_line(tmp_path: Path) -> None:
    """One generator writes the access, error and app logs; three forced rotations while it writes: every
    line of every stream is in exactly one published or live file, and publish waited for the generator to
    leave each stream's file by that stream's inode in the status file (not by the settle time untracked
    files get)."""
    layout = make_layout(tmp_path, tmp_path, ext=".jsonl")
    config = tmp_path / "failing.yaml"
    config.write_text("errors:\n  upstream_errors: 0.2\n")
    env = {"EDGELOG_FORMAT": "json", "EDGELOG_SETTLE_SECONDS": "5"}
    gen = Generator(layout, rate=300, fmt="json", streams=("error", "app"), config=config)
    logs = []
    try:
        gen.wait_running()
        for _ in range(3):
            time.sleep(1.0)
            res = rotate(layout, EDGELOG_LOG_EXTENSION=".jsonl .log", **env)
            assert res.returncode == 0, res.stderr
            logs.append(res.stderr)
        final = gen.stop()
    finally:
        gen.kill()
    text = "\n".join(logs)
    for stream in ("access", "error", "app"):
        assert re.search(rf"writer left {stream}-n1-\d{{8}}T\d{{6}}Z\.", text), (stream, text)
    assert "is not tracked by" not in text
    counts = {s["stream"]: s["lines"] for s in final["streams"]}
    for stream, ext in (("access", ".jsonl"), ("error", ".log"), ("app", ".log")):
        files = [p for p in layout.published() if p.name.startswith(f"{stream}-n1-")]
        assert len(files) == 3, (stream, files)
        live = layout.live / f"{stream}-n1{ext}"
        lines = [line for p in [*files, live] if p.exists() for line in read_lines(p)]
        assert len(lines) == counts[stream] > 0, stream
    ids = [json.loads(line)["request_id"] for p in sorted(layout.published()) if p.name.startswith("access-")
           for line in read_lines(p)]  # fmt: skip
    assert len(ids) == len(set(ids))
