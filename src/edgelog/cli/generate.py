"""CLI commands for the generate area: ``edgelog generate backfill|live|health|stream|config``.

The commands only parse options and call :mod:`edgelog.generator`; flags override config-file values.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edgelog.naming import FORMAT_FILES

if TYPE_CHECKING:  # the generator is imported by the commands that run it, not by `edgelog --help`
    from edgelog.generator.config import GeneratorConfig
    from edgelog.logformat import LogFormat

gen = typer.Typer(
    name="generate",
    help="Generate realistic web access logs: backfill rotated files, write live, check health.\n\n"
    "Example: [bold]edgelog generate backfill --duration 1h --out ./logs[/]",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

FORMAT_NAMES = ", ".join(FORMAT_FILES)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Generator YAML config (see log-generator/config.example.yaml)."),
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Random seed (overrides the config's `seed`; default 0).")
]
NodeOpt = Annotated[
    str,
    typer.Option(
        "--node", envvar="EDGELOG_NODE", help="Node name: part of file names and of the traffic seed."
    ),
]
RateOpt = Annotated[
    float | None,
    typer.Option("--rate", help="Average requests per second before time-of-day multipliers (config: "
                 "traffic.requests_per_second; > 0, at most 50,000)."),
]  # fmt: skip
FlatOpt = Annotated[
    bool, typer.Option("--flat", help="Constant rate: no time-of-day, weekend or burst multipliers.")
]


LogFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        help="Write this nginx log_format or Apache LogFormat definition (verbatim, as in the config) or "
        "preset instead of --format; `edgelog analyze --log-format` reads it back.",
    ),
]
LogFormatFromOpt = Annotated[
    str | None,
    typer.Option("--log-format-from", help="Take the definition from an nginx or Apache config file."),
]
LogFormatNameOpt = Annotated[
    str | None, typer.Option("--log-format-name", help="Which definition of --log-format-from to write.")
]


def _log_format(
    formats: list[str] | None, definition: str | None, path: str | None, name: str | None
) -> list[str | LogFormat] | None:
    """The --log-format* options as a format to write, or None when they are not given."""
    from edgelog.errors import UsageError
    from edgelog.logformat import resolve

    chosen = resolve(definition, path, name)
    if chosen is None:
        return None
    if formats:
        raise UsageError("--format and --log-format cannot be combined", hint="pass one of them")
    return [chosen]


def _config(path: Path | None, seed: int | None = None, flat: bool = False) -> GeneratorConfig:
    from edgelog.generator.config import load_config
    from edgelog.generator.options import check_seed

    check_seed(seed)
    cfg = load_config(path)
    overrides: dict[str, object] = {}
    if seed is not None:
        overrides["seed"] = seed
    if flat:
        overrides["traffic.shaped"] = False
    return cfg.with_overrides(overrides) if overrides else cfg


@gen.command("backfill")
def backfill_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the rotated files into.")],
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="How much traffic: 90s, 5m, 1h, 1d.")
    ] = "1h",
    start: Annotated[
        str | None,
        typer.Option("--start", help="UTC start (ISO-8601). Default: now minus --duration, on an interval."),
    ] = None,
    interval: Annotated[str, typer.Option("--interval", help="Rotation interval: one file each.")] = "5m",
    node: NodeOpt = "local",
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help=f"Output format, repeatable: {FORMAT_NAMES}."),
    ] = None,
    gzip: Annotated[bool, typer.Option("--gzip", help="Compress each file (.gz), as rotation does.")] = False,
    seed: SeedOpt = None,
    rate: RateOpt = None,
    burst_at: Annotated[
        list[str] | None,
        typer.Option(
            "--burst-at", help="Force a traffic spike at this UTC time (repeatable; see traffic.burst)."
        ),
    ] = None,
    flat: FlatOpt = False,
    config: ConfigOpt = None,
    log_format: LogFormatOpt = None,
    log_format_from: LogFormatFromOpt = None,
    log_format_name: LogFormatNameOpt = None,
) -> None:
    """Write past traffic as the 5-minute rotation would have left it: one complete file per interval.

    Names: access-<node>-<UTC end of interval>.log[.gz]; app-/error- streams; .jsonl and .csv for json/csv.
    Formats that share a name (combined and common) cannot be combined in one run.

    Each file is written under a temporary dot-name and renamed into place.

    The same seed, config, node and start give byte-identical files.

    Example: [bold]edgelog generate backfill --start 2026-11-23T08:00Z -d 1h --node n1 --out ./logs --gzip[/]
    """
    from edgelog.generator.backfill import backfill
    from edgelog.generator.options import check_formats, default_backfill_start, parse_duration, parse_time

    dur = parse_duration(duration, "--duration")
    step = parse_duration(interval, "--interval")
    t0 = parse_time(start, "--start") if start else default_backfill_start(dur, step, time.time())
    bursts = [parse_time(b, "--burst-at") for b in burst_at or []]
    cfg = _config(config, seed, flat)
    chosen = check_formats(
        _log_format(formats, log_format, log_format_from, log_format_name) or formats or ["combined"]
    )
    for fmt in chosen:
        paths = backfill(
            cfg,
            out,
            node=node,
            start=t0,
            duration=dur,
            interval=step,
            fmt=fmt,
            gzip=gzip,
            seed=seed,
            rate=rate,
            bursts=bursts,
        )
        size = sum(p.stat().st_size for p in paths)
        label = fmt if isinstance(fmt, str) else fmt.name or "log format"
        typer.echo(
            f"{label}: {len(paths)} files, {size:,} bytes in {out} ({paths[0].name} .. {paths[-1].name})"
        )


@gen.command("live")
def live_cmd(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Log file to append to (created if missing).")
    ],
    status_file: Annotated[
        Path | None, typer.Option("--status-file", help="JSON status file for rotation and health checks.")
    ] = None,
    rate: RateOpt = None,
    node: NodeOpt = "local",
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help=f"Output format, repeatable: {FORMAT_NAMES}. The first writes --output, every other "
            "<stream>-<node><ext> beside it (e.g. -f combined -f error -f app).",
        ),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option("--duration", help="Stop after this long (90s, 5m). Default: run until SIGTERM."),
    ] = None,
    max_lines: Annotated[
        int | None, typer.Option("--max-lines", help="Stop after writing this many lines.")
    ] = None,
    flat: FlatOpt = False,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    metrics_dir: Annotated[
        str | None,
        typer.Option(
            "--metrics-dir",
            envvar="EDGELOG_METRICS_DIR",
            help="Directory for the Prometheus textfile (node_exporter's textfile collector). "
            "Default: the --status-file's directory.",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port", envvar="EDGELOG_METRICS_PORT", help="Also serve /metrics on this port."
        ),
    ] = None,
    metrics_address: Annotated[
        str,
        typer.Option(
            "--metrics-address", envvar="EDGELOG_METRICS_ADDRESS", help="Address for --metrics-port."
        ),
    ] = "127.0.0.1",
    log_format: LogFormatOpt = None,
    log_format_from: LogFormatFromOpt = None,
    log_format_name: LogFormatNameOpt = None,
) -> None:
    """Append traffic to log files in real time; follow each when rotation renames it away.

    Repeat -f to write several streams of the same traffic: the access log in --output, the nginx error log
    (-f error) and the application log (-f app) beside it as error-<node>.log and app-<node>.log.

    Every 100 ms (and at once on SIGHUP) it reopens a file that rotation renamed or deleted.

    Writes whole lines only; keeps counters in --status-file; retries write errors with backoff.

    SIGTERM: clean exit with everything written and a final status. SIGUSR1: a traffic burst now.

    Prometheus metrics: a textfile in --metrics-dir (atomically, every second) and, with --metrics-port,
    /metrics on 127.0.0.1.

    Example: [bold]edgelog generate live -o /var/log/app/access-n1.log -f combined -f error -f app
    --node n1 --status-file /run/gen.json[/]
    """
    from edgelog.generator.live import run_live
    from edgelog.generator.options import parse_duration

    # the definition writes the access log (--output); error and app streams may go beside it
    streams = [f for f in formats or [] if f in ("error", "app")]
    access = [f for f in formats or [] if f not in streams]
    definition = _log_format(access, log_format, log_format_from, log_format_name)
    secs = parse_duration(duration, "--duration").total_seconds() if duration else None
    cfg = _config(config, seed)
    status = run_live(
        cfg,
        output,
        node=node,
        status_file=status_file,
        rate=rate,
        seed=seed,
        fmt=[*definition, *streams] if definition else formats or ["combined"],
        duration=secs,
        max_lines=max_lines,
        shaped=False if flat else None,
        metrics_dir=metrics_dir or None,
        metrics_port=metrics_port,
        metrics_address=metrics_address,
    )
    typer.echo(
        f"wrote {status.lines} lines ({status.bytes:,} bytes) to {output}; reopens {status.reopens}, "
        f"write errors {status.write_errors}; stopped: {status.stop_reason}",
        err=True,
    )
    from edgelog.cli import main  # output closed, final status saved: nothing left for interpreter teardown

    main.skip_teardown = True


@gen.command("health")
def health_cmd(
    status_file: Annotated[Path, typer.Option("--status-file", help="The live generator's status file.")],
    max_silence: Annotated[
        float,
        typer.Option("--max-silence", help="Unhealthy when the last write is older than this (seconds)."),
    ] = 30.0,
) -> None:
    """Exit 0 when the live generator wrote recently, 1 with the reason otherwise (container HEALTHCHECK).

    Example: [bold]edgelog generate health --status-file /var/lib/edgelog/generator.json --max-silence 30[/]
    """
    from edgelog.generator.live import check_health
    from edgelog.generator.options import MAX_DURATION, check_seconds

    check_seconds("--max-silence", max_silence, MAX_DURATION.total_seconds())
    health = check_health(status_file, max_silence)
    typer.echo(f"{'healthy' if health.healthy else 'unhealthy'}: {health.reason}")
    if not health.healthy:
        raise typer.Exit(1)


@gen.command("stream")
def stream_cmd(
    lines: Annotated[int | None, typer.Option("--lines", "-n", help="Number of lines to write.")] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", "-d", help="Simulated time to cover instead (5m, 1h).")
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="UTC start (ISO-8601). Default: now.")] = None,
    node: NodeOpt = "local",
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"Output format: {FORMAT_NAMES}.")] = "combined",
    seed: SeedOpt = None,
    rate: RateOpt = None,
    flat: FlatOpt = False,
    config: ConfigOpt = None,
    log_format: LogFormatOpt = None,
    log_format_from: LogFormatFromOpt = None,
    log_format_name: LogFormatNameOpt = None,
) -> None:
    """Print generated lines to stdout as fast as possible (simulated clock), for piping into other tools.

    Without --lines or --duration, prints 1000 lines.

    Example: [bold]edgelog generate stream -n 100000 --format json | jq .status | sort | uniq -c[/]
    """
    from edgelog.generator.backfill import stream
    from edgelog.generator.options import default_stream_start, parse_duration, parse_time

    definition = _log_format(
        [fmt] if fmt != "combined" else None, log_format, log_format_from, log_format_name
    )
    t0 = parse_time(start, "--start") if start else default_stream_start(time.time())
    dur = parse_duration(duration, "--duration") if duration else None
    cfg = _config(config, seed, flat)
    if lines is None and dur is None:
        lines = 1000
    out = sys.stdout
    try:
        stream(
            cfg,
            out.write,
            node=node,
            start=t0,
            lines=lines,
            duration=dur,
            fmt=definition[0] if definition else fmt,
            seed=seed,
            rate=rate,
        )
        out.flush()
    except BrokenPipeError:  # `| head` closed the pipe: that is a normal way to stop
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())


@gen.command("config")
def config_cmd(config: ConfigOpt = None) -> None:
    """Validate a config file and print the effective configuration (defaults merged in) as YAML.

    Example: [bold]edgelog generate config --config log-generator/config.example.yaml[/]
    """
    import yaml

    from edgelog.generator.config import load_config

    cfg = load_config(config)
    typer.echo(yaml.safe_dump(cfg.data, sort_keys=False, default_flow_style=None, width=100), nl=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(gen, name="generate")
