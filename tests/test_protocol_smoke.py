"""Every one of the 16 request types over real HTTP, parsed with openai-chatkit's own types."""

from __future__ import annotations

import base64

import pytest
from chatkit.types import Attachment, Page, Thread, ThreadItem
from pydantic import TypeAdapter

from tests.support.client import ChatKitClient, assistant_text, done_items, errors, text_input

pytestmark = pytest.mark.backends("duckdb", "postgres")

THREAD = TypeAdapter(Thread)
ITEMS = TypeAdapter(Page[ThreadItem])
THREADS = TypeAdapter(Page[Thread])
ATTACHMENT = TypeAdapter(Attachment)


def test_create_thread_streams_a_scripted_answer(client: ChatKitClient) -> None:
    thread_id, events = client.create_thread("hello world")
    types = [e.type for e in events]
    assert types[0] == "thread.created"
    assert "stream_options" in types
    assert errors(events) == []
    assert "hello world" in assistant_text(events)
    deltas = [
        e
        for e in events
        if e.type == "thread.item.updated" and e.update.type == "assistant_message.content_part.text_delta"
    ]
    assert len(deltas) > 5, "the answer is streamed token by token"
    assert thread_id.startswith("thr_") and len(thread_id) >= 4 + 24  # >= 96 random bits


def test_all_sixteen_request_types(client: ChatKitClient) -> None:
    thread_id, _ = client.create_thread("first")  # threads.create
    events = client.send(thread_id, "second")  # add_user_message
    assert "second" in assistant_text(events)

    thread = THREAD.validate_python(client.call("threads.get_by_id", {"thread_id": thread_id}))
    assert thread.id == thread_id and thread.title == "first"
    assert [i.type for i in thread.items.data].count("user_message") == 2

    page = THREADS.validate_python(client.call("threads.list", {"limit": 5}))
    assert thread_id in [t.id for t in page.data]

    items = ITEMS.validate_python(client.call("items.list", {"thread_id": thread_id, "order": "asc"}))
    assert [i.type for i in items.data] == ["user_message", "assistant_message"] * 2
    user_item = items.data[0].id
    answer = items.data[1].id

    updated = THREAD.validate_python(
        client.call("threads.update", {"thread_id": thread_id, "title": "Renamed"})
    )
    assert updated.title == "Renamed"

    assert (
        client.call("items.feedback", {"thread_id": thread_id, "item_ids": [answer], "kind": "positive"})
        == {}
    )

    retried = client.stream("threads.retry_after_item", {"thread_id": thread_id, "item_id": user_item})
    assert errors(retried) == [] and assistant_text(retried)

    widget_events = client.send(thread_id, "show me a widget")  # custom widget
    widget = done_items(widget_events, "widget")[0]
    action = {"type": "counter.increment", "payload": {"count": 0}}
    sync = client.call(
        "threads.sync_custom_action", {"thread_id": thread_id, "item_id": widget.id, "action": action}
    )
    assert "Count: 1" in str(sync["updated_item"])
    streamed = client.stream(
        "threads.custom_action", {"thread_id": thread_id, "item_id": widget.id, "action": action}
    )
    assert "The counter is now 1." in assistant_text(streamed)

    tool_events = client.send(thread_id, "use the client tool")
    call = done_items(tool_events, "client_tool_call")[0]
    assert call.name == "get_selection" and call.status == "pending"
    after_tool = client.stream(
        "threads.add_client_tool_output", {"thread_id": thread_id, "result": {"selection": "abc"}}
    )
    assert "abc" in assistant_text(after_tool)

    ask = client.send(thread_id, "ask me something")
    question = done_items(ask, "structured_input")[0]
    answered = client.stream(
        "threads.add_structured_input",
        {
            "thread_id": thread_id,
            "item_id": question.id,
            "input": {"answers": {"tone": {"values": ["casual"]}, "topic": {"values": ["DuckDB"]}}},
        },
    )
    assert errors(answered) == []
    replaced = [e for e in answered if e.type == "thread.item.replaced"]
    assert replaced and replaced[0].item.status == "answered"

    created = client.call("attachments.create", {"name": "notes.txt", "size": 5, "mime_type": "text/plain"})
    attachment = ATTACHMENT.validate_python(created)
    assert str(attachment.upload_descriptor.url).startswith(client.base_url)
    assert client.call("attachments.delete", {"attachment_id": attachment.id}) == {}

    transcribe = client.post(
        "input.transcribe", {"audio_base64": base64.b64encode(b"RIFF").decode(), "mime_type": "audio/webm"}
    )
    assert transcribe.status_code == 501
    assert transcribe.json()["error"]["code"] == "not_supported"

    assert client.call("threads.delete", {"thread_id": thread_id}) == {}
    gone = client.post("threads.get_by_id", {"thread_id": thread_id})
    assert gone.status_code == 404


def test_streaming_headers(client: ChatKitClient) -> None:
    response = client.post("threads.create", {"input": text_input("headers")})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-request-id"]


def test_request_id_is_echoed(client: ChatKitClient) -> None:
    response = client.http.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
