"""An attachment deleted while its bytes are uploading stays deleted.

The delete (``attachments.delete``) lands after the upload reserved its row and before the
upload stored its object. The upload used to go on: its object was stored with no
bookkeeping row left to find it (no purge, retention or orphan sweep ever would), and its
record came back. Now the upload's ``settle`` finds the row no longer ``pending``, removes
what it wrote and answers 409 ``attachment_deleted``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from chatkit.store import NotFoundError
from chatkit.types import AttachmentCreateParams

from chatkit_onprem.blobs.base import object_key
from chatkit_onprem.config import load_settings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError
from chatkit_onprem.services import Services
from tests.support.server import ServerProcess

pytestmark = pytest.mark.backends("duckdb", "postgres")

ALICE = RequestContext(tenant="acme", user="alice", public_base_url="http://chatkit.test")


@pytest.fixture
def services(make_server: Callable[..., ServerProcess]) -> Iterator[Services]:
    server = make_server(start=False)
    built = Services.build(load_settings(server.config_path, check_production=False))
    try:
        yield built
    finally:
        built.db.close()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


def test_an_attachment_deleted_during_its_upload_stays_deleted(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_put = services.blobs.put
    uploading: list[str] = []  # the attachment's id, once it exists
    deleted: list[str] = []

    async def put_after_the_user_deleted_it(key: str, chunks: Any, *, max_bytes: int) -> int:
        if not deleted:  # the user's attachments.delete, as the library runs it
            await services.attachments.delete_attachment(uploading[0], ALICE)
            await services.store.delete_attachment(uploading[0], ALICE)
            deleted.append(uploading[0])
        return await real_put(key, chunks, max_bytes=max_bytes)

    async def create_then_upload() -> tuple[ApiError, int, int]:
        created = await services.attachments.create_attachment(
            AttachmentCreateParams(name="notes.txt", size=40, mime_type="text/plain"), ALICE
        )
        await services.store.save_attachment(created, ALICE)  # the library saves the record
        uploading.append(created.id)
        monkeypatch.setattr(services.blobs, "put", put_after_the_user_deleted_it)
        with pytest.raises(ApiError) as refused:
            await services.attachments.upload(created.id, _chunks(b"private notes, ten words\n"), ALICE)
        with pytest.raises(NotFoundError):
            await services.store.load_attachment(created.id, ALICE)
        rows = await services.db.read(
            lambda cur: cur.execute(
                "SELECT count(*) FROM blob_objects WHERE attachment_id = ?", [created.id]
            ).fetchall()
        )
        return refused.value, await services.blobs.versions(object_key(ALICE, created.id)), rows[0][0]

    class record:
        id = ""

    refused, versions, rows = asyncio.run(create_then_upload())
    assert deleted, "the delete ran during the upload"
    assert (refused.status, refused.code) == (409, "attachment_deleted"), refused
    assert versions == 0, "the deleted attachment's object was stored"
    assert rows == 0
