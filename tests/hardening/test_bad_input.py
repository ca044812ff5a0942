"""Bad input is refused with a clear 4xx before anything is written; never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.hardening.conftest import json_body, raw_request, status_of
from tests.support.client import ChatKitClient
from tests.support.server import ServerProcess

MakeServer = Callable[..., ServerProcess]
DEEP = "[" * 10_000 + "]" * 10_000


def _post_raw(client: ChatKitClient, body: bytes) -> httpx.Response:
    return client.http.post("/chatkit", content=body, headers={"Content-Type": "application/json"})


def _thread_count(client: ChatKitClient) -> int:
    return len(client.call("threads.list", {"limit": 100})["data"])


@pytest.mark.parametrize(
    "template",
    [
        DEEP,
        '{"type": "threads.list", "params": {"after": DEEP}}'.replace("DEEP", DEEP),
        '{"type": "threads.create", "params": {"input": {"content": DEEP}}}'.replace("DEEP", DEEP),
        (
            '{"type": "threads.custom_action", "params": {"thread_id": "thr_x", "action": '
            '{"type": "counter.increment", "payload": {"deep": DEEP}}}}'
        ).replace("DEEP", DEEP),
    ],
    ids=["top", "in-a-cursor", "in-message-content", "in-an-action-payload"],
)
def test_json_nested_ten_thousand_deep_is_a_400(client: ChatKitClient, template: str) -> None:
    response = _post_raw(client, template.encode())
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["code"] == "invalid_json"


def _text_input(text_json: str) -> str:
    return (
        '{"content": [{"type": "input_text", "text": TEXT}], "attachments": [], "inference_options": {}}'
    ).replace("TEXT", text_json)


@pytest.mark.parametrize(
    ("type_", "params"),
    [
        ("threads.get_by_id", '{"thread_id": "thr_\\ud800"}'),
        ("items.list", '{"thread_id": "\\udfff"}'),
        ("threads.update", '{"thread_id": "thr_a", "title": "\\ud800"}'),
        ("threads.add_user_message", '{"thread_id": "thr_\\ud800", "input": ' + _text_input('"hi"') + "}"),
        ("threads.retry_after_item", '{"thread_id": "thr_a", "item_id": "msg_\\udc00"}'),
        ("threads.create", '{"input": ' + _text_input('"half a pair: \\ud83d"') + "}"),
    ],
)
def test_a_lone_surrogate_anywhere_is_a_400_and_writes_nothing(
    client: ChatKitClient, type_: str, params: str
) -> None:
    before = _thread_count(client)
    response = _post_raw(client, ('{"type": "' + type_ + '", "params": ' + params + "}").encode())
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] in ("invalid_json", "invalid_id")
    assert _thread_count(client) == before


@pytest.mark.parametrize(
    "params",
    [
        {"thread_id": "x" * 129},
        {"thread_id": "thr a"},
        {"thread_id": "thr/../x"},
        {"thread_id": ""},
    ],
)
def test_ids_of_the_wrong_shape_are_a_400(client: ChatKitClient, params: dict[str, Any]) -> None:
    response = client.post("threads.get_by_id", params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_id"


def test_a_body_shorter_than_its_content_length_then_a_half_close_is_a_400(server: ServerProcess) -> None:
    head = (
        b"POST /chatkit HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 200\r\nX-Dev-User: short\r\n\r\n"
    )
    raw = raw_request(server.port, head, b'{"type": "threads.list", "params": {}', half_close=True)
    assert status_of(raw) == 400, raw[:300]
    assert json_body(raw)["error"]["code"] == "incomplete_body"


def test_router_404_and_405_carry_the_security_headers(client: ChatKitClient) -> None:
    for response in (client.http.get("/no/such/route"), client.http.get("/chatkit")):
        assert response.status_code in (404, 405)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"


def test_a_huge_action_type_is_refused_briefly_and_logged_briefly(make_server: MakeServer) -> None:
    server = make_server()
    client = ChatKitClient(server.url)
    thread_id, _ = client.create_thread("hello")
    huge = "A" * 3_000_000
    for type_ in ("threads.custom_action", "threads.sync_custom_action"):
        response = client.http.post(
            "/chatkit",
            content=json.dumps({"type": type_, "params": {"thread_id": thread_id, "action": {"type": huge}}}),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code in (200, 400), response.status_code
        assert len(response.content) < 10_000, "the refusal does not echo 3 MB back"
    assert server.stop() == 0
    assert max(len(line) for line in server.log().splitlines()) < 20_000, "no log line carries the input"
