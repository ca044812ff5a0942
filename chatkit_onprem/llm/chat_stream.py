"""A lean streaming Chat Completions model: plain JSON in, Responses events out.

In the SDK's ``OpenAIChatCompletionsModel`` each streamed chunk is rebuilt by the
openai client's ``construct_type`` and the request body goes through its typed-dict
transform (docs/performance.md has the cost). This model sends the same request
(messages and tools from the SDK's own converter) through ``llm.lean_model`` and
turns each chunk into events with ``llm.response_events``, giving messages and tool
calls real ids (no ``__fake_id__``).
"""

from __future__ import annotations

from typing import Any

from agents import ModelSettings, Tool
from agents.items import TResponseInputItem, TResponseStreamEvent
from agents.models.chatcmpl_converter import Converter

from chatkit_onprem.llm.errors import UpstreamStreamError
from chatkit_onprem.llm.lean_model import LeanModel, StreamParser, plain_json
from chatkit_onprem.llm.response_events import ResponseEvents

#: ModelSettings fields sent under the same name.
_SIMPLE = ("temperature", "top_p", "frequency_penalty", "presence_penalty", "max_tokens", "metadata", "store")


class LeanChatCompletionsModel(LeanModel):
    path = "/chat/completions"

    def body(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        settings: ModelSettings,
        tools: list[Tool],
    ) -> dict[str, Any]:
        messages: list[Any] = Converter.items_to_messages(
            input, model=self.model, base_url=self.upstream.settings.base_url
        )
        if system_instructions:
            messages.insert(0, {"role": "system", "content": system_instructions})
        body: dict[str, Any] = {
            "model": self.model,
            "messages": plain_json(messages),
            "stream": True,
            # Non-OpenAI servers report zero usage unless asked.
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = plain_json([Converter.tool_to_openai(t) for t in tools])
            choice = Converter.convert_tool_choice(settings.tool_choice)
            if isinstance(choice, str | dict):
                body["tool_choice"] = choice
            if settings.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = settings.parallel_tool_calls
        for field in _SIMPLE:
            value = getattr(settings, field)
            if value is not None:
                body[field] = value
        if settings.extra_body and isinstance(settings.extra_body, dict):
            body.update(settings.extra_body)
        return body

    def parser(self) -> StreamParser:
        return ChunkParser(self.model)


class ChunkParser(StreamParser):
    """Chat Completions chunks → Responses events, via the shared ``ResponseEvents`` builder."""

    def __init__(self, model: str) -> None:
        self.events = ResponseEvents(model)
        self.pending = []

    def start(self) -> list[TResponseStreamEvent]:
        return [self.events.created()]

    def feed(self, chunk: dict[str, Any]) -> None:
        """Text of the chunks read together (one network read, or what arrived during a
        pacing pause) becomes one delta."""
        if "error" in chunk and not chunk.get("choices"):
            raise UpstreamStreamError(" ".join(str(chunk["error"])[:300].split()))
        usage = chunk.get("usage")
        if usage:
            self.events.usage = (
                int(usage.get("prompt_tokens") or 0),
                int(usage.get("completion_tokens") or 0),
            )
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                self.events.text(content, self.pending)
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                self.events.call_fragment(
                    int(call.get("index", 0)),
                    call_id=call.get("id") or "",
                    name=function.get("name") or "",
                    arguments=function.get("arguments") or "",
                )

    def finish(self) -> list[TResponseStreamEvent]:
        return self.events.finish()
