"""The lean path for plain chat turns: the model's text goes straight to ChatKit events.

The Agents SDK ``Runner`` plus ``stream_agent_response`` cost as much CPU per turn
as everything else together (docs/performance.md). Most turns are plain answers
that need none of it, so a turn starts here: the model is called directly (with
the agent's tools offered), and each text delta becomes one
``thread.item.updated`` event built without validation.

If the model answers with anything but text (a tool call, reasoning, ...) the
rest of its response is collected silently and the turn is handed to the
``Runner`` with a model that *replays* that response first, so the tool runs
exactly as on the Runner path and the upstream is not called twice. Items
already sent to the client are not sent again. Item ids are real in the model's
events already (``llm.routing.RealIds``), so a replayed message is recognised.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from agents import Agent, Model, ModelResponse, ModelSettings, ModelTracing, Tool
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import TResponseInputItem, TResponseStreamEvent
from chatkit.agents import AgentContext
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)

from chatkit_onprem.context import RequestContext


class Handover(Exception):
    """The model's answer needs the Runner; ``events`` is the whole recorded response."""

    def __init__(self, events: list[TResponseStreamEvent], shown: set[str]) -> None:
        super().__init__("handover to the Runner")
        self.events = events
        self.shown = shown


def model_events(
    agent: Agent[AgentContext[RequestContext]], model: Model, agent_input: list[TResponseInputItem]
) -> AsyncIterator[TResponseStreamEvent]:
    """The model call of a lean turn: the agent's instructions, settings and tools offered."""
    instructions = agent.instructions if isinstance(agent.instructions, str) else None
    return model.stream_response(
        instructions,
        agent_input,
        agent.model_settings,
        list(agent.tools),
        None,
        [],
        ModelTracing.DISABLED,
        previous_response_id=None,
        conversation_id=None,
        prompt=None,
    )


async def lean_turn(
    agent: Agent[AgentContext[RequestContext]],
    model: Model,
    agent_input: list[TResponseInputItem],
    context: AgentContext[RequestContext],
    events: AsyncIterator[TResponseStreamEvent] | None = None,
) -> AsyncIterator[ThreadStreamEvent]:
    """Stream a plain answer; raise ``Handover`` when the answer is not plain text.

    ``events`` is the model call when it was started already (``chat.prefetch``)."""
    thread_id = context.thread.id
    recorded: list[TResponseStreamEvent] = []
    shown: set[str] = set()
    handing_over = False
    message: AssistantMessageItem | None = None
    async for event in events if events is not None else model_events(agent, model, agent_input):
        recorded.append(event)
        kind = event.type
        if handing_over:
            continue
        if kind == "response.output_text.delta":
            yield ThreadItemUpdatedEvent.model_construct(
                type="thread.item.updated",
                item_id=event.item_id,  # type: ignore[union-attr]
                update=AssistantMessageContentPartTextDelta.model_construct(
                    type="assistant_message.content_part.text_delta",
                    content_index=event.content_index,  # type: ignore[union-attr]
                    delta=event.delta,  # type: ignore[union-attr,arg-type]
                ),
            )
        elif kind == "response.output_item.added":
            item = event.item  # type: ignore[union-attr]
            if item.type != "message":
                handing_over = True
                continue
            message = AssistantMessageItem(
                id=item.id, thread_id=thread_id, created_at=datetime.now(UTC), content=[]
            )
            yield ThreadItemAddedEvent(item=message)
        elif kind == "response.content_part.added":
            part = event.part  # type: ignore[union-attr]
            if part.type != "output_text":
                handing_over = True
                continue
            yield ThreadItemUpdatedEvent(
                item_id=event.item_id,  # type: ignore[union-attr]
                update=AssistantMessageContentPartAdded(
                    content_index=event.content_index,  # type: ignore[union-attr]
                    content=AssistantMessageContent(text=getattr(part, "text", ""), annotations=[]),
                ),
            )
        elif kind == "response.output_text.done":
            yield ThreadItemUpdatedEvent(
                item_id=event.item_id,  # type: ignore[union-attr]
                update=AssistantMessageContentPartDone(
                    content_index=event.content_index,  # type: ignore[union-attr]
                    content=AssistantMessageContent(text=event.text, annotations=[]),  # type: ignore[union-attr]
                ),
            )
        elif kind == "response.output_item.done":
            item = event.item  # type: ignore[union-attr]
            if item.type != "message":
                handing_over = True
                continue
            text = "".join(getattr(c, "text", "") for c in getattr(item, "content", None) or [])
            done = AssistantMessageItem(
                id=item.id,
                thread_id=thread_id,
                created_at=message.created_at if message is not None else datetime.now(UTC),
                content=[AssistantMessageContent(text=text, annotations=[])],
            )
            shown.add(str(item.id))
            message = None
            yield ThreadItemDoneEvent(item=done)
        elif kind == "response.output_text.annotation.added":
            handing_over = True  # citations: let the library convert them
    if handing_over:
        raise Handover(recorded, shown)


class ReplayModel(Model):
    """Replays one recorded response on the first call, then defers to the real model."""

    def __init__(self, events: list[TResponseStreamEvent], model: Model) -> None:
        self.events: list[TResponseStreamEvent] | None = events
        self.model = model

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff[Any, Any]],
        tracing: ModelTracing,
        **kwargs: Any,
    ) -> ModelResponse:
        return await self.model.get_response(
            system_instructions, input, model_settings, tools, output_schema, handoffs, tracing, **kwargs
        )

    async def stream_response(  # type: ignore[override]
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff[Any, Any]],
        tracing: ModelTracing,
        **kwargs: Any,
    ) -> AsyncIterator[TResponseStreamEvent]:
        if self.events is not None:
            events, self.events = self.events, None
            for event in events:
                yield event
            return
        async for event in self.model.stream_response(
            system_instructions, input, model_settings, tools, output_schema, handoffs, tracing, **kwargs
        ):
            yield event
