"""The generator refuses nonsense: every numeric option and config key is finite and bounded, hostile YAML
is rejected in bounded time and memory, and no message ever formats an unbounded value."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.errors import MAX_SHOWN, ConfigError, ExitCode, shown
from edgelog.generator.config import BOUNDS, DEFAULTS, MAX_CONFIG_BYTES, load_config

runner = CliRunner()


def _numeric_leaves(data: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out += _numeric_leaves(value, dotted)
        elif (isinstance(value, int | float | list) and not isinstance(value, bool)) or value is None:
            out.append(dotted)
    return out


def test_every_numeric_config_key_has_bounds() -> None:
    leaves = _numeric_leaves(DEFAULTS)
    assert "traffic.requests_per_second" in leaves and "sessions.transitions.home.exit" in leaves
    missing = [k for k in leaves if k not in BOUNDS]
    assert not missing, f"numeric config keys without bounds: {missing}"
    for key, (low, high) in BOUNDS.items():
        assert low < high, key


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("traffic:\n  requests_per_second: .nan\n", "traffic.requests_per_second"),
        ("traffic:\n  requests_per_second: .inf\n", "traffic.requests_per_second"),
        ("traffic:\n  requests_per_second: 1.0e9\n", "traffic.requests_per_second"),
        ("traffic:\n  requests_per_second: 0\n", "traffic.requests_per_second"),
        ("site:\n  products: 100000000\n", "site.products"),
        ("users:\n  population: 1000000000\n", "users.population"),
        ("sessions:\n  pages_max: 1000000000\n", "sessions.pages_max"),
        ("sessions:\n  think_time_max_seconds: 1.0e300\n", "sessions.think_time_max_seconds"),
        ("bots:\n  scanner_requests: [1, 1000000000000]\n", "bots.scanner_requests"),
        ("traffic:\n  burst:\n    factor: 1.0e300\n", "traffic.burst.factor"),
        ("traffic:\n  burst:\n    duration_seconds: 100000000\n", "traffic.burst.duration_seconds"),
        ("errors:\n  outages:\n    duration_seconds: [60, 100000000]\n", "errors.outages.duration_seconds"),
        ("traffic:\n  weekend_factor: 1.0e12\n", "traffic.weekend_factor"),
        ("seed: 100000000000000000000000000000000000000\n", "seed"),
    ],
)
def test_out_of_range_config_values_name_the_key(tmp_path: Path, yaml_text: str, key: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.field is not None and info.value.field.startswith(key), info.value
    assert len(str(info.value)) < 400


def test_peak_rate_is_bounded_across_keys(tmp_path: Path) -> None:
    """Each key in range, but rate x hourly peak x burst factor would plan millions of requests/s."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("traffic:\n  requests_per_second: 40000\n  burst:\n    factor: 50\n")
    with pytest.raises(ConfigError, match="peak"):
        load_config(cfg)


def _limited(code: str, tmp_path: Path, mem_mb: int = 400) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child with an address-space limit and a time limit: a bomb cannot take the host."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))

    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit,
        cwd=tmp_path,
    )


def _bomb() -> str:
    """Billion laughs in flow style: nine levels of nine references, 9^9 strings once expanded."""
    levels = ["&a [" + ",".join(["lol"] * 9) + "]"]
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"&{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "[" + ", ".join(levels) + "]"


@pytest.mark.parametrize(
    "doc",
    [
        "site:\n  products: {bomb}\n",  # a typed scalar key
        "site:\n  host: {bomb}\n",
        "traffic:\n  hourly_multipliers: [{bomb}" + ", 1" * 23 + "]\n",  # an element of a typed list
        "errors:\n  dead_links: {bomb}\n",
    ],
    ids=["int", "str", "list-item", "nested"],
)
def test_yaml_bomb_at_a_typed_key_is_a_short_config_error(tmp_path: Path, doc: str) -> None:
    """Loading the bomb is cheap (aliases are references); formatting it into a message is not."""
    (tmp_path / "bomb.yaml").write_text(doc.format(bomb=_bomb()))
    res = _limited(
        "import sys\n"
        "from edgelog.errors import ConfigError\n"
        "from edgelog.generator.config import load_config\n"
        "try:\n"
        "    load_config('bomb.yaml')\n"
        "except ConfigError as exc:\n"
        "    print(exc); sys.exit(2)\n",
        tmp_path,
    )
    assert res.returncode == 2, res.stderr[-2000:]
    assert len(res.stdout) < 600, res.stdout[:2000]


def test_yaml_bomb_through_the_cli_exits_2_quickly(tmp_path: Path) -> None:
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(f"traffic:\n  burst:\n    factor: {_bomb()}\n")
    res = _limited(
        "import sys\nfrom edgelog.cli.main import main\n"
        f"sys.argv=['edgelog','generate','config','-c','{cfg}']\nmain()\n",
        tmp_path,
    )
    assert res.returncode == ExitCode.USAGE, res.stderr[-2000:]
    assert "traffic.burst.factor" in res.stderr
    assert len(res.stderr) < 600 and "Traceback" not in res.stderr


def test_oversized_and_pathological_config_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(big)
    deep = tmp_path / "deep.yaml"
    deep.write_text("site: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError):
        load_config(deep)
    huge_int = tmp_path / "int.yaml"
    huge_int.write_text("site:\n  products: 1" + "0" * 10_000 + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(huge_int)
    assert len(str(info.value)) < 400
    long_key = tmp_path / "key.yaml"
    long_key.write_text("site:\n  " + "k" * 200_000 + ": 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(long_key)
    assert len(str(info.value)) < 600


def test_shown_is_bounded_whatever_the_value() -> None:
    nested: list = ["lol"] * 9
    for _ in range(9):
        nested = [nested] * 9
    for value in (nested, "x" * 10**6, {i: [i] * 100 for i in range(1000)}, 10**5000, float("nan")):
        assert len(shown(value)) <= MAX_SHOWN


# ---- command-line options --------------------------------------------------------------------------------

BAD_OPTIONS = [
    ["stream", "-n", "5", "--rate", "nan"],
    ["stream", "-n", "5", "--rate", "inf"],
    ["stream", "-n", "5", "--rate", "-5"],
    ["stream", "-n", "5", "--rate", "1e9"],
    ["stream", "-n", "5", "--rate", "0"],
    ["stream", "-n", "-1"],
    ["stream", "-n", "100000000000000"],
    ["stream", "-d", "100000000d"],
    ["stream", "-n", "5", "--start", "9999-12-31T23:59:59Z"],
    ["stream", "-n", "5", "--seed", "-1"],
    ["stream", "-n", "5", "--seed", "1" + "0" * 40],
    ["backfill", "--out", "OUT", "--rate", "nan"],
    ["backfill", "--out", "OUT", "--rate", "1e9"],
    ["backfill", "--out", "OUT", "-d", "1000000d"],
    ["backfill", "--out", "OUT", "--interval", "100000000d"],
    ["backfill", "--out", "OUT", "--start", "0001-01-01T00:00:00Z"],
    ["live", "--output", "OUT/x.log", "--rate", "nan"],
    ["live", "--output", "OUT/x.log", "--rate", "inf"],
    ["live", "--output", "OUT/x.log", "--rate", "-5"],
    ["live", "--output", "OUT/x.log", "--rate", "1e9"],
    ["live", "--output", "OUT/x.log", "--max-lines", "-3"],
    ["live", "--output", "OUT/x.log", "--duration", "99999999999d"],
    ["health", "--status-file", "OUT/s.json", "--max-silence", "nan"],
    ["health", "--status-file", "OUT/s.json", "--max-silence", "inf"],
    ["health", "--status-file", "OUT/s.json", "--max-silence", "-1"],
]


@pytest.mark.parametrize("args", BAD_OPTIONS, ids=lambda a: " ".join(a)[:60])
def test_nonsense_options_exit_2_with_a_message(tmp_path: Path, args: list[str]) -> None:
    argv = [a.replace("OUT", str(tmp_path)) for a in args]
    result = runner.invoke(app, ["generate", *argv])
    assert result.exit_code == ExitCode.USAGE, (argv, result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert not list(tmp_path.glob("*.log")), "nothing may be written for a refused command"
