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
from chatkit_onprem.errors import TurnRefused
from chatkit_onprem.llm.chat_stream import LeanChatCompletionsModel
from chatkit_onprem.llm.lean_model import LeanModel
from chatkit_onprem.llm.responses_stream import LeanResponsesModel
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


def upstream_model(
    upstream: Upstream, model_id: str, settings: ModelSettings | None = None, text_interval: float = 0.0
) -> Model:
    """The model for one alias on one upstream, always with that upstream's client (never a
    default one): our lean parser for the upstream's API style when ``lean_stream`` is on and
    the alias's settings are ones it sends, else the SDK's model. Chosen once, here."""
    sdk: Model
    lean: type[LeanModel]
    if upstream.settings.api_style == "responses":
        # HTTP only: the websocket model bypasses our httpx2 client (ARCHITECTURE §4).
        sdk, lean = OpenAIResponsesModel(model=model_id, openai_client=upstream.client), LeanResponsesModel
    else:
        sdk = OpenAIChatCompletionsModel(model=model_id, openai_client=upstream.client)
        lean = LeanChatCompletionsModel
    if upstream.settings.lean_stream and lean.handles(settings or ModelSettings()):
        return lean(upstream, model_id, fallback=sdk, text_interval=text_interval)
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
            # Non-OpenAI upstreams report zero usage unless asked (ARCHITECTURE §4).
            alias_settings = ModelSettings(**spec.settings).resolve(ModelSettings(include_usage=True))
            base[name] = Candidate(
                alias=name,
                model=upstream_model(upstream, spec.model, alias_settings, settings.text_interval_ms / 1000),
                settings=alias_settings,
                upstream=upstream,
                total_timeout=upstream.settings.timeouts.total,
            )
        for name, spec in settings.aliases.items():
            chain = [base[name]] + [base[f] for f in spec.fallbacks if f != name]
            self._models[name] = RoutedModel(name, chain)
        log.info(
            "model upstreams configured",
            upstreams={n: u.route for n, u in self.upstreams.items()},
            aliases={
                n: f"{a.upstream}:{a.model} ({self._describe(self._models[n])})"
                for n, a in settings.aliases.items()
            },
            default_alias=settings.default_alias,
        )

    @staticmethod
    def _describe(model: RoutedModel) -> str:
        parser = "lean parser" if model.capabilities.lean_stream else "SDK parser"
        return f"{parser}, {'early start' if model.capabilities.starts_early else 'no early start'}"

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

    def alias_for(self, requested: str | None, tenant: str) -> str:
        """The alias a turn uses: the requested one if ``tenant`` may, else its default.

        The one permission check for model choice (the protocol precheck calls it before
        anything is written; the turn calls it again when it resolves its alias)."""
        allowed = self.allowed_aliases(tenant)
        if requested:
            if requested not in allowed:
                raise TurnRefused(
                    400,
                    "unknown_model",
                    f"model {requested[:100]!r} is not available to you; choose one of {allowed}",
                )
            return requested
        if self.default_alias in allowed:
            return self.default_alias
        if not allowed:
            raise TurnRefused(403, "no_model", "no model is enabled for your organisation; ask an operator")
        return allowed[0]

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
