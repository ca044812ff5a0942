"""Upload and download routes for attachment bytes.

``POST /files/{id}`` receives the bytes of a two-phase upload (raw body or a
multipart ``file`` field); ``POST /files`` is the direct-upload strategy;
``GET /files/{id}`` streams the bytes back to their owner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.response import Stream

from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError
from chatkit_onprem.services import Services

_MULTIPART_SLACK = 64 * 1024


async def _file_part(request: Request[Any, Any, Any]) -> tuple[str, str | None, AsyncIterator[bytes]]:
    """The upload's (name, content type, bytes) from a multipart form or a raw body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "invalid_upload", "multipart body needs a 'file' part")

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await upload.read(256 * 1024):
                yield chunk

        return upload.filename or "file", upload.content_type, chunks()
    name = request.headers.get("x-file-name", "file")
    return name, content_type or None, request.stream()


def _serialize(attachment: Any) -> bytes:
    data: bytes = attachment.model_dump_json(
        by_alias=True, exclude_none=True, context={"exclude_metadata": True}
    ).encode()
    return data


def file_router(max_file_bytes: int) -> Router:
    cap = max_file_bytes + _MULTIPART_SLACK

    @post("/files/{attachment_id:str}", status_code=200, request_max_body_size=cap)
    async def upload_two_phase(
        attachment_id: str, request: Request[Any, Any, Any], services: Services, caller: RequestContext
    ) -> Response[bytes]:
        _, _, chunks = await _file_part(request)
        attachment = await services.attachments.upload(attachment_id, chunks, caller)
        return Response(_serialize(attachment), media_type="application/json")

    @post("/files", status_code=200, request_max_body_size=cap)
    async def upload_direct(
        request: Request[Any, Any, Any], services: Services, caller: RequestContext
    ) -> Response[bytes]:
        name, mime, chunks = await _file_part(request)
        attachment = await services.attachments.create_direct(name, mime, chunks, caller)
        return Response(_serialize(attachment), media_type="application/json")

    @get("/files/{attachment_id:str}")
    async def download(attachment_id: str, services: Services, caller: RequestContext) -> Stream:
        record, body = await services.attachments.download(attachment_id, caller)
        inline = record.mime_type in ("image/png", "image/jpeg", "image/gif", "image/webp")
        return Stream(
            body,
            media_type=record.mime_type if inline else "application/octet-stream",
            headers={
                "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{record.name}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, no-store",
            },
        )

    return Router(path="/", route_handlers=[upload_two_phase, upload_direct, download])
