"""Benchmark: combined-format backfill throughput against a naive Faker-per-field generator, same run.

Prints lines/s and MB/s of ``edgelog.generator.backfill`` (one process, one core, uncompressed files)
and of a naive baseline that calls Faker once per field per line, and the ratio between them. The goal
(issue 2) is >= 300,000 lines/s and >= 30x the baseline.

    .venv/bin/python bench/generator.py                # ~1.5M lines, well under 30 s
    .venv/bin/python bench/generator.py --lines 300000 --baseline-lines 5000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edgelog.generator import backfill, load_config


def naive_lines(n: int, seed: int = 1) -> tuple[int, int]:
    """The obvious generator: a Faker call for every field of every line. Returns (lines, bytes)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    size = 0
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    with tempfile.TemporaryFile("w") as f:
        for i in range(n):
            ts = (start + timedelta(seconds=i // 20)).strftime("%d/%b/%Y:%H:%M:%S +0000")
            line = (
                f"{fake.ipv4_public()} - {fake.user_name() if fake.boolean(20) else '-'} [{ts}] "
                f'"{fake.http_method()} {fake.uri_path()} HTTP/1.1" '
                f"{fake.random_element((200, 200, 200, 304, 404, 500))} {fake.random_int(0, 300_000)} "
                f'"{fake.uri()}" "{fake.user_agent()}"\n'
            )
            f.write(line)
            size += len(line)
    return n, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_500_000, help="approximate lines for the generator run")
    ap.add_argument("--baseline-lines", type=int, default=10_000, help="lines for the naive baseline")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    config = load_config(None).with_overrides({"traffic.shaped": False})
    duration = timedelta(hours=1)
    rate = args.lines / duration.total_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        paths = backfill(
            config, tmp, node="bench", start=datetime(2026, 11, 23, 8, 0, tzinfo=UTC), duration=duration,
            seed=args.seed, rate=rate,
        )  # fmt: skip
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = sum(p.stat().st_size for p in paths)
        lines = 0
        for p in paths:
            with Path(p).open("rb") as f:
                lines += sum(chunk.count(b"\n") for chunk in iter(lambda f=f: f.read(1 << 20), b""))
    gen_lps = lines / elapsed
    t1, c1 = time.perf_counter(), time.process_time()
    n, nsize = naive_lines(args.baseline_lines, args.seed)
    naive_elapsed, naive_cpu = time.perf_counter() - t1, time.process_time() - c1
    naive_lps = n / naive_elapsed
    print(f"edgelog backfill (combined): {lines:,} lines, {size / 1e6:.1f} MB in {elapsed:.2f} s "
          f"= {gen_lps:,.0f} lines/s, {size / 1e6 / elapsed:.1f} MB/s "
          f"(CPU time {cpu:.2f} s = {lines / cpu:,.0f} lines/s)")  # fmt: skip
    print(f"naive Faker-per-field:       {n:,} lines, {nsize / 1e6:.1f} MB in {naive_elapsed:.2f} s "
          f"= {naive_lps:,.0f} lines/s, {nsize / 1e6 / naive_elapsed:.1f} MB/s "
          f"(CPU time {naive_cpu:.2f} s = {n / naive_cpu:,.0f} lines/s)")  # fmt: skip
    print(
        f"ratio: {gen_lps / naive_lps:.1f}x wall, {(lines / cpu) / (n / naive_cpu):.1f}x CPU "
        "(goal: >= 300,000 lines/s and >= 30x)"
    )
    print(
        "wall-clock figures drop when other processes share the cores; the ratio is measured in the same run"
    )


if __name__ == "__main__":
    main()
