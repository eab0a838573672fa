"""The fault-injecting proxy of tests/support/gcs.py is transparent when no fault is planned."""

from __future__ import annotations

import pytest
from support.gcs import FaultProxy, new_bucket


@pytest.mark.needs_tool("gcp-storage-emulator")
def test_proxy_forwards_to_the_real_emulator(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy itself must be transparent when no fault is planned, or the other tests prove nothing."""
    url = new_bucket(gcs_emulator)
    with FaultProxy(gcs_emulator) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.endpoint)
        from edgelog.storage import open_bucket

        bucket = open_bucket(url)
        assert list(bucket.list()) == []
        assert proxy.requests and proxy.faults() == []
