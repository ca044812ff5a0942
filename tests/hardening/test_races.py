"""Races on one thread: retry vs add, two retries, delete during a turn, rename during the first turn."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.hardening.conftest import sse_events
from tests.llm.conftest import llm_config
from tests.llm.fakes import FakeUpstream, Reply
from tests.support.client import ChatKitClient, text_input
from tests.support.server import ServerProcess

MakeServer = Callable[..., ServerProcess]
SLOW = {"llm": {"scripted": {"token_delay_ms": 5}}}
HEADERS = {"X-Dev-User": "racer", "X-Dev-Tenant": "acme"}


def _stream(server: ServerProcess, type_: str, params: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    response = httpx.post(
        f"{server.url}/chatkit", json={"type": type_, "params": params}, headers=HEADERS, timeout=60
    )
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return response.status_code, sse_events(response.text)
    return response.status_code, [response.json()]


def _items(client: ChatKitClient, thread_id: str) -> list[dict[str, Any]]:
    return list(client.call("items.list", {"thread_id": thread_id, "order": "asc", "limit": 100})["data"])


def _acknowledged(events: list[dict[str, Any]]) -> list[str]:
    """User messages the server echoed as done: the client was told they are saved."""
    return [
        e["item"]["id"]
        for e in events
        if e.get("type") == "thread.item.done" and e["item"]["type"] == "user_message"
    ]


def _answers_per_message(items: list[dict[str, Any]]) -> list[int]:
    counts: list[int] = []
    for item in items:
        if item["type"] == "user_message":
            counts.append(0)
        elif item["type"] == "assistant_message" and counts:
            counts[-1] += 1
    return counts


def _check_outcome(status: int, events: list[dict[str, Any]]) -> None:
    """Served, or refused cleanly: 409 thread_busy before the stream, or a retry refused
    with thread_changed because a message arrived while it waited."""
    if status == 409:
        assert events[0]["error"]["code"] == "thread_busy", events
        return
    assert status == 200, events
    failed = [e for e in events if e.get("type") == "error"]
    assert not failed or [e.get("error_code") for e in failed] == ["thread_changed"], events


def stream_via(client: ChatKitClient, type_: str, params: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """A streamed request's status and events (or its JSON error body)."""
    response = client.post(type_, params, timeout=60)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return response.status_code, sse_events(response.text)
    return response.status_code, [response.json()]


def race_retry_against_add(
    adder: ChatKitClient, retrier: ChatKitClient, rounds: int, stagger: float = 0.002
) -> None:
    """Rounds of a new message (through ``adder``) and a retry of the previous one (through
    ``retrier``: the same server, or another replica) sent at the same moment: every
    acknowledged message is still there and every message has exactly one answer."""
    for round_ in range(rounds):
        thread_id, _ = adder.create_thread(f"round {round_} first")
        first = _items(adder, thread_id)[0]["id"]
        barrier = threading.Barrier(2)

        def add(thread_id: str = thread_id, barrier: threading.Barrier = barrier) -> Any:
            barrier.wait()
            params = {"thread_id": thread_id, "input": text_input(f"add {round_}")}
            return stream_via(adder, "threads.add_user_message", params)

        def retry(
            thread_id: str = thread_id, first: str = first, barrier: threading.Barrier = barrier
        ) -> Any:
            barrier.wait()
            time.sleep(stagger * (round_ % 5))  # vary who wins the race
            return stream_via(retrier, "threads.retry_after_item", {"thread_id": thread_id, "item_id": first})

        with ThreadPoolExecutor(2) as pool:
            added, retried = pool.submit(add), pool.submit(retry)
            (add_status, add_events), (retry_status, retry_events) = added.result(), retried.result()
        _check_outcome(add_status, add_events)
        _check_outcome(retry_status, retry_events)

        items = _items(retrier, thread_id)
        present = {i["id"] for i in items if i["type"] == "user_message"}
        lost = ({first} | set(_acknowledged(add_events))) - present
        assert not lost, f"round {round_}: acknowledged messages removed: {lost}"
        assert _answers_per_message(items) == [1] * len(present), (round_, [i["type"] for i in items])


def test_retry_racing_add_never_removes_an_acknowledged_message(make_server: MakeServer) -> None:
    """20 rounds: a new message and a retry of the previous one, sent at the same moment."""
    server = make_server(SLOW)
    client = ChatKitClient(server.url, user="racer")
    race_retry_against_add(client, client, rounds=20)


def test_two_concurrent_retries_leave_one_answer(make_server: MakeServer) -> None:
    server = make_server(SLOW)
    client = ChatKitClient(server.url, user="racer")
    for _ in range(5):
        thread_id, _ = client.create_thread("retry me twice")
        first = _items(client, thread_id)[0]["id"]
        with ThreadPoolExecutor(2) as pool:
            results = list(
                pool.map(
                    lambda _: _stream(
                        server, "threads.retry_after_item", {"thread_id": thread_id, "item_id": first}
                    ),
                    range(2),
                )
            )
        for status, events in results:
            _check_outcome(status, events)
        assert _answers_per_message(_items(client, thread_id)) == [1]


def test_deleting_a_thread_cancels_its_running_turn(make_server: MakeServer) -> None:
    """The model call stops and the stream ends at once; nothing of the thread is left."""
    slow = Reply(tokens=[f"t{i} " for i in range(200)], token_delay=0.05)
    upstream = FakeUpstream(default=slow).start()
    try:
        assert isinstance(upstream, FakeUpstream)
        server = make_server(
            llm_config(
                {"local": {"base_url": upstream.url, "timeouts": {"read": 30, "total": 60}}},
                {"default": {"upstream": "local", "model": "m"}},
            )
        )
        client = ChatKitClient(server.url, user="racer")
        body = {"type": "threads.create", "params": {"input": text_input("a long one")}}
        thread_id: str | None = None
        ended = threading.Event()
        deleted_at: list[float] = []

        def read() -> None:
            nonlocal thread_id
            with httpx.stream("POST", f"{server.url}/chatkit", json=body, headers=HEADERS, timeout=60) as r:
                for line in r.iter_lines():
                    if '"thread.created"' in line:
                        thread_id = sse_events(line)[0]["thread"]["id"]
                    if "text_delta" in line and not deleted_at:
                        deleted_at.append(time.monotonic())
                        assert thread_id is not None
                        assert client.call("threads.delete", {"thread_id": thread_id}) == {}
            ended.set()

        reader = threading.Thread(target=read)
        reader.start()
        assert ended.wait(10), "the stream kept running after its thread was deleted"
        assert time.monotonic() - deleted_at[0] < 2
        reader.join(5)
        deadline = time.monotonic() + 5
        while upstream.abandoned_streams == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert upstream.abandoned_streams == 1, "the model call was not stopped"
        assert thread_id is not None
        assert client.post("threads.get_by_id", {"thread_id": thread_id}).status_code == 404
        assert client.call("threads.list", {"limit": 10})["data"] == []
        assert "different Context" not in server.log()
    finally:
        upstream.stop()


def test_a_title_set_during_the_first_turn_wins(make_server: MakeServer) -> None:
    server = make_server({"llm": {"scripted": {"token_delay_ms": 20}}})
    client = ChatKitClient(server.url, user="racer")
    for _ in range(3):
        body = {"type": "threads.create", "params": {"input": text_input("name me automatically")}}
        thread_id = None
        with httpx.stream("POST", f"{server.url}/chatkit", json=body, headers=HEADERS, timeout=60) as r:
            for line in r.iter_lines():
                if '"thread.created"' in line:
                    thread_id = sse_events(line)[0]["thread"]["id"]
                if "text_delta" in line and thread_id is not None:
                    renamed = client.call("threads.update", {"thread_id": thread_id, "title": "Chosen by me"})
                    assert renamed["title"] == "Chosen by me"
                    thread_id_done = thread_id
                    thread_id = None  # rename once
        title = client.call("threads.get_by_id", {"thread_id": thread_id_done})["title"]
        assert title == "Chosen by me"
