"""A lean streaming Chat Completions model: plain JSON in, Responses events out.

Measured (README, "Model upstreams"): in the SDK's ``OpenAIChatCompletionsModel``
each streamed chunk is rebuilt by the openai client's ``construct_type`` and the
request body goes through its typed-dict transform, together several ms of CPU
per 40-token turn. This model sends the same request (messages and tools from
the SDK's own converter) over the upstream's httpx2 client, parses each SSE line
with ``json.loads`` and builds events with ``llm.response_events``.

It also gives messages and tool calls real ids (no ``__fake_id__``), retries
like the openai client (connection errors, 408/409/429/5xx; ``Retry-After``
honoured up to 120 s; else 0.5 s doubling to 8 s, with jitter) and raises the
openai client's error types, so failures read the same. Anything it does not
handle (handoffs, structured output, reasoning settings, extra args) goes to
the SDK model, as does the non-streamed ``get_response`` (titles).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import httpx2
import openai
from agents import Model, ModelResponse, ModelSettings, ModelTracing, Tool
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import TResponseInputItem, TResponseStreamEvent
from agents.models.chatcmpl_converter import Converter
from agents.util._json import (
    _to_dump_compatible,  # the SDK's own iterable → list normaliser, as it uses before sending
)

from chatkit_onprem.llm.pacing import PacedBytes
from chatkit_onprem.llm.response_events import ResponseEvents
from chatkit_onprem.llm.upstreams import Upstream

#: ModelSettings fields sent as-is; any other field set means "let the SDK model do it".
_SIMPLE = {
    "temperature": "temperature",
    "top_p": "top_p",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "max_tokens": "max_tokens",
    "parallel_tool_calls": "parallel_tool_calls",
    "metadata": "metadata",
    "store": "store",
}
_HANDLED = {*_SIMPLE, "tool_choice", "include_usage", "extra_body", "extra_headers", "extra_query"}
_RETRY_STATUS = {408, 409, 429}


class LeanChatCompletionsModel(Model):
    def __init__(
        self, upstream: Upstream, model_id: str, fallback: Model, *, text_interval: float = 0.0
    ) -> None:
        self.upstream = upstream
        self.text_interval = text_interval
        self.model = model_id
        self.fallback = fallback
        self.url = upstream.settings.base_url + "/chat/completions"
        key = upstream.client.api_key
        self.headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            **upstream.settings.headers,
        }

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

    def handles(
        self, settings: ModelSettings, output_schema: Any = None, handoffs: list[Any] | None = None
    ) -> bool:
        """True when this model streams the call itself (else the SDK model does)."""
        if output_schema is not None or handoffs:
            return False
        used = {name for name, value in settings.__dict__.items() if value is not None}
        return used <= _HANDLED

    def _body(
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
            "messages": _to_dump_compatible(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = _to_dump_compatible([Converter.tool_to_openai(t) for t in tools])
            choice = Converter.convert_tool_choice(settings.tool_choice)
            if isinstance(choice, str | dict):
                body["tool_choice"] = choice
        for field, key in _SIMPLE.items():
            value = getattr(settings, field)
            if value is not None and (field != "parallel_tool_calls" or tools):
                body[key] = value
        if settings.extra_body and isinstance(settings.extra_body, dict):
            body.update(settings.extra_body)
        return body

    async def _open(self, body: dict[str, Any], settings: ModelSettings) -> httpx2.Response:
        """POST with the openai client's retry policy; return a streaming 200 response."""
        client = self.upstream.http
        headers: dict[str, str] = {**self.headers}
        headers.update({k: str(v) for k, v in (settings.extra_headers or {}).items()})
        payload = json.dumps(body).encode()
        retries = self.upstream.settings.max_retries
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                request = client.build_request(
                    "POST",
                    self.url,
                    content=payload,
                    headers=headers,
                    params=settings.extra_query or None,  # type: ignore[arg-type]
                )
                response = await client.send(request, stream=True)
            except (httpx2.TimeoutException, httpx2.NetworkError, httpx2.ProxyError):
                if last:
                    raise
                await asyncio.sleep(_backoff(attempt, None))
                continue
            if response.status_code == 200:
                return response
            await response.aread()
            await response.aclose()
            retryable = response.status_code in _RETRY_STATUS or response.status_code >= 500
            if retryable and not last:
                await asyncio.sleep(_backoff(attempt, response.headers))
                continue
            raise _status_error(response)
        raise AssertionError("unreachable")

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
            async for event in self.fallback.stream_response(
                system_instructions, input, model_settings, tools, output_schema, handoffs, tracing, **kwargs
            ):
                yield event
            return
        body = self._body(system_instructions, input, model_settings, tools)
        response = await self._open(body, model_settings)
        state = _ChunkParser(self.model)
        paced = PacedBytes(response.aiter_bytes()) if self.text_interval > 0 else None
        next_bytes: Callable[[], Awaitable[bytes | None]] = (
            paced.next if paced is not None else partial(anext, response.aiter_bytes(), None)
        )
        try:
            yield state.events.created()
            buffer = b""
            while (raw := await next_bytes()) is not None:
                buffer += raw
                *lines, buffer = buffer.split(b"\n")
                state.pending = []
                done = False
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        done = True
                        break
                    chunk = json.loads(data)
                    if "error" in chunk and not chunk.get("choices"):
                        raise openai.APIError(str(chunk["error"])[:500], request=response.request, body=chunk)
                    state.feed(chunk)
                for event in state.pending:
                    yield event
                if done:
                    break
                if paced is not None and state.sent_text:
                    await asyncio.sleep(self.text_interval)  # tokens arriving meanwhile: one event
        finally:
            if paced is not None:
                await paced.aclose()
            await response.aclose()
        for event in state.events.finish():
            yield event


class _ChunkParser:
    """Chat Completions chunks → Responses events, via the shared ``ResponseEvents`` builder."""

    __slots__ = ("events", "pending")

    def __init__(self, model: str) -> None:
        self.events = ResponseEvents(model)
        self.pending: list[TResponseStreamEvent] = []

    @property
    def sent_text(self) -> bool:
        return any(event.type == "response.output_text.delta" for event in self.pending)

    def feed(self, chunk: dict[str, Any]) -> None:
        """Turn a chunk into events in ``pending``. Text of the chunks read together (one
        network read, or what arrived during a ``text_interval`` pause) becomes one delta."""
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


def _backoff(attempt: int, headers: httpx2.Headers | None) -> float:
    if headers is not None:
        for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
            value = headers.get(name)
            if value is None:
                continue
            try:
                delay = float(value) / divisor
            except ValueError:
                continue
            if 0 < delay <= 120:
                return delay
    return min(0.5 * 2.0**attempt, 8.0) * (1 - 0.25 * random.random())  # noqa: S311 - jitter


def _status_error(response: httpx2.Response) -> openai.APIStatusError:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500]
    message = str(body.get("error", body) if isinstance(body, dict) else body)[:300]
    kinds: dict[int, type[openai.APIStatusError]] = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        403: openai.PermissionDeniedError,
        404: openai.NotFoundError,
        409: openai.ConflictError,
        422: openai.UnprocessableEntityError,
        429: openai.RateLimitError,
    }
    kind = kinds.get(response.status_code)
    if kind is None:
        kind = openai.InternalServerError if response.status_code >= 500 else openai.APIStatusError
    return kind(f"Error code: {response.status_code} - {message}", response=response, body=body)
