"""Object storage for job results: one interface, a local-directory backend and a GCS backend."""

from edgelog.storage.base import Bucket, ObjectInfo, open_bucket

__all__ = ["Bucket", "ObjectInfo", "open_bucket"]
