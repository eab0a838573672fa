"""The local-directory bucket: atomic writes, listing, URL handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgelog.errors import UsageError
from edgelog.storage import open_bucket
from edgelog.storage.local import LocalBucket


def test_upload_list_download(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "outputs").mkdir(parents=True)
    (src / "outputs" / "manifest.json").write_text("{}")
    (src / "stdout").write_text("hello\n")
    bucket = open_bucket((tmp_path / "bucket").as_uri())
    assert isinstance(bucket, LocalBucket)
    keys = bucket.upload_tree(src, "edgelog/j-1/n1/e-1/")
    assert keys == ["edgelog/j-1/n1/e-1/outputs/manifest.json", "edgelog/j-1/n1/e-1/stdout"]
    listed = list(bucket.list("edgelog/j-1/"))
    assert [o.key for o in listed] == keys
    assert listed[1].size == 6 and listed[1].md5_hex == "b1946ac92492d2347c6235b4d2611184"
    dest = tmp_path / "down" / "stdout"
    bucket.download_file("edgelog/j-1/n1/e-1/stdout", dest)
    assert dest.read_text() == "hello\n"
    assert not list((tmp_path / "down").glob(".*"))


def test_plain_path_and_missing_object(tmp_path: Path) -> None:
    bucket = open_bucket(str(tmp_path))
    assert list(bucket.list()) == []
    with pytest.raises(FileNotFoundError):
        bucket.download_file("nope", tmp_path / "x")


@pytest.mark.parametrize("url", ["s3://b/p", "http://example.invalid/x"])
def test_unsupported_scheme(url: str) -> None:
    with pytest.raises(UsageError, match="unsupported bucket URL"):
        open_bucket(url)


def test_key_cannot_escape_root(tmp_path: Path) -> None:
    bucket = open_bucket(str(tmp_path / "b"))
    with pytest.raises(UsageError):
        bucket.upload_file(tmp_path / "x", "../escape")
