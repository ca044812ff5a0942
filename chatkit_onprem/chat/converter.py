"""Thread items → model input, in a form every upstream API style accepts.

Assistant history goes back as plain text: the library's ``output_text`` parts
crash the Chat Completions converter on every second turn (ARCHITECTURE §4).
"""

from __future__ import annotations

from chatkit.agents import ThreadItemConverter
from chatkit.types import AssistantMessageItem, Attachment, UserMessageTagContent
from openai.types.responses import EasyInputMessageParam, ResponseInputTextParam


class HistoryConverter(ThreadItemConverter):
    async def attachment_to_message_content(self, attachment: Attachment) -> ResponseInputTextParam:
        return ResponseInputTextParam(
            type="input_text",
            text=f"[attached {attachment.type}: {attachment.name} ({attachment.mime_type})]",
        )

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputTextParam:
        return ResponseInputTextParam(type="input_text", text=f"[{tag.group or 'tag'}: {tag.text}]")

    async def assistant_message_to_input(self, item: AssistantMessageItem) -> EasyInputMessageParam:
        return EasyInputMessageParam(
            type="message", role="assistant", content="".join(part.text for part in item.content)
        )
