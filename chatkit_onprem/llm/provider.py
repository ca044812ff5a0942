"""The only way the Agents SDK gets a model here.

A ``ModelProvider`` is passed explicitly in every run's ``RunConfig``, and every
model object is built with its upstream's client, so a model name can never
fall through to the SDK's default client (which would call OpenAI's public
API). Tracing, which uploads prompts by default, is switched off in code and in
the environment (ARCHITECTURE §4).

With no upstream configured the built-in scripted model answers every alias
(and the server says so in its log).
"""

from __future__ import annotations

import os

from agents import (
    Model,
    ModelProvider,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    set_trace_processors,
    set_tracing_disabled,
)

from chatkit_onprem.config import LlmSettings
from chatkit_onprem.llm.chat_stream import LeanChatCompletionsModel
from chatkit_onprem.llm.routing import Candidate, RoutedModel
from chatkit_onprem.llm.scripted import ScriptedModel
from chatkit_onprem.llm.upstreams import Upstream
from chatkit_onprem.logging import get_logger

log = get_logger(__name__)


class UnknownModelError(LookupError):
    pass


def disable_tracing() -> None:
    os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    set_tracing_disabled(True)
    set_trace_processors([])


def upstream_model(upstream: Upstream, model_id: str, text_interval: float = 0.0) -> Model:
    """The SDK model for one upstream, always with that upstream's client (never a default one)."""
    if upstream.settings.api_style == "responses":
        # HTTP only: the websocket model bypasses our httpx2 client (ARCHITECTURE §4).
        return OpenAIResponsesModel(model=model_id, openai_client=upstream.client)
    sdk = OpenAIChatCompletionsModel(model=model_id, openai_client=upstream.client)
    if upstream.settings.lean_stream:
        return LeanChatCompletionsModel(upstream, model_id, fallback=sdk, text_interval=text_interval)
    return sdk


class AliasModelProvider(ModelProvider):
    """Resolves model aliases (``default``, ``fast``, ...) to configured models with fallbacks."""

    def __init__(self, settings: LlmSettings) -> None:
        disable_tracing()
        self.settings = settings
        self.default_alias = settings.default_alias
        self.upstreams: dict[str, Upstream] = {
            name: Upstream.build(name, upstream) for name, upstream in settings.upstreams.items()
        }
        self._models: dict[str, RoutedModel] = {}
        if not self.upstreams:
            scripted = ScriptedModel(token_delay=settings.scripted.token_delay_ms / 1000)
            for alias in (settings.default_alias, "scripted"):
                self._models[alias] = RoutedModel(
                    alias, [Candidate(alias, scripted, ModelSettings(include_usage=True), None)]
                )
            log.info(
                "no model upstream configured: using the built-in scripted model",
                alias=settings.default_alias,
            )
            return
        base: dict[str, Candidate] = {}
        for name, spec in settings.aliases.items():
            upstream = self.upstreams[spec.upstream]
            base[name] = Candidate(
                alias=name,
                model=upstream_model(upstream, spec.model, settings.text_interval_ms / 1000),
                # Non-OpenAI upstreams report zero usage unless asked (ARCHITECTURE §4).
                settings=ModelSettings(**spec.settings).resolve(ModelSettings(include_usage=True)),
                upstream=upstream,
                total_timeout=upstream.settings.timeouts.total,
            )
        for name, spec in settings.aliases.items():
            chain = [base[name]] + [base[f] for f in spec.fallbacks if f != name]
            self._models[name] = RoutedModel(name, chain)
        log.info(
            "model upstreams configured",
            upstreams={n: u.route for n, u in self.upstreams.items()},
            aliases={n: f"{a.upstream}:{a.model}" for n, a in settings.aliases.items()},
            default_alias=settings.default_alias,
        )

    @property
    def scripted(self) -> bool:
        return not self.upstreams

    def get_model(self, model_name: str | None) -> Model:
        return self.routed(model_name)

    def routed(self, model_name: str | None) -> RoutedModel:
        name = model_name or self.default_alias
        try:
            return self._models[name]
        except KeyError:
            raise UnknownModelError(f"unknown model alias {name!r}") from None

    @property
    def aliases(self) -> list[str]:
        return sorted(self._models)

    def allowed_aliases(self, tenant: str) -> list[str]:
        """The aliases ``tenant`` may use: its allowlist, else the ``*`` entry, else all."""
        allow = self.settings.tenant_aliases
        names = allow.get(tenant, allow.get("*"))
        if names is None:
            return self.aliases
        return [n for n in names if n in self._models]

    async def aclose(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.close()
