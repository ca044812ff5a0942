"""Turns against a fake OpenAI-compatible upstream over HTTP, on both API styles."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.llm.conftest import llm_config
from tests.llm.fakes import FakeUpstream, Reply, ToolCall
from tests.support.client import ChatKitClient, assistant_text, done_items, errors, text_input
from tests.support.server import ServerProcess

FAKE_ID = "__fake_id__"
STRUCTURED = "structured_input"


def all_ids(events: list[Any]) -> list[str]:
    out = []
    for e in events:
        item = getattr(e, "item", None)
        if item is not None:
            out.append(item.id)
        if getattr(e, "item_id", None):
            out.append(e.item_id)
    return out


@pytest.mark.parametrize("style", ["chat_completions", "responses"])
def test_multi_turn_thread_with_store_ids_and_recorded_usage(
    style: str, upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    server = make_server(
        llm_config(
            {"local": {"base_url": upstream.url, "api_style": style}},
            {"default": {"upstream": "local", "model": "m1"}},
        )
    )
    client = ChatKitClient(server.url)
    thread_id, events = client.create_thread("first question")
    assert errors(events) == []
    assert assistant_text(events) == "Echo: first question"
    for n in range(2, 4):
        events = client.send(thread_id, f"question {n}")
        assert errors(events) == [], events
        assert assistant_text(events) == f"Echo: question {n}"
        assert FAKE_ID not in all_ids(events)
    items = client.call("items.list", {"thread_id": thread_id, "limit": 50})["data"]
    messages = [i for i in items if i["type"] == "assistant_message"]
    assert len(messages) == 3
    assert len({m["id"] for m in messages}) == 3 and all(m["id"] != FAKE_ID for m in messages)
    # The third request carried the whole history, assistant turns as plain text.
    body = upstream.model_requests()[-1].body
    history = body["messages"] if style == "chat_completions" else body["input"]
    assert json.dumps(history).count("Echo: ") == 2
    if style == "chat_completions":
        assert body["stream_options"] == {"include_usage": True}
    metrics = httpx.get(f"{server.url}/metrics", headers={"X-Dev-Roles": "auditor"}).text
    assert 'chatkit_model_tokens_total{alias="default",direction="output",tenant="acme"} 21.0' in metrics
    server.stop()
    with duckdb.connect(str(Path(server.config["data_dir"]) / "chatkit.duckdb"), read_only=True) as db:
        rows = db.execute(
            "SELECT tenant, user_id, alias, thread_id, input_tokens, output_tokens FROM usage"
        ).fetchall()
    assert rows == [("acme", "alice", "default", thread_id, 11, 7)] * 3


@pytest.mark.parametrize("style", ["chat_completions", "responses"])
@pytest.mark.parametrize("lean", [True, False], ids=["lean-then-runner", "runner-only"])
def test_tools_widgets_progress_client_tool_and_structured_input(
    lean: bool, style: str, upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    """Both upstream styles, through the lean path (our parsers, handing tool calls to the
    Runner) and the SDK-compatible path (the SDK's parsers and the Runner for every turn)."""
    server = make_server(
        llm_config(
            # runner-only also uses the SDK's own stream parser: for Chat Completions, the
            # `__fake_id__` path.
            {"local": {"base_url": upstream.url, "lean_stream": lean, "api_style": style}},
            {"default": {"upstream": "local", "model": "m"}},
            lean_plain_turns=lean,
        )
    )
    client = ChatKitClient(server.url)

    upstream.plan += [ToolCall("show_counter_widget", {"start": 3}), Reply("Here is a counter.")]
    thread_id, events = client.create_thread("show me a widget")
    assert errors(events) == []
    widgets = done_items(events, "widget")
    assert len(widgets) == 1 and FAKE_ID not in all_ids(events)
    assert assistant_text(events) == "Here is a counter."
    # The streaming action and the sync action on that widget.
    action = {"type": "counter.increment", "payload": {"count": 3}}
    events = client.stream(
        "threads.custom_action", {"thread_id": thread_id, "item_id": widgets[0].id, "action": action}
    )
    assert errors(events) == [] and "The counter is now 4." in assistant_text(events)
    synced = client.call(
        "threads.sync_custom_action", {"thread_id": thread_id, "item_id": widgets[0].id, "action": action}
    )
    assert synced["updated_item"]["id"] == widgets[0].id

    upstream.plan += [ToolCall("run_long_task", {"steps": 2}), Reply("Done.")]
    events = client.send(thread_id, "do the long thing")
    assert [e.text for e in events if e.type == "progress_update"] == ["Step 1 of 2…", "Step 2 of 2…"]

    upstream.plan += [ToolCall("get_client_selection", {"reason": "need it"})]
    events = client.send(thread_id, "use my selection")
    calls = done_items(events, "client_tool_call")
    assert len(calls) == 1 and calls[0].id != FAKE_ID and calls[0].status == "pending"
    upstream.plan += [Reply("Thanks for the selection.")]
    events = client.stream(
        "threads.add_client_tool_output", {"thread_id": thread_id, "result": {"selection": "x"}}
    )
    assert errors(events) == [] and assistant_text(events) == "Thanks for the selection."
    # One upstream call per model step: the lean path hands its response over, never re-asks.
    assert len(upstream.model_requests()) == 6
    last = upstream.model_requests()[-1].body
    if style == "chat_completions":
        tool_outputs = [m for m in last["messages"] if m.get("role") == "tool"]
    else:
        tool_outputs = [m for m in last["input"] if m.get("type") == "function_call_output"]
    assert any("selection" in json.dumps(m) for m in tool_outputs)

    upstream.plan += [ToolCall("ask_preferences")]
    events = client.send(thread_id, "ask me things")
    assert errors(events) == []
    asked = done_items(events, STRUCTURED)
    assert len(asked) == 1 and [q.id for q in asked[0].inputs] == ["tone", "topic"]


def test_composer_model_choice_is_limited_to_the_tenants_allowlist(
    upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    server = make_server(
        llm_config(
            {"local": {"base_url": upstream.url}},
            {
                "default": {"upstream": "local", "model": "big-model"},
                "fast": {"upstream": "local", "model": "small-model"},
            },
            tenant_aliases={"acme": ["default", "fast"], "*": ["default"]},
        )
    )
    acme = ChatKitClient(server.url, tenant="acme")
    thread_id, _ = acme.create_thread("hello")
    events = acme.send(thread_id, "quick one", model="fast")
    assert errors(events) == []
    assert upstream.model_requests()[-1].body["model"] == "small-model"

    other = ChatKitClient(server.url, tenant="globex")
    response = other.post("threads.create", {"input": text_input("hi", model="fast")})
    failures = errors(__import__("tests.support.client", fromlist=["parse_sse"]).parse_sse(response.text))
    assert failures and "not available" in failures[0].message and "['default']" in failures[0].message
    assert upstream.model_requests()[-1].body["model"] == "small-model"  # nothing was sent


def test_title_by_the_cheap_alias_after_the_first_exchange(
    upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    server = make_server(
        llm_config(
            {"local": {"base_url": upstream.url}},
            {
                "default": {"upstream": "local", "model": "big"},
                "cheap": {"upstream": "local", "model": "tiny"},
            },
            title_alias="cheap",
        )
    )
    client = ChatKitClient(server.url)
    upstream.plan += [Reply("An answer about pumps."), Reply('"Pump maintenance schedule."')]
    thread_id, events = client.create_thread("how often should pumps be serviced?")
    updated = [e for e in events if e.type == "thread.updated"]
    assert updated and updated[-1].thread.title == "Pump maintenance schedule"
    title_request = upstream.model_requests()[-1]
    assert title_request.body["model"] == "tiny" and not title_request.body.get("stream")
    assert client.call("threads.get_by_id", {"thread_id": thread_id})["title"] == "Pump maintenance schedule"
    client.send(thread_id, "and filters?")
    assert upstream.model_requests()[-1].body["model"] == "big"  # no second title call
