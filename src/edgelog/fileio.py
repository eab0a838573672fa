"""File helpers every layer shares: atomic text writes and streaming digests.

Readers (rotation, fetch, the analyzer, a browser) must see either the old file or the whole new one, and
every checksum in a manifest must be computed the same way, so both live here once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 1 << 20


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a ``.``-prefixed temporary name in the same directory, then rename.

    The temporary name carries the pid, so concurrent writers never share one; it is removed on failure.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def hash_file(path: Path | str, algo: str = "sha256") -> tuple[int, str]:
    """(bytes hashed, hex digest) of a file; md5 is for integrity, not security.

    ``hashlib.file_digest`` reads into one buffer in C (no bytes object per chunk); a str path is taken as
    it is (a merge hashes ~50 files a node)."""

    def new() -> hashlib._Hash:
        return hashlib.md5(usedforsecurity=False) if algo == "md5" else hashlib.new(algo)

    with open(path, "rb") as fh:  # noqa: PTH123 (str or Path)
        digest = hashlib.file_digest(fh, new)
        return fh.tell(), digest.hexdigest()
