"""``config check --probe``: one tiny streamed call per alias, through its own route.

Each alias is tried alone (no fallback), so the report says exactly which
upstream, proxy or certificate is at fault.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from agents import ModelSettings, ModelTracing

from chatkit_onprem.config import LlmSettings
from chatkit_onprem.llm.provider import AliasModelProvider
from chatkit_onprem.llm.routing import describe

PROMPT = "Reply with the single word OK."


@dataclass(frozen=True, slots=True)
class ProbeResult:
    alias: str
    route: str
    ok: bool
    detail: str
    first_token_ms: float | None = None


async def probe_all(settings: LlmSettings, seconds: float = 30.0) -> list[ProbeResult]:
    provider = AliasModelProvider(settings)
    try:
        if provider.scripted:
            return [
                ProbeResult(settings.default_alias, "built-in scripted model", True, "no upstream configured")
            ]
        return list(await asyncio.gather(*(_probe(provider, a, seconds) for a in sorted(settings.aliases))))
    finally:
        await provider.aclose()


async def _probe(provider: AliasModelProvider, alias: str, seconds: float) -> ProbeResult:
    candidate = provider.routed(alias).candidates[0]
    route = candidate.upstream.route if candidate.upstream else "scripted"
    model_id = provider.settings.aliases[alias].model
    started = time.perf_counter()
    first: float | None = None
    text: list[str] = []
    try:
        async with asyncio.timeout(seconds):
            async for event in candidate.model.stream_response(
                None,
                [{"role": "user", "content": PROMPT}],
                ModelSettings(max_tokens=8, include_usage=True).resolve(candidate.settings),
                [],
                None,
                [],
                ModelTracing.DISABLED,
                previous_response_id=None,
                conversation_id=None,
                prompt=None,
            ):
                if event.type == "response.output_text.delta":
                    if first is None:
                        first = (time.perf_counter() - started) * 1000
                    text.append(event.delta)
    except Exception as exc:
        return ProbeResult(alias, f"{model_id} @ {route}", False, describe(exc, candidate)[1])
    answer = "".join(text).strip()
    detail = f"answered {answer[:40]!r}" if answer else "answered with no text (check the model id)"
    return ProbeResult(alias, f"{model_id} @ {route}", bool(answer), detail, first)
