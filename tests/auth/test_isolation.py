"""Tenant and user isolation: every request type and file route, as four different callers.

The owner (alice in tenant acme) builds real data through the scripted model. Then
bob (same tenant), alice in tenant globex (same user id, other tenant) and a caller
naming ids that do not exist send every request that takes an id. A foreign resource
must be indistinguishable from a nonexistent one (404 JSON, or one SSE ``error``
event for streaming requests), and the owner's data must be byte-for-byte unchanged.
Finally the owner uses every request type on their own data and succeeds.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.auth.conftest import as_caller
from tests.auth.idp import TestIdP
from tests.support.client import ChatKitClient, assistant_text, done_items, errors, parse_sse, text_input
from tests.support.server import ServerProcess

pytestmark = pytest.mark.backends("duckdb", "postgres")

ACTION = {"type": "counter.increment", "payload": {"count": 0}}
ANSWERS = {"answers": {"tone": {"values": ["casual"]}, "topic": {"values": ["DuckDB"]}}}


@dataclass
class World:
    server: ServerProcess
    owner: ChatKitClient
    ids: dict[str, str]


def fake(real: str) -> str:
    """An id of the same shape that does not exist."""
    tail = "0000" if not real.endswith("0000") else "1111"
    return real[:-4] + tail


def upload(client: ChatKitClient, attachment_id: str, data: bytes) -> httpx.Response:
    return client.http.post(
        f"/files/{attachment_id}",
        content=data,
        headers={"Content-Type": "text/plain", "X-File-Name": "n.txt"},
    )


@pytest.fixture(scope="module")
def world(prod_server: ServerProcess, idp: TestIdP) -> World:
    owner = as_caller(prod_server, idp.token("alice", "acme"))
    t1, events = owner.create_thread("hello there")
    u1 = done_items(events, "user_message")[0].id
    a1 = done_items(events, "assistant_message")[0].id
    w1 = done_items(owner.send(t1, "show me a widget"), "widget")[0].id
    t2, events = owner.create_thread("use the client tool")
    assert done_items(events, "client_tool_call")[0].status == "pending"
    t3, events = owner.create_thread("ask me something")
    s1 = done_items(events, "structured_input")[0].id
    x1 = owner.call("attachments.create", {"name": "notes.txt", "size": 5, "mime_type": "text/plain"})["id"]
    assert upload(owner, x1, b"hello").status_code == 200
    direct = owner.http.post("/files", files={"file": ("d.txt", b"direct bytes", "text/plain")})
    assert direct.status_code == 200, direct.text
    x2 = direct.json()["id"]
    ids = {"T1": t1, "T2": t2, "T3": t3, "U1": u1, "A1": a1, "W1": w1, "S1": s1, "X1": x1, "X2": x2}
    return World(prod_server, owner, ids)


def snapshot(world: World) -> dict[str, Any]:
    """Everything the owner can see, as returned by the API."""
    owner, ids = world.owner, world.ids
    state: dict[str, Any] = {"threads": owner.call("threads.list", {"limit": 50})}
    for key in ("T1", "T2", "T3"):
        state[key] = owner.call("threads.get_by_id", {"thread_id": ids[key]})
        state[f"{key}.items"] = owner.call("items.list", {"thread_id": ids[key], "limit": 100})
    for key in ("X1", "X2"):
        response = owner.http.get(f"/files/{ids[key]}")
        state[key] = (response.status_code, response.content)
    return state


# (request type, params with {ID} placeholders, streaming?)
ID_REQUESTS: list[tuple[str, dict[str, Any], bool]] = [
    ("threads.get_by_id", {"thread_id": "T1"}, False),
    ("threads.update", {"thread_id": "T1", "title": "pwned"}, False),
    ("items.list", {"thread_id": "T1"}, False),
    ("items.feedback", {"thread_id": "T1", "item_ids": ["A1"], "kind": "negative"}, False),
    ("threads.sync_custom_action", {"thread_id": "T1", "item_id": "W1", "action": ACTION}, False),
    ("attachments.delete", {"attachment_id": "X1"}, False),
    ("threads.create", {"input": text_input("steal", attachments=["X1"])}, True),
    ("threads.add_user_message", {"thread_id": "T1", "input": text_input("hi")}, True),
    ("threads.add_client_tool_output", {"thread_id": "T2", "result": {"selection": "evil"}}, True),
    ("threads.custom_action", {"thread_id": "T1", "item_id": "W1", "action": ACTION}, True),
    ("threads.add_structured_input", {"thread_id": "T3", "item_id": "S1", "input": ANSWERS}, True),
    ("threads.retry_after_item", {"thread_id": "T1", "item_id": "U1"}, True),
    ("threads.delete", {"thread_id": "T1"}, False),
]


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


def normalize(text: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
    return text


def outcome(
    client: ChatKitClient, type_: str, params: dict[str, Any], streaming: bool, ids: dict[str, str]
) -> Any:
    """What the caller got, with ids replaced by their names (so foreign and fake compare equal)."""
    response = client.post(type_, fill(params, ids))
    if streaming:
        assert response.status_code == 200, (type_, response.status_code, response.text)
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(response.text)
        assert len(events) == 1 and errors(events), (type_, [e.type for e in events])
        return ("sse-error", normalize(events[0].message or "", ids))
    body = response.json()
    if "error" in body:
        body["error"].pop("request_id", None)
    return (response.status_code, normalize(json.dumps(body, sort_keys=True), ids))


def file_outcomes(client: ChatKitClient, ids: dict[str, str]) -> list[Any]:
    got = client.http.get(f"/files/{ids['X1']}")
    put = upload(client, ids["X1"], b"evil!")
    results = []
    for response in (got, put):
        body = response.json()
        body["error"].pop("request_id", None)
        results.append((response.status_code, normalize(json.dumps(body, sort_keys=True), ids)))
    return results


@pytest.mark.parametrize("who", ["same tenant, other user", "other tenant, same user id"])
def test_foreign_resources_look_exactly_like_nonexistent_ones(world: World, idp: TestIdP, who: str) -> None:
    sub, tenant = ("bob", "acme") if who.startswith("same") else ("alice", "globex")
    intruder = as_caller(world.server, idp.token(sub, tenant))
    before = snapshot(world)
    fakes = {k: fake(v) for k, v in world.ids.items()}

    for type_, params, streaming in ID_REQUESTS:
        foreign = outcome(intruder, type_, params, streaming, world.ids)
        missing = outcome(intruder, type_, params, streaming, fakes)
        assert foreign == missing, (type_, foreign, missing)
        if not streaming:
            assert foreign[0] == 404, (type_, foreign)
            assert json.loads(foreign[1])["error"]["code"] == "not_found", (type_, foreign)
    foreign_files = file_outcomes(intruder, world.ids)
    assert foreign_files == file_outcomes(intruder, fakes)
    assert [status for status, _ in foreign_files] == [404, 404]

    # Requests without ids: the intruder sees and changes only their own things.
    assert intruder.call("threads.list", {"limit": 50})["data"] == []
    theirs = intruder.call("attachments.create", {"name": "x.txt", "size": 3, "mime_type": "text/plain"})
    assert world.owner.http.get(f"/files/{theirs['id']}").status_code == 404
    direct = intruder.http.post("/files", files={"file": ("i.txt", b"intruder", "text/plain")})
    assert direct.status_code == 200
    assert world.owner.http.get(f"/files/{direct.json()['id']}").status_code == 404
    assert world.owner.post("attachments.delete", {"attachment_id": direct.json()["id"]}).status_code == 404
    audio = {"audio_base64": base64.b64encode(b"RIFF").decode(), "mime_type": "audio/webm"}
    theirs_t = intruder.post("input.transcribe", audio)
    mine_t = world.owner.post("input.transcribe", audio)
    assert (theirs_t.status_code, theirs_t.json()["error"]["code"]) == (
        mine_t.status_code,
        mine_t.json()["error"]["code"],
    )

    assert snapshot(world) == before, "the owner's data changed"


def test_the_owner_can_use_every_request_type_on_their_own_data(world: World) -> None:
    owner, ids = world.owner, world.ids
    t1 = ids["T1"]
    assert owner.call("threads.get_by_id", {"thread_id": t1})["id"] == t1
    assert owner.call("threads.update", {"thread_id": t1, "title": "Mine"})["title"] == "Mine"
    assert len(owner.call("items.list", {"thread_id": t1})["data"]) >= 3
    assert owner.call("items.feedback", {"thread_id": t1, "item_ids": [ids["A1"]], "kind": "positive"}) == {}
    sync = owner.call("threads.sync_custom_action", {"thread_id": t1, "item_id": ids["W1"], "action": ACTION})
    assert "Count: 1" in str(sync)
    assert "The counter is now" in assistant_text(
        owner.stream("threads.custom_action", {"thread_id": t1, "item_id": ids["W1"], "action": ACTION})
    )
    again = owner.send(t1, "again")
    assert errors(again) == [] and "again" in assistant_text(again)
    assert errors(owner.stream("threads.retry_after_item", {"thread_id": t1, "item_id": ids["U1"]})) == []
    tool = owner.stream(
        "threads.add_client_tool_output", {"thread_id": ids["T2"], "result": {"selection": "abc"}}
    )
    assert "abc" in assistant_text(tool)
    answered = owner.stream(
        "threads.add_structured_input", {"thread_id": ids["T3"], "item_id": ids["S1"], "input": ANSWERS}
    )
    assert errors(answered) == []
    assert owner.http.get(f"/files/{ids['X1']}").content == b"hello"
    new_thread, events = owner.create_thread("with my file")
    assert errors(events) == []
    with_file = owner.stream("threads.create", {"input": text_input("see file", attachments=[ids["X2"]])})
    assert errors(with_file) == []
    assert {t["id"] for t in owner.call("threads.list", {"limit": 50})["data"]} >= {t1, new_thread}
    created = owner.call("attachments.create", {"name": "a.txt", "size": 2, "mime_type": "text/plain"})
    assert owner.call("attachments.delete", {"attachment_id": created["id"]}) == {}
    assert owner.call("threads.delete", {"thread_id": t1}) == {}
    assert owner.post("threads.get_by_id", {"thread_id": t1}).status_code == 404
