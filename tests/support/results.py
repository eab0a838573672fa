"""Results for fetch/report tests: real `edgelog analyze` runs per node, published the way Bacalhau does.

Nothing here fakes the analysis: node results come from `edgelog.analysis.analyze` over the shared real
nginx/Apache samples, generator backfill output, and a log of hostile lines. This module only arranges those
results into the bucket layouts the Bacalhau S3 publisher writes (plain tree or one .tar.gz per execution).
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from edgelog import resultdir
from edgelog.analysis import analyze
from edgelog.storage.base import Bucket

# Lines an attacker controls end up in paths, referrers and user agents: the report must show them as text.
HOSTILE_LINES = [
    "203.0.113.7 - - [22/Nov/2026:23:20:30 +0000] "
    '"GET /search?q=<script>alert(\\x22path\\x22)</script> HTTP/1.1" 404 153 '
    '"https://evil.example/<img src=x onerror=alert(1)>" "<script>alert(\\x22ua\\x22)</script>"',
    '203.0.113.8 - - [22/Nov/2026:23:20:31 +0000] "GET /x\\x22><svg/onload=alert(2)> HTTP/1.1" 200 10 '
    '"-" "Mozilla/5.0 </td></tr></table><h1>pwned</h1>"',
    '203.0.113.9 - - [22/Nov/2026:23:20:32 +0000] "GET /[bold red]rich-markup[/] HTTP/1.1" 200 10 "-" '
    '"curl/8.5.0"',
    "this line is not an access log line at all",
]


def parquet_outputs(out: Path) -> dict[str, bytes]:
    """Every Parquet output of a results directory, by path, as bytes (the manifest records run ids and
    durations, so two runs of the same inputs compare by these)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def write_hostile_log(directory: Path, node: str, *, repeat: int = 1) -> Path:
    """The hostile lines ``repeat`` times (enough hits to rank in the top-N tables next to real traffic)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"access-{node}-20261122T232500Z.log"
    path.write_text("\n".join(HOSTILE_LINES * repeat) + "\n")
    return path


def write_wide_log(directory: Path, node: str, *, lines: int, bad_lines: int = 0, seed: int = 7) -> Path:
    """A combined-format log whose every line has its own client IP and path (plus ``bad_lines`` lines of
    random hex that do not parse), so partials and quarantine grow with the line count: at 300k lines a node's
    result is tens of MiB, far above the 5 MiB an S3 publisher can upload to GCS in one part."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"access-{node}-20261123T080500Z.log"
    with path.open("w", encoding="ascii") as out:
        for i in range(lines):
            ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            url = f"/p/{rng.getrandbits(64):016x}/{i}?q={i}"
            out.write(
                f'{ip} - - [23/Nov/2026:08:0{i % 5}:{i % 60:02d} +0000] "GET {url} HTTP/1.1" 200 {i % 5000} '
                f'"https://r{i % 977}.example/x" "ua-{i % 113}"\n'
            )
            if i < bad_lines:
                out.write(f"garbage {rng.randbytes(150).hex()}\n")
    return path


def copy_sample(samples_dir: Path, name: str, directory: Path, node: str, stamp: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / f"access-{node}-{stamp}.log"
    shutil.copyfile(samples_dir / name, dest)
    return dest


def write_truncated_gzip(samples_dir: Path, directory: Path, node: str) -> Path:
    """A rotated file cut off mid-stream (disk full during rotation): analyze marks it failed -> partial."""
    directory.mkdir(parents=True, exist_ok=True)
    data = gzip.compress((samples_dir / "apache_small.log").read_bytes())
    path = directory / f"access-{node}-20261122T233500Z.log.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


def backfill_inputs(directory: Path, node: str, *, hours: float = 2.0, seed: int = 7) -> list[Path]:
    """Generator output for a few hours, so the time charts have many buckets."""
    from edgelog.generator import backfill, load_config

    return backfill(
        load_config(None),
        directory,
        node=node,
        start=datetime(2026, 11, 22, 21, 0, tzinfo=UTC),
        duration=timedelta(hours=hours),
        seed=seed,
        gzip=True,
        rate=2.0,
    )


def analyze_node(inputs: Path, out: Path, *, job_id: str, node_id: str, execution_id: str) -> Path:
    """Run the real analysis the job runs on a node; return its result directory (the job's /outputs)."""
    result = analyze([inputs], out, job_id=job_id, node_id=node_id, execution_id=execution_id)
    assert (out / "manifest.json").is_file(), result
    return out


def stage_execution(outputs: Path, stage: Path, *, exit_code: int = 0, stderr: str = "") -> Path:
    """The execution result directory Bacalhau publishes: outputs/ plus stdout, stderr, exitCode."""
    shutil.rmtree(stage, ignore_errors=True)
    if outputs is not None and outputs.exists():
        shutil.copytree(outputs, stage / "outputs")
    stage.mkdir(parents=True, exist_ok=True)
    (stage / "stdout").write_text("edgelog analyze /inputs --out /outputs\n")
    (stage / "stderr").write_text(stderr)
    (stage / "exitCode").write_text(str(exit_code))
    return stage


def publish_plain(bucket: Bucket, stage: Path, key: str) -> list[str]:
    return bucket.upload_tree(stage, key)


def publish_gzip(bucket: Bucket, stage: Path, key: str, tmp: Path) -> str:
    """``Encoding: gzip`` (which edgelog's specs no longer use, but fetch still reads): one archive of the
    result directory under ``<key>.tar.gz``, laid out as Go's pkg/lib/gzip.Compress writes it: a ``.`` entry,
    then relative names in filepath.Walk order (lexical, depth first)."""
    archive = tmp / (Path(key).name + ".tar.gz")

    def walk(folder: Path, tar: tarfile.TarFile) -> None:
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            tar.add(path, arcname=path.relative_to(stage).as_posix(), recursive=False)
            if path.is_dir() and not path.is_symlink():
                walk(path, tar)

    with tarfile.open(archive, "w:gz") as tar:
        tar.add(stage, arcname=".", recursive=False)
        walk(stage, tar)
    bucket.upload_file(archive, key + ".tar.gz")
    return key + ".tar.gz"


def forge_result(
    directory: Path, edit: Callable[[dict], None], *, rewrite: dict[str, str] | None = None
) -> None:
    """Edit a result the way someone covering their tracks would: change tables with SQL, then re-hash
    every output into the manifest, so only the numbers can give it away."""
    con = duckdb.connect()
    for rel, sql in (rewrite or {}).items():
        path = directory / rel
        tmp = path.with_name("forged.parquet")
        source = f"read_parquet('{path}')"
        con.execute(f"COPY ({sql.format(t=source)}) TO '{tmp}' (FORMAT parquet)")
        tmp.replace(path)
    manifest = json.loads((directory / "manifest.json").read_text())
    edit(manifest)
    rows = {o["path"]: o["rows"] for o in manifest["outputs"]}
    manifest["outputs"] = [
        {"path": o.path, "size": o.size, "sha256": o.sha256, "rows": rows.get(o.path)}
        for o in resultdir.output_entries(directory, {})
    ]
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    assert resultdir.verify(directory) == []  # the checksums alone see nothing wrong
