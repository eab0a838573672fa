"""Benchmark: ``edgelog analyze`` end to end against GoAccess and ``cat`` on the same combined log, same run.

Generates (or reuses, from ``bench/.cache/``) a combined-format log of ``--lines`` lines with the edgelog
generator, plus a gzip copy, then times, each as a separate process:

* ``cat FILE > /dev/null``                       (the floor: reading the bytes),
* ``edgelog analyze FILE --out DIR``            (plain and .gz; every report, partial and the manifest),
* ``goaccess FILE --log-format=COMBINED -o report.json`` (Debian's GoAccess, JSON output),

and prints lines/s, CPU seconds, the speed and CPU ratios to GoAccess and each process's peak RSS. Goals
(issue 13): >= 5x GoAccess's speed, <= 0.25x its CPU seconds, < 1.5 GiB peak RSS for 5M lines on 2 cores.

The other modes measure the rest of issue 13 (each against a reference in the same run):

* ``--files N [--gzip] [--tiny M]``: N rotated files against one file of the same lines (overhead per file),
* ``--cache``: a 24 h window with all but the last hour in the parse cache against the same job cold, and
  against ``edgelog merge`` of the cold result alone (the floor for writing the same outputs);
  ``--lines-per-day 1008000,3024000,6048000`` runs it at several daily volumes and prints the curve,
* ``--scale SIZES``: a busy node's day at several sizes (lines/s and CPU per line against the smallest).

``--repeat N`` runs every command N times, interleaved, and reports the median (the machine may be shared).
``--log-formats combined,nginx-main,...`` also times ``edgelog analyze --log-format NAME`` on the same
traffic written in each preset (generated and cached like the combined corpus) and prints its wall time,
CPU seconds and parse phase (from the run's manifest) as ratios to the built-in combined parser on the
combined corpus, measured in the same run (issue 18: within 20%). A preset that logs X-Forwarded-For is
written as the generator's load balancer forwards it (the connection address is the balancer's), so it is
analysed with ``--trusted-proxies`` naming that balancer, as ``edgelog demo`` does: its visitors are then
the same clients as in the combined corpus.

    .venv/bin/python bench/analyze.py                  # 5M lines (first run generates ~1 GB, cached)
    .venv/bin/python bench/analyze.py --lines 300000   # quick check while developing
    .venv/bin/python bench/analyze.py --files 2016 --tiny 10000
    .venv/bin/python bench/analyze.py --cache
    .venv/bin/python bench/analyze.py --cache --lines-per-day 1008000,3024000,6048000
    .venv/bin/python bench/analyze.py --scale 5000000,20000000,50000000 --scratch /tmp/scale
    .venv/bin/python bench/analyze.py --lines 1000000 --skip-goaccess --log-formats combined,combined_timing
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# $EDGELOG_BENCH_CACHE lets the tests run the benchmarks on tiny sizes without touching the real cache.
CACHE = Path(os.environ.get("EDGELOG_BENCH_CACHE") or Path(__file__).resolve().parent / ".cache")
EDGELOG = [sys.executable, "-m", "edgelog"]


def build_corpus(lines: int, seed: int, fmt: str = "combined") -> tuple[Path, Path]:
    """The cached plain and gzip corpus for ``lines`` lines (generated once, reused afterwards)."""
    from edgelog.generator import backfill, load_config

    CACHE.mkdir(exist_ok=True)
    plain = CACHE / f"{fmt}-{lines}-s{seed}.log"
    gz = plain.with_name(plain.name + ".gz")
    if not plain.is_file():
        config = load_config(None).with_overrides({"traffic.shaped": False})
        duration = timedelta(hours=6)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            files = backfill(
                config, tmp, node="bench", start=datetime(2026, 11, 23, 0, 0, tzinfo=UTC), duration=duration,
                seed=seed, rate=lines / duration.total_seconds(), fmt=fmt,
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
    wall, _cpu, peak = timed_cpu(cmd, stdout=stdout)
    return wall, peak


def timed_cpu(
    cmd: list[str], *, stdout: int | None = subprocess.DEVNULL, env: dict[str, str] | None = None
) -> tuple[float, float, int]:
    """Run ``cmd`` under /usr/bin/time; return (wall seconds, CPU seconds (user + system), peak RSS KiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", tf.name, *cmd], stdout=stdout,
                              stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **(env or {})})  # fmt: skip
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        user, system, peak = tf.read().strip().splitlines()[-1].split()
    return wall, float(user) + float(system), int(peak)


def parse_seconds(out: Path) -> float:
    """The parse phase's wall seconds as the run's manifest records them."""
    return phases(out)["parse"]


def phases(out: Path) -> dict[str, float]:
    """The phases (setup, discover, parse, reports, write) a run's manifest records, in seconds."""
    manifest = json.loads((out / "manifest.json").read_text())
    return {k: float(v) for k, v in manifest["processing"]["phases_s"].items()}


def outputs(out: Path) -> dict[str, bytes]:
    """Every Parquet file of a results directory, by path, as bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def cache_bench(per_file: int, seed: int, repeat: int) -> CacheRun:
    """A 24 h window of 5-minute files (gzip, as nodes publish them) with all but the last hour cached,
    against the same job cold (no cache), same run. The cache of the first 23 h is filled once; each of the
    ``repeat`` rounds runs cold, then warm on a fresh copy of it, then ``edgelog merge`` of the cold result
    alone (medians printed). That merge writes the same tables from partials already merged, byte for byte:
    a cache that leaves the outputs as they are cannot make a run much cheaper than it."""
    plain, _ = build_corpus(int(max(288 * per_file, 10_000) * 1.1), seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n = write_rotated(plain, root / "day", 288, per_file, gz=True)
        files = sorted((root / "day").iterdir())
        early = root / "first-23h"
        early.mkdir()
        for f in files[:-12]:
            (early / f.name).symlink_to(f)
        window = ["--since", "2026-11-23T00:00:00Z", "--until", "2026-11-24T00:00:00Z"]
        filled = root / "cache-23h"
        fill = timed_cpu([*EDGELOG, "analyze", str(early), "--out", f"{tmp}/fill", *window,
                          "--parse-cache", str(filled)])  # fmt: skip
        colds, warms, floors, same = [], [], [], True
        for _ in range(repeat):  # interleaved, so a change in machine load hits both alike
            for d in ("cold", "warm", "cache", "floor"):
                shutil.rmtree(root / d, ignore_errors=True)
            colds.append(timed_cpu([*EDGELOG, "analyze", str(root / "day"), "--out", f"{tmp}/cold", *window]))
            shutil.copytree(filled, root / "cache")
            warms.append(timed_cpu([*EDGELOG, "analyze", str(root / "day"), "--out", f"{tmp}/warm", *window,
                                    "--parse-cache", f"{tmp}/cache"]))  # fmt: skip
            floors.append(timed_cpu([*EDGELOG, "merge", str(root / "cold"), "--out", f"{tmp}/floor"]))
            same = same and outputs(root / "cold") == outputs(root / "warm")
        cold_phases, warm_phases = phases(root / "cold"), phases(root / "warm")
        rows = json.loads((root / "cold" / "manifest.json").read_text())["outputs"]
        top_paths = sum(o.get("rows") or 0 for o in rows if o["path"].startswith("partials/top_paths"))
    cold, warm, floor = median_run(colds), median_run(warms), median_run(floors)
    head = f"command (288 gzip files, {n:,} lines)"
    print(f"{head:58} {'seconds':>8} {'CPU s':>8} {'peak RSS':>10}")
    for label, r in (("analyze 24 h, no cache (cold)", cold), ("analyze first 23 h, filling the cache", fill),
                     ("analyze 24 h, all but the last hour cached", warm),
                     ("merge of the cold result alone (the floor)", floor)):  # fmt: skip
        print(f"{label:58} {r[0]:8.2f} {r[1]:8.2f} {r[2] / 1024:8.0f} MiB")
    for label, ph in (("cold", cold_phases), ("cached", warm_phases)):
        print(f"phases of the last {label} run (s): " + ", ".join(f"{k} {v:.2f}" for k, v in ph.items()))
    print(
        f"cached vs cold: {cold[0] / warm[0]:.1f}x wall, {cold[1] / warm[1]:.1f}x CPU (goal >= 10x); "
        f"merge of the cold result alone vs cold: {cold[0] / floor[0]:.1f}x wall, "
        f"{cold[1] / floor[1]:.1f}x CPU; outputs byte-identical: {same}"
        + (f" (medians of {repeat})" if repeat > 1 else "")
    )
    return CacheRun(n, top_paths, cold, warm, floor, same)


@dataclass(frozen=True)
class CacheRun:
    """One size of the cache bench: lines, the day's (path, visitor) rows and the three medians."""

    lines: int
    top_paths_rows: int
    cold: tuple[float, float, int]
    warm: tuple[float, float, int]
    floor: tuple[float, float, int]
    identical: bool


def cache_curve(per_day: list[int], seed: int, repeat: int) -> None:
    """The cache bench at several daily volumes (smallest first), then the ratios side by side: parsing,
    which the cache saves, grows with the lines; writing the day's merged partials, which it cannot save,
    with their rows (one per path and visitor for top_paths)."""
    runs = []
    for lines in sorted(per_day):
        runs.append(cache_bench(max(1, round(lines / 288)), seed, repeat))
        print()
    heads = ["cold s", "CPU s", "cached s", "CPU s", "wall x", "CPU x", "floor s", "CPU s", "wall x", "CPU x"]
    print(f"{'lines a day':>12} {'top_paths rows':>15} " + " ".join(f"{h:>8}" for h in heads) + " identical")
    for r in runs:
        cells = [*r.cold[:2], *r.warm[:2], r.cold[0] / r.warm[0], r.cold[1] / r.warm[1], *r.floor[:2]]
        cells += [r.cold[0] / r.floor[0], r.cold[1] / r.floor[1]]
        shown = [f"{c:7.1f}x" if i in (4, 5, 8, 9) else f"{c:8.2f}" for i, c in enumerate(cells)]
        print(f"{r.lines:12,} {r.top_paths_rows:15,} " + " ".join(shown) + f" {r.identical!s:>9}")
    print("wall x / CPU x: cold against cached (goal >= 10x), then cold against the floor (merge of the cold "
          "result alone: the most a cache that leaves the outputs as they are can reach)")  # fmt: skip


def median_run(runs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    """Several (wall, CPU, peak RSS) runs of one command as one: median wall and CPU (the upper one of an
    even count), the highest peak RSS."""
    mid = len(runs) // 2
    walls, cpus = sorted(w for w, _, _ in runs), sorted(c for _, c, _ in runs)
    return walls[mid], cpus[mid], max(p for _, _, p in runs)


def scale_bench(sizes: list[int], scratch: Path, seed: int, keep: bool) -> None:
    """A busy node's day: one combined log per size (generated into ``scratch``, outside the repository),
    analysed as one process each; lines/s per size show whether time stays linear, peak RSS the memory
    bound (DuckDB spills to disk beyond its memory limit)."""
    from edgelog.generator import backfill, load_config

    scratch.mkdir(parents=True, exist_ok=True)
    print(f"{'lines':>12} {'GB':>6} {'seconds':>9} {'CPU s':>9} {'lines/s':>12} {'vs smallest':>12} "
          f"{'CPU us/line':>12} {'vs smallest':>12} {'peak RSS':>10}")  # fmt: skip
    first = first_cpu = None
    for lines in sorted(sizes):
        log = scratch / f"day-{lines}-s{seed}.log"
        if not log.is_file():
            config = load_config(None).with_overrides({"traffic.shaped": False})
            day = timedelta(hours=24)
            with tempfile.TemporaryDirectory(dir=scratch) as tmp:
                parts = backfill(
                    config, tmp, node="busy", start=datetime(2026, 11, 23, tzinfo=UTC), duration=day,
                    seed=seed, rate=lines / day.total_seconds(),
                )  # fmt: skip
                part = log.with_name("." + log.name + ".part")
                with part.open("wb") as out:
                    for f in parts:
                        with f.open("rb") as src:
                            shutil.copyfileobj(src, out, 1 << 22)
                        f.unlink()
                part.replace(log)
        n = count_lines(log)
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            env_tmp = {"TMPDIR": tmp}
            wall, cpu, peak = timed_cpu([*EDGELOG, "analyze", str(log), "--out", f"{tmp}/out"], env=env_tmp)
        rate, per_line = n / wall, cpu / n * 1e6
        first, first_cpu = first or rate, first_cpu or per_line
        print(f"{n:12,} {log.stat().st_size / 1e9:6.1f} {wall:9.1f} {cpu:9.1f} {rate:12,.0f} "
              f"{rate / first:11.2f}x {per_line:12.2f} {per_line / first_cpu:11.2f}x "
              f"{peak / 1024:8.0f} MiB")  # fmt: skip
        if not keep:
            log.unlink()
    print("linear time: lines/s and CPU per line stay near the smallest size's (1.00x); "
          "goal: peak RSS < 2048 MiB")  # fmt: skip


def write_rotated(lines_src: Path, dest: Path, files: int, per_file: int, *, gz: bool = False) -> int:
    """``files`` rotated files of ``per_file`` lines each (5-minute stamps, one node) from ``lines_src``."""
    from edgelog.naming import rotated_name

    dest.mkdir(parents=True)
    stamp = datetime(2026, 11, 23, tzinfo=UTC)
    n = 0
    with lines_src.open("rb") as src:
        for _ in range(files):
            stamp += timedelta(minutes=5)
            chunk = b"".join(src.readline() for _ in range(per_file))
            name = rotated_name("bench", stamp, gzip=gz)
            (dest / name).write_bytes(gzip.compress(chunk, 6) if gz else chunk)
            n += chunk.count(b"\n")
    return n


def files_bench(files: int, per_file: int, tiny: int, seed: int, gz: bool) -> None:
    """Per-file overhead: ``files`` rotated files against the same lines in one file, same run."""
    plain, _ = build_corpus(int(max(files * per_file, tiny * 5, 10_000) * 1.1), seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n = write_rotated(plain, root / "week", files, per_file, gz=gz)
        one = root / "one" / ("access.log.gz" if gz else "access.log")
        one.parent.mkdir()
        with one.open("wb") as out:
            data = b"".join(
                gzip.decompress(f.read_bytes()) if gz else f.read_bytes()
                for f in sorted((root / "week").iterdir())
            )
            out.write(gzip.compress(data, 6) if gz else data)
        ref = timed_cpu([*EDGELOG, "analyze", str(one), "--out", f"{tmp}/o1"])
        week = timed_cpu([*EDGELOG, "analyze", str(root / "week"), "--out", f"{tmp}/o2"])
        m = write_rotated(plain, root / "tiny", tiny, 5, gz=gz) if tiny else 0
        tiny_run = (
            timed_cpu([*EDGELOG, "analyze", str(root / "tiny"), "--out", f"{tmp}/o3"]) if tiny else None
        )
    print(f"{'command':52} {'seconds':>8} {'CPU s':>8} {'peak RSS':>10}")
    print(f"{f'analyze 1 file ({n:,} lines)':52} {ref[0]:8.2f} {ref[1]:8.2f} {ref[2] / 1024:8.0f} MiB")
    label = f"analyze {files:,} files (same lines)"
    print(f"{label:52} {week[0]:8.2f} {week[1]:8.2f} {week[2] / 1024:8.0f} MiB")
    if tiny_run:
        print(f"{f'analyze {tiny:,} tiny files ({m:,} lines)':52} {tiny_run[0]:8.2f} {tiny_run[1]:8.2f} "
              f"{tiny_run[2] / 1024:8.0f} MiB")  # fmt: skip
    print(
        f"overhead per file beyond parsing: {(week[0] - ref[0]) / files * 1000:.2f} ms wall, "
        f"{(week[1] - ref[1]) / files * 1000:.2f} ms CPU (goal < 5 ms)"
        + (f"; {tiny:,} tiny files: {tiny_run[0]:.1f} s (goal < 60 s)" if tiny_run else "")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=5_000_000, help="corpus size in lines (default 5M)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-goaccess", action="store_true", help="only time cat and edgelog")
    ap.add_argument("--repeat", type=int, default=1, help="run every command N times, interleaved; median")
    ap.add_argument(
        "--files",
        type=int,
        metavar="N",
        help="per-file overhead instead: N rotated files (a week is 2,016) against one file",
    )
    ap.add_argument("--per-file", type=int, default=50, help="lines per rotated file with --files")
    ap.add_argument("--gzip", action="store_true", help="with --files: gzip'd files, as nodes publish them")
    ap.add_argument("--tiny", type=int, default=10_000, help="with --files: also this many 5-line files")
    ap.add_argument(
        "--cache",
        action="store_true",
        help="parse cache instead: a 24 h window, all but the last hour cached, against cold",
    )
    ap.add_argument(
        "--lines-per-day",
        metavar="SIZES",
        help="with --cache: the cache bench at each of these daily volumes (288 files of N/288 lines), "
        "then the ratios side by side, e.g. 1008000,3024000,6048000",
    )
    ap.add_argument(
        "--scale",
        metavar="SIZES",
        help="a busy node's day instead: comma-separated line counts, e.g. 5000000,20000000,50000000",
    )
    ap.add_argument(
        "--scratch",
        type=Path,
        default=Path(tempfile.gettempdir()) / "edgelog-bench-scale",
        help="with --scale: where the logs are generated (outside the repository; ~260 B per line)",
    )
    ap.add_argument("--keep", action="store_true", help="with --scale: keep the generated logs")
    ap.add_argument(
        "--log-formats",
        default="",
        help="comma-separated presets to time with --log-format against the built-in combined parser",
    )
    args = ap.parse_args()
    if args.lines_per_day and not args.cache:
        ap.error("--lines-per-day goes with --cache")
    if args.scale:
        scale_bench([int(x) for x in args.scale.split(",")], args.scratch, args.seed, args.keep)
        return
    if args.cache and args.lines_per_day:
        cache_curve([int(x) for x in args.lines_per_day.split(",")], args.seed, args.repeat)
        return
    if args.cache:
        cache_bench(args.per_file if args.per_file != 50 else 3_500, args.seed, args.repeat)
        return
    if args.files:
        files_bench(args.files, args.per_file, args.tiny, args.seed, args.gzip)
        return
    for tool in ("/usr/bin/time", "gzip") + (() if args.skip_goaccess else ("goaccess",)):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is required (scripts/test.sh installs it)")

    plain, gz = build_corpus(args.lines, args.seed)
    n = count_lines(plain)
    size_mb = plain.stat().st_size / 1e6
    print(f"corpus: {plain.name}: {n:,} lines, {size_mb:,.0f} MB (gzip {gz.stat().st_size / 1e6:,.0f} MB), "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    from edgelog.generator.formats import GCP_LOAD_BALANCER
    from edgelog.logformat import resolve

    formats = [f.strip() for f in args.log_formats.split(",") if f.strip()]
    corpora = {
        name: plain if name == "combined" else build_corpus(args.lines, args.seed, name)[0]
        for name in formats
    }
    results: dict[str, tuple[float, float, int]] = {}
    ga_name = "goaccess --log-format=COMBINED -o json"
    with tempfile.TemporaryDirectory() as tmp:
        commands: dict[str, list[str]] = {
            "cat": ["sh", "-c", f"cat '{plain}' > /dev/null"],
            "edgelog analyze (plain)": [*EDGELOG, "analyze", str(plain), "--out", f"{tmp}/p"],
            "edgelog analyze (gzip)": [*EDGELOG, "analyze", str(gz), "--out", f"{tmp}/gz"],
        }
        if not args.skip_goaccess:
            commands[ga_name] = ["goaccess", str(plain), "--log-format=COMBINED", "-o", f"{tmp}/ga.json"]
        outs = {"edgelog analyze (plain)": Path(tmp) / "p"}
        for name, corpus in corpora.items():
            label = f"edgelog analyze --log-format {name}"
            commands[label] = [
                *EDGELOG,
                "analyze",
                str(corpus),
                "--out",
                f"{tmp}/{name}",
                "--log-format",
                name,
            ]
            definition = resolve(name, None, None)
            if definition is not None and definition.has("http_x_forwarded_for"):
                commands[label] += ["--trusted-proxies", GCP_LOAD_BALANCER]
            outs[label] = Path(tmp) / name
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in commands}
        parses: dict[str, list[float]] = {name: [] for name in outs}
        for _ in range(args.repeat):  # interleaved, so a change in machine load hits every command alike
            for name, cmd in commands.items():
                runs[name].append(timed_cpu(cmd))
                if name in outs:
                    parses[name].append(parse_seconds(outs[name]))
        for name, measured in runs.items():
            results[name] = median_run(measured)
        parse_s = {name: sorted(p)[len(p) // 2] for name, p in parses.items()}
    ga = results.get(ga_name)
    print(f"{'command':46} {'seconds':>8} {'CPU s':>8} {'lines/s':>12} {'vs goaccess':>12} {'peak RSS':>10}")
    for name, (wall, cpu, peak) in results.items():
        ratio = f"{ga[0] / wall:.2f}x" if ga else "-"
        print(f"{name:46} {wall:8.2f} {cpu:8.2f} {n / wall:12,.0f} {ratio:>12} {peak / 1024:8.0f} MiB")
    if ga:
        for kind in ("plain", "gzip"):
            wall, cpu, peak = results[f"edgelog analyze ({kind})"]
            print(
                f"edgelog ({kind}) vs goaccess: {ga[0] / wall:.2f}x its speed (goal >= 5x), "
                f"{cpu / ga[1]:.2f}x its CPU seconds (goal <= 0.25x), peak RSS {peak / 1024:.0f} MiB "
                "(goal < 1536 MiB)"
            )
    builtin, builtin_cpu, _ = results["edgelog analyze (plain)"]
    builtin_parse = parse_s["edgelog analyze (plain)"]
    for name in formats:
        label = f"edgelog analyze --log-format {name}"
        wall, cpu, _ = results[label]
        size = corpora[name].stat().st_size / plain.stat().st_size
        proxies = (
            " (--trusted-proxies: the generator's load balancer)"
            if "--trusted-proxies" in commands[label]
            else ""
        )
        print(
            f"--log-format {name}{proxies} vs built-in combined, same requests ({size:.2f}x the bytes): "
            f"{wall / builtin:.2f}x the time, {cpu / builtin_cpu:.2f}x the CPU seconds, "
            f"parse phase {parse_s[label] / builtin_parse:.2f}x; goal <= 1.20x"
        )


if __name__ == "__main__":
    main()
