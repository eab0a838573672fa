"""A small analyze works on one DuckDB thread: for a few megabytes, coordinating threads costs more than it
saves.

Measured on this 2-core machine (in-process analyze repeated in one process, per run): 0.8 MB of generator
traffic 0.270 -> 0.207 CPU s and 0.249 -> 0.209 s wall on one thread; 15 MB 0.596 -> 0.509 CPU s, 0.543 ->
0.503 s; at 77 MB two threads were faster (1.24-1.37 against 1.57-1.72 s wall). The node job analyses a few
minutes of rotated files every run. ``$EDGELOG_THREADS`` still decides when it is set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.results import copy_sample, parquet_outputs

from edgelog.analysis import analyze, workspace


def _threads(out: Path) -> int:
    return int(json.loads((out / "manifest.json").read_text())["processing"]["duckdb_threads"])


@pytest.fixture
def small(tmp_path: Path, samples_dir: Path) -> Path:
    inputs = tmp_path / "in"
    copy_sample(samples_dir, "nginx_small.log", inputs, "node-a", "20261122T232500Z")
    return inputs


def test_a_small_input_is_analysed_on_one_thread(small: Path, tmp_path: Path) -> None:
    analyze([small], tmp_path / "out")
    assert _threads(tmp_path / "out") == 1


def test_an_input_above_the_small_size_gets_every_core_and_the_same_bytes(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyze([small], tmp_path / "one")
    monkeypatch.setattr(workspace, "SMALL_INPUT_BYTES", 1000)  # the sample is 100,954 bytes
    analyze([small], tmp_path / "all")
    assert _threads(tmp_path / "all") == os.cpu_count()
    assert parquet_outputs(tmp_path / "all") == parquet_outputs(tmp_path / "one")


def test_edgelog_threads_decides_when_it_is_set(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGELOG_THREADS", "3")
    analyze([small], tmp_path / "out")
    assert _threads(tmp_path / "out") == 3
