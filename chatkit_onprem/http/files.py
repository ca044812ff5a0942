"""Upload and download routes for attachment bytes.

``POST /files/{id}`` receives the bytes of a two-phase upload (raw body or a
multipart ``file`` field); ``POST /files`` is the direct-upload strategy;
``GET /files/{id}`` streams the decrypted bytes back to their owner;
``GET /files/{id}/preview?exp=&sig=`` serves an image thumbnail to whoever
holds the signed, expiring link (a browser ``<img>`` cannot send our auth header).

Uploads stream: a raw body is read chunk by chunk; a multipart body is parsed
by Litestar first (it caps the body at the route's limit).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, Router, get, post
from litestar.response import Stream

from chatkit_onprem.chat.content import IMAGE_TYPES, safe_name
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


def _disposition(kind: str, name: str) -> str:
    """RFC 6266 with an ASCII fallback and the exact name in ``filename*``."""
    clean = safe_name(name)
    ascii_name = clean.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(clean)}"


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
        # The whole object is authenticated before this returns: a tampered one is an error, not a 200.
        record, body = await services.attachments.download(attachment_id, caller)
        inline = record.mime_type in IMAGE_TYPES
        headers = {
            "Content-Disposition": _disposition("inline" if inline else "attachment", record.name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        }
        size = (record.metadata or {}).get("size")
        if isinstance(size, int):
            headers["Content-Length"] = str(size)
        return Stream(
            body, media_type=record.mime_type if inline else "application/octet-stream", headers=headers
        )

    @get("/files/{attachment_id:str}/preview")
    async def preview(attachment_id: str, services: Services, exp: int, sig: str) -> Response[bytes]:
        data = await services.attachments.preview(attachment_id, exp, sig)
        return Response(
            data,
            media_type="image/webp",
            headers={
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, max-age=300",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    return Router(path="/", route_handlers=[upload_two_phase, upload_direct, download, preview])
