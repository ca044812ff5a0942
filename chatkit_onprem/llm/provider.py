"""The only way the Agents SDK gets a model here.

A ``ModelProvider`` is passed explicitly in every run's ``RunConfig``, so a
model name can never fall through to the SDK's default client (which would
call api.openai.com). Tracing, which uploads prompts by default, is switched
off in code and in the environment (ARCHITECTURE §4).
"""

from __future__ import annotations

import os

from agents import Model, ModelProvider, set_trace_processors, set_tracing_disabled

from chatkit_onprem.config import LlmSettings
from chatkit_onprem.llm.scripted import ScriptedModel
from chatkit_onprem.logging import get_logger

log = get_logger(__name__)


class UnknownModelError(LookupError):
    pass


def disable_tracing() -> None:
    os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    set_tracing_disabled(True)
    set_trace_processors([])


class AliasModelProvider(ModelProvider):
    """Resolves model aliases (``default``, ``fast``, ...) to configured models."""

    def __init__(self, settings: LlmSettings) -> None:
        disable_tracing()
        self.default_alias = settings.default_alias
        scripted = ScriptedModel(token_delay=settings.scripted.token_delay_ms / 1000)
        self._models: dict[str, Model] = {settings.default_alias: scripted, "scripted": scripted}
        log.info(
            "no model upstream configured: using the built-in scripted model",
            alias=settings.default_alias,
        )

    def get_model(self, model_name: str | None) -> Model:
        name = model_name or self.default_alias
        try:
            return self._models[name]
        except KeyError:
            raise UnknownModelError(f"unknown model alias {name!r}") from None

    @property
    def aliases(self) -> list[str]:
        return sorted(self._models)
