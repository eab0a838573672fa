"""GCSBucket against a real gcp-storage-emulator: layout, listing past 1,000 objects, checksums, retries."""

from __future__ import annotations

import base64
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import google_crc32c
import pytest
from support.gcs import FaultProxy, new_bucket

from edgelog.errors import EdgelogError, IntegrityError, UsageError
from edgelog.storage import open_bucket
from edgelog.storage.gcs import GCSBucket, is_transient

# Every test here drives a real tool (see tests/support/tools.py); the fast lane deselects them.
pytestmark = pytest.mark.needs_tool("gcp-storage-emulator")


@pytest.fixture
def bucket_url(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    return new_bucket(gcs_emulator, root="team-a")


def _tree(root: Path) -> None:
    (root / "outputs" / "reports").mkdir(parents=True)
    (root / "outputs" / "manifest.json").write_text('{"schema": "edgelog.manifest/1"}')
    (root / "outputs" / "reports" / "summary.parquet").write_bytes(bytes(range(256)) * 40)
    (root / "stdout").write_text("analysed 3 files\n")
    (root / "stderr").write_text("")
    (root / "exitCode").write_text("0")


def test_roundtrip_with_checksums_and_root(bucket_url: str, tmp_path: Path) -> None:
    _tree(tmp_path / "src")
    bucket = open_bucket(bucket_url)
    assert isinstance(bucket, GCSBucket) and bucket.url == bucket_url
    keys = bucket.upload_tree(tmp_path / "src", "edgelog/j-1/n1/e-1")
    assert "edgelog/j-1/n1/e-1/outputs/reports/summary.parquet" in keys

    listed = {o.key: o for o in bucket.list("edgelog/j-1/")}
    assert sorted(listed) == sorted(keys) == list(listed)  # keys relative to the root, in key order
    body = (tmp_path / "src" / "outputs" / "reports" / "summary.parquet").read_bytes()
    info = listed["edgelog/j-1/n1/e-1/outputs/reports/summary.parquet"]
    assert info.size == len(body)
    assert info.md5_hex == hashlib.md5(body, usedforsecurity=False).hexdigest()
    assert info.crc32c_b64 == base64.b64encode(google_crc32c.Checksum(body).digest()).decode()
    assert info.updated is not None and info.updated.tzinfo is not None
    assert listed["edgelog/j-1/n1/e-1/stderr"].size == 0

    # The root really is a folder inside the bucket: the same objects seen without it carry the root.
    bare = open_bucket(bucket_url.rsplit("/", 1)[0])
    assert all(o.key.startswith("team-a/edgelog/") for o in bare.list())

    dest = tmp_path / "down" / "summary.parquet"
    bucket.download_file("edgelog/j-1/n1/e-1/outputs/reports/summary.parquet", dest)
    assert dest.read_bytes() == body
    assert not list(dest.parent.glob(".*")), "temporary download file left behind"
    empty = tmp_path / "down" / "stderr"
    bucket.download_file("edgelog/j-1/n1/e-1/stderr", empty)
    assert empty.read_bytes() == b""


def test_emulator_host_without_scheme(bucket_url: str, gcs_emulator: str, monkeypatch) -> None:
    """`STORAGE_EMULATOR_HOST=127.0.0.1:9023` (no scheme, as many tools write it) works too."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.removeprefix("http://"))
    bucket = GCSBucket.from_url(bucket_url)
    assert list(bucket.list("edgelog/")) == []


def test_listing_more_than_1000_objects(bucket_url: str, tmp_path: Path) -> None:
    """A job with many nodes easily exceeds one listing page (GCS pages at 1,000 objects)."""
    bucket = open_bucket(bucket_url)
    src = tmp_path / "x"
    src.write_text("x")
    keys = [f"edgelog/j-big/node-{i // 10:03d}/e-{i % 10}/stdout" for i in range(1105)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: bucket.upload_file(src, k), keys))
    listed = [o.key for o in bucket.list("edgelog/j-big/")]
    assert listed == sorted(keys)
    assert len(listed) == 1105
    assert [o.key for o in bucket.list("edgelog/j-big/node-110/")] == sorted(keys[1100:])


def test_missing_object_and_missing_bucket(bucket_url: str, tmp_path: Path) -> None:
    bucket = open_bucket(bucket_url)
    with pytest.raises(FileNotFoundError):
        bucket.download_file("edgelog/nope", tmp_path / "nope")
    assert not (tmp_path / "nope").exists() and not list(tmp_path.glob(".*"))
    with pytest.raises(UsageError, match="bucket not found"):
        list(open_bucket("gs://no-such-bucket-edgelog").list("edgelog/"))


@pytest.mark.parametrize("url", ["gs://", "gs:///prefix", "gs://bad bucket/x"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(UsageError):
        open_bucket(url)


def test_invalid_keys_rejected(bucket_url: str, tmp_path: Path) -> None:
    bucket = open_bucket(bucket_url)
    with pytest.raises(UsageError):
        bucket.download_file("edgelog/../../etc", tmp_path / "x")


def test_retries_429_and_503_with_backoff(
    bucket_url: str, gcs_emulator: str, tmp_path: Path, monkeypatch
) -> None:
    _tree(tmp_path / "src")
    open_bucket(bucket_url).upload_tree(tmp_path / "src", "edgelog/j-2/n1/e-1")
    failures = {"list": 2, "media": 2}

    def plan(method: str, path: str) -> str | None:
        kind = "media" if "alt=media" in path else "list" if "/o?" in path else None
        if kind and failures[kind] > 0:
            failures[kind] -= 1
            return "429" if kind == "list" else "503"
        return None

    retried: list[BaseException] = []
    with FaultProxy(gcs_emulator, plan) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.endpoint)
        bucket = GCSBucket.from_url(bucket_url, retry_initial=0.05, on_retry=retried.append)
        started = time.monotonic()
        assert len(list(bucket.list("edgelog/j-2/"))) == 5
        bucket.download_file("edgelog/j-2/n1/e-1/stdout", tmp_path / "stdout")
        elapsed = time.monotonic() - started
    assert (tmp_path / "stdout").read_text() == "analysed 3 files\n"
    assert proxy.faults() == ["429", "429", "503", "503"]
    assert len(retried) == 4 and all(is_transient(e) for e in retried)
    assert elapsed >= 0.05 * 2, "no backoff between attempts"


def test_retry_gives_up_with_a_clear_error(bucket_url: str, gcs_emulator: str, monkeypatch) -> None:
    with FaultProxy(gcs_emulator, lambda m, p: "503") as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.endpoint)
        bucket = GCSBucket.from_url(bucket_url, retry_timeout=1.0, retry_initial=0.05, retry_maximum=0.2)
        started = time.monotonic()
        with pytest.raises(EdgelogError, match="gave up after retrying"):
            list(bucket.list("edgelog/"))
        assert time.monotonic() - started < 10
    assert len(proxy.requests) >= 3


def test_dropped_connection_is_retried(
    bucket_url: str, gcs_emulator: str, tmp_path: Path, monkeypatch
) -> None:
    _tree(tmp_path / "src")
    open_bucket(bucket_url).upload_tree(tmp_path / "src", "edgelog/j-3/n1/e-1")
    dropped = []

    def plan(method: str, path: str) -> str | None:
        if "alt=media" in path and not dropped:
            dropped.append(path)
            return "drop"
        return None

    with FaultProxy(gcs_emulator, plan) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.endpoint)
        bucket = GCSBucket.from_url(bucket_url, retry_initial=0.05)
        bucket.download_file("edgelog/j-3/n1/e-1/outputs/manifest.json", tmp_path / "m.json")
    assert (tmp_path / "m.json").read_text() == '{"schema": "edgelog.manifest/1"}'
    assert proxy.faults() == ["drop"]


def test_corrupted_transfer_is_detected_by_crc32c(
    bucket_url: str, gcs_emulator: str, tmp_path: Path, monkeypatch
):
    """GCS's checksum catches bytes damaged in transit: retried once, then reported as an integrity error."""
    _tree(tmp_path / "src")
    open_bucket(bucket_url).upload_tree(tmp_path / "src", "edgelog/j-4/n1/e-1")
    key = "edgelog/j-4/n1/e-1/outputs/reports/summary.parquet"
    body = (tmp_path / "src" / "outputs" / "reports" / "summary.parquet").read_bytes()
    corrupt_left = [1]

    def once(method: str, path: str) -> str | None:
        if "alt=media" in path and corrupt_left[0]:
            corrupt_left[0] -= 1
            return "corrupt"
        return None

    with FaultProxy(gcs_emulator, once) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.endpoint)
        GCSBucket.from_url(bucket_url).download_file(key, tmp_path / "ok.parquet")
    assert (tmp_path / "ok.parquet").read_bytes() == body
    assert proxy.faults() == ["corrupt"]

    with FaultProxy(gcs_emulator, lambda m, p: "corrupt" if "alt=media" in p else None) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.endpoint)
        with pytest.raises(IntegrityError, match="checksum"):
            GCSBucket.from_url(bucket_url).download_file(key, tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()
    assert not list(tmp_path.glob(".*part"))
