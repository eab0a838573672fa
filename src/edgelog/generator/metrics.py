"""Prometheus metrics of the live generator: a textfile for node_exporter and, optionally, ``/metrics``.

The numbers are the live status (``LiveStatus``) read at collection time, so the status file, the textfile
and the endpoint can never disagree. The textfile is written with ``prometheus_client.write_to_textfile``
(a temporary name in the same directory, then a rename: node_exporter's textfile collector only reads
``*.prom`` names and never sees a partial file), every second with the status file and once more on exit.
Names follow Prometheus conventions (``_total`` counters, ``_seconds``, ``_bytes``); docs/generator.md lists
them. Labels: ``stream`` (access, app, error), ``node`` and ``format``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from edgelog import __version__
from edgelog.errors import EdgelogError, UsageError, check_number, shown

if TYPE_CHECKING:
    from edgelog.generator.live import LiveStatus, StreamStatus

LABELS = ("stream", "node", "format")

# name -> (type, help, value from (the process's status, one stream's status); None leaves the series out).
# Every series is labelled with its stream; the process-wide ones (start, rate, bursts, running) repeat per
# stream so that every stream's series are complete on their own.
LIVE_METRICS: dict[str, tuple[str, str, Callable[[LiveStatus, StreamStatus], float | None]]] = {
    "edgelog_generator_lines_written_total": (
        "counter", "Whole lines written to the live log (a CSV header is not counted).",
        lambda s, st: st.lines,
    ),
    "edgelog_generator_bytes_written_total": ("counter", "Bytes of those lines.", lambda s, st: st.bytes),
    "edgelog_generator_write_errors_total": (
        "counter", "Failed writes and reopens (disk full, I/O error, directory gone); each is retried.",
        lambda s, st: st.write_errors,
    ),
    "edgelog_generator_dropped_lines_total": (
        "counter", "Lines given up after a stop was requested while writes kept failing.",
        lambda s, st: st.dropped_lines,
    ),
    "edgelog_generator_reopens_total": (
        "counter", "Reopens of the live log after rotation renamed it away (or on SIGHUP).",
        lambda s, st: st.reopens,
    ),
    "edgelog_generator_bursts_total": (
        "counter", "Traffic bursts forced with SIGUSR1.", lambda s, st: s.bursts,
    ),
    "edgelog_generator_last_write_timestamp_seconds": (
        "gauge", "Unix time of the last successful write.", lambda s, st: st.last_write_ts,
    ),
    "edgelog_generator_start_time_seconds": (
        "gauge", "Unix time the generator started.", lambda s, st: s.started_ts,
    ),
    "edgelog_generator_startup_duration_seconds": (
        "gauge", "Seconds spent building the traffic engine before the first line.",
        lambda s, st: s.startup_seconds,
    ),
    "edgelog_generator_target_requests_per_second": (
        "gauge", "Configured average rate before the time-of-day multipliers.", lambda s, st: s.rate,
    ),
    "edgelog_generator_running": (
        "gauge", "1 while the generator runs, 0 once it stopped.",
        lambda s, st: 1.0 if s.state == "running" else 0.0,
    ),
}  # fmt: skip


def metrics_file_name(output: Path) -> str:
    """The textfile of the generator whose first stream is ``output`` (``access-n1.log`` ->
    ``edgelog-generator-access-n1.prom``): one per generator, with every stream it writes, so several
    generators can share a directory."""
    return f"edgelog-generator-{output.name.split('.')[0]}.prom"


class LiveCollector(Collector):
    """Reads the live status when Prometheus (or the textfile writer) collects: a series per stream."""

    def __init__(self, status: LiveStatus):
        self.status = status

    def collect(self) -> Iterator[Metric]:
        s = self.status
        streams = s.all_streams()
        for name, (kind, help_text, get) in LIVE_METRICS.items():
            family: Metric
            if kind == "counter":
                family = CounterMetricFamily(name.removesuffix("_total"), help_text, labels=LABELS)
            else:
                family = GaugeMetricFamily(name, help_text, labels=LABELS)
            for st in streams:
                value = get(s, st)
                if value is not None:
                    family.add_metric([st.stream, s.node, st.format], float(value))
            yield family
        info = InfoMetricFamily(
            "edgelog_generator", "The edgelog version of the live generator.", labels=LABELS
        )
        for st in streams:
            info.add_metric([st.stream, s.node, st.format], {"version": __version__})
        yield info


def check_metrics_options(directory: Path | None, port: int | None, address: str) -> None:
    """A writable ``directory``, a port in 1..65535 and an IP address, or a UsageError naming the option."""
    if directory is not None and not (directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)):
        raise UsageError(
            f"--metrics-dir {shown(str(directory))} is not a writable directory",
            hint="create it (node_exporter's textfile directory) or set EDGELOG_METRICS_DIR",
        )
    if port is not None:
        check_number("--metrics-port", port, low=1, high=65535, integer=True)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise UsageError(
            f"--metrics-address {shown(address)} is not an IP address", hint="e.g. 127.0.0.1 (the default)"
        ) from None


class LiveMetrics:
    """The textfile (when a directory is set) and the ``/metrics`` endpoint (when a port is set)."""

    def __init__(self, status: LiveStatus, directory: Path | None, port: int | None, address: str):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(LiveCollector(status))
        self.path = directory / metrics_file_name(Path(status.path)) if directory is not None else None
        self._server = None
        if port is not None:
            try:
                self._server, _thread = start_http_server(port, addr=address, registry=self.registry)
            except OSError as exc:
                raise EdgelogError(
                    f"cannot serve metrics on {address}:{port}: {exc.strerror or exc}",
                    hint="choose a free port with --metrics-port",
                ) from None

    def write(self) -> str | None:
        """Write the textfile atomically; the problem as text when it failed (the generator goes on)."""
        if self.path is None:
            return None
        try:
            write_to_textfile(str(self.path), self.registry)
        except OSError as exc:
            return f"metrics file {self.path}: {exc.strerror or exc}"
        return None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
