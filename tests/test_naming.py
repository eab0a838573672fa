"""Rotated file names: the one scheme logrotate, backfill and the analyzer share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from edgelog.naming import is_temporary, parse_rotated_name, rotated_name


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
    with pytest.raises(ValueError, match="node name"):
        rotated_name("bad node", datetime.now(UTC))
    with pytest.raises(ValueError, match="timezone"):
        rotated_name("n1", datetime(2026, 1, 1))


def test_temporary_names() -> None:
    assert is_temporary(".access-n1-20261123T065500Z.log.tmp")
    assert not is_temporary("access-n1-20261123T065500Z.log")
