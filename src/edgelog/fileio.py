"""File helpers every layer shares: atomic text writes and streaming digests.

Readers (rotation, fetch, the analyzer, a browser) must see either the old file or the whole new one, and
every checksum in a manifest must be computed the same way, so both live here once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

CHUNK = 1 << 20
TAIL = 64 << 10
_buffers = threading.local()


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


def hash_file_tail(path: str, tail: int = TAIL) -> tuple[int, str, bytes]:
    """:func:`hash_file`'s (bytes hashed, sha256 hex digest) and the file's last ``tail`` bytes (all of it
    when smaller), from one read: a merge hashes every Parquet file of every node and checks the row count in
    its footer (``parquet_footer``), which this way costs no second open. Reads into one buffer per thread."""
    buf = getattr(_buffers, "buf", None)
    if buf is None:
        buf = _buffers.buf = bytearray(CHUNK)
    view = memoryview(buf)
    digest = hashlib.sha256()
    size, last = 0, b""
    with open(path, "rb", buffering=0) as fh:  # noqa: PTH123 (a str path, as hash_file)
        while n := fh.readinto(buf):
            digest.update(view[:n])
            size += n
            last = bytes(view[max(0, n - tail) : n]) if n >= tail else (last + bytes(view[:n]))[-tail:]
    return size, digest.hexdigest(), last
