"""Our ``ChatKitServer``: runs turns through the turn engine and closes the library's gaps.

What the library leaves to us (ARCHITECTURE §4), done here:

* ``sync_action`` results and feedback are persisted;
* the cancel handler's writes run in their own task, shielded, so a client
  disconnect still saves the partial answer;
* the agent gets its model only from our provider, tracing off (``chat.engine``);
* an upstream failure ends the turn with an SSE ``error`` event an operator can
  act on, after the partial answer has been saved, so the thread stays usable;
* the turn's usage is recorded however the turn ends (from ``Turn.usage``).

The library's private methods are used only through ``chat.library``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from agents import ModelSettings, ModelTracing
from chatkit.actions import Action
from chatkit.errors import CustomStreamError
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

from chatkit_onprem import metrics
from chatkit_onprem.chat.engine import TurnEngine
from chatkit_onprem.chat.library import ChatKitServerAdapter
from chatkit_onprem.chat.prefetch import TurnPlan
from chatkit_onprem.chat.widgets import COUNTER_ACTION, counter_value, counter_widget
from chatkit_onprem.config import ChatSettings, LlmSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import UnsupportedError, short
from chatkit_onprem.ids import new_id
from chatkit_onprem.llm.provider import AliasModelProvider
from chatkit_onprem.llm.routing import TurnUsage, UpstreamFailure
from chatkit_onprem.llm.transcription import Transcriber
from chatkit_onprem.llm.usage import UsageRecorder
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.chatkit_store import DuckDBStore

if TYPE_CHECKING:
    from chatkit_onprem.chat.turn import Turn

log = get_logger(__name__)
TITLE_TIMEOUT = 15.0
TITLE_PROMPT = (
    "Write a title of at most six words for the conversation below. "
    "Answer with the title only, no quotes, no final period."
)


class OnPremChatKitServer(ChatKitServerAdapter):
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
        self.engine = TurnEngine(provider, store, attachment_store, settings, self.llm)
        self._persisting: set[asyncio.Task[None]] = set()

    # --- turns ----------------------------------------------------------
    def message_received(
        self, thread: ThreadMetadata, item: UserMessageItem, context: RequestContext
    ) -> TurnPlan | None:
        """The library is about to save and echo the message, then call ``respond``: the turn
        is prepared and the model called meanwhile (``chat.prefetch``)."""
        turn: Turn | None = context.turn
        if turn is None:
            return None
        turn.plan = TurnPlan.start(item.id, self.engine.prepare(thread, item, context, early=True))
        return turn.plan

    async def respond(  # type: ignore[override]
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        started = time.perf_counter()
        turn: Turn | None = context.turn
        usage = turn.usage if turn is not None else TurnUsage()
        plan = turn.take_plan(input_user_message.id) if turn is not None and input_user_message else None
        if plan is not None:
            prepared = await plan.task
        else:
            prepared = await self.engine.prepare(thread, input_user_message, context, early=False)
        answer = AnswerSoFar()
        outcome = "ok"
        first = True
        try:
            async for event in self.engine.events(prepared, thread, context, usage):
                answer.track(event)
                if first:
                    first = False
                    metrics.FIRST_EVENT_SECONDS.observe(time.perf_counter() - started)
                yield event
            if thread.title is None and input_user_message is not None:
                thread.title = await self.title_for(input_user_message, answer.last_text, context, usage)
                if turn is not None:
                    turn.auto_title = thread.title  # a title the user sets meanwhile wins (the store)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:
            outcome = "upstream_error" if isinstance(exc, UpstreamFailure) else "error"
            upstream_text = exc.partial_text if isinstance(exc, UpstreamFailure) else ""
            partial = answer.partial_message(thread.id, upstream_text)
            if partial is not None:
                # The library saves an item only on its "done" event: close the partial answer.
                yield ThreadItemDoneEvent(item=partial)
            raise self._stream_error(exc, context, saved=partial is not None) from exc
        finally:
            metrics.TURNS.labels(outcome=outcome).inc()
            for used in usage.fallbacks_used:
                metrics.FALLBACKS.labels(alias=used).inc()
            if self.usage is not None and usage.tokens:
                await self.usage.record(context, thread.id, usage)  # buffered: no await on the store

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

    async def title_for(
        self, message: UserMessageItem, answer: str, context: RequestContext, usage: TurnUsage | None = None
    ) -> str:
        """A short title from the cheap alias when one is configured; else the message's first words."""
        fallback = title_from(message)
        alias = self.llm.title_alias
        if alias is None or alias not in self.provider.allowed_aliases(context.tenant):
            return fallback
        text = " ".join(p.text for p in message.content if isinstance(p, UserMessageTextContent))
        prompt = f"User: {text[:2000]}\nAssistant: {answer[:2000]}"
        try:
            response = await asyncio.wait_for(
                self.provider.routed(alias)
                .for_turn(usage or TurnUsage())
                .get_response(
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
            raise ValueError(f"unknown action type {short(action.type, 100)!r}")
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
            raise ValueError(f"unknown action type {short(action.type, 100)!r}")
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


class AnswerSoFar:
    """The assistant message being streamed, so a failed turn can save what was shown."""

    __slots__ = ("item", "last_text", "parts")

    def __init__(self) -> None:
        self.item: AssistantMessageItem | None = None
        self.parts: list[str] = []
        self.last_text = ""

    def track(self, event: ThreadStreamEvent) -> None:
        kind = event.type
        if kind == "thread.item.updated":
            update = event.update  # type: ignore[union-attr]
            if update.type == "assistant_message.content_part.text_delta":
                self.parts.append(update.delta)  # type: ignore[union-attr]
        elif kind == "thread.item.added":
            item = event.item  # type: ignore[union-attr]
            if isinstance(item, AssistantMessageItem):
                self.item = item
                self.parts = []
        elif kind == "thread.item.done":
            item = event.item  # type: ignore[union-attr]
            if isinstance(item, AssistantMessageItem):
                self.last_text = "".join(part.text for part in item.content)
                self.item = None
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


def _output_text(output: list[Any]) -> str:
    texts: list[str] = []
    for item in output:
        for part in getattr(item, "content", None) or []:
            text = getattr(part, "text", None)
            if isinstance(text, str):
                texts.append(text)
    return "".join(texts)
