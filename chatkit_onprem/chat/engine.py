"""The turn engine: from a thread and (maybe) a new message to the model's answer as events.

One turn, in order (``docs/architecture.md`` §3 follows it end to end):

1. ``prepare``: the alias (``AliasModelProvider.alias_for``, the one permission check),
   the history (the page the precheck read with the thread when there is one, else one
   read; a new thread's history is its first message), the model input; and, when the
   turn is prepared early (``chat.prefetch``, while the library commits the message),
   the model call itself if the alias's models can start early.
2. ``events``: the model's stream as ChatKit events. Plain answers take the lean path
   (``chat.lean``); a tool call, a workflow or client tool call to resume, or
   ``llm.lean_plain_turns: false`` take the Agents SDK ``Runner``. Which path is decided
   here only: by the alias's capabilities (fixed when the provider was built) and the
   thread's last item.

The model is the alias bound to the turn's usage record (``RoutedModel.for_turn``), so
usage reaches the turn explicitly on both paths.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from agents import Agent, RunConfig, Runner, StopAtTools
from chatkit.agents import AgentContext, stream_agent_response
from chatkit.store import AttachmentStore
from chatkit.types import Thread, ThreadItem, ThreadMetadata, ThreadStreamEvent, UserMessageItem

from chatkit_onprem.chat.converter import HistoryConverter
from chatkit_onprem.chat.lean import Handover, ReplayModel, lean_turn, model_events
from chatkit_onprem.chat.prefetch import Prepared, PrimedStream
from chatkit_onprem.chat.tools import STOP_AT, default_tools
from chatkit_onprem.config import ChatSettings, LlmSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.llm.provider import AliasModelProvider
from chatkit_onprem.llm.routing import TurnUsage
from chatkit_onprem.store.chatkit_store import DuckDBStore

if TYPE_CHECKING:
    from chatkit_onprem.chat.turn import Turn

#: The thread's last item says the previous turn is waiting to be resumed by the Runner.
_RESUMES = frozenset({"workflow", "client_tool_call"})

TurnAgent = Agent[AgentContext[RequestContext]]


class TurnEngine:
    def __init__(
        self,
        provider: AliasModelProvider,
        store: DuckDBStore,
        attachment_store: AttachmentStore[RequestContext] | None,
        settings: ChatSettings,
        llm: LlmSettings,
    ) -> None:
        self.provider = provider
        self.store = store
        self.attachment_store = attachment_store
        self.settings = settings
        self.llm = llm
        self.agent = TurnAgent(
            name="assistant",
            instructions=settings.instructions,
            model=provider.default_alias,
            tools=list(default_tools()),
            tool_use_behavior=StopAtTools(stop_at_tool_names=list(STOP_AT)),
        )
        self.run_config = RunConfig(
            model_provider=provider, tracing_disabled=True, trace_include_sensitive_data=False
        )
        # Static instructions are what the lean path can send; dynamic ones need the Runner.
        self.lean_turns = llm.lean_plain_turns and isinstance(self.agent.instructions, str | None)

    # --- the one decision -----------------------------------------------
    def takes_lean_path(self, history: list[ThreadItem]) -> bool:
        """Plain answers take the lean path; resuming a workflow or a client tool call, the Runner."""
        return self.lean_turns and not (history and history[-1].type in _RESUMES)

    def starts_early(self, alias: str, history: list[ThreadItem]) -> bool:
        return self.takes_lean_path(history) and self.provider.routed(alias).capabilities.starts_early

    # --- 1. prepare -------------------------------------------------------
    async def prepare(
        self, thread: ThreadMetadata, message: UserMessageItem | None, context: RequestContext, *, early: bool
    ) -> Prepared:
        """Alias, history and model input; ``early`` (the message may not be committed yet)
        also starts the model call when the alias allows it."""
        turn: Turn | None = context.turn
        if turn is not None and turn.alias is not None:
            alias = turn.alias
        else:
            requested = message.inference_options.model if message is not None else None
            alias = self.provider.alias_for(requested, context.tenant)
        history = await self.history(thread, message, context, early=early)
        converter = HistoryConverter(self.attachment_store, context, self.llm.input)  # type: ignore[arg-type]
        agent_input = await converter.to_agent_input(history)
        stream = None
        if early and self.starts_early(alias, history):
            model = self.provider.routed(alias).for_turn(turn.usage if turn is not None else TurnUsage())
            stream = PrimedStream(model_events(self.agent, model, agent_input))
        return Prepared(alias, history, agent_input, stream)

    async def history(
        self, thread: ThreadMetadata, message: UserMessageItem | None, context: RequestContext, *, early: bool
    ) -> list[ThreadItem]:
        """The thread's latest items, oldest first.

        On ``threads.create`` the library hands us the ``Thread`` it has just built
        (stored threads are loaded as ``ThreadMetadata``); its only item is the message
        that created it, so there is nothing to read. ``early``: the page the precheck
        read with the thread, if the turn has one; the message may or may not be in it
        (committed or not), so it is taken out and put at the end.
        """
        if isinstance(thread, Thread) and message is not None and not thread.items.data:
            return [message]
        limit = self.settings.history_items
        turn: Turn | None = context.turn
        newest = turn.take_history(thread.id, limit) if early and turn is not None else None
        if newest is None:
            newest = (await self.store.load_thread_items(thread.id, None, limit, "desc", context)).data
        history = list(reversed(newest))
        if early and message is not None:
            history = [item for item in history if item.id != message.id][-(limit - 1) :] if limit > 1 else []
            history.append(message)
        return history

    # --- 2. the answer ----------------------------------------------------
    async def events(
        self, prepared: Prepared, thread: ThreadMetadata, context: RequestContext, usage: TurnUsage
    ) -> AsyncIterator[ThreadStreamEvent]:
        """The model's answer as ChatKit events, on the lean path or through the Runner."""
        model = self.provider.routed(prepared.alias).for_turn(usage)
        agent_context = AgentContext[RequestContext](thread=thread, store=self.store, request_context=context)
        started = prepared.stream
        shown: set[str] = set()
        runner_model: Any = model
        try:
            if self.takes_lean_path(prepared.history):
                try:
                    async for event in lean_turn(
                        self.agent, model, prepared.agent_input, agent_context, started
                    ):
                        yield event
                    return
                except Handover as handover:
                    shown = handover.shown
                    runner_model = ReplayModel(handover.events, model)
        finally:
            if started is not None:
                await started.aclose()  # consumed already, unless the turn ended early
        result = Runner.run_streamed(
            self.agent.clone(model=runner_model),
            prepared.agent_input,
            context=agent_context,
            run_config=self.run_config,
        )
        async for event in stream_agent_response(agent_context, result):
            if shown and _item_id(event) in shown:
                continue  # already sent on the lean path
            yield event


def _item_id(event: ThreadStreamEvent) -> str | None:
    item = getattr(event, "item", None)
    if item is not None:
        return str(item.id)
    return getattr(event, "item_id", None)
