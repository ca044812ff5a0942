"""The openai-chatkit internals ``chat/library.py`` relies on: fails loudly when they change.

``ChatKitServer``'s private methods are not the library's API. The adapter uses four of
them; this test pins their signatures and the behaviour the turn engine depends on (the
user's message is saved, then echoed, then ``respond`` runs; ``threads.create`` streams
``thread.created`` first), against a real store on a real DuckDB file.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chatkit.server import ChatKitServer
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadsCreateReq,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
)
from chatkit.version import __version__ as LIBRARY_VERSION

from chatkit_onprem.chat.library import CHECKED_VERSIONS, ChatKitServerAdapter, encode, private_names
from chatkit_onprem.chat.prefetch import TurnPlan
from chatkit_onprem.context import RequestContext
from chatkit_onprem.store import DuckDBDatabase, DuckDBStore, apply_migrations

ALICE = RequestContext(tenant="acme", user="alice")

EXPECTED_SIGNATURES = {
    "_process_streaming_impl": ["self", "request", "context"],
    "_process_non_streaming": ["self", "request", "context"],
    "_process_new_thread_item_respond": ["self", "thread", "item", "context"],
    "_serialize": ["self", "obj"],
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    db = DuckDBDatabase(tmp_path / "contract.duckdb")
    apply_migrations(db)
    yield DuckDBStore(db)
    db.close()


def test_the_installed_library_is_a_checked_version() -> None:
    assert LIBRARY_VERSION in CHECKED_VERSIONS


def test_the_private_methods_keep_their_signatures() -> None:
    names = private_names()
    assert set(names) == set(EXPECTED_SIGNATURES)
    for name, expected in EXPECTED_SIGNATURES.items():
        method = getattr(ChatKitServer, name)
        assert list(inspect.signature(method).parameters) == expected, name
    assert inspect.isasyncgenfunction(ChatKitServer._process_streaming_impl)
    assert inspect.isasyncgenfunction(ChatKitServer._process_new_thread_item_respond)
    assert inspect.iscoroutinefunction(ChatKitServer._process_non_streaming)


def test_encode_writes_events_exactly_as_the_library_does() -> None:
    event = ThreadItemDoneEvent(
        item=AssistantMessageItem(
            id="msg_1",
            thread_id="thr_1",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            content=[AssistantMessageContent(text="hi")],
        )
    )
    server = _Recording.__new__(_Recording)
    assert encode(event) == b"data: " + ChatKitServer._serialize(server, event) + b"\n\n"


class _Recording(ChatKitServerAdapter):
    """Records what happens, in order."""

    def __init__(self, store: DuckDBStore, log: list[str]) -> None:
        super().__init__(store)
        self.log = log

    def message_received(
        self, thread: ThreadMetadata, item: UserMessageItem, context: Any
    ) -> TurnPlan | None:
        self.log.append("hook")
        return None

    async def respond(  # type: ignore[override]
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: Any
    ) -> AsyncIterator[ThreadStreamEvent]:
        self.log.append("respond")
        yield ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id="msg_answer",
                thread_id=thread.id,
                created_at=datetime.now(UTC),
                content=[AssistantMessageContent(text="answer")],
            )
        )


def test_a_new_message_is_hooked_then_saved_then_echoed_then_answered(store: DuckDBStore) -> None:
    log: list[str] = []
    saved: list[str] = []
    original = store.add_thread_item

    async def add_thread_item(thread_id: str, item: Any, context: RequestContext) -> None:
        saved.append(item.id)
        log.append(f"saved {item.type}")
        await original(thread_id, item, context)

    store.add_thread_item = add_thread_item  # type: ignore[method-assign]
    server = _Recording(store, log)
    request = ThreadsCreateReq.model_validate(
        {
            "type": "threads.create",
            "params": {
                "input": {
                    "content": [{"type": "input_text", "text": "hello"}],
                    "attachments": [],
                    "inference_options": {},
                }
            },
        }
    )

    async def run() -> list[ThreadStreamEvent]:
        events = []
        async for event in server.stream_events(request, ALICE):
            log.append(f"event {event.type}")
            events.append(event)
        return events

    events = asyncio.run(run())
    assert events[0].type == "thread.created", "the endpoint takes a new thread's turn slot on this event"
    assert log[:5] == [
        "event thread.created",
        "hook",
        "saved user_message",
        "event thread.item.done",
        "event stream_options",
    ]
    assert log.index("respond") > log.index("event thread.item.done"), "respond runs after the echo"
    user_echo = events[1]
    assert isinstance(user_echo, ThreadItemDoneEvent) and isinstance(user_echo.item, UserMessageItem)
    assert isinstance(user_echo.item.content[0], UserMessageTextContent) and saved[0] == user_echo.item.id
