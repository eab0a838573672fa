"""`edgelog generate` commands do what they say: no silent overwrite, errors about the right option, the
documented config keys exist, --flat everywhere, an example in the top-level help."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgelog.cli.main import app
from edgelog.errors import ExitCode
from edgelog.generator.config import DEFAULTS, PAGE_KINDS
from edgelog.generator.options import default_backfill_start

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent


def test_backfill_refuses_formats_that_would_overwrite_each_other(tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = runner.invoke(
        app, ["generate", "backfill", "--out", str(out), "-d", "10m", "-f", "combined", "-f", "common"]
    )
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "combined" in result.output and "common" in result.output and "overwrite" in result.output
    assert not out.exists() or not any(out.iterdir()), "nothing is written for a refused combination"
    # formats with distinct names still go together; a repeated format is written once
    result = runner.invoke(
        app,
        [
            "generate",
            "backfill",
            "--out",
            str(out),
            "-d",
            "10m",
            "-f",
            "combined",
            "-f",
            "json",
            "-f",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert (
        len([n for n in names if n.endswith(".log")]) == 2
        and len([n for n in names if n.endswith(".jsonl")]) == 2
    )
    assert result.output.count("json:") == 1


@pytest.mark.parametrize("command", ["backfill", "stream"])
def test_bad_burst_or_start_names_the_option(tmp_path: Path, command: str) -> None:
    extra = ["--out", str(tmp_path)] if command == "backfill" else ["-n", "5"]
    if command == "backfill":
        result = runner.invoke(app, ["generate", command, *extra, "--burst-at", "yesterday"])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert "--burst-at" in result.output and "start" not in result.output, result.output
    result = runner.invoke(app, ["generate", command, *extra, "--start", "noon"])
    assert result.exit_code == ExitCode.USAGE and "--start" in result.output, result.output


def _config_leaves(data: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        out += _config_leaves(value, dotted) if isinstance(value, dict) else [dotted]
    return out


def _table_keys(markdown: str, heading: str) -> tuple[set[str], str]:
    """The key paths a config table documents: full `a.b.c` paths and `/ .c` siblings in its first
    column; plus the whole table's text."""
    lines = markdown.split(heading, 1)[1].splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| key |"))
    rows = []
    for line in lines[first + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    keys: set[str] = set()
    for row in rows:
        first = row.split("|")[1]
        last_full = ""
        for token in re.findall(r"`([^`]+)`", first):
            if token.startswith(".") and last_full:  # `.direct` after `sessions.start.login`
                keys.add(last_full.rsplit(".", 1)[0] + token)
            else:
                keys.add(token)
                last_full = token
    return keys, "\n".join(rows)


@pytest.mark.parametrize(
    ("doc", "heading"),
    [
        ("README.md", "### Generator (`log-generator/config.example.yaml`)"),
        ("docs/generator.md", "## Configuration reference"),
    ],
)
def test_documented_config_keys_are_the_configs_keys(doc: str, heading: str) -> None:
    """Every key path a config table names exists (a leaf, or a group such as `sessions.protocol` or
    `sessions.transitions.<type>`), and every key of the config is documented, by path or within a group."""
    keys, _rows = _table_keys((REPO / doc).read_text(), heading)
    leaves = set(_config_leaves(DEFAULTS))
    groups = {leaf.rsplit(".", i)[0] for leaf in leaves for i in range(1, leaf.count(".") + 1)}
    named: set[str] = set()
    for key in keys:
        key = key.removesuffix(".*")
        expanded = {key.replace("<type>", kind) for kind in PAGE_KINDS} if "<type>" in key else {key}
        for k in expanded:
            assert k in leaves or k in groups, f"{doc} documents {key}, which is not a config key"
        named |= expanded
    for leaf in leaves:
        ancestors = {leaf.rsplit(".", i)[0] for i in range(leaf.count(".") + 1)}
        assert ancestors & named, f"{doc} does not document {leaf}"


@pytest.mark.parametrize("command", ["backfill", "stream"])
def test_flat_is_offered_by_backfill_and_stream(tmp_path: Path, command: str) -> None:
    """03:00 UTC is the night trough (multiplier ~0.19): --flat writes the requested rate instead."""
    # 2 minutes: shaped 0.19-0.21 and flat 0.995-1.012 of the 24,000 requested lines over seeds 1-6
    args = ["--start", "2026-11-24T03:00:00Z", "-d", "2m", "--rate", "200", "-f", "json", "--seed", "4"]
    counts = []
    for flat in ([], ["--flat"]):
        if command == "backfill":
            out = tmp_path / f"o{len(flat)}"
            result = runner.invoke(app, ["generate", "backfill", "--out", str(out), *args, *flat])
            assert result.exit_code == 0, result.output
            counts.append(sum(p.read_bytes().count(b"\n") for p in out.iterdir()))
        else:
            result = runner.invoke(app, ["generate", "stream", *args, *flat])
            assert result.exit_code == 0, result.output
            counts.append(result.output.count("\n"))
    shaped, flat_count = counts
    assert shaped < 0.4 * 200 * 120 and flat_count > 0.9 * 200 * 120, counts


def test_top_level_help_has_an_example() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and "edgelog demo" in result.output, result.output


def test_default_backfill_start_is_a_library_rule() -> None:
    now = datetime(2026, 11, 23, 8, 7, 31, tzinfo=UTC).timestamp()
    start = default_backfill_start(timedelta(hours=1), timedelta(minutes=5), now)
    assert start == datetime(2026, 11, 23, 7, 5, tzinfo=UTC)  # ends on the last 5-minute boundary (08:05)
    cli = (REPO / "src/edgelog/cli/generate.py").read_text()
    assert "fromtimestamp" not in cli and "% int(" not in cli, "the CLI must not compute start times itself"
