"""Attachments: records in the Store, bytes in a blob backend, both scoped to the caller.

Both ChatKit upload strategies end in ``upload``:

* two-phase: ``attachments.create`` returns an ``upload_descriptor`` pointing at
  ``POST /files/{id}``; the client then sends the bytes there;
* direct: ``POST /files`` (multipart) creates the record and stores the bytes.

An attachment is usable in a message only once its bytes have arrived.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)

from chatkit_onprem.blobs import BlobBackend, BlobNotFoundError, object_key
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError
from chatkit_onprem.ids import new_id
from chatkit_onprem.store.chatkit_store import DuckDBStore

_UNSAFE = re.compile(r"[^\w.\- ()\[\]]+", re.UNICODE)


def safe_name(name: str) -> str:
    """A display name with no path, control characters or shell surprises."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    return (name or "file")[:200]


class OnPremAttachmentStore(AttachmentStore[RequestContext]):
    def __init__(self, store: DuckDBStore, blobs: BlobBackend, *, max_file_bytes: int) -> None:
        self.store = store
        self.blobs = blobs
        self.max_file_bytes = max_file_bytes

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return new_id("attachment")

    def _check_size(self, size: int) -> None:
        if size > self.max_file_bytes:
            raise ApiError(413, "file_too_large", f"files are limited to {self.max_file_bytes} bytes")

    def _record(
        self, attachment_id: str, name: str, mime_type: str, context: RequestContext, **meta: Any
    ) -> Attachment:
        base = context.public_base_url
        common: dict[str, Any] = {
            "id": attachment_id,
            "name": safe_name(name),
            "mime_type": mime_type,
            "metadata": {"uploaded": False, **meta},
        }
        if mime_type.startswith("image/"):
            return ImageAttachment(preview_url=f"{base}/files/{attachment_id}", **common)  # type: ignore[arg-type]
        return FileAttachment(**common)

    # --- two-phase ------------------------------------------------------
    async def create_attachment(self, input: AttachmentCreateParams, context: RequestContext) -> Attachment:
        self._check_size(input.size)
        attachment_id = self.generate_attachment_id(input.mime_type, context)
        record = self._record(attachment_id, input.name, input.mime_type, context, declared_size=input.size)
        record.upload_descriptor = AttachmentUploadDescriptor(
            url=f"{context.public_base_url}/files/{attachment_id}",  # type: ignore[arg-type]
            method="POST",
        )
        return record  # the library saves the record

    # --- bytes ----------------------------------------------------------
    async def upload(
        self, attachment_id: str, chunks: AsyncIterable[bytes], context: RequestContext
    ) -> Attachment:
        record = await self.store.load_attachment(attachment_id, context)
        if (record.metadata or {}).get("uploaded"):
            raise ApiError(409, "already_uploaded", f"attachment {attachment_id} already has its bytes")
        size = await self.blobs.put(object_key(context, attachment_id), chunks, max_bytes=self.max_file_bytes)
        updated = record.model_copy(
            update={
                "upload_descriptor": None,
                "metadata": {**(record.metadata or {}), "uploaded": True, "size": size},
            }
        )
        await self.store.save_attachment(updated, context)
        return updated

    async def create_direct(
        self, name: str, mime_type: str | None, chunks: AsyncIterable[bytes], context: RequestContext
    ) -> Attachment:
        mime = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        record = self._record(self.generate_attachment_id(mime, context), name, mime, context)
        await self.store.save_attachment(record, context)
        try:
            return await self.upload(record.id, chunks, context)
        except BaseException:
            await self.store.delete_attachment(record.id, context)
            raise

    async def download(
        self, attachment_id: str, context: RequestContext
    ) -> tuple[Attachment, AsyncIterator[bytes]]:
        record = await self.store.load_attachment(attachment_id, context)
        if not (record.metadata or {}).get("uploaded"):
            raise NotFoundError(f"attachment {attachment_id} has no content yet")
        stream = self.blobs.get(object_key(context, attachment_id))
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            first = b""
        except BlobNotFoundError:
            raise NotFoundError(f"attachment {attachment_id} not found") from None

        async def body() -> AsyncIterator[bytes]:
            yield first
            async for chunk in stream:
                yield chunk

        return record, body()

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        await self.store.load_attachment(attachment_id, context)  # 404 unless it is the caller's
        await self.blobs.delete(object_key(context, attachment_id))

    async def delete_blobs(self, attachments: list[Attachment], context: RequestContext) -> None:
        for attachment in attachments:
            await self.blobs.delete(object_key(context, attachment.id))
