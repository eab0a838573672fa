"""Benchmark: how long ``edgelog --help`` and ``edgelog --version`` take, as whole processes, same run.

Runs each command ``--runs`` times, interleaved with two references measured alongside it:

* ``python -c pass``                         (the interpreter's own start-up: the floor),
* ``python -c "import typer, rich.console"`` (the CLI framework every typer app loads before its first line),

and prints the median wall and CPU (user + system) seconds of each and the ratios to the references. Goal
(issue 12): ``--help`` and ``--version`` under 0.3 s; they were 1.1 s when the CLI imported DuckDB and the
generator up front. CPU seconds are the steadier figure on a shared machine: wall time there includes waiting
for a core.

    .venv/bin/python bench/startup.py            # 15 runs each
    .venv/bin/python bench/startup.py --runs 40
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import typer, rich.console": [sys.executable, "-c", "import typer, rich.console"],
    "edgelog --version": [sys.executable, "-m", "edgelog", "--version"],
    "edgelog --help": [sys.executable, "-m", "edgelog", "--help"],
}


def run_once(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if (code := os.waitstatus_to_exitcode(status)) != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {code}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args()

    for cmd in COMMANDS.values():  # warm the page cache and the bytecode caches; not counted
        run_once(cmd)
    walls: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpus: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):  # interleaved, so a change in the machine's load hits every command alike
        for name, cmd in COMMANDS.items():
            wall, cpu = run_once(cmd)
            walls[name].append(wall)
            cpus[name].append(cpu)

    wall = {name: statistics.median(v) for name, v in walls.items()}
    cpu = {name: statistics.median(v) for name, v in cpus.items()}
    print(f"{args.runs} runs each, medians; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'command':<28} {'wall s':>7} {'cpu s':>7} {'cpu / python':>13} {'cpu / typer':>12}")
    floor, typer = cpu["python -c pass"], cpu["import typer, rich.console"]
    for name in COMMANDS:
        ratios = f"{cpu[name] / floor:12.1f}x {cpu[name] / typer:11.2f}x"
        print(f"{name:<28} {wall[name]:7.3f} {cpu[name]:7.3f} {ratios}")


if __name__ == "__main__":
    main()
