"""An alias as the Agents SDK sees it: a ``Model`` that tries its fallbacks in order.

* A candidate that fails *before its first token* (connection refused, 429 after
  the client's retries, 5xx, proxy refusal, timeout) hands over to the next
  alias in the fallback list. Once a token has been passed on, a failure ends
  the turn: replaying would duplicate text the user already saw.
* Every failure becomes an ``UpstreamFailure`` whose message an operator can act
  on (which alias, which upstream and route, what went wrong, which key to check).
* Streamed usage is requested (``include_usage``: non-OpenAI upstreams report 0
  otherwise) and collected into the turn's ``TurnUsage``, which the turn hands in
  explicitly: ``RoutedModel.for_turn(usage)`` is the alias as one turn sees it.
* ``__fake_id__`` (every message and tool call the SDK's Chat Completions model
  streams) is replaced by real ids here, in the model events, so the lean path and
  the Runner path both see real ids (``RealIds``: the one id remapper).
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from agents import Model, ModelResponse, ModelSettings, ModelTracing, Tool
from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import TResponseInputItem, TResponseStreamEvent
from agents.models.fake_id import FAKE_RESPONSES_ID

from chatkit_onprem import metrics
from chatkit_onprem.ids import new_id
from chatkit_onprem.llm.capabilities import ModelCapabilities, capabilities_of
from chatkit_onprem.llm.errors import UpstreamHTTPError, UpstreamStreamError
from chatkit_onprem.llm.upstreams import Upstream
from chatkit_onprem.logging import get_logger

log = get_logger(__name__)

#: Events that carry no answer yet: a candidate failing after these may still be replaced.
_PREAMBLE = frozenset({"response.created", "response.in_progress"})


@dataclass(slots=True)
class TurnUsage:
    """What one turn consumed, per alias that actually answered."""

    tokens: dict[str, list[int]] = field(default_factory=dict)
    served_by: str | None = None
    fallbacks_used: list[str] = field(default_factory=list)

    def add(self, alias: str, input_tokens: int, output_tokens: int) -> None:
        counts = self.tokens.setdefault(alias, [0, 0])
        counts[0] += input_tokens
        counts[1] += output_tokens


class UpstreamFailure(RuntimeError):
    """A model call failed; ``str()`` is the operator-facing explanation."""

    def __init__(self, message: str, *, kind: str, alias: str, started: bool, partial_text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.alias = alias
        self.started = started
        #: Answer text the upstream streamed before failing (some may not have reached the client yet).
        self.partial_text = partial_text


class TotalTimeoutError(TimeoutError):
    pass


@dataclass(slots=True)
class Candidate:
    alias: str
    model: Model
    settings: ModelSettings
    upstream: Upstream | None  # None: the built-in scripted model
    total_timeout: float | None = None


def describe(exc: BaseException, candidate: Candidate) -> tuple[str, str]:
    """(kind, message) for an exception raised while calling ``candidate``."""
    return describe_call(exc, f"model alias '{candidate.alias}'", candidate.upstream, _model(candidate))


def describe_call(exc: BaseException, label: str, up: Upstream | None, model_id: str) -> tuple[str, str]:
    where = label
    if up is not None:
        where += f" (upstream '{up.name}' at {up.route})"
    retries = up.settings.max_retries if up is not None else 0
    chain = list(_chain(exc))
    for err in chain:
        if isinstance(err, TotalTimeoutError):
            return "timeout", f"{where}: no complete answer within {err.args[0]} s (timeouts.total)"
        if isinstance(err, UpstreamStreamError):
            return (
                "stream_error",
                f"{where}: the upstream reported an error mid-stream ({_short(err.detail)})",
            )
        status: int | None = None
        if isinstance(err, UpstreamHTTPError):
            status, detail = err.status, err.detail
        elif isinstance(err, openai.APIStatusError):
            status, detail = err.status_code, getattr(err, "message", "") or str(err)
        if status is not None:
            if status == 407:
                return "proxy", (
                    f"{where}: the forward proxy asked for authentication (HTTP 407); "
                    f"check llm.upstreams.{up.name if up else '?'}.proxy.username/password"
                )
            if status == 429:
                return (
                    "rate_limited",
                    f"{where}: rate-limited by the upstream (HTTP 429) after {retries} retries",
                )
            if status in (502, 503, 504) and up is not None and up.settings.proxy is not None:
                return "proxy", (
                    f"{where}: HTTP {status} - the proxy or the upstream behind it is failing "
                    f"(tried {retries} retries)"
                )
            if status in (401, 403):
                return "auth", f"{where}: the upstream refused our credentials (HTTP {status}); check api_key"
            if status == 404:
                return "not_found", f"{where}: HTTP 404 - check base_url and the model id '{model_id}'"
            return (
                "status",
                f"{where}: the upstream answered HTTP {status} ({_short(detail)}) after {retries} retries",
            )
        if isinstance(err, httpx2.ProxyError):
            return "proxy", f"{where}: the forward proxy refused the connection ({_short(str(err))})"
        if isinstance(err, ssl.SSLError):
            return "tls", (
                f"{where}: TLS failed ({_short(str(err))}); check ca_bundle, client_cert and client_key"
            )
        if isinstance(err, httpx2.TimeoutException | openai.APITimeoutError):
            return "timeout", f"{where}: the upstream did not answer in time (timeouts.connect/read)"
        if isinstance(err, httpx2.RemoteProtocolError | httpx2.ReadError):
            return "cut", f"{where}: the connection to the upstream was cut ({_short(str(err))})"
        if isinstance(err, httpx2.ConnectError):
            text = str(err)
            if any(mark in text for mark in ("[SSL", "CERTIFICATE", "TLSV", "certificate")):
                return (
                    "tls",
                    f"{where}: TLS failed ({_short(text)}); check ca_bundle, client_cert and client_key",
                )
            return "unreachable", f"{where}: cannot connect ({_short(text)})"
    if isinstance(exc, openai.APIConnectionError):
        return "unreachable", f"{where}: cannot reach the upstream ({_short(str(exc))})"
    return "error", f"{where}: {type(exc).__name__}: {_short(str(exc))}"


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _model(candidate: Candidate) -> str:
    return str(getattr(candidate.model, "model", "?"))


class RealIds:
    """Real ids for ``__fake_id__`` items in one model response (the one id remapper).

    Keyed by ``output_index``, so a message's added/delta/done events (and a tool call's)
    keep one id, and a second message in the same response gets its own."""

    __slots__ = ("_ids",)

    def __init__(self) -> None:
        self._ids: dict[int, str] = {}

    def fix(self, event: Any) -> None:
        item = getattr(event, "item", None)
        if item is not None and getattr(item, "id", None) == FAKE_RESPONSES_ID:
            item.id = self._id(event.output_index, item.type)
        elif getattr(event, "item_id", None) == FAKE_RESPONSES_ID:
            event.item_id = self._id(getattr(event, "output_index", 0), "message")
        elif event.type == "response.completed":
            for index, out in enumerate(event.response.output):
                if getattr(out, "id", None) == FAKE_RESPONSES_ID:
                    out.id = self._id(index, out.type)

    def _id(self, index: int, kind: str) -> str:
        found = self._ids.get(index)
        if found is None:
            found = self._ids[index] = new_id("message" if kind == "message" else "tool_call")
        return found


class RoutedModel(Model):
    """An alias with its fallbacks, for the Agents SDK and the lean turn path.

    ``capabilities`` are what every candidate can do (decided when the provider is
    built); ``for_turn`` binds the alias to one turn's usage record."""

    def __init__(self, alias: str, candidates: list[Candidate], usage: TurnUsage | None = None) -> None:
        self.alias = alias
        self.candidates = candidates
        self.usage = usage
        found = [capabilities_of(c.model) for c in candidates]
        self.capabilities = ModelCapabilities(
            lean_stream=all(c.lean_stream for c in found), starts_early=all(c.starts_early for c in found)
        )

    def for_turn(self, usage: TurnUsage) -> RoutedModel:
        """This alias, recording what it consumes in ``usage`` (one turn's)."""
        return RoutedModel(self.alias, self.candidates, usage)

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
        failures: list[UpstreamFailure] = []
        for candidate in self.candidates:
            try:
                response = await candidate.model.get_response(
                    system_instructions,
                    input,
                    model_settings.resolve(candidate.settings),
                    tools,
                    output_schema,
                    handoffs,
                    tracing,
                    **kwargs,
                )
            except Exception as exc:
                failures.append(self._failed(exc, candidate, started=False))
                continue
            self._served(candidate, response.usage.input_tokens, response.usage.output_tokens)
            return response
        raise self._exhausted(failures)

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
        failures: list[UpstreamFailure] = []
        for candidate in self.candidates:
            settings = model_settings.resolve(candidate.settings)
            held: list[TResponseStreamEvent] = []
            text: list[str] = []
            started = False
            ids = None if capabilities_of(candidate.model).lean_stream else RealIds()
            deadline = time.monotonic() + candidate.total_timeout if candidate.total_timeout else None
            stream = candidate.model.stream_response(
                system_instructions, input, settings, tools, output_schema, handoffs, tracing, **kwargs
            )
            try:
                async for event in stream:
                    if deadline is not None and time.monotonic() > deadline:
                        raise TotalTimeoutError(candidate.total_timeout)
                    if ids is not None:
                        ids.fix(event)
                    kind = event.type
                    if not started:
                        if kind in _PREAMBLE:
                            held.append(event)
                            continue
                        started = True
                        for early in held:
                            yield early
                        held.clear()
                    if kind == "response.output_text.delta":
                        text.append(event.delta)  # type: ignore[union-attr,arg-type]
                    elif kind == "response.completed":
                        usage = event.response.usage  # type: ignore[union-attr]
                        self._served(
                            candidate, usage.input_tokens if usage else 0, usage.output_tokens if usage else 0
                        )
                    yield event
            except Exception as exc:
                failure = self._failed(exc, candidate, started=started)
                if started:
                    failure.partial_text = "".join(text)
                    raise failure from exc
                failures.append(failure)
                continue
            finally:
                await _aclose(stream)
            if not started:  # an empty stream still ends the turn
                for early in held:
                    yield early
                self._served(candidate, 0, 0)
            return
        raise self._exhausted(failures)

    # --- bookkeeping ----------------------------------------------------
    def _served(self, candidate: Candidate, input_tokens: int, output_tokens: int) -> None:
        turn = self.usage
        if turn is not None:
            turn.add(candidate.alias, input_tokens, output_tokens)
            turn.served_by = candidate.alias
            if candidate.alias != self.alias and candidate.alias not in turn.fallbacks_used:
                turn.fallbacks_used.append(candidate.alias)

    def _failed(self, exc: BaseException, candidate: Candidate, *, started: bool) -> UpstreamFailure:
        kind, message = describe(exc, candidate)
        metrics.UPSTREAM_FAILURES.labels(alias=candidate.alias, kind=kind).inc()
        log.warning(
            "model call failed",
            alias=candidate.alias,
            upstream=candidate.upstream.name if candidate.upstream else "scripted",
            kind=kind,
            midstream=started,
            error=message,
        )
        return UpstreamFailure(message, kind=kind, alias=candidate.alias, started=started)

    def _exhausted(self, failures: list[UpstreamFailure]) -> UpstreamFailure:
        if len(failures) == 1:
            return failures[0]
        tried = ", ".join(f.alias for f in failures)
        message = f"every model alias failed ({tried}): " + " | ".join(f.message for f in failures)
        return UpstreamFailure(message, kind=failures[-1].kind, alias=failures[0].alias, started=False)


async def _aclose(stream: Any) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        # Closing a failed stream must not mask its error.
        with contextlib.suppress(Exception):
            await close()
