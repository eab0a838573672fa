"""Benchmark: ``edgelog analyze`` end to end against GoAccess and ``cat`` on the same combined log, same run.

Generates (or reuses, from ``bench/.cache/``) a combined-format log of ``--lines`` lines with the edgelog
generator, plus a gzip copy, then times, each as a separate process:

* ``cat FILE > /dev/null``                       (the floor: reading the bytes),
* ``edgelog analyze FILE --out DIR``            (plain and .gz; every report, partial and the manifest),
* ``goaccess FILE --log-format=COMBINED -o report.json`` (Debian's GoAccess, JSON output),

and prints lines/s, the ratio to GoAccess and each process's peak RSS. Goals (issue 4): analyze >= 2x
GoAccess's throughput and < 2 GiB peak memory for 5M lines on 2 cores.

    .venv/bin/python bench/analyze.py                  # 5M lines (first run generates ~1 GB, cached)
    .venv/bin/python bench/analyze.py --lines 300000   # quick check while developing
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# $EDGELOG_BENCH_CACHE lets the tests run the benchmarks on tiny sizes without touching the real cache.
CACHE = Path(os.environ.get("EDGELOG_BENCH_CACHE") or Path(__file__).resolve().parent / ".cache")
EDGELOG = [sys.executable, "-m", "edgelog"]


def build_corpus(lines: int, seed: int) -> tuple[Path, Path]:
    """The cached plain and gzip corpus for ``lines`` lines (generated once, reused afterwards)."""
    from edgelog.generator import backfill, load_config

    CACHE.mkdir(exist_ok=True)
    plain = CACHE / f"combined-{lines}-s{seed}.log"
    gz = plain.with_name(plain.name + ".gz")
    if not plain.is_file():
        config = load_config(None).with_overrides({"traffic.shaped": False})
        duration = timedelta(hours=6)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            files = backfill(
                config, tmp, node="bench", start=datetime(2026, 11, 23, 0, 0, tzinfo=UTC), duration=duration,
                seed=seed, rate=lines / duration.total_seconds(),
            )  # fmt: skip
            part = plain.with_name("." + plain.name + ".part")
            with part.open("wb") as out:
                for f in files:
                    with f.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 22)
            part.replace(plain)
        print(f"generated {plain} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if not gz.is_file():
        part = gz.with_name("." + gz.name + ".part")
        with plain.open("rb") as src, part.open("wb") as out:
            subprocess.run(["gzip", "-6", "-c"], stdin=src, stdout=out, check=True)
        part.replace(gz)
    return plain, gz


def count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            n += chunk.count(b"\n")
    return n


def timed(cmd: list[str], *, stdout: int | None = subprocess.DEVNULL) -> tuple[float, int]:
    """Run ``cmd`` under /usr/bin/time; return (wall seconds, peak RSS in KiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, *cmd], stdout=stdout,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        peak = int(tf.read().strip().splitlines()[-1])
    return wall, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=5_000_000, help="corpus size in lines (default 5M)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-goaccess", action="store_true", help="only time cat and edgelog")
    args = ap.parse_args()
    for tool in ("/usr/bin/time", "gzip") + (() if args.skip_goaccess else ("goaccess",)):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is required (scripts/test.sh installs it)")

    plain, gz = build_corpus(args.lines, args.seed)
    n = count_lines(plain)
    size_mb = plain.stat().st_size / 1e6
    print(f"corpus: {plain.name}: {n:,} lines, {size_mb:,.0f} MB (gzip {gz.stat().st_size / 1e6:,.0f} MB), "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    results: dict[str, tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["cat"] = timed(["sh", "-c", f"cat '{plain}' > /dev/null"])
        results["edgelog analyze (plain)"] = timed([*EDGELOG, "analyze", str(plain), "--out", f"{tmp}/plain"])
        results["edgelog analyze (gzip)"] = timed([*EDGELOG, "analyze", str(gz), "--out", f"{tmp}/gz"])
        if not args.skip_goaccess:
            results["goaccess --log-format=COMBINED -o json"] = timed(
                ["goaccess", str(plain), "--log-format=COMBINED", "-o", f"{tmp}/goaccess.json"]
            )
    ga = results.get("goaccess --log-format=COMBINED -o json")
    print(f"{'command':42} {'seconds':>8} {'lines/s':>12} {'vs goaccess':>12} {'peak RSS':>10}")
    for name, (wall, peak) in results.items():
        ratio = f"{ga[0] / wall:.2f}x" if ga else "-"
        print(f"{name:42} {wall:8.2f} {n / wall:12,.0f} {ratio:>12} {peak / 1024:8.0f} MiB")
    if ga:
        best = min(results["edgelog analyze (plain)"][0], results["edgelog analyze (gzip)"][0])
        worst = max(results["edgelog analyze (plain)"][0], results["edgelog analyze (gzip)"][0])
        peak = max(results["edgelog analyze (plain)"][1], results["edgelog analyze (gzip)"][1])
        print(
            f"edgelog vs goaccess: {ga[0] / best:.2f}x (plain) .. {ga[0] / worst:.2f}x (slowest); goal >= 2x"
        )
        print(f"edgelog peak RSS: {peak / 1024:.0f} MiB; goal < 2048 MiB")


if __name__ == "__main__":
    main()
