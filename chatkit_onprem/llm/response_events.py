"""Text and tool calls → the Responses stream events the Agents SDK and ChatKit expect.

Used by every model we implement ourselves (the lean Chat Completions model and
the scripted model), so the event sequence is written once:
``created``, then per text piece an ``output_item.added`` + ``content_part.added``
(first piece only) and an ``output_text.delta``, then at ``finish`` the done
events, one added/done pair per tool call, and ``completed`` with usage.

Events are built with pydantic's own ``model_construct``: the openai models
override it with a recursive, much slower one (docs/performance.md), and
our fields are already the right types. This is the streaming hot path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from agents.items import TResponseStreamEvent
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from pydantic import BaseModel

from chatkit_onprem.ids import new_id

T = TypeVar("T", bound=BaseModel)
_construct = BaseModel.model_construct.__func__  # type: ignore[attr-defined]


def fast(cls: type[T], **fields: Any) -> T:
    """pydantic's own ``model_construct`` (see the module docstring)."""
    return cast(T, _construct(cls, **fields))


class ResponseEvents:
    """One model response being streamed: call ``created``, ``text``/``call_fragment``, ``finish``."""

    __slots__ = ("_calls", "_new_id", "_seq", "_text", "message_id", "model", "response_id", "usage")

    def __init__(self, model: str, id_factory: Callable[[str], str] = new_id) -> None:
        self.model = model
        self._new_id = id_factory
        self.response_id = id_factory("resp")
        self.message_id: str | None = None
        self.usage: tuple[int, int] = (0, 0)  # input, output tokens
        self._text: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}
        self._seq = 0

    def _n(self) -> int:
        self._seq += 1
        return self._seq

    def created(self) -> TResponseStreamEvent:
        return fast(
            ResponseCreatedEvent,
            type="response.created",
            response=self._response([], None),
            sequence_number=0,
        )

    def text(self, content: str, into: list[TResponseStreamEvent]) -> None:
        """Append events for ``content`` to ``into``; merges into a delta already at its end.

        Callers that flush ``into`` once per network read get fewer, larger deltas
        under load (each event costs CPU all the way to the browser).
        """
        if self.message_id is None:
            self.message_id = self._new_id("message")
            into += self._message_start(self.message_id)
        self._text.append(content)
        last = into[-1] if into else None
        if last is not None and last.type == "response.output_text.delta":
            last.delta += content  # type: ignore[union-attr]
            return
        into.append(
            fast(
                ResponseTextDeltaEvent,
                type="response.output_text.delta",
                item_id=self.message_id,
                output_index=0,
                content_index=0,
                delta=content,
                logprobs=[],
                sequence_number=self._n(),
            )
        )

    def call_fragment(self, index: int, *, call_id: str = "", name: str = "", arguments: str = "") -> None:
        """Accumulate a (possibly partial) tool call; ids and names arrive once, arguments in pieces."""
        slot = self._calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        if call_id:
            slot["id"] = call_id
        slot["name"] += name
        slot["arguments"] += arguments

    def _message_start(self, message_id: str) -> list[TResponseStreamEvent]:
        empty = fast(
            ResponseOutputMessage,
            id=message_id,
            type="message",
            role="assistant",
            status="in_progress",
            content=[],
        )
        return [
            fast(
                ResponseOutputItemAddedEvent,
                type="response.output_item.added",
                item=empty,
                output_index=0,
                sequence_number=self._n(),
            ),
            fast(
                ResponseContentPartAddedEvent,
                type="response.content_part.added",
                item_id=message_id,
                output_index=0,
                content_index=0,
                part=fast(ResponseOutputText, type="output_text", text="", annotations=[]),
                sequence_number=self._n(),
            ),
        ]

    def finish(self) -> list[TResponseStreamEvent]:
        out: list[TResponseStreamEvent] = []
        output: list[Any] = []
        if self.message_id is not None:
            text = "".join(self._text)
            part = fast(ResponseOutputText, type="output_text", text=text, annotations=[])
            message = fast(
                ResponseOutputMessage,
                id=self.message_id,
                type="message",
                role="assistant",
                status="completed",
                content=[part],
            )
            common = {"item_id": self.message_id, "output_index": 0, "content_index": 0}
            out += [
                fast(
                    ResponseTextDoneEvent,
                    type="response.output_text.done",
                    text=text,
                    logprobs=[],
                    sequence_number=self._n(),
                    **common,
                ),
                fast(
                    ResponseContentPartDoneEvent,
                    type="response.content_part.done",
                    part=part,
                    sequence_number=self._n(),
                    **common,
                ),
                fast(
                    ResponseOutputItemDoneEvent,
                    type="response.output_item.done",
                    item=message,
                    output_index=0,
                    sequence_number=self._n(),
                ),
            ]
            output.append(message)
        for index in sorted(self._calls):
            slot = self._calls[index]
            call = fast(
                ResponseFunctionToolCall,
                type="function_call",
                id=self._new_id("call"),
                call_id=slot["id"] or self._new_id("call"),
                name=slot["name"],
                arguments=slot["arguments"] or "{}",
                status="completed",
            )
            position = len(output)
            out.append(
                fast(
                    ResponseOutputItemAddedEvent,
                    type="response.output_item.added",
                    item=call,
                    output_index=position,
                    sequence_number=self._n(),
                )
            )
            out.append(
                fast(
                    ResponseOutputItemDoneEvent,
                    type="response.output_item.done",
                    item=call,
                    output_index=position,
                    sequence_number=self._n(),
                )
            )
            output.append(call)
        usage = fast(
            ResponseUsage,
            input_tokens=self.usage[0],
            output_tokens=self.usage[1],
            total_tokens=sum(self.usage),
            input_tokens_details=fast(InputTokensDetails, cached_tokens=0, cache_write_tokens=0),
            output_tokens_details=fast(OutputTokensDetails, reasoning_tokens=0),
        )
        out.append(
            fast(
                ResponseCompletedEvent,
                type="response.completed",
                response=self._response(output, usage),
                sequence_number=self._n(),
            )
        )
        return out

    def _response(self, output: list[Any], usage: ResponseUsage | None) -> Response:
        return fast(
            Response,
            id=self.response_id,
            object="response",
            created_at=time.time(),
            model=self.model,
            output=output,
            status="completed" if usage else "in_progress",
            parallel_tool_calls=False,
            tool_choice="auto",
            tools=[],
            usage=usage,
        )
