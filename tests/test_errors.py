"""Bad input gets a clear 4xx JSON error (or an SSE error event) and changes nothing."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.client import ChatKitClient, done_items, errors, text_input
from tests.support.server import ServerProcess


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()["error"]
    assert body["code"] == code, body
    assert body["message"] and body["request_id"] == response.headers["x-request-id"]
    return dict(body)


def _thread_count(client: ChatKitClient) -> int:
    return len(client.call("threads.list", {"limit": 100})["data"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[1, 2]", "invalid_request"),
        (b'{"params": {}}', "unknown_request_type"),
        (b'{"type": "threads.destroy", "params": {}}', "unknown_request_type"),
        (b'{"type": "threads.get_by_id", "params": {}}', "invalid_params"),
        (b'{"type": "threads.list", "params": {"order": "sideways"}}', "invalid_params"),
        (
            b'{"type": "items.feedback", "params": {"thread_id": "t", "item_ids": [], "kind": "meh"}}',
            "invalid_params",
        ),
        (b'{"type": "threads.create", "params": {"input": {"content": "x"}}}', "invalid_params"),
    ],
)
def test_malformed_requests_are_400(client: ChatKitClient, body: bytes, code: str) -> None:
    response = client.http.post("/chatkit", content=body, headers={"content-type": "application/json"})
    error = _error(response, 400, code)
    if code == "unknown_request_type":
        assert len(error["details"]["known_types"]) == 16
    if code == "invalid_params":
        assert error["details"] and "loc" in error["details"][0]


def test_invalid_params_do_not_echo_the_input(client: ChatKitClient) -> None:
    secret = "s3cr3t-" * 10
    response = client.post("threads.update", {"thread_id": 123, "title": {"x": secret}})
    assert response.status_code == 400 and secret not in response.text


def test_oversized_bodies_are_413(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server({"server": {"max_request_bytes": 2048}})
    client = ChatKitClient(server.url)
    big = {"type": "threads.create", "params": {"input": text_input("x" * 5000)}}
    too_big = client.http.post("/chatkit", json=big)
    _error(too_big, 413, "body_too_large")
    assert too_big.headers["connection"] == "close"  # so no client reuses a half-read connection

    def chunks():  # no Content-Length: the cap must hold for a streamed body too
        yield b'{"type": "threads.create", "params": {"input": '
        for _ in range(100):
            yield b" " * 100
        yield b"}}"

    # The server answers 413 past the cap and closes; a client still writing may see only the close.
    with contextlib.suppress(httpx.RemoteProtocolError):
        _error(client.http.post("/chatkit", content=chunks()), 413, "body_too_large")
    assert client.http.get("/readyz").status_code == 200
    transcribe = {"audio_base64": base64.b64encode(b"\0" * 4000).decode(), "mime_type": "audio/webm"}
    _error(client.post("input.transcribe", transcribe), 413, "body_too_large")
    assert _thread_count(client) == 0


def test_unknown_ids_are_404_for_json_requests(client: ChatKitClient) -> None:
    thread_id, _ = client.create_thread("mine")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("threads.get_by_id", {"thread_id": "thr_missing"}),
        ("items.list", {"thread_id": "thr_missing"}),
        ("items.list", {"thread_id": thread_id, "after": "msg_missing"}),
        ("threads.list", {"after": "thr_missing"}),
        ("threads.update", {"thread_id": "thr_missing", "title": "x"}),
        ("threads.delete", {"thread_id": "thr_missing"}),
        ("items.feedback", {"thread_id": "thr_missing", "item_ids": ["m"], "kind": "positive"}),
        ("items.feedback", {"thread_id": thread_id, "item_ids": ["msg_missing"], "kind": "positive"}),
        ("attachments.delete", {"attachment_id": "atc_missing"}),
        ("threads.sync_custom_action", {"thread_id": "thr_missing", "action": {"type": "counter.increment"}}),
        (
            "threads.sync_custom_action",
            {"thread_id": thread_id, "item_id": "msg_missing", "action": {"type": "counter.increment"}},
        ),
    ]
    for type_, params in cases:
        _error(client.post(type_, params), 404, "not_found")


def test_unknown_ids_are_sse_errors_for_streaming_requests(client: ChatKitClient) -> None:
    thread_id, _ = client.create_thread("mine")
    before = client.call("items.list", {"thread_id": thread_id, "limit": 100})
    threads_before = _thread_count(client)
    cases: list[tuple[str, dict[str, Any]]] = [
        ("threads.create", {"input": text_input("with a ghost file", attachments=["atc_missing"])}),
        ("threads.add_user_message", {"thread_id": "thr_missing", "input": text_input("x")}),
        (
            "threads.add_user_message",
            {"thread_id": thread_id, "input": text_input("x", attachments=["atc_missing"])},
        ),
        ("threads.add_client_tool_output", {"thread_id": "thr_missing", "result": {}}),
        (
            "threads.add_structured_input",
            {"thread_id": thread_id, "item_id": "msg_missing", "input": {"answers": {}}},
        ),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": "msg_missing"}),
        ("threads.custom_action", {"thread_id": "thr_missing", "action": {"type": "counter.increment"}}),
        (
            "threads.custom_action",
            {"thread_id": thread_id, "item_id": "msg_missing", "action": {"type": "counter.increment"}},
        ),
    ]
    for type_, params in cases:
        events = client.stream(type_, params)
        assert [e.type for e in events] == ["error"], (type_, events)
        assert "not found" in (events[0].message or "")
    # Nothing was half-written: no stray thread, no new items.
    assert _thread_count(client) == threads_before
    assert client.call("items.list", {"thread_id": thread_id, "limit": 100}) == before


def test_requests_that_do_not_fit_the_thread_state_are_rejected(client: ChatKitClient) -> None:
    thread_id, events = client.create_thread("plain message")
    answer = done_items(events, "assistant_message")[0]
    no_pending = client.stream("threads.add_client_tool_output", {"thread_id": thread_id, "result": {}})
    assert [e.type for e in no_pending] == ["error"]
    retry_answer = client.stream("threads.retry_after_item", {"thread_id": thread_id, "item_id": answer.id})
    assert [e.type for e in retry_answer] == ["error"] and "not a user message" in retry_answer[0].message
    not_structured = client.stream(
        "threads.add_structured_input",
        {"thread_id": thread_id, "item_id": answer.id, "input": {"answers": {}}},
    )
    assert [e.type for e in not_structured] == ["error"]
    sync_on_message = client.post(
        "threads.sync_custom_action",
        {"thread_id": thread_id, "item_id": answer.id, "action": {"type": "counter.increment"}},
    )
    _error(sync_on_message, 400, "invalid_request")
    unknown_model = client.stream(
        "threads.add_user_message", {"thread_id": thread_id, "input": text_input("hi", model="gpt-9")}
    )
    assert [e.type for e in unknown_model] == ["error"] and "not available" in unknown_model[0].message
    bad_audio = client.post("input.transcribe", {"audio_base64": "***", "mime_type": "audio/webm"})
    _error(bad_audio, 400, "invalid_params")


def test_attachments_must_have_their_bytes_before_use(client: ChatKitClient) -> None:
    created = client.call("attachments.create", {"name": "a.txt", "size": 3, "mime_type": "text/plain"})
    events = client.stream("threads.create", {"input": text_input("see file", attachments=[created["id"]])})
    assert [e.type for e in events] == ["error"] and "no content yet" in events[0].message


def test_router_errors_are_json(client: ChatKitClient) -> None:
    _error(client.http.get("/nope"), 404, "route_not_found")
    _error(client.http.get("/chatkit"), 405, "method_not_allowed")
    _error(
        client.http.post(
            "/chatkit", json={"type": "threads.list", "params": {}}, headers={"X-Dev-User": "bad user!"}
        ),
        400,
        "invalid_identity",
    )


def test_a_locked_thread_refuses_writes(client: ChatKitClient) -> None:
    thread_id, _ = client.create_thread("hello")
    locking = client.send(thread_id, "please lock this thread")
    updated = [e for e in locking if e.type == "thread.updated"]
    assert updated and updated[-1].thread.status.type == "locked"
    items_before = client.call("items.list", {"thread_id": thread_id, "limit": 100})
    user_item = next(i for i in items_before["data"] if i["type"] == "user_message")

    for type_, params in [
        ("threads.add_user_message", {"thread_id": thread_id, "input": text_input("more")}),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": user_item["id"]}),
        ("threads.add_client_tool_output", {"thread_id": thread_id, "result": {}}),
        ("threads.custom_action", {"thread_id": thread_id, "action": {"type": "counter.increment"}}),
    ]:
        events = client.stream(type_, params)
        assert [e.type for e in events] == ["error"], (type_, events)
        assert "is locked" in events[0].message
    _error(
        client.post(
            "threads.sync_custom_action", {"thread_id": thread_id, "action": {"type": "counter.increment"}}
        ),
        409,
        "thread_locked",
    )
    assert client.call("items.list", {"thread_id": thread_id, "limit": 100}) == items_before
    # Reading and renaming stay allowed.
    assert client.call("threads.update", {"thread_id": thread_id, "title": "archived"})["title"] == "archived"


def test_other_users_and_tenants_see_nothing(client: ChatKitClient) -> None:
    """Every request type, as another user of the same tenant and as another tenant."""
    owner = client
    thread_id, events = owner.create_thread("private")
    widget = done_items(owner.send(thread_id, "show a widget"), "widget")[0]
    user_item = done_items(events, "user_message")[0]
    attachment = owner.call("attachments.create", {"name": "a.txt", "size": 3, "mime_type": "text/plain"})
    snapshot = owner.call("threads.get_by_id", {"thread_id": thread_id})

    for intruder in (owner.as_user("bob"), owner.as_user("alice", tenant="globex")):
        assert intruder.call("threads.list", {})["data"] == []
        json_cases: list[tuple[str, dict[str, Any]]] = [
            ("threads.get_by_id", {"thread_id": thread_id}),
            ("items.list", {"thread_id": thread_id}),
            ("threads.update", {"thread_id": thread_id, "title": "pwned"}),
            ("items.feedback", {"thread_id": thread_id, "item_ids": [user_item.id], "kind": "negative"}),
            ("attachments.delete", {"attachment_id": attachment["id"]}),
            (
                "threads.sync_custom_action",
                {"thread_id": thread_id, "item_id": widget.id, "action": {"type": "counter.increment"}},
            ),
            ("threads.delete", {"thread_id": thread_id}),
        ]
        for type_, params in json_cases:
            _error(intruder.post(type_, params), 404, "not_found")
        stream_cases: list[tuple[str, dict[str, Any]]] = [
            ("threads.add_user_message", {"thread_id": thread_id, "input": text_input("hi")}),
            ("threads.create", {"input": text_input("steal", attachments=[attachment["id"]])}),
            ("threads.add_client_tool_output", {"thread_id": thread_id, "result": {}}),
            (
                "threads.add_structured_input",
                {"thread_id": thread_id, "item_id": user_item.id, "input": {"answers": {}}},
            ),
            ("threads.retry_after_item", {"thread_id": thread_id, "item_id": user_item.id}),
            (
                "threads.custom_action",
                {"thread_id": thread_id, "item_id": widget.id, "action": {"type": "counter.increment"}},
            ),
        ]
        for type_, params in stream_cases:
            got = intruder.stream(type_, params)
            assert [e.type for e in got] == ["error"] and "not found" in got[0].message, (type_, got)
        assert intruder.http.get(f"/files/{attachment['id']}").status_code == 404
        assert intruder.call("threads.list", {})["data"] == []

    assert owner.call("threads.get_by_id", {"thread_id": thread_id}) == snapshot
    assert errors(owner.send(thread_id, "still mine")) == []


def test_metrics_are_for_admins_and_auditors(client: ChatKitClient) -> None:
    assert client.http.get("/metrics").status_code == 403
    response = client.http.get("/metrics", headers={"X-Dev-Roles": "auditor"})
    assert response.status_code == 200 and "chatkit" in response.text
