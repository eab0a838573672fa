"""Shared file helpers: atomic writes leave no partial or temporary file; digests match hashlib."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edgelog.fileio import hash_file, write_text_atomic


def test_write_text_atomic_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    target.write_text("old\n")
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_write_text_atomic_failure_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    target.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, "\udcff")  # a lone surrogate cannot be encoded: the write fails midway
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


@pytest.mark.parametrize("algo", ["sha256", "md5"])
def test_hash_file_matches_hashlib_across_chunks(tmp_path: Path, algo: str) -> None:
    data = bytes(range(256)) * 9000  # > 2 MiB: several 1 MiB chunks
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert hash_file(path, algo) == (len(data), hashlib.new(algo, data).hexdigest())
