"""Thread items → model input, in a form every upstream API style accepts.

* Assistant history goes back as plain text: the library's ``output_text`` parts
  crash the Chat Completions converter on every second turn (ARCHITECTURE §4).
* Attachments: images become data URLs (no upstream can fetch our URLs, and
  none should), text files are inlined (capped), anything else is described by
  name, type and size so the model knows it exists.

One converter is built per turn: it reads attachment bytes as the caller, so the
tenant/user scoping of the attachment store applies.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any, Protocol

from chatkit.agents import ThreadItemConverter
from chatkit.types import AssistantMessageItem, Attachment, UserMessageTagContent
from openai.types.responses import (
    EasyInputMessageParam,
    ResponseInputContentParam,
    ResponseInputImageParam,
    ResponseInputTextParam,
)

from chatkit_onprem.config import ModelInputSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.logging import get_logger

log = get_logger(__name__)

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/yaml", "application/x-yaml")


class AttachmentReader(Protocol):
    async def download(
        self, attachment_id: str, context: RequestContext
    ) -> tuple[Attachment, AsyncIterator[bytes]]: ...


class HistoryConverter(ThreadItemConverter):
    def __init__(
        self,
        reader: AttachmentReader | None = None,
        context: RequestContext | None = None,
        limits: ModelInputSettings | None = None,
    ) -> None:
        self.reader = reader
        self.context = context
        self.limits = limits or ModelInputSettings()

    async def attachment_to_message_content(self, attachment: Attachment) -> ResponseInputContentParam:
        size = int((attachment.metadata or {}).get("size", -1))
        mime = attachment.mime_type.split(";", 1)[0].strip().lower()
        is_image = mime.startswith("image/")
        is_text = mime.startswith(TEXT_TYPES)
        limit = self.limits.max_image_bytes if is_image else self.limits.max_inline_text_bytes
        if (is_image and size > limit) or not (is_image or is_text):
            return _describe(attachment, size)
        data = await self._read(attachment, limit + 1)
        if data is None:
            return _describe(attachment, size, note="content unavailable")
        if is_image:
            if len(data) > limit:
                return _describe(attachment, size, note="too large to send")
            url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
            return ResponseInputImageParam(type="input_image", image_url=url, detail="auto")
        text = data[:limit].decode("utf-8", errors="replace")
        cut = " (cut: the file is longer)" if len(data) > limit else ""
        return ResponseInputTextParam(
            type="input_text",
            text=f"[attached file {attachment.name}{cut}]\n{text}\n[end of {attachment.name}]",
        )

    async def _read(self, attachment: Attachment, most: int) -> bytes | None:
        if self.reader is None or self.context is None:
            return None
        try:
            _, chunks = await self.reader.download(attachment.id, self.context)
            buffer = bytearray()
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= most:
                    break
            close: Any = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
            return bytes(buffer)
        except Exception as exc:
            log.warning("attachment not readable for the model", attachment_id=attachment.id, error=str(exc))
            return None

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputTextParam:
        return ResponseInputTextParam(type="input_text", text=f"[{tag.group or 'tag'}: {tag.text}]")

    async def assistant_message_to_input(self, item: AssistantMessageItem) -> EasyInputMessageParam:
        return EasyInputMessageParam(
            type="message", role="assistant", content="".join(part.text for part in item.content)
        )


def _describe(
    attachment: Attachment, size: int, note: str = "content not sent to the model"
) -> ResponseInputTextParam:
    size_text = f", {size} bytes" if size >= 0 else ""
    return ResponseInputTextParam(
        type="input_text",
        text=f"[attached {attachment.type}: {attachment.name} ({attachment.mime_type}{size_text}); {note}]",
    )
