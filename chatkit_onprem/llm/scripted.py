"""The built-in scripted model: the embedded default when no upstream is configured.

It implements the Agents SDK ``Model`` interface and streams a deterministic
answer token by token, so a fresh install exercises the whole ChatKit protocol
with no model server. Words in the user's message pick a script:

==============  ==========================================================
``widget``      calls ``show_counter_widget`` (a widget with an action)
``progress``    calls ``run_long_task`` (progress updates)
``client tool`` calls ``get_client_selection`` (a client tool call)
``ask me``      calls ``ask_preferences`` (structured input)
``lock``        calls ``lock_thread`` (the thread refuses further messages)
``long``        a long answer (for cancellation demos)
``fail``        fails mid-stream (for error-handling demos)
==============  ==========================================================

Events come from ``llm.response_events``, the builder our lean upstream model uses too.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from agents import Model, ModelResponse, ModelSettings, ModelTracing, Tool, Usage
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import TResponseInputItem, TResponseStreamEvent
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
)

from chatkit_onprem.ids import new_id
from chatkit_onprem.llm.capabilities import OWN_MODEL
from chatkit_onprem.llm.response_events import ResponseEvents

HELP = (
    "This is the built-in scripted model: it streams a fixed answer token by token. "
    "Try a message containing: widget, progress, client tool, ask me, lock, long or fail."
)

SCRIPTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("widget", "show_counter_widget", {"start": 0}),
    ("progress", "run_long_task", {"steps": 3}),
    ("client tool", "get_client_selection", {"reason": "the user asked for it"}),
    ("ask me", "ask_preferences", {}),
    ("lock", "lock_thread", {"reason": "Locked at the user's request."}),
)


class ScriptedModelFailure(RuntimeError):
    """Raised on purpose by the ``fail`` script."""


class ScriptedModel(Model):
    capabilities = OWN_MODEL

    def __init__(
        self,
        *,
        token_delay: float = 0.0,
        id_factory: Callable[[str], str] = new_id,
        name: str = "scripted",
    ) -> None:
        self.token_delay = token_delay
        self.new_id = id_factory
        self.name = name

    # --- the script -----------------------------------------------------
    def plan(self, items: list[TResponseInputItem], tools: list[Tool]) -> tuple[str, Any]:
        """("text", answer) or ("call", (tool name, arguments))."""
        last = items[-1] if items else None
        if isinstance(last, dict) and last.get("type") == "function_call_output":
            return "text", f"The tool finished: {_clip(_output_text(last.get('output')))}"
        text = _last_user_text(items)
        lowered = text.lower()
        tool_names = {getattr(t, "name", "") for t in tools}
        for keyword, tool, args in SCRIPTS:
            if keyword in lowered and tool in tool_names:
                return "call", (tool, args)
        if "fail" in lowered:
            return "fail", "Starting an answer that will fail"
        if "long" in lowered:
            return "text", " ".join(f"Sentence {i} of a long scripted answer." for i in range(1, 201))
        if not text:
            return "text", "Thanks. " + HELP
        return "text", f"You said: “{_clip(text)}”. {HELP}"

    # --- Model interface ------------------------------------------------
    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff[Any, Any]],
        tracing: ModelTracing,
        **_: Any,
    ) -> ModelResponse:
        final: Response | None = None
        async for event in self.stream_response(
            system_instructions, input, model_settings, tools, output_schema, handoffs, tracing
        ):
            if isinstance(event, ResponseCompletedEvent):
                final = event.response
        assert final is not None
        usage = final.usage
        return ModelResponse(
            output=final.output,
            usage=Usage(
                requests=1,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
                total_tokens=usage.total_tokens if usage else 0,
            ),
            response_id=final.id,
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
        **_: Any,
    ) -> AsyncIterator[TResponseStreamEvent]:
        items: list[TResponseInputItem] = (
            [{"role": "user", "content": input}] if isinstance(input, str) else list(input)
        )
        kind, plan = self.plan(items, tools)
        events = ResponseEvents(self.name, self.new_id)
        yield events.created()
        input_tokens = sum(len(json.dumps(i, default=str)) // 4 for i in items)
        if kind == "call":
            name, args = plan
            events.call_fragment(0, call_id=self.new_id("call"), name=name, arguments=json.dumps(args))
            events.usage = (input_tokens, 10)
            for event in events.finish():
                yield event
            return

        tokens = re.findall(r"\S+\s*", plan)
        for n, token in enumerate(tokens):
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            if kind == "fail" and n == 3:
                raise ScriptedModelFailure("the scripted model failed on purpose (the 'fail' script)")
            pending: list[TResponseStreamEvent] = []
            events.text(token, pending)
            for event in pending:
                yield event
        events.usage = (input_tokens, len(tokens))
        for event in events.finish():
            yield event


def _last_user_text(items: list[TResponseInputItem]) -> str:
    for item in reversed(items):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content.strip()
        if isinstance(content, list):
            texts = [
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") == "input_text"
            ]
            # ChatKit prepends context parts (quoted text, tags); the user's words come first.
            if texts:
                return texts[0].strip()
    return ""


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    return json.dumps(output, default=str)


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
