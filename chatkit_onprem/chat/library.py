"""The one place that uses openai-chatkit's private ``ChatKitServer`` methods.

The library's public entry point (``process``) parses the body itself and returns
either a stream of bytes or JSON. We need three things it does not offer publicly:

* the request already parsed (we parse once, with our own limits and error codes):
  ``_process_streaming_impl`` (events) and ``_process_non_streaming`` (JSON bytes);
* a hook between "the user's message was built" and "it is saved": overriding
  ``_process_new_thread_item_respond`` lets the turn start its model call while the
  library commits the message (``chat.prefetch``);
* the library's event encoding (``_serialize``'s settings, repeated in ``encode``).

These names are not part of the library's API, so this module checks the version it
was written against, and ``tests/engine/test_library_contract.py`` fails loudly
(signatures and the order of save, echo and respond) when a new version changes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from chatkit.server import ChatKitServer
from chatkit.types import (
    NonStreamingReq,
    StreamingReq,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
)
from chatkit.version import __version__ as LIBRARY_VERSION
from pydantic import BaseModel

from chatkit_onprem.chat.prefetch import TurnPlan
from chatkit_onprem.context import RequestContext

#: openai-chatkit versions whose private methods this adapter was checked against.
CHECKED_VERSIONS = frozenset({"1.6.5"})

if LIBRARY_VERSION not in CHECKED_VERSIONS:  # pragma: no cover - fails at import, loudly
    raise RuntimeError(
        f"openai-chatkit {LIBRARY_VERSION} is installed, but chatkit_onprem/chat/library.py was checked "
        f"against {sorted(CHECKED_VERSIONS)}: run tests/engine/test_library_contract.py, fix the adapter, "
        "then add the version to CHECKED_VERSIONS"
    )


def encode(event: BaseModel) -> bytes:
    """An event as the library writes it on the wire (its ``_serialize``), as SSE."""
    data = event.model_dump_json(by_alias=True, exclude_none=True, context={"exclude_metadata": True})
    return b"data: " + data.encode() + b"\n\n"


class ChatKitServerAdapter(ChatKitServer[RequestContext]):
    """Our server's base class: the library's internals, behind public names."""

    def stream_events(
        self, request: StreamingReq, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """A parsed streaming request's events (the library's own processing)."""
        return self._process_streaming_impl(request, context)

    async def json_response(self, request: NonStreamingReq, context: RequestContext) -> bytes:
        """A parsed non-streaming request's JSON body."""
        body: bytes = await self._process_non_streaming(request, context)
        return body

    def message_received(
        self, thread: ThreadMetadata, item: UserMessageItem, context: RequestContext
    ) -> TurnPlan | None:
        """Called before the library saves a new user message; may start the turn early."""
        return None

    async def _process_new_thread_item_respond(  # type: ignore[override]
        self, thread: ThreadMetadata, item: UserMessageItem, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        plan = self.message_received(thread, item, context)
        try:
            async for event in super()._process_new_thread_item_respond(thread, item, context):
                yield event
        finally:
            if plan is not None:
                plan.discard()  # no-op once respond took it


def private_names() -> dict[str, Any]:
    """The library internals this module depends on (for the contract test)."""
    return {
        "_process_streaming_impl": ChatKitServer._process_streaming_impl,
        "_process_non_streaming": ChatKitServer._process_non_streaming,
        "_process_new_thread_item_respond": ChatKitServer._process_new_thread_item_respond,
        "_serialize": ChatKitServer._serialize,
    }
