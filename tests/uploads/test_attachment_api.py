"""The attachment store's in-process API: ``read_bytes`` (model input) and ``collect_orphans`` (admin)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from chatkit.store import NotFoundError
from chatkit.types import InferenceOptions, ThreadMetadata, UserMessageItem, UserMessageTextContent
from PIL import Image
from pydantic import AnyUrl

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


def test_stored_preview_links_are_replaced_on_every_read(tmp_path: Path) -> None:
    """An item saved long ago carries an expired link; every read path hands out a fresh one."""

    services = Services.build(Settings(data_dir=tmp_path, blobs={"backend": "local"}))
    alice = RequestContext(tenant="acme", user="alice", public_base_url="https://chat.example")
    store = services.store

    async def scenario() -> None:
        png = io.BytesIO()
        Image.new("RGB", (64, 48), (10, 20, 30)).save(png, "PNG")
        image = await services.attachments.create_direct("p.png", None, _chunks(png.getvalue()), alice)
        old = AnyUrl("https://chat.example/files/x/preview?exp=1&sig=old")
        stale = image.model_copy(update={"preview_url": old})
        thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
        await store.save_thread(thread, alice)
        item = UserMessageItem(
            id="msg_1",
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[UserMessageTextContent(text="look")],
            attachments=[stale],
            inference_options=InferenceOptions(),
        )
        await store.add_thread_item(thread.id, item, alice)

        page = await store.load_thread_items(thread.id, None, 10, "asc", alice)
        loaded = await store.load_item(thread.id, "msg_1", alice)
        direct = await store.load_attachment(image.id, alice)
        for attachment in (page.data[0].attachments[0], loaded.attachments[0], direct):  # type: ignore[union-attr]
            url = str(attachment.preview_url)
            assert (
                url.startswith(f"https://chat.example/files/{image.id}/preview?exp=") and "sig=old" not in url
            )

    try:
        asyncio.run(scenario())
    finally:
        asyncio.run(services.shutdown())
