"""The attachment store's in-process API: ``read_bytes`` (model input) and ``collect_orphans`` (admin)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from chatkit.store import NotFoundError

from chatkit_onprem.config import Settings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError
from chatkit_onprem.services import Services


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 1000):
        yield data[i : i + 1000]


def test_read_bytes_and_collect_orphans(tmp_path: Path) -> None:
    services = Services.build(Settings(data_dir=tmp_path, blobs={"backend": "local"}))
    alice = RequestContext(tenant="acme", user="alice", public_base_url="http://testserver")
    bob = RequestContext(tenant="acme", user="bob", public_base_url="http://testserver")
    store = services.attachments

    async def scenario() -> None:
        data = b"line of text\n" * 500
        attachment = await store.create_direct("notes.txt", "text/plain", _chunks(data), alice)
        assert await store.read_bytes(attachment.id, alice, len(data)) == data
        with pytest.raises(NotFoundError):
            await store.read_bytes(attachment.id, bob, len(data))
        with pytest.raises(ApiError) as too_big:
            await store.read_bytes(attachment.id, alice, 100)
        assert too_big.value.status == 413
        assert await store.usage(alice) == len(data)

        # Young uploads are kept; with age 0 the unattached one is collected, record and bytes.
        assert await store.collect_orphans() == 0
        assert await store.collect_orphans(older_than=timedelta(0)) == 1
        with pytest.raises(NotFoundError):
            await services.store.load_attachment(attachment.id, alice)
        assert await store.usage(alice) == 0
        leftovers = [p for p in services.settings.local_blob_path.rglob("*") if attachment.id in p.name]
        assert leftovers == []

    try:
        asyncio.run(scenario())
    finally:
        asyncio.run(services.shutdown())
