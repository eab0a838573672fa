"""Per-node processing: each analyze run's figures, the slowest node and the spread, for both reports.

The figures come from manifests, not from SQL over partials: an analyze result is one run (its own
``processing``), a merged result lists every run it holds (``runs``, with each run's manifest sha256). A job
finishes when its slowest node does, so the spread says how far the slowest is above the median node: the
time the job waited for it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from edgelog.resultdir import Manifest, Processing, RunEntry, runs_of
from edgelog.results.tables import Row

SETUP = "setup"


@dataclass
class Spread:
    """How the runs' durations spread, and how much the slowest one held the job back."""

    min_s: float
    median_s: float
    max_s: float
    slowest: Row
    main_phase: tuple[str, float] | None  # where the slowest run spent most of its time

    @property
    def held_back_s(self) -> float:
        """How much longer the job took than it would have if its slowest node were a median one."""
        return self.max_s - self.median_s

    @property
    def ratio(self) -> float | None:
        return self.max_s / self.median_s if self.median_s > 0 else None


@dataclass
class NodeProcessing:
    """The per-run rows of a result (slowest first), the phases they name, the spread, the merge's own."""

    rows: list[Row] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    spread: Spread | None = None  # None with fewer than two timed runs
    without_figures: int = 0  # runs whose edgelog recorded no figures
    merge: Processing | None = None  # a merged result's own figures
    merge_duration_s: float | None = None

    @property
    def empty(self) -> bool:
        return not any(r.get("duration_s") is not None for r in self.rows)

    def uniform(self, key: str) -> object | None:
        """The one value every run has for ``key`` (e.g. DuckDB's threads), or None when they differ."""
        values = {r.get(key) for r in self.rows if r.get(key) is not None}
        return values.pop() if len(values) == 1 else None


def _row(run: RunEntry) -> Row:
    p = run.processing
    row: Row = {
        "node_id": run.node_id or "–",
        "execution_id": run.execution_id,
        "status": run.status,
        "duration_s": run.duration_s if p is not None else None,
    }
    if p is not None:
        row.update({f"{name}_s": seconds for name, seconds in p.phases_s.items()})
        row.update(
            lines_per_s=p.lines_per_s,
            bytes_read=p.bytes_read,
            peak_rss_bytes=p.peak_rss_bytes,
            duckdb_peak_memory_bytes=p.duckdb_peak_memory_bytes,
            duckdb_peak_spill_bytes=p.duckdb_peak_spill_bytes,
            duckdb_threads=p.duckdb_threads,
            duckdb_memory_limit=p.duckdb_memory_limit,
            workspace=p.workspace,
        )
    return row


def node_processing(manifest: Manifest) -> NodeProcessing:
    """Everything the reports show about how each node's run went."""
    runs = runs_of(manifest)
    result = NodeProcessing(without_figures=sum(1 for r in runs if r.processing is None))
    for run in runs:
        for name in run.processing.phases_s if run.processing else ():
            if name not in result.phases:
                result.phases.append(name)
    rows = [_row(r) for r in runs]
    timed = [r for r in rows if isinstance(r.get("duration_s"), int | float)]
    # slowest first; untimed runs last; ties by node id
    rows.sort(key=lambda r: (r.get("duration_s") is None, -(r.get("duration_s") or 0), str(r["node_id"])))
    result.rows = rows
    if len(timed) >= 2:
        durations = [float(r["duration_s"]) for r in timed]
        slowest = rows[0]
        slowest["slowest"] = True
        phases = {name: float(slowest.get(f"{name}_s") or 0) for name in result.phases}
        main = max(phases.items(), key=lambda kv: kv[1]) if any(phases.values()) else None
        result.spread = Spread(
            min_s=min(durations),
            median_s=statistics.median(durations),
            max_s=max(durations),
            slowest=slowest,
            main_phase=main,
        )
    if manifest.kind == "merge" and manifest.processing is not None:
        result.merge = manifest.processing
        result.merge_duration_s = manifest.duration_s
    return result


def phase_label(name: str) -> str:
    return name.replace("_", " ").capitalize()
