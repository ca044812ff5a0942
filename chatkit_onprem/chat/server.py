"""Our ``ChatKitServer``: runs the agent and closes the library's gaps.

What the library leaves to us (ARCHITECTURE §4), done here:

* ``sync_action`` results and feedback are persisted;
* the cancel handler's writes run in their own task, shielded, so a client
  disconnect still saves the partial answer;
* the agent gets its model only from our provider, tracing off;
* ``__fake_id__`` (every assistant message and client tool call from a Chat
  Completions upstream) is replaced by a store-generated id before the library
  saves or sends the item;
* an upstream failure ends the turn with an SSE ``error`` event an operator can
  act on, after the partial answer has been saved, so the thread stays usable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio
from agents import Agent, ModelSettings, ModelTracing, RunConfig, Runner, StopAtTools
from agents.models.fake_id import FAKE_RESPONSES_ID
from chatkit.actions import Action
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    AudioInput,
    FeedbackKind,
    SyncCustomActionResponse,
    Thread,
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

from chatkit_onprem import metrics
from chatkit_onprem.chat.converter import HistoryConverter
from chatkit_onprem.chat.lean import Handover, ReplayModel, lean_turn, model_events
from chatkit_onprem.chat.prefetch import Prepared, PrimedStream, TurnPlan
from chatkit_onprem.chat.tools import STOP_AT, default_tools
from chatkit_onprem.chat.widgets import COUNTER_ACTION, counter_value, counter_widget
from chatkit_onprem.config import ChatSettings, LlmSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import UnsupportedError
from chatkit_onprem.ids import new_id
from chatkit_onprem.llm.provider import AliasModelProvider
from chatkit_onprem.llm.routing import TurnUsage, UpstreamFailure, current_turn
from chatkit_onprem.llm.transcription import Transcriber
from chatkit_onprem.llm.usage import UsageRecorder
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.chatkit_store import DuckDBStore

log = get_logger(__name__)
TITLE_TIMEOUT = 15.0
TITLE_PROMPT = (
    "Write a title of at most six words for the conversation below. "
    "Answer with the title only, no quotes, no final period."
)


class OnPremChatKitServer(ChatKitServer[RequestContext]):
    store: DuckDBStore

    def __init__(
        self,
        store: DuckDBStore,
        attachment_store: Any,
        provider: AliasModelProvider,
        settings: ChatSettings,
        *,
        llm: LlmSettings | None = None,
        usage: UsageRecorder | None = None,
    ) -> None:
        super().__init__(store, attachment_store)
        self.settings = settings
        self.llm = llm or LlmSettings()
        self.provider = provider
        self.usage = usage
        self.transcriber = Transcriber.from_settings(self.llm, provider)
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
    def alias_for(self, requested: str | None, context: RequestContext) -> str:
        """The alias this turn uses: the requested one if the tenant may, else its default."""
        allowed = self.provider.allowed_aliases(context.tenant)
        if requested:
            if requested not in allowed:
                raise CustomStreamError(
                    f"model {requested!r} is not available to you; choose one of {allowed}", allow_retry=False
                )
            return requested
        if self.provider.default_alias in allowed:
            return self.provider.default_alias
        if not allowed:
            raise CustomStreamError(
                "no model is enabled for your organisation; ask an operator", allow_retry=False
            )
        return allowed[0]

    async def _process_new_thread_item_respond(  # type: ignore[override]
        self, thread: ThreadMetadata, item: UserMessageItem, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """The library saves and echoes the message, then calls ``respond``; the turn is
        prepared and the model called meanwhile (``chat.prefetch``)."""
        plan = TurnPlan.start(item.id, self._prepare(thread, item, context, early=True))
        try:
            async for event in super()._process_new_thread_item_respond(thread, item, context):
                yield event
        finally:
            plan.discard()

    async def respond(  # type: ignore[override]
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        started = time.perf_counter()
        planned = TurnPlan.take(input_user_message.id) if input_user_message is not None else None
        if planned is not None:
            prepared = await planned
        else:
            prepared = await self._prepare(thread, input_user_message, context, early=False)
        alias, history = prepared.alias, prepared.history
        agent_context = AgentContext[RequestContext](thread=thread, store=self.store, request_context=context)
        agent = self._agent_for(alias)
        turn = TurnUsage()
        token = current_turn.set(turn)
        ids = _IdRemapper()
        outcome = "ok"
        first = True
        try:
            async for event in self._turn_events(
                agent, alias, prepared.agent_input, agent_context, history, prepared.stream
            ):
                ids.remap(event)
                if first:
                    first = False
                    metrics.FIRST_EVENT_SECONDS.observe(time.perf_counter() - started)
                yield event
            if thread.title is None and input_user_message is not None:
                thread.title = await self.title_for(input_user_message, ids.last_text, context)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:
            outcome = "upstream_error" if isinstance(exc, UpstreamFailure) else "error"
            upstream_text = exc.partial_text if isinstance(exc, UpstreamFailure) else ""
            partial = ids.partial_message(thread.id, upstream_text)
            if partial is not None:
                # The library saves an item only on its "done" event: close the partial answer.
                yield ThreadItemDoneEvent(item=partial)
            raise self._stream_error(exc, context, saved=partial is not None) from exc
        finally:
            current_turn.reset(token)
            metrics.TURNS.labels(outcome=outcome).inc()
            for used in turn.fallbacks_used:
                metrics.FALLBACKS.labels(alias=used).inc()
            if self.usage is not None and turn.tokens:
                await self.usage.record(context, thread.id, turn)  # buffered: no await on the store

    def _agent_for(self, alias: str) -> Agent[AgentContext[RequestContext]]:
        return self.agent if alias == self.provider.default_alias else self.agent.clone(model=alias)

    def _lean(self, agent: Agent[AgentContext[RequestContext]], history: list[ThreadItem]) -> bool:
        """Plain answers take the lean path; tools, workflows and dynamic instructions the Runner."""
        resuming = bool(history) and history[-1].type in ("workflow", "client_tool_call")
        plain_instructions = agent.instructions is None or isinstance(agent.instructions, str)
        return self.llm.lean_plain_turns and not resuming and plain_instructions

    async def _prepare(
        self,
        thread: ThreadMetadata,
        message: UserMessageItem | None,
        context: RequestContext,
        *,
        early: bool,
    ) -> Prepared:
        """Alias, history and model input of a turn; ``early`` (the message may not be
        committed yet) also starts the lean path's model call."""
        requested = message.inference_options.model if message else None
        alias = self.alias_for(requested, context)
        history = await self._history(thread, message, context, early=early)
        converter = HistoryConverter(self.attachment_store, context, self.llm.input)  # type: ignore[arg-type]
        agent_input = await converter.to_agent_input(history)
        stream = None
        if early:
            agent = self._agent_for(alias)
            model = self.provider.routed(alias)
            if self._lean(agent, history) and model.starts_early(agent.model_settings):
                stream = PrimedStream(model_events(agent, model, agent_input))
        return Prepared(alias, history, agent_input, stream)

    async def _history(
        self,
        thread: ThreadMetadata,
        message: UserMessageItem | None,
        context: RequestContext,
        *,
        early: bool = False,
    ) -> list[ThreadItem]:
        """The thread's latest items, oldest first.

        On ``threads.create`` the library hands us the ``Thread`` it has just built
        (stored threads are loaded as ``ThreadMetadata``); its only item is the message
        that created it, so the read (~1 ms of DuckDB CPU) is skipped. ``early``: the
        page the precheck read with the thread, if any (one reader round trip less); the
        message may or may not be in it (committed or not), so it is taken out and put
        at the end.
        """
        if isinstance(thread, Thread) and message is not None and not thread.items.data:
            return [message]
        limit = self.settings.history_items
        newest = self.store.take_history(thread.id, limit, context) if early else None
        if newest is None:
            newest = (await self.store.load_thread_items(thread.id, None, limit, "desc", context)).data
        history = list(reversed(newest))
        if early and message is not None:
            history = [item for item in history if item.id != message.id][-(limit - 1) :] if limit > 1 else []
            history.append(message)
        return history

    async def _turn_events(
        self,
        agent: Agent[AgentContext[RequestContext]],
        alias: str,
        agent_input: list[Any],
        agent_context: AgentContext[RequestContext],
        history: list[ThreadItem],
        started: PrimedStream[Any] | None = None,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Plain answers take the lean path; anything else (tools, workflows) the Runner."""
        shown: set[str] = set()
        model = self.provider.routed(alias)
        runner_agent = agent
        try:
            if self._lean(agent, history):
                try:
                    async for event in lean_turn(agent, model, agent_input, agent_context, started):
                        yield event
                    return
                except Handover as handover:
                    shown = handover.shown
                    runner_agent = agent.clone(model=ReplayModel(handover.events, model))
        finally:
            if started is not None:
                await started.aclose()  # consumed already, unless the turn ended early
        result = Runner.run_streamed(
            runner_agent, agent_input, context=agent_context, run_config=self.run_config
        )
        async for event in stream_agent_response(agent_context, result):
            if shown and _item_id(event) in shown:
                continue  # already sent on the lean path
            yield event

    def _stream_error(self, exc: Exception, context: RequestContext, *, saved: bool) -> CustomStreamError:
        if isinstance(exc, CustomStreamError):
            return exc
        if isinstance(exc, UpstreamFailure):
            kept = "The partial answer was saved. " if saved else ""
            return CustomStreamError(
                f"The model is unavailable: {exc.message}. {kept}Send your message again to retry.",
                allow_retry=True,
            )
        log.exception("turn failed", thread_error=type(exc).__name__)
        suffix = f" (request id {context.request_id})" if context.request_id else ""
        return CustomStreamError(f"The answer failed with an internal error{suffix}.", allow_retry=True)

    async def title_for(self, message: UserMessageItem, answer: str, context: RequestContext) -> str:
        """A short title from the cheap alias when one is configured; else the message's first words."""
        fallback = title_from(message)
        alias = self.llm.title_alias
        if alias is None or alias not in self.provider.allowed_aliases(context.tenant):
            return fallback
        text = " ".join(p.text for p in message.content if isinstance(p, UserMessageTextContent))
        prompt = f"User: {text[:2000]}\nAssistant: {answer[:2000]}"
        try:
            response = await asyncio.wait_for(
                self.provider.routed(alias).get_response(
                    TITLE_PROMPT,
                    [{"role": "user", "content": prompt}],
                    ModelSettings(max_tokens=24, temperature=0.2),
                    [],
                    None,
                    [],
                    ModelTracing.DISABLED,
                    previous_response_id=None,
                    conversation_id=None,
                    prompt=None,
                ),
                TITLE_TIMEOUT,
            )
        except Exception as exc:
            log.warning("title generation failed; using the first words", error=str(exc)[:300])
            return fallback
        title = " ".join(_output_text(response.output).split()).strip(" \"'.")
        if not title:
            return fallback
        return title if len(title) <= 80 else title[:79].rstrip() + "…"

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
        if self.transcriber is None:
            raise UnsupportedError(
                "speech transcription is not configured on this server (set llm.transcription)"
            )
        return TranscriptionResult(text=await self.transcriber.transcribe(audio_input))

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
        if self.usage is not None:
            await self.usage.flush()


def title_from(message: UserMessageItem, limit: int = 60) -> str:
    text = " ".join(part.text for part in message.content if isinstance(part, UserMessageTextContent)).strip()
    text = " ".join(text.split())
    if not text:
        return "New chat"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _IdRemapper:
    """Replaces ``__fake_id__`` with store ids and remembers the answer streamed so far."""

    __slots__ = ("current", "item", "last_text", "parts")

    def __init__(self) -> None:
        self.current: str | None = None
        self.item: AssistantMessageItem | None = None
        self.parts: list[str] = []
        self.last_text = ""

    def remap(self, event: ThreadStreamEvent) -> None:
        kind = event.type
        if kind == "thread.item.updated":
            if event.item_id == FAKE_RESPONSES_ID:  # type: ignore[union-attr]
                if self.current is None:
                    self.current = new_id("message")
                event.item_id = self.current  # type: ignore[union-attr]
            update = event.update  # type: ignore[union-attr]
            if update.type == "assistant_message.content_part.text_delta":
                self.parts.append(update.delta)  # type: ignore[union-attr]
        elif kind == "thread.item.added":
            item = event.item  # type: ignore[union-attr]
            if item.id == FAKE_RESPONSES_ID:
                self.current = new_id("message")
                item.id = self.current
            if isinstance(item, AssistantMessageItem):
                self.item = item
                self.parts = []
        elif kind == "thread.item.done":
            item = event.item  # type: ignore[union-attr]
            if item.id == FAKE_RESPONSES_ID:
                if item.type == "client_tool_call":
                    item.id = new_id("tool_call")
                else:
                    item.id = self.current or new_id("message")
            if isinstance(item, AssistantMessageItem):
                self.last_text = "".join(part.text for part in item.content)
                self.item = None
                self.current = None
                self.parts = []

    def partial_message(self, thread_id: str, upstream_text: str = "") -> AssistantMessageItem | None:
        """The unfinished answer, closed with the text streamed so far (None when nothing was).

        ``upstream_text`` is what the failing model call produced; the SDK drops events
        still queued when a run fails, so it may be longer than what the client saw.
        """
        shown = "".join(self.parts)
        text = upstream_text if upstream_text.startswith(shown) else shown
        if not text:
            return None
        if self.item is None:
            return AssistantMessageItem(
                id=new_id("message"),
                thread_id=thread_id,
                created_at=datetime.now(UTC),
                content=[AssistantMessageContent(text=text)],
            )
        return AssistantMessageItem(
            id=self.item.id,
            thread_id=thread_id,
            created_at=self.item.created_at,
            content=[AssistantMessageContent(text=text)],
        )


def _item_id(event: ThreadStreamEvent) -> str | None:
    item = getattr(event, "item", None)
    if item is not None:
        return str(item.id)
    return getattr(event, "item_id", None)


def _output_text(output: list[Any]) -> str:
    texts: list[str] = []
    for item in output:
        for part in getattr(item, "content", None) or []:
            text = getattr(part, "text", None)
            if isinstance(text, str):
                texts.append(text)
    return "".join(texts)
