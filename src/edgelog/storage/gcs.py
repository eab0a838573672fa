"""A Google Cloud Storage bucket: where the Bacalhau S3 publisher (GCS HMAC interop) leaves job results.

``gs://BUCKET[/ROOT]`` works like a local bucket directory: ``ROOT`` is a folder inside the bucket and keys
are relative to it (``edgelog/<jobID>/<nodeID>/...``). Credentials come from Application Default
Credentials; with ``STORAGE_EMULATOR_HOST`` set the client talks to that emulator anonymously (the library
still wants a project id: ``$GOOGLE_CLOUD_PROJECT`` or ``edgelog-emulator``).

Every request is retried with exponential backoff on 408/429/5xx and dropped connections, because a fetch of
hundreds of objects over a flaky link should not fail on one hiccup. Downloads are checked against the crc32c
GCS reports (the client library does it while streaming) and a mismatch is retried a few times before it is
reported as an integrity error.
"""

from __future__ import annotations

import base64
import http.client
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from edgelog import interrupts
from edgelog.errors import EdgelogError, IntegrityError, UsageError
from edgelog.storage.base import Bucket, ObjectInfo

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
EMULATOR_PROJECT = "edgelog-emulator"
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
CORRUPTION_ATTEMPTS = 3  # a download whose checksum does not match is tried this many times in all


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying: 408/429/5xx answers and broken connections (GCS retry strategy)."""
    import requests
    import urllib3
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions
    from google.cloud.storage.exceptions import InvalidResponse

    if isinstance(
        exc,
        ConnectionError
        | TimeoutError
        | requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError
        | http.client.HTTPException
        | urllib3.exceptions.HTTPError,
    ):
        return True
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return exc.code in RETRYABLE_STATUS
    if isinstance(exc, InvalidResponse):
        return getattr(exc.response, "status_code", None) in RETRYABLE_STATUS
    if isinstance(exc, auth_exceptions.TransportError) and exc.args:
        inner = exc.args[0]
        return isinstance(inner, BaseException) and is_transient(inner)
    return False


def _retry_unless_stopping(exc: BaseException) -> bool:
    """Retry a transient error unless a stop (Ctrl-C, SIGTERM) has come: a download in an outage would retry
    for the whole budget (``retry_timeout``, 120 s) before the stopped command could end; it now gives up at
    its next error, within one backoff (``retry_maximum``)."""
    return is_transient(exc) and not interrupts.stopping.is_set()


def _b64_to_hex(value: str | None) -> str | None:
    return base64.b64decode(value).hex() if value else None


class GCSBucket(Bucket):
    """Objects below ``gs://bucket/root/``; keys are relative to ``root``."""

    def __init__(
        self,
        bucket: str,
        root: str = "",
        *,
        project: str | None = None,
        retry_timeout: float = 120.0,
        retry_initial: float = 0.25,
        retry_maximum: float = 8.0,
        on_retry: Callable[[BaseException], None] | None = None,
    ):
        if not bucket:
            raise UsageError("bucket URL has no bucket name", hint="use gs://BUCKET[/PREFIX]")
        self.bucket_name = bucket
        self.root = root.strip("/")
        self.url = f"gs://{bucket}" + (f"/{self.root}" if self.root else "")
        self.project = project
        self.retry_timeout = retry_timeout
        self.retry_initial = retry_initial
        self.retry_maximum = retry_maximum
        self.on_retry = on_retry
        self._local = threading.local()  # one client per thread: requests sessions are not thread-safe

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> GCSBucket:
        """Parse ``gs://bucket[/root]``."""
        if not url.startswith("gs://"):
            raise UsageError(f"not a gs:// URL: {url!r}", hint="use gs://BUCKET[/PREFIX]")
        bucket, _, root = url[len("gs://") :].partition("/")
        if not bucket or "/" in bucket or any(c.isspace() for c in bucket):
            raise UsageError(f"invalid bucket URL {url!r}", hint="use gs://BUCKET[/PREFIX]")
        return cls(bucket, root, **kwargs)

    # -- plumbing --------------------------------------------------------------------------------------------

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._make_client()
        return client

    def _make_client(self) -> Any:
        from google.auth import exceptions as auth_exceptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        emulator = os.environ.get(EMULATOR_ENV)
        if emulator:
            endpoint = emulator if "://" in emulator else f"http://{emulator}"  # host:port works too
            project = self.project or os.environ.get("GOOGLE_CLOUD_PROJECT") or EMULATOR_PROJECT
            return storage.Client(
                project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
            )
        try:
            return storage.Client(project=self.project)
        except auth_exceptions.DefaultCredentialsError as exc:
            raise UsageError(
                f"no Google credentials to read {self.url}: {exc}",
                hint="run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, "
                "or use a local bucket (--bucket file:///path)",
            ) from None

    def _retry(self) -> Any:
        from google.api_core.retry import Retry

        return Retry(
            predicate=_retry_unless_stopping,
            initial=self.retry_initial,
            maximum=self.retry_maximum,
            multiplier=2.0,
            timeout=self.retry_timeout,
            on_error=self.on_retry,
        )

    def _name(self, key: str) -> str:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise UsageError(f"invalid object key {key!r}")
        return "/".join([self.root, *parts]) if self.root else "/".join(parts)

    def _translate(self, exc: Exception, what: str) -> EdgelogError:
        """Turn a client-library error into one a person can act on."""
        from google.api_core import exceptions as api_exceptions

        if isinstance(exc, api_exceptions.NotFound):
            return UsageError(
                f"{self.url}: {what}: bucket not found", hint="check the bucket name in --bucket"
            )
        if isinstance(exc, api_exceptions.Forbidden | api_exceptions.Unauthorized):
            return UsageError(
                f"{self.url}: {what}: permission denied ({exc.code})",
                hint="grant the account roles/storage.objectViewer (fetch) or objectAdmin (publish)",
            )
        if isinstance(exc, api_exceptions.RetryError):
            return EdgelogError(
                f"{self.url}: {what}: gave up after retrying for {self.retry_timeout:g}s: {exc}"
            )
        return EdgelogError(f"{self.url}: {what}: {exc}")

    # -- Bucket interface ------------------------------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        from google.api_core import exceptions as api_exceptions

        base = f"{self.root}/" if self.root else ""
        full = base + prefix.lstrip("/")
        try:
            # GCS lists in lexicographic name order; the iterator follows nextPageToken across pages.
            pages = self._client().list_blobs(
                self.bucket_name, prefix=full or None, page_size=1000, retry=self._retry()
            )
            for blob in pages:
                name: str = blob.name
                if name.endswith("/") or not name.startswith(base):
                    continue  # a "folder" placeholder object, not data
                yield ObjectInfo(
                    key=name[len(base) :],
                    size=int(blob.size or 0),
                    md5_hex=_b64_to_hex(blob.md5_hash),
                    crc32c_b64=blob.crc32c,
                    updated=blob.updated,
                )
        except api_exceptions.GoogleAPIError as exc:
            raise self._translate(exc, f"listing {prefix!r}") from None

    def upload_file(self, local: Path, key: str) -> None:
        from google.api_core import exceptions as api_exceptions

        blob = self._client().bucket(self.bucket_name).blob(self._name(key))
        try:
            # A single-request or resumable upload becomes visible only when complete; crc32c is sent along
            # so GCS rejects a body damaged in transit.
            blob.upload_from_filename(str(local), checksum="crc32c", retry=self._retry())
        except api_exceptions.GoogleAPIError as exc:
            raise self._translate(exc, f"uploading {key!r}") from None

    def download_file(self, key: str, local: Path) -> None:
        from google.api_core import exceptions as api_exceptions
        from google.cloud.storage.exceptions import DataCorruption

        blob = self._client().bucket(self.bucket_name).blob(self._name(key))
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.part")
        last: Exception | None = None
        for _attempt in range(CORRUPTION_ATTEMPTS):
            try:
                blob.download_to_filename(str(tmp), checksum="crc32c", retry=self._retry())
            except api_exceptions.NotFound:
                tmp.unlink(missing_ok=True)
                raise FileNotFoundError(f"{self.url}: no object {key!r}") from None
            except DataCorruption as exc:
                tmp.unlink(missing_ok=True)
                last = exc
                if self.on_retry:
                    self.on_retry(exc)
                continue
            except api_exceptions.GoogleAPIError as exc:
                tmp.unlink(missing_ok=True)
                raise self._translate(exc, f"downloading {key!r}") from None
            except Exception:
                tmp.unlink(missing_ok=True)
                raise
            tmp.replace(local)
            return
        raise IntegrityError(
            f"{self.url}: {key}: checksum from GCS did not match the downloaded bytes "
            f"{CORRUPTION_ATTEMPTS} times: {last}"
        )
