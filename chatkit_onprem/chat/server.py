"""Our ``ChatKitServer``: runs the agent and closes the library's gaps.

What the library leaves to us (ARCHITECTURE §4), done here:

* ``sync_action`` results and feedback are persisted;
* the cancel handler's writes run in their own task, shielded, so a client
  disconnect still saves the partial answer;
* the agent gets its model only from our provider, tracing off.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio
from agents import Agent, RunConfig, Runner, StopAtTools
from chatkit.actions import Action
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.server import ChatKitServer
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    AudioInput,
    FeedbackKind,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    TranscriptionResult,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)

from chatkit_onprem.chat.converter import HistoryConverter
from chatkit_onprem.chat.tools import STOP_AT, default_tools
from chatkit_onprem.chat.widgets import COUNTER_ACTION, counter_value, counter_widget
from chatkit_onprem.config import ChatSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.ids import new_id
from chatkit_onprem.llm.provider import AliasModelProvider
from chatkit_onprem.store.chatkit_store import DuckDBStore


class UnsupportedError(Exception):
    """A request the deployment is not configured for (answered 501)."""


class OnPremChatKitServer(ChatKitServer[RequestContext]):
    store: DuckDBStore

    def __init__(
        self,
        store: DuckDBStore,
        attachment_store: Any,
        provider: AliasModelProvider,
        settings: ChatSettings,
    ) -> None:
        super().__init__(store, attachment_store)
        self.settings = settings
        self.provider = provider
        self.converter = HistoryConverter()
        self.agent = Agent[AgentContext[RequestContext]](
            name="assistant",
            instructions=settings.instructions,
            model=provider.default_alias,
            tools=list(default_tools()),
            tool_use_behavior=StopAtTools(stop_at_tool_names=list(STOP_AT)),
        )
        self.run_config = RunConfig(
            model_provider=provider, tracing_disabled=True, trace_include_sensitive_data=False
        )
        self._persisting: set[asyncio.Task[None]] = set()

    # --- turns ----------------------------------------------------------
    async def respond(  # type: ignore[override]
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        page = await self.store.load_thread_items(
            thread.id, None, self.settings.history_items, "desc", context
        )
        history = list(reversed(page.data))
        agent_input = await self.converter.to_agent_input(history)
        agent_context = AgentContext[RequestContext](thread=thread, store=self.store, request_context=context)
        agent = self.agent
        requested = input_user_message.inference_options.model if input_user_message else None
        if requested:
            agent = agent.clone(model=requested)
        result = Runner.run_streamed(agent, agent_input, context=agent_context, run_config=self.run_config)
        async for event in stream_agent_response(agent_context, result):
            yield event
        if thread.title is None and input_user_message is not None:
            thread.title = title_from(input_user_message)

    async def action(  # type: ignore[override]
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        if action.type != COUNTER_ACTION:
            raise ValueError(f"unknown action type {action.type!r}")
        count = counter_value(action.payload) + 1
        if sender is not None:
            yield ThreadItemReplacedEvent(item=sender.model_copy(update={"widget": counter_widget(count)}))
        yield ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=new_id("message"),
                thread_id=thread.id,
                created_at=datetime.now(UTC),
                content=[AssistantMessageContent(text=f"The counter is now {count}.")],
            )
        )

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> SyncCustomActionResponse:
        if action.type != COUNTER_ACTION:
            raise ValueError(f"unknown action type {action.type!r}")
        if sender is None:
            return SyncCustomActionResponse(updated_item=None)
        count = counter_value(action.payload) + 1
        updated = sender.model_copy(update={"widget": counter_widget(count), "copy_text": f"Count: {count}"})
        # The library returns the result but never saves it.
        await self.store.save_item(thread.id, updated, context)
        return SyncCustomActionResponse(updated_item=updated)

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: FeedbackKind,
        context: RequestContext,
    ) -> None:
        await self.store.save_feedback(thread_id, item_ids, feedback, context)

    async def transcribe(self, audio_input: AudioInput, context: RequestContext) -> TranscriptionResult:
        raise UnsupportedError(
            "speech transcription is not configured on this server (no transcription upstream)"
        )

    # --- cancellation ---------------------------------------------------
    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        """Persist the partial answer even though the surrounding task is being cancelled."""
        task = asyncio.get_running_loop().create_task(
            super().handle_stream_cancelled(thread, pending_items, context)
        )
        self._persisting.add(task)
        task.add_done_callback(self._persisting.discard)
        with anyio.CancelScope(shield=True):
            await asyncio.shield(task)

    async def wait_for_persistence(self) -> None:
        """Shutdown waits for cancel handlers still writing."""
        if self._persisting:
            await asyncio.gather(*self._persisting, return_exceptions=True)


def title_from(message: UserMessageItem, limit: int = 60) -> str:
    text = " ".join(part.text for part in message.content if isinstance(part, UserMessageTextContent)).strip()
    text = " ".join(text.split())
    if not text:
        return "New chat"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
