"""A lean streaming Responses API model (vLLM, Azure and other ``/v1/responses`` upstreams).

The upstream already speaks in Responses events, so this parser mostly rebuilds them:
the hot ones (text deltas, message and function-call items, content parts, created
and completed) with pydantic's own ``model_construct`` (``llm.response_events.fast``),
anything rarer (reasoning, refusals, annotations, ...) validated into the openai types
as the SDK would. Text deltas of one network read (or one pacing pause) are merged
into one event, as on the Chat Completions path. The request is the SDK's: input
items, instructions and tools from its own converters.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from agents import ModelSettings, Tool
from agents.items import ItemHelpers, TResponseInputItem, TResponseStreamEvent
from agents.models.fake_id import FAKE_RESPONSES_ID
from agents.models.openai_responses import Converter
from openai import Omit
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItem,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from pydantic import TypeAdapter

from chatkit_onprem.ids import new_id
from chatkit_onprem.llm.errors import UpstreamStreamError
from chatkit_onprem.llm.lean_model import LeanModel, StreamParser, plain_json
from chatkit_onprem.llm.response_events import fast

#: ModelSettings field → Responses request field.
_SIMPLE = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_output_tokens",
    "metadata": "metadata",
    "store": "store",
}
_HANDLED = frozenset({*_SIMPLE, "parallel_tool_calls", "tool_choice", "include_usage", "extra_body"}) | {
    "extra_headers",
    "extra_query",
}
_FAILED = frozenset({"response.failed", "response.incomplete", "error"})


@cache
def _events() -> TypeAdapter[ResponseStreamEvent]:
    return TypeAdapter(ResponseStreamEvent)


@cache
def _output_items() -> TypeAdapter[ResponseOutputItem]:
    return TypeAdapter(ResponseOutputItem)


class LeanResponsesModel(LeanModel):
    path = "/responses"
    handled = _HANDLED

    def body(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        settings: ModelSettings,
        tools: list[Tool],
    ) -> dict[str, Any]:
        items = [_without_fake_id(item) for item in plain_json(ItemHelpers.input_to_new_input_list(input))]
        body: dict[str, Any] = {"model": self.model, "input": items, "stream": True}
        if system_instructions:
            body["instructions"] = system_instructions
        if tools:
            body["tools"] = plain_json(Converter.convert_tools(tools, []).tools)
            choice = Converter.convert_tool_choice(settings.tool_choice, tools=tools)
            if not isinstance(choice, Omit):
                body["tool_choice"] = plain_json(choice)
            if settings.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = settings.parallel_tool_calls
        for field, key in _SIMPLE.items():
            value = getattr(settings, field)
            if value is not None:
                body[key] = value
        if settings.extra_body and isinstance(settings.extra_body, dict):
            body.update(settings.extra_body)
        return body

    def parser(self) -> StreamParser:
        return EventParser(self.model)


def _without_fake_id(item: Any) -> Any:
    if isinstance(item, dict) and (item.get("id") == FAKE_RESPONSES_ID or "provider_data" in item):
        item = {
            k: v
            for k, v in item.items()
            if k != "provider_data" and not (k == "id" and v == FAKE_RESPONSES_ID)
        }
    return item


class EventParser(StreamParser):
    """Responses stream payloads → typed events (hot ones unvalidated)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.pending = []
        self.finished = False

    def feed(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        seq = data.get("sequence_number", 0)
        pending = self.pending
        event_type: type[Any]
        if kind == "response.output_text.delta":
            last = pending[-1] if pending else None
            if (
                last is not None
                and last.type == "response.output_text.delta"
                and last.item_id == data.get("item_id")
                and last.content_index == data.get("content_index", 0)
            ):
                last.delta += data.get("delta", "")
                return
            pending.append(
                fast(
                    ResponseTextDeltaEvent,
                    type=kind,
                    item_id=data.get("item_id", ""),
                    output_index=data.get("output_index", 0),
                    content_index=data.get("content_index", 0),
                    delta=data.get("delta", ""),
                    logprobs=[],
                    sequence_number=seq,
                )
            )
        elif kind in ("response.output_item.added", "response.output_item.done"):
            event_type = (
                ResponseOutputItemAddedEvent if kind.endswith("added") else ResponseOutputItemDoneEvent
            )
            pending.append(
                fast(
                    event_type,
                    type=kind,
                    item=_item(data.get("item") or {}),
                    output_index=data.get("output_index", 0),
                    sequence_number=seq,
                )
            )
        elif kind in ("response.content_part.added", "response.content_part.done") and _plain_text(
            data.get("part")
        ):
            event_type = (
                ResponseContentPartAddedEvent if kind.endswith("added") else ResponseContentPartDoneEvent
            )
            pending.append(
                fast(
                    event_type,
                    type=kind,
                    item_id=data.get("item_id", ""),
                    output_index=data.get("output_index", 0),
                    content_index=data.get("content_index", 0),
                    part=fast(
                        ResponseOutputText,
                        type="output_text",
                        text=data["part"].get("text", ""),
                        annotations=[],
                    ),
                    sequence_number=seq,
                )
            )
        elif kind == "response.output_text.done":
            pending.append(
                fast(
                    ResponseTextDoneEvent,
                    type=kind,
                    item_id=data.get("item_id", ""),
                    output_index=data.get("output_index", 0),
                    content_index=data.get("content_index", 0),
                    text=data.get("text", ""),
                    logprobs=[],
                    sequence_number=seq,
                )
            )
        elif kind in ("response.created", "response.in_progress"):
            event_type = ResponseCreatedEvent if kind == "response.created" else ResponseInProgressEvent
            pending.append(
                fast(
                    event_type,
                    type=kind,
                    response=self._response(data.get("response") or {}, []),
                    sequence_number=seq,
                )
            )
        elif kind == "response.completed":
            found = data.get("response") or {}
            output = [_item(item) for item in found.get("output") or []]
            pending.append(
                fast(
                    ResponseCompletedEvent,
                    type=kind,
                    response=self._response(found, output),
                    sequence_number=seq,
                )
            )
            self.finished = True
        elif kind in _FAILED:
            raise UpstreamStreamError(_failure(data))
        else:
            pending.append(_events().validate_python(data))

    def finish(self) -> list[TResponseStreamEvent]:
        if not self.finished:
            raise UpstreamStreamError("the stream ended before response.completed")
        return []

    def _response(self, found: dict[str, Any], output: list[Any]) -> Response:
        usage = found.get("usage")
        return fast(
            Response,
            id=found.get("id") or new_id("resp"),
            object="response",
            created_at=found.get("created_at") or time.time(),
            model=found.get("model") or self.model,
            output=output,
            status=found.get("status") or ("completed" if usage else "in_progress"),
            parallel_tool_calls=False,
            tool_choice="auto",
            tools=[],
            usage=_usage(usage) if usage else None,
        )


def _plain_text(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "output_text" and not part.get("annotations")


def _item(item: dict[str, Any]) -> Any:
    kind = item.get("type")
    if kind == "message" and all(_plain_text(part) for part in item.get("content") or []):
        return fast(
            ResponseOutputMessage,
            id=item.get("id") or FAKE_RESPONSES_ID,
            type="message",
            role="assistant",
            status=item.get("status") or "completed",
            content=[
                fast(ResponseOutputText, type="output_text", text=part.get("text", ""), annotations=[])
                for part in item.get("content") or []
            ],
        )
    if kind == "function_call":
        return fast(
            ResponseFunctionToolCall,
            type="function_call",
            id=item.get("id") or FAKE_RESPONSES_ID,
            call_id=item.get("call_id") or new_id("call"),
            name=item.get("name", ""),
            arguments=item.get("arguments") or "{}",
            status=item.get("status") or "completed",
        )
    return _output_items().validate_python(item)


def _usage(usage: dict[str, Any]) -> ResponseUsage:
    inp = int(usage.get("input_tokens") or 0)
    out = int(usage.get("output_tokens") or 0)
    return fast(
        ResponseUsage,
        input_tokens=inp,
        output_tokens=out,
        total_tokens=int(usage.get("total_tokens") or inp + out),
        input_tokens_details=fast(
            InputTokensDetails,
            cached_tokens=int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0),
            cache_write_tokens=0,
        ),
        output_tokens_details=fast(
            OutputTokensDetails,
            reasoning_tokens=int((usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0),
        ),
    )


def _failure(data: dict[str, Any]) -> str:
    error = data.get("error") or (data.get("response") or {}).get("error") or data.get("message") or data
    if isinstance(error, dict):
        error = error.get("message") or error
    return " ".join(str(error)[:300].split())
