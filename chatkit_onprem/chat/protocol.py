"""``POST /chatkit`` semantics, independent of the web framework.

* parsing (once per request) tells malformed JSON, an unknown ``type``, invalid
  params and malformed ids apart, and refuses JSON nested too deeply and text that
  is not valid Unicode (a lone surrogate) before anything else looks at it;
* streaming requests are checked *before* the library writes anything (thread
  exists, is the caller's and is active; referenced items and attachments
  exist; the model may be used), so a bad request never leaves a half-written
  thread behind;
* one mutating turn per thread at a time (``chat.thread_turns``); deleting a thread
  cancels its running turn first;
* errors raised before the library's first event become an SSE ``error`` event
  instead of a broken body;
* every running stream is registered, so shutdown can let it finish or cancel it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import AsyncIterator
from typing import Any

import pydantic_core
from chatkit.types import (
    ChatKitReq,
    ErrorEvent,
    InputTranscribeReq,
    NonStreamingReq,
    StreamingReq,
    ThreadCreatedEvent,
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
from pydantic import TypeAdapter, ValidationError

from chatkit_onprem.chat.attachments import OnPremAttachmentStore
from chatkit_onprem.chat.library import encode
from chatkit_onprem.chat.server import OnPremChatKitServer
from chatkit_onprem.chat.thread_turns import ThreadTurns
from chatkit_onprem.chat.turn import Turn
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError, ClientError, ThreadNotWritableError, classify, validation_details
from chatkit_onprem.logging import get_logger

log = get_logger(__name__)
_REQUEST = TypeAdapter[ChatKitReq](ChatKitReq)
#: Ids are ours (``ids.new_id``: a prefix and hex); this is their shape, with room to spare.
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ID_FIELDS = ("thread_id", "item_id", "attachment_id", "after")
#: jiter (pydantic's JSON parser) refuses documents nested deeper than this.
MAX_JSON_DEPTH = 200


def _request_types() -> tuple[str, ...]:
    members = [*StreamingReq.__args__, *NonStreamingReq.__args__]  # type: ignore[attr-defined]
    return tuple(sorted(m.model_fields["type"].default for m in members))


REQUEST_TYPES = _request_types()
STREAMING_TYPES = frozenset(m.model_fields["type"].default for m in StreamingReq.__args__)  # type: ignore[attr-defined]


def parse_request(body: bytes) -> ChatKitReq:
    """Validate a request body, raising ``ApiError(400)`` that says what is wrong."""
    try:
        # pydantic-core's parser: bounded nesting, and strict Unicode (a lone surrogate
        # escape is refused here, before any layer below could choke on it).
        document = pydantic_core.from_json(body)
    except ValueError as exc:
        reason = str(exc)
        if "recursion limit" in reason:
            reason = f"nested deeper than {MAX_JSON_DEPTH} levels"
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {reason}") from None
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_request", "request body must be a JSON object")
    kind = document.get("type")
    if kind not in REQUEST_TYPES:
        raise ApiError(
            400,
            "unknown_request_type",
            "request has no 'type'" if kind is None else f"unknown request type {str(kind)[:64]!r}",
            details={"known_types": list(REQUEST_TYPES)},
        )
    try:
        request = _REQUEST.validate_python(document)
    except ValidationError as exc:
        raise ApiError(
            400, "invalid_params", f"invalid parameters for {kind}", details=validation_details(exc)
        ) from None
    _check_ids(request)
    return request


def _check_ids(request: ChatKitReq) -> None:
    params = getattr(request, "params", None)
    if params is None:
        return
    found: list[tuple[str, Any]] = [(name, getattr(params, name, None)) for name in _ID_FIELDS]
    found += [("item_ids", value) for value in getattr(params, "item_ids", None) or ()]
    message_input = getattr(params, "input", None)
    if isinstance(message_input, UserMessageInput):
        found += [("input.attachments", value) for value in message_input.attachments]
    for name, value in found:
        if value is not None and not (isinstance(value, str) and _ID.fullmatch(value)):
            raise ApiError(400, "invalid_id", f"{name} is not an id (1-128 letters, digits, '_' or '-')")


def sse_error(error: ClientError) -> bytes:
    """An SSE ``error`` event: the protocol's fields, plus our code in ``error_code``."""
    event = ErrorEvent(code="custom", message=error.message, allow_retry=error.allow_retry)
    payload = event.model_dump(by_alias=True, exclude_none=True, mode="json")
    payload["error_code"] = error.code
    return b"data: " + pydantic_core.to_json(payload) + b"\n\n"


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
        threads: ThreadTurns | None = None,
    ) -> None:
        self.server = server
        self.attachments = attachments
        self.streams = streams
        # Not `threads or ...`: an idle ThreadTurns is empty, hence falsy.
        self.threads = threads if threads is not None else ThreadTurns(server.settings.busy_wait_seconds)

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
            thread_id = request.params.thread_id
            # A turn still running on the thread stops first (its model call too); its
            # partial answer goes with the thread.
            await self.threads.cancel(context.tenant, context.user, thread_id)
            # Records go in one transaction; then the bytes they pointed at.
            removed = await self.server.store.delete_thread_returning_attachments(thread_id, context)
            await self.attachments.delete_blobs(removed, context)
            return b"{}"
        return await self.server.json_response(request, context)  # type: ignore[arg-type]

    # --- streaming ------------------------------------------------------
    def new_turn(self, request: StreamingReq, context: RequestContext) -> Turn:
        """The turn a streaming request will run (its state travels on ``context.turn``)."""
        return Turn(
            kind=request.type,
            tenant=context.tenant,
            user=context.user,
            thread_id=getattr(request.params, "thread_id", None),
        )

    async def enter(self, turn: Turn) -> None:
        """Take the thread's turn slot (waiting briefly), before the stream writes anything.

        ``threads.create`` takes its new thread's slot when the library made the thread."""
        if turn.thread_id is not None:
            await self.threads.enter(turn)

    async def respond_stream(self, request: StreamingReq, context: RequestContext) -> AsyncIterator[bytes]:
        turn: Turn | None = context.turn
        task = asyncio.current_task()
        if task is not None:
            self.streams.add(task)
        if turn is not None:
            turn.task = task
        try:
            if self.streams.draining:
                raise ApiError(503, "shutting_down", "the server is shutting down; retry shortly")
            if turn is not None and turn.cancel_requested:
                raise ApiError(404, "not_found", f"thread {turn.thread_id} not found")
            await self._precheck(request, context)
            async for event in self.server.stream_events(request, context):
                if turn is not None and isinstance(event, ThreadCreatedEvent):
                    await self.threads.enter_new(turn, event.thread.id)
                yield encode(event)
        except asyncio.CancelledError:
            # Cancelled by us (its thread was deleted, or the drain at shutdown ran out of
            # grace): the turn has stopped and saved what it had; end the response cleanly
            # with a last event saying why. Any other cancellation (the client left) goes on.
            ending = _ending(turn, self.streams)
            if ending is None or task is None:
                raise
            task.uncancel()
            yield sse_error(classify(ending, context.request_id))
        except Exception as exc:
            error = classify(exc, context.request_id)
            if error.internal:
                log.exception("stream failed", request_type=request.type)
            yield sse_error(error)
        finally:
            if task is not None:
                self.streams.discard(task)
            if turn is not None:
                turn.close()

    async def _precheck(self, request: StreamingReq, context: RequestContext) -> None:
        store = self.server.store
        match request:
            case ThreadsCreateReq():
                await self._check_input(request.params.input, context)
            case ThreadsAddUserMessageReq():
                # The turn's history comes with it (one read; the turn engine takes it).
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
                turn: Turn | None = context.turn
                if turn is not None and turn.waited:
                    await self._no_later_message(item, context)
                if context.turn is not None:
                    context.turn.alias = self.server.provider.alias_for(
                        item.inference_options.model, context.tenant
                    )
            case ThreadsCustomActionReq():
                await self._writable_thread(request.params.thread_id, context)
                if request.params.item_id:
                    await store.load_item(request.params.thread_id, request.params.item_id, context)

    async def _writable_thread(self, thread_id: str, context: RequestContext, *, history: int = 0) -> None:
        store = self.server.store
        turn: Turn | None = context.turn
        if history and turn is not None:
            thread, turn.history = await store.read_thread_and_history(thread_id, history, context)
        else:
            thread = await store.read_thread(thread_id, context)
        if thread.status.type != "active":
            raise ThreadNotWritableError(thread.id, thread.status.type, thread.status.reason)  # type: ignore[union-attr]
        if turn is not None:
            turn.thread = thread  # the library's load_thread takes it (one read per turn, not two)

    async def _no_later_message(self, item: UserMessageItem, context: RequestContext) -> None:
        """A retry that waited for another turn on its thread must not remove a user message
        that turn added (its client was told it is saved): refuse when one follows ``item``.
        (A retry sent to an idle thread removes what follows, as the library defines.)"""
        store = self.server.store
        after: str | None = item.id
        while after is not None:
            page = await store.load_thread_items(item.thread_id, after, 100, "asc", context)
            if any(isinstance(later, UserMessageItem) for later in page.data):
                raise ApiError(
                    409,
                    "thread_changed",
                    f"a newer message follows {item.id} in this thread; retry the newest one instead",
                )
            after = page.after if page.has_more else None

    async def _check_input(self, message: UserMessageInput, context: RequestContext) -> None:
        for attachment_id in message.attachments:
            attachment = await self.server.store.load_attachment(attachment_id, context)
            if not (attachment.metadata or {}).get("uploaded"):
                raise ApiError(
                    400, "attachment_not_uploaded", f"attachment {attachment_id} has no content yet"
                )
        alias = self.server.provider.alias_for(message.inference_options.model, context.tenant)
        if context.turn is not None:
            context.turn.alias = alias


def _ending(turn: Turn | None, streams: StreamRegistry) -> ApiError | None:
    """Why the server cancelled a stream itself, if it did."""
    if turn is not None and turn.cancel_requested:
        return ApiError(409, "thread_deleted", f"thread {turn.thread_id} was deleted while it answered")
    if streams.draining:
        return ApiError(503, "shutting_down", "the server is shutting down; the answer so far was saved")
    return None


__all__ = [
    "STREAMING_TYPES",
    "ChatKitEndpoint",
    "StreamRegistry",
    "is_streaming_req",
    "parse_request",
    "sse_error",
]
