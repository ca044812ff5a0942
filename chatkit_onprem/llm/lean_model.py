"""The shared machinery of our lean upstream models (Chat Completions and Responses).

Both send the request over the upstream's own httpx2 client with the shared retry
policy (``llm.retry``), read the SSE body (paced: ``llm.pacing``), parse each
``data:`` line with ``json.loads`` and turn it into the Responses stream events the
Agents SDK and ChatKit expect, built without validation on the hot path. Only the
request body and the line parser differ (``chat_stream``, ``responses_stream``).

What the lean parsers do not handle (handoffs, structured output, model settings
beyond the plain ones) is decided once per alias by the provider, which then builds
the SDK's model instead (``handles``); the non-streamed ``get_response`` (titles)
always goes to the SDK model.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from functools import partial
from typing import Any, ClassVar

from agents import Model, ModelResponse, ModelSettings, ModelTracing, Tool
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import TResponseInputItem, TResponseStreamEvent

from chatkit_onprem.llm.capabilities import OWN_MODEL
from chatkit_onprem.llm.pacing import PacedBytes
from chatkit_onprem.llm.retry import send_streaming
from chatkit_onprem.llm.upstreams import Upstream

#: ModelSettings fields every lean model sends (under the API's name for them).
PLAIN_SETTINGS = frozenset(
    {
        "temperature",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "max_tokens",
        "parallel_tool_calls",
        "metadata",
        "store",
        "tool_choice",
        "include_usage",
        "extra_body",
        "extra_headers",
        "extra_query",
    }
)


def plain_json(value: Any) -> Any:
    """Mappings and iterables (the SDK's converters may return generators) as dicts and lists."""
    if isinstance(value, Mapping):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    if isinstance(value, Iterable):
        return [plain_json(v) for v in value]
    return value


class StreamParser:
    """Turns the decoded ``data:`` payloads of one response into stream events."""

    pending: list[TResponseStreamEvent]
    #: Set when the upstream said the response is complete.
    finished: bool = False

    def start(self) -> list[TResponseStreamEvent]:
        return []

    def feed(self, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def finish(self) -> list[TResponseStreamEvent]:
        return []

    @property
    def sent_text(self) -> bool:
        return any(event.type == "response.output_text.delta" for event in self.pending)


class LeanModel(Model):
    capabilities = OWN_MODEL
    #: Path below the upstream's base URL.
    path: ClassVar[str]
    #: ModelSettings fields this parser sends itself.
    handled: ClassVar[frozenset[str]] = PLAIN_SETTINGS

    def __init__(
        self, upstream: Upstream, model_id: str, fallback: Model, *, text_interval: float = 0.0
    ) -> None:
        self.upstream = upstream
        self.model = model_id
        self.fallback = fallback
        self.text_interval = text_interval
        self.url = upstream.settings.base_url + self.path
        self.headers = {
            "Authorization": f"Bearer {upstream.client.api_key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            **upstream.settings.headers,
        }

    @classmethod
    def handles(
        cls, settings: ModelSettings, output_schema: Any = None, handoffs: list[Any] | None = None
    ) -> bool:
        """True when this parser can stream a call with these settings (else the SDK model must)."""
        if output_schema is not None or handoffs:
            return False
        used = {name for name, value in settings.__dict__.items() if value is not None}
        return used <= cls.handled

    # --- subclasses -------------------------------------------------------
    def body(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        settings: ModelSettings,
        tools: list[Tool],
    ) -> dict[str, Any]:
        raise NotImplementedError

    def parser(self) -> StreamParser:
        raise NotImplementedError

    # --- Model interface --------------------------------------------------
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
        return await self.fallback.get_response(
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
        if not self.handles(model_settings, output_schema, handoffs):
            # The provider chose this model for the alias's settings; a caller that adds a
            # schema or handoffs at run time still gets a correct answer, from the SDK.
            async for event in self.fallback.stream_response(
                system_instructions, input, model_settings, tools, output_schema, handoffs, tracing, **kwargs
            ):
                yield event
            return
        payload = json.dumps(self.body(system_instructions, input, model_settings, tools)).encode()
        headers = {**self.headers, **{k: str(v) for k, v in (model_settings.extra_headers or {}).items()}}
        client = self.upstream.http
        response = await send_streaming(
            client,
            lambda: client.build_request(
                "POST",
                self.url,
                content=payload,
                headers=headers,
                params=model_settings.extra_query or None,  # type: ignore[arg-type]
            ),
            self.upstream.settings.max_retries,
        )
        parser = self.parser()
        paced = PacedBytes(response.aiter_bytes()) if self.text_interval > 0 else None
        next_bytes: Callable[[], Awaitable[bytes | None]] = (
            paced.next if paced is not None else partial(anext, response.aiter_bytes(), None)
        )
        try:
            for event in parser.start():
                yield event
            buffer = b""
            while (raw := await next_bytes()) is not None:
                buffer += raw
                *lines, buffer = buffer.split(b"\n")
                parser.pending = []
                done = False
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue  # "event:" lines name what the data says again; comments, keep-alives
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        done = True
                        break
                    if data:
                        parser.feed(json.loads(data))
                for event in parser.pending:
                    yield event
                if done or parser.finished:
                    break
                if paced is not None and parser.sent_text:
                    await asyncio.sleep(self.text_interval)  # tokens arriving meanwhile: one event
        finally:
            if paced is not None:
                await paced.aclose()
            await response.aclose()
        for event in parser.finish():
            yield event
