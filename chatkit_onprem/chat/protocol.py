"""``POST /chatkit`` semantics, independent of the web framework.

* parsing tells malformed JSON, an unknown ``type`` and invalid params apart;
* streaming requests are checked *before* the library writes anything (thread
  exists, is the caller's and is active; referenced items and attachments
  exist), so a bad request never leaves a half-written thread behind;
* errors raised before the library's first event become an SSE ``error`` event
  instead of a broken body;
* every running stream is registered, so shutdown can let it finish or cancel it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator
from typing import Any

from chatkit.types import (
    ChatKitReq,
    ErrorEvent,
    InputTranscribeReq,
    NonStreamingReq,
    StreamingReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsDeleteReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    UserMessageInput,
    UserMessageItem,
    is_streaming_req,
)
from pydantic import BaseModel, TypeAdapter, ValidationError

from chatkit_onprem.chat.attachments import OnPremAttachmentStore
from chatkit_onprem.chat.server import OnPremChatKitServer
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError, ThreadNotWritableError, classify, validation_details
from chatkit_onprem.logging import get_logger

log = get_logger(__name__)
_REQUEST = TypeAdapter[ChatKitReq](ChatKitReq)


def _request_types() -> tuple[str, ...]:
    members = [*StreamingReq.__args__, *NonStreamingReq.__args__]  # type: ignore[attr-defined]
    return tuple(sorted(m.model_fields["type"].default for m in members))


REQUEST_TYPES = _request_types()


def parse_request(body: bytes) -> ChatKitReq:
    """Validate a request body, raising ``ApiError(400)`` that says what is wrong."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_request", "request body must be a JSON object")
    kind = document.get("type")
    if kind not in REQUEST_TYPES:
        raise ApiError(
            400,
            "unknown_request_type",
            f"unknown request type {kind!r}" if kind is not None else "request has no 'type'",
            details={"known_types": list(REQUEST_TYPES)},
        )
    try:
        return _REQUEST.validate_python(document)
    except ValidationError as exc:
        raise ApiError(
            400, "invalid_params", f"invalid parameters for {kind}", details=validation_details(exc)
        ) from None


def sse(event: BaseModel) -> bytes:
    return b"data: " + event.model_dump_json(by_alias=True, exclude_none=True).encode() + b"\n\n"


class StreamRegistry:
    """The streams in flight, so shutdown can drain them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._tasks)

    def add(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        self._idle.clear()

    def discard(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def drain(self, grace_seconds: float) -> int:
        """Wait up to ``grace_seconds`` for streams to end, then cancel the rest.

        Returns how many streams had to be cancelled.
        """
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace_seconds)
            return 0
        except TimeoutError:
            pass
        remaining = list(self._tasks)
        for task in remaining:
            task.cancel()
        await asyncio.wait(remaining, timeout=10)
        return len(remaining)


class ChatKitEndpoint:
    def __init__(
        self,
        server: OnPremChatKitServer,
        attachments: OnPremAttachmentStore,
        streams: StreamRegistry,
    ) -> None:
        self.server = server
        self.attachments = attachments
        self.streams = streams

    # --- non-streaming --------------------------------------------------
    async def respond_json(self, request: ChatKitReq, context: RequestContext) -> bytes:
        if isinstance(request, ThreadsSyncCustomActionReq):
            await self._writable_thread(request.params.thread_id, context)
        if isinstance(request, InputTranscribeReq):
            try:  # the library decodes leniently: junk would become empty audio
                base64.b64decode(request.params.audio_base64, validate=True)
            except binascii.Error:
                raise ApiError(400, "invalid_params", "audio_base64 is not valid base64") from None
        if isinstance(request, ThreadsDeleteReq):
            # Records go in one transaction; then the bytes they pointed at.
            removed = await self.server.store.delete_thread_returning_attachments(
                request.params.thread_id, context
            )
            await self.attachments.delete_blobs(removed, context)
            return b"{}"
        body: bytes = await self.server._process_non_streaming(request, context)  # type: ignore[arg-type]
        return body

    # --- streaming ------------------------------------------------------
    async def respond_stream(self, request: StreamingReq, context: RequestContext) -> AsyncIterator[bytes]:
        task = asyncio.current_task()
        if task is not None:
            self.streams.add(task)
        try:
            if self.streams.draining:
                raise ApiError(503, "shutting_down", "the server is shutting down; retry shortly")
            await self._precheck(request, context)
            async for chunk in self.server._process_streaming(request, context):
                yield chunk
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = classify(exc, context.request_id)
            if error.internal:
                log.exception("stream failed", request_type=request.type)
            yield sse(ErrorEvent(code="custom", message=error.message, allow_retry=error.allow_retry))
        finally:
            if task is not None:
                self.streams.discard(task)

    async def _precheck(self, request: StreamingReq, context: RequestContext) -> None:
        store = self.server.store
        match request:
            case ThreadsCreateReq():
                await self._check_input(request.params.input, context)
            case ThreadsAddUserMessageReq():
                # The turn's history comes with it (one read; the turn plan takes it).
                await self._writable_thread(
                    request.params.thread_id, context, history=self.server.settings.history_items
                )
                await self._check_input(request.params.input, context)
            case ThreadsAddClientToolOutputReq():
                await self._writable_thread(request.params.thread_id, context)
            case ThreadsAddStructuredInputReq():
                await self._writable_thread(request.params.thread_id, context)
                await store.load_item(request.params.thread_id, request.params.item_id, context)
            case ThreadsRetryAfterItemReq():
                await self._writable_thread(request.params.thread_id, context)
                item = await store.load_item(request.params.thread_id, request.params.item_id, context)
                if not isinstance(item, UserMessageItem):
                    raise ApiError(400, "invalid_request", f"item {item.id} is not a user message")
            case ThreadsCustomActionReq():
                await self._writable_thread(request.params.thread_id, context)
                if request.params.item_id:
                    await store.load_item(request.params.thread_id, request.params.item_id, context)

    async def _writable_thread(self, thread_id: str, context: RequestContext, *, history: int = 0) -> None:
        store = self.server.store
        if history:
            thread, _ = await store.read_thread_and_history(thread_id, history, context)
        else:
            thread = await store.read_thread(thread_id, context)
        if thread.status.type != "active":
            raise ThreadNotWritableError(thread.id, thread.status.type, thread.status.reason)  # type: ignore[union-attr]
        store.preload(thread, context)  # the library loads it next; we keep no reference

    async def _check_input(self, message: UserMessageInput, context: RequestContext) -> None:
        for attachment_id in message.attachments:
            attachment = await self.server.store.load_attachment(attachment_id, context)
            if not (attachment.metadata or {}).get("uploaded"):
                raise ApiError(
                    400, "attachment_not_uploaded", f"attachment {attachment_id} has no content yet"
                )
        requested = message.inference_options.model
        allowed = self.server.provider.allowed_aliases(context.tenant)
        if requested and requested not in allowed:
            raise ApiError(
                400,
                "unknown_model",
                f"model {requested!r} is not available to you; choose one of {allowed}",
            )


__all__ = ["ChatKitEndpoint", "StreamRegistry", "is_streaming_req", "parse_request", "sse"]
