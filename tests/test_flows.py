"""Protocol flows whose results must persist: actions, feedback, retries, tools, titles."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.client import ChatKitClient, assistant_text, done_items, errors
from tests.support.server import ServerProcess
from tests.support.store_query import query

pytestmark = pytest.mark.backends("duckdb", "postgres")


def _items(client: ChatKitClient, thread_id: str) -> list[dict]:
    return list(client.call("items.list", {"thread_id": thread_id, "order": "asc", "limit": 100})["data"])


def test_sync_action_result_and_feedback_are_persisted(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server()
    client = ChatKitClient(server.url)
    thread_id, _ = client.create_thread("show me a widget")
    widget = next(i for i in _items(client, thread_id) if i["type"] == "widget")
    assert "Count: 0" in str(widget["widget"])
    for count in (0, 1):
        client.call(
            "threads.sync_custom_action",
            {
                "thread_id": thread_id,
                "item_id": widget["id"],
                "action": {"type": "counter.increment", "payload": {"count": count}},
            },
        )
    reloaded = next(i for i in _items(client, thread_id) if i["id"] == widget["id"])
    assert "Count: 2" in str(reloaded["widget"]) and reloaded["copy_text"] == "Count: 2"

    answer = next(i for i in _items(client, thread_id) if i["type"] == "assistant_message")
    client.call("items.feedback", {"thread_id": thread_id, "item_ids": [answer["id"]], "kind": "negative"})
    assert server.stop() == 0

    # Look at the database itself: routing fields are plain columns, feedback is a row.
    rows = query(server, "SELECT item_id, tenant, user_id, kind FROM feedback")
    assert rows == [(answer["id"], "acme", "alice", "negative")]
    owners = query(server, "SELECT DISTINCT tenant, user_id FROM items WHERE thread_id = ?", [thread_id])
    assert owners == [("acme", "alice")]


def test_streaming_action_replaces_the_widget_and_answers(client: ChatKitClient) -> None:
    thread_id, events = client.create_thread("widget please")
    widget = done_items(events, "widget")[0]
    streamed = client.stream(
        "threads.custom_action",
        {
            "thread_id": thread_id,
            "item_id": widget.id,
            "action": {"type": "counter.increment", "payload": {"count": 4}},
        },
    )
    replaced = [e for e in streamed if e.type == "thread.item.replaced"]
    assert replaced and "Count: 5" in replaced[0].item.model_dump_json()
    assert "The counter is now 5." in assistant_text(streamed)
    stored = next(i for i in _items(client, thread_id) if i["id"] == widget.id)
    assert "Count: 5" in str(stored["widget"])


def test_retry_after_item_replaces_everything_after_the_message(client: ChatKitClient) -> None:
    thread_id, events = client.create_thread("first question")
    first_user = done_items(events, "user_message")[0]
    client.send(thread_id, "second question")
    assert len(_items(client, thread_id)) == 4
    retried = client.stream("threads.retry_after_item", {"thread_id": thread_id, "item_id": first_user.id})
    assert errors(retried) == [] and "first question" in assistant_text(retried)
    items = _items(client, thread_id)
    assert [i["type"] for i in items] == ["user_message", "assistant_message"]
    assert items[0]["id"] == first_user.id


def test_progress_updates_and_client_tool_round_trip(client: ChatKitClient) -> None:
    thread_id, events = client.create_thread("run with progress")
    progress = [e.text for e in events if e.type == "progress_update"]
    assert progress == ["Step 1 of 3…", "Step 2 of 3…", "Step 3 of 3…"]
    assert "Finished 3 steps." in assistant_text(events)

    call_events = client.send(thread_id, "call the client tool now")
    call = done_items(call_events, "client_tool_call")[0]
    assert call.status == "pending" and call.call_id
    answered = client.stream(
        "threads.add_client_tool_output", {"thread_id": thread_id, "result": {"selection": "row 7"}}
    )
    assert "row 7" in assistant_text(answered)
    stored = next(i for i in _items(client, thread_id) if i["id"] == call.id)
    assert stored["status"] == "completed" and stored["output"] == {"selection": "row 7"}


def test_structured_input_answers_are_stored(client: ChatKitClient) -> None:
    thread_id, events = client.create_thread("ask me a few things")
    question = done_items(events, "structured_input")[0]
    client.stream(
        "threads.add_structured_input",
        {
            "thread_id": thread_id,
            "item_id": question.id,
            "input": {"answers": {"tone": {"values": ["formal", "casual"]}, "topic": {"skipped": True}}},
        },
    )
    stored = next(i for i in _items(client, thread_id) if i["id"] == question.id)
    answers = {q["id"]: q["answer"] for q in stored["inputs"]}
    assert stored["status"] == "answered"
    assert answers["tone"]["values"] == ["formal"]  # single choice keeps the first value
    assert answers["topic"]["skipped"] is True
    again = client.stream(
        "threads.add_structured_input",
        {
            "thread_id": thread_id,
            "item_id": question.id,
            "input": {"answers": {}},
        },
    )
    assert [e.type for e in again] == ["error"] and "not pending" in again[0].message


def test_failure_midstream_is_an_error_event_and_the_thread_stays_usable(client: ChatKitClient) -> None:
    thread_id, events = client.create_thread("this will fail")
    assert errors(events) and events[-1].type == "error"
    follow = client.send(thread_id, "are you ok")
    assert errors(follow) == [] and "are you ok" in assistant_text(follow)


def test_thread_gets_a_title_from_the_first_message(client: ChatKitClient) -> None:
    thread_id, events = client.create_thread("  How do I rotate   the keys?  ")
    updated = [e for e in events if e.type == "thread.updated"]
    assert updated[-1].thread.title == "How do I rotate the keys?"
    assert client.call("threads.get_by_id", {"thread_id": thread_id})["title"] == "How do I rotate the keys?"
