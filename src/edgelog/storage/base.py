"""The storage interface every backend implements, and the URL dispatcher.

Keys are ``/``-separated, relative, and laid out the way Bacalhau's S3 publisher writes ops-job results:
``<prefix>/<jobID>/<nodeID>/<executionID>/outputs/...`` (``Encoding: plain``) or
``<prefix>/<jobID>/<nodeID>/<executionID>.tar.gz`` (``Encoding: gzip``).
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from edgelog.errors import UsageError


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing tells about one object. Checksums are whatever the backend can vouch for."""

    key: str
    size: int
    md5_hex: str | None = None
    crc32c_b64: str | None = None
    updated: datetime | None = None  # last written (UTC): `edgelog jobs` shows time ranges from it


class Bucket(abc.ABC):
    """A place results are published to and fetched from."""

    url: str

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""

    @abc.abstractmethod
    def upload_file(self, local: Path, key: str) -> None:
        """Store a local file under ``key`` (replacing it); readers never see a partial object."""

    @abc.abstractmethod
    def download_file(self, key: str, local: Path) -> None:
        """Write the object to ``local`` atomically (temporary name, then rename)."""

    def upload_tree(self, root: Path, prefix: str) -> builtins.list[str]:
        """Upload every file below ``root`` under ``prefix`` keeping relative paths, as the publisher does."""
        keys = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(root).as_posix()}"
            self.upload_file(path, key)
            keys.append(key)
        return keys


def open_bucket(url: str | Path) -> Bucket:
    """Open ``gs://bucket/prefix``, ``file:///dir`` or a plain directory path."""
    text = str(url)
    if text.startswith("gs://"):
        from edgelog.storage.gcs import GCSBucket

        return GCSBucket.from_url(text)
    if "://" in text and not text.startswith("file://"):
        raise UsageError(
            f"unsupported bucket URL {text!r}",
            hint="use gs://BUCKET[/PREFIX], file:///path/to/dir or a local directory path",
        )
    from edgelog.storage.local import LocalBucket

    return LocalBucket.from_url(text)
