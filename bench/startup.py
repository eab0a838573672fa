"""Benchmark: the fixed cost of edgelog's commands: ``--help``/``--version`` and a small analyze and merge.

Runs each command ``--runs`` times as a whole process, interleaved with two references measured alongside it:

* ``python -c pass``                         (the interpreter's own start-up: the floor),
* ``python -c "import typer, rich.console"`` (the CLI framework every typer app loads before its first line),

and prints the median wall and CPU (user + system) seconds of each and the ratios to the references. Goal
(issue 12): ``--help`` and ``--version`` under 0.3 s; they were 1.1 s when the CLI imported DuckDB and the
generator up front. CPU seconds are the steadier figure on a shared machine: wall time there includes waiting
for a core.

With ``--small`` (issue 15: the test suite runs ~270 analyses and merges of a few dozen lines, and a node
one small analyze every few minutes) it also runs ``edgelog analyze`` of one 50-line access log (the first
lines of a generated 5-minute file) and ``edgelog merge`` of two such nodes' results, as processes and, for
what a long-lived caller (the test suite) pays, in process: ``analyze()``/``merge()`` called after a
warm-up in child interpreters taking turns, medians of the calls' CPU and wall seconds. ``--against PYTHON``
(implies ``--small``) runs the small commands also with another interpreter (e.g. main's venv), interleaved
round by round, and prints the ratios measured in the same run.

    .venv/bin/python bench/startup.py            # 15 runs each
    .venv/bin/python bench/startup.py --runs 40
    .venv/bin/python bench/startup.py --small --against ../main/.venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCES: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import typer, rich.console": [sys.executable, "-c", "import typer, rich.console"],
    "edgelog --version": [sys.executable, "-m", "edgelog", "--version"],
    "edgelog --help": [sys.executable, "-m", "edgelog", "--help"],
}
SMALL_LINES = 50
ANALYZE = "edgelog analyze (50 lines)"
MERGE = "edgelog merge (2 x 50 lines)"

# One child interpreter's in-process runs: warm up, then time each call; prints the CPU and wall seconds.
IN_PROCESS = """
import json, shutil, sys, time
from pathlib import Path
from edgelog.analysis import analyze, merge
kind, runs, work = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
nodes = sorted(p for p in (work / "logs").iterdir())
results = [work / "results" / p.name for p in nodes]
def once(i):
    out = work / f"in-process-{i}"
    result = analyze([nodes[0]], out) if kind == "analyze" else merge(results, out)
    assert result.status == "ok", result.status
    shutil.rmtree(out)
once(-1)
times = []
for i in range(runs):
    c0, t0 = time.process_time(), time.perf_counter()
    once(i)
    times.append((time.perf_counter() - t0, time.process_time() - c0))
print(json.dumps(times))
"""


def run_once(cmd: list[str], cleanup: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run; ``cleanup`` is removed afterwards, not timed."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if (code := os.waitstatus_to_exitcode(status)) != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {code}")
    if cleanup is not None:
        shutil.rmtree(cleanup)
    return wall, usage.ru_utime + usage.ru_stime


def small_inputs(work: Path) -> None:
    """``work/logs/<node>/``: 50 lines of a generated 5-minute file for each of two nodes; ``work/results/
    <node>/``: each analysed (what the merge reads)."""
    for node in ("n1", "n2"):
        gen = work / "generated" / node
        subprocess.run(
            [sys.executable, "-m", "edgelog", "generate", "backfill", "--duration", "5m", "--node", node,
             "--start", "2026-11-23T08:00Z", "--seed", "15", "--out", str(gen)],
            check=True, capture_output=True,
        )  # fmt: skip
        (source,) = gen.glob("access-*.log")
        logs = work / "logs" / node
        logs.mkdir(parents=True)
        with source.open() as fh:
            (logs / source.name).write_text("".join(fh.readline() for _ in range(SMALL_LINES)))
        subprocess.run(
            [sys.executable, "-m", "edgelog", "analyze", str(logs), "--out", str(work / "results" / node)],
            check=True, capture_output=True,
        )  # fmt: skip


def small_commands(python: str, work: Path) -> dict[str, tuple[list[str], Path]]:
    """The small analyze and merge as processes of ``python``, each with the directory it writes."""
    out = work / "out"
    nodes = sorted(str(p) for p in (work / "results").iterdir())
    return {
        ANALYZE: ([python, "-m", "edgelog", "analyze", str(work / "logs" / "n1"), "--out", str(out)], out),
        MERGE: ([python, "-m", "edgelog", "merge", *nodes, "--out", str(out)], out),
    }


def in_process(python: str, kind: str, runs: int, work: Path) -> list[tuple[float, float]]:
    proc = subprocess.run(
        [python, "-c", IN_PROCESS, kind, str(runs), str(work)], check=True, capture_output=True, text=True
    )
    return [tuple(t) for t in json.loads(proc.stdout.splitlines()[-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    parser.add_argument("--small", action="store_true", help="also a 50-line analyze and a merge of two")
    parser.add_argument("--against", help="another interpreter to run the small commands with (e.g. main's)")
    args = parser.parse_args()
    small = args.small or bool(args.against)

    with tempfile.TemporaryDirectory(prefix="edgelog-bench-startup-") as tmp:
        work = Path(tmp)
        if small:
            small_inputs(work)
        # the interpreters the small commands run with, by the suffix of their rows (none without --small)
        against = {" [against]": args.against} if args.against else {}
        sides = {"": sys.executable, **against} if small else {}
        commands: dict[str, tuple[list[str], Path | None]] = {n: (c, None) for n, c in REFERENCES.items()}
        for suffix, python in sides.items():
            commands |= {n + suffix: c for n, c in small_commands(python, work).items()}
        for cmd, cleanup in commands.values():  # warm the page cache and the bytecode caches; not counted
            run_once(cmd, cleanup)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        loads = [os.getloadavg()[0]]
        for _ in range(args.runs):  # interleaved, so a change in the machine's load hits every command alike
            for name, (cmd, cleanup) in commands.items():
                wall, cpu = run_once(cmd, cleanup)
                walls[name].append(wall)
                cpus[name].append(cpu)
        loads.append(os.getloadavg()[0])
        calls: dict[str, list[tuple[float, float]]] = {}
        rounds = max(1, min(5, args.runs))  # the in-process calls, in child interpreters taking turns
        for _ in range(rounds):
            for suffix, python in sides.items():
                for kind, name in (("analyze", ANALYZE), ("merge", MERGE)):
                    label = name.replace("edgelog ", "") + suffix
                    calls.setdefault(label, []).extend(
                        in_process(python, kind, max(1, args.runs // rounds), work)
                    )
        loads.append(os.getloadavg()[0])

    wall = {name: statistics.median(v) for name, v in walls.items()}
    cpu = {name: statistics.median(v) for name, v in cpus.items()}
    print(
        f"{args.runs} runs each, medians; load average {min(loads):.1f}-{max(loads):.1f} "
        f"on {os.cpu_count()} cores"
    )
    print(f"{'command':<40} {'wall s':>7} {'cpu s':>7} {'cpu / python':>13} {'cpu / typer':>12}")
    floor, typer = cpu["python -c pass"], cpu["import typer, rich.console"]
    for name in commands:
        ratios = f"{cpu[name] / floor:12.1f}x {cpu[name] / typer:11.2f}x"
        print(f"{name:<40} {wall[name]:7.3f} {cpu[name]:7.3f} {ratios}")
    if not small:
        return
    print(f"\nin process ({rounds} child interpreters of {max(1, args.runs // rounds)} calls each, medians)")
    print(f"{'call':<40} {'wall s':>7} {'cpu s':>7}")
    for label, times in calls.items():
        print(
            f"{label:<40} {statistics.median(w for w, _ in times):7.3f} "
            f"{statistics.median(c for _, c in times):7.3f}"
        )
    if args.against:
        print("\nthis interpreter / --against (CPU s, wall s), same run:")
        for name in (ANALYZE, MERGE):
            a, b = name + " [against]", name
            print(f"  {name} as a process: {cpu[b] / cpu[a]:.2f}x CPU, {wall[b] / wall[a]:.2f}x wall")
            label = name.replace("edgelog ", "")
            mine, theirs = calls[label], calls[label + " [against]"]
            c = statistics.median(c for _, c in mine) / statistics.median(c for _, c in theirs)
            w = statistics.median(w for w, _ in mine) / statistics.median(w for w, _ in theirs)
            print(f"  {label} in process: {c:.2f}x CPU, {w:.2f}x wall")


if __name__ == "__main__":
    main()
