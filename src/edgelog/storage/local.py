"""A bucket that is a local directory: the embedded default, and what the local job runner publishes to."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from edgelog.errors import UsageError
from edgelog.fileio import hash_file
from edgelog.storage.base import Bucket, ObjectInfo


class LocalBucket(Bucket):
    """Objects are files below ``root``; keys are their relative POSIX paths."""

    def __init__(self, root: Path):
        self.root = root
        self.url = root.as_uri()

    @classmethod
    def from_url(cls, url: str) -> LocalBucket:
        path = Path(unquote(urlparse(url).path)) if url.startswith("file://") else Path(url)
        path = path.expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise UsageError(
                f"bucket path {path} exists and is not a directory", hint="point --bucket at a directory"
            )
        return cls(path)

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise UsageError(f"invalid object key {key!r}")
        return self.root.joinpath(*parts)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not self.root.is_dir():
            return
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):
                    continue  # a temporary file still being written
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found.append(key)
        for key in sorted(found):
            path = self._path(key)
            stat = path.stat()
            yield ObjectInfo(
                key=key,
                size=stat.st_size,
                md5_hex=_md5(path),
                updated=datetime.fromtimestamp(stat.st_mtime, UTC),
            )

    def upload_file(self, local: Path, key: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        shutil.copyfile(local, tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(target)

    def download_file(self, key: str, local: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise FileNotFoundError(f"{self.url}: no object {key!r}")
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.part")
        shutil.copyfile(source, tmp)
        tmp.replace(local)


def _md5(path: Path) -> str:
    return hash_file(path, "md5")[1]
