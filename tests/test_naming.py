"""Rotated file names: the one scheme logrotate, backfill and the analyzer share."""

from __future__ import annotations

import itertools
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from edgelog.errors import UsageError
from edgelog.naming import (
    ROTATED_PATTERN,
    TIMESTAMP_FORMAT,
    check_node_id,
    is_temporary,
    parse_rotated_name,
    rotated_name,
)


def test_round_trip_and_utc() -> None:
    ts = datetime(2026, 11, 23, 8, 55, 0, tzinfo=timezone(timedelta(hours=2)))
    name = rotated_name("node-eu-1", ts, gzip=True)
    assert name == "access-node-eu-1-20261123T065500Z.log.gz"
    parsed = parse_rotated_name(name)
    assert parsed is not None
    assert parsed.node == "node-eu-1"
    assert parsed.rotated_at == datetime(2026, 11, 23, 6, 55, tzinfo=UTC)
    assert parsed.gzip and parsed.ext == ".log" and parsed.stream == "access"
    assert parsed.name == name


def test_names_sort_by_time() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    names = [rotated_name("n1", base + timedelta(minutes=5 * i)) for i in range(30)]
    assert sorted(names) == names


@pytest.mark.parametrize(
    "name", ["access-n1.log", "access-n1-2026.log", "notes.txt", "access-n1-20261123T065500.log"]
)
def test_foreign_names_are_not_rotated(name: str) -> None:
    assert parse_rotated_name(name) is None


def test_bad_node_and_naive_time_rejected() -> None:
    with pytest.raises(ValueError, match="node id"):
        rotated_name("bad node", datetime.now(UTC))
    with pytest.raises(ValueError, match="timezone"):
        rotated_name("n1", datetime(2026, 1, 1))


def test_temporary_names() -> None:
    assert is_temporary(".access-n1-20261123T065500Z.log.tmp")
    assert not is_temporary("access-n1-20261123T065500Z.log")


# -- one node-id rule ----------------------------------------------------------------------------------

LONGEST = "n" + "x" * 62  # 63 characters: a GCE instance name's limit
BAD_NODE_IDS = ["", "-x", ".x", "a b", "a/b", "a:b", "ä", "n" + "x" * 63]
SHELL_LIB = Path(__file__).resolve().parent.parent / "log-generator" / "rotation" / "edgelog-rotate-lib.sh"


def test_one_node_id_rule() -> None:
    assert check_node_id(LONGEST) == LONGEST
    assert parse_rotated_name(rotated_name(LONGEST, datetime(2026, 1, 1, tzinfo=UTC))) is not None
    for bad in BAD_NODE_IDS:
        with pytest.raises(UsageError, match="node id"):
            check_node_id(bad)
        assert parse_rotated_name(f"access-{bad}-20261123T065500Z.log") is None, bad


def test_run_local_and_analyze_use_the_rule(tmp_path: Path) -> None:
    from edgelog.analysis import analyze
    from edgelog.jobs.local import parse_nodes

    (tmp_path / "logs").mkdir()
    assert parse_nodes([f"{LONGEST}={tmp_path / 'logs'}"])[0].node_id == LONGEST
    for bad in ("n" + "x" * 63, "a:b"):
        with pytest.raises(UsageError, match="node id"):
            parse_nodes([f"{bad}={tmp_path / 'logs'}"])
        with pytest.raises(UsageError, match="node id"):
            analyze([tmp_path / "logs"], tmp_path / "out", node_id=bad)


def _bash_matches(names: list[str]) -> list[tuple[str, ...] | None]:
    script = (
        f'source "{SHELL_LIB}"\n'
        "while IFS= read -r name; do\n"
        "  if [[ $name =~ $EDGELOG_ROTATED_RE ]]; then\n"
        '    printf "%s\\t" "${BASH_REMATCH[@]:1}"; echo\n'
        "  else echo NO; fi\n"
        "done\n"
    )
    proc = subprocess.run(
        ["bash", "-c", script], input="\n".join(names) + "\n", capture_output=True, text=True, check=True
    )
    return [None if line == "NO" else tuple(line.split("\t")[:5]) for line in proc.stdout.splitlines()]


@pytest.mark.needs_tool("bash")
def test_rotation_shell_uses_the_python_pattern() -> None:
    """The shell's EDGELOG_ROTATED_RE is naming.ROTATED_PATTERN; bash reads names exactly as Python does."""
    proc = subprocess.run(
        ["bash", "-c", f'source "{SHELL_LIB}" && printf %s "$EDGELOG_ROTATED_RE"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == ROTATED_PATTERN
    stamp = "20261123T065500Z"
    names = [
        f"access-n1-{stamp}.log",
        f"error-node-eu-1-{stamp}.log.gz",
        f"app-{LONGEST}-{stamp}.jsonl",
        f"access-n{'x' * 63}-{stamp}.log",
        f"access-a-{stamp}.b-{stamp}.csv.gz",
        f"access-n1-{stamp}.log.tmp",
        f"Access-n1-{stamp}.log",
        f"access-n1-{stamp}",
        f"access--{stamp}.log",
        "notes.txt",
    ]
    expected = []
    for name in names:
        parsed = parse_rotated_name(name)
        expected.append(
            None
            if parsed is None
            else (
                parsed.stream,
                parsed.node,
                name.split("-")[-1][:16],
                parsed.ext,
                ".gz" if parsed.gzip else "",
            )
        )
    assert _bash_matches(names) == expected
    assert sum(e is not None for e in expected) == 4


def test_a_stamp_is_read_exactly_as_strptime_reads_it() -> None:
    # the stamp's digits are read by hand (strptime is ~10x slower): every field at and past its bounds
    fields = (
        ("0000", "0001", "2026", "9999"),
        ("00", "01", "02", "12", "13"),
        ("00", "01", "28", "29", "30", "31", "32"),
        ("00", "23", "24"),
        ("00", "59", "60"),
        ("00", "59", "60", "61"),
    )
    for y, mo, d, h, mi, s in itertools.product(*fields):
        stamp = f"{y}{mo}{d}T{h}{mi}{s}Z"
        try:
            want: datetime | None = datetime.strptime(stamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            want = None
        got = parse_rotated_name(f"access-n1-{stamp}.log")
        assert (got.rotated_at if got else None) == want, stamp
