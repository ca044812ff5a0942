"""``input.transcribe`` → an OpenAI-compatible ``/audio/transcriptions`` upstream."""

from __future__ import annotations

import mimetypes
from typing import TYPE_CHECKING

from chatkit.types import AudioInput
from openai import AsyncOpenAI

from chatkit_onprem.config import LlmSettings, TranscriptionSettings
from chatkit_onprem.llm.routing import describe_call
from chatkit_onprem.llm.upstreams import Upstream

if TYPE_CHECKING:
    from chatkit_onprem.llm.provider import AliasModelProvider


class Transcriber:
    def __init__(self, upstream: Upstream, settings: TranscriptionSettings) -> None:
        self.upstream = upstream
        self.settings = settings
        self.client: AsyncOpenAI = upstream.client

    @classmethod
    def from_settings(cls, llm: LlmSettings, provider: AliasModelProvider) -> Transcriber | None:
        if llm.transcription is None:
            return None
        return cls(provider.upstreams[llm.transcription.upstream], llm.transcription)

    async def transcribe(self, audio: AudioInput) -> str:
        if len(audio.data) > self.settings.max_audio_bytes:
            raise _api_error(
                413,
                "audio_too_large",
                f"audio is {len(audio.data)} bytes; the limit is {self.settings.max_audio_bytes}",
            )
        media_type = audio.media_type
        extension = (mimetypes.guess_extension(media_type) or ".webm").lstrip(".")
        try:
            result = await self.client.audio.transcriptions.create(
                model=self.settings.model,
                file=(f"audio.{extension}", audio.data, media_type),
                response_format="json",
            )
        except Exception as exc:
            _, message = describe_call(exc, "transcription", self.upstream, self.settings.model)
            raise _api_error(502, "transcription_failed", message) from exc
        return str(result.text)


def _api_error(status: int, code: str, message: str) -> Exception:
    from chatkit_onprem.errors import ApiError  # errors imports the chat server, which imports us

    return ApiError(status, code, message)
