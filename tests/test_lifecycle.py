"""Durability and shutdown: restarts, kill -9, SIGTERM drains, client disconnects."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from chatkit_onprem.store import DatabaseLockedError, DuckDBDatabase
from tests.support.client import ChatKitClient, assistant_text, errors, text_input
from tests.support.server import ServerProcess

MakeServer = Callable[..., ServerProcess]
SLOW = {"llm": {"scripted": {"token_delay_ms": 20}}}


def _items(client: ChatKitClient, thread_id: str) -> list[Any]:
    return list(client.call("items.list", {"thread_id": thread_id, "order": "asc", "limit": 100})["data"])


def _read_events(
    server: ServerProcess,
    body: dict[str, Any],
    stop_after: int | None = None,
    on_event: Callable[[int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    headers = {"X-Dev-User": "alice", "X-Dev-Tenant": "acme"}
    try:
        with httpx.stream("POST", f"{server.url}/chatkit", json=body, headers=headers, timeout=30) as r:
            for line in r.iter_lines():
                if not line.startswith("data: "):
                    continue
                events.append(json.loads(line[6:]))
                if on_event:
                    on_event(len(events), events[-1])
                if stop_after is not None and len(events) >= stop_after:
                    break  # closing the response disconnects the client mid-stream
    except httpx.RemoteProtocolError:
        pass  # the server cut the stream (shutdown)
    return events


def test_data_survives_a_restart(make_server: MakeServer) -> None:
    server = make_server()
    client = ChatKitClient(server.url)
    thread_ids = [client.create_thread(f"thread {n}")[0] for n in range(3)]
    client.send(thread_ids[0], "second message")
    client.call("threads.update", {"thread_id": thread_ids[1], "title": "kept"})
    before = {t: client.call("threads.get_by_id", {"thread_id": t}) for t in thread_ids}
    assert server.stop() == 0
    assert not (server.workdir / "data" / "chatkit.duckdb.wal").exists(), "shutdown checkpoints the WAL"

    server.start()
    after = {t: client.call("threads.get_by_id", {"thread_id": t}) for t in thread_ids}
    assert after == before
    assert after[thread_ids[1]]["title"] == "kept"


@pytest.mark.backends("duckdb", "postgres")
def test_kill_9_loses_no_acknowledged_write(make_server: MakeServer) -> None:
    server = make_server()
    client = ChatKitClient(server.url)
    acknowledged: dict[str, str] = {}  # thread id -> last title whose update was answered 200
    created: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        http = httpx.Client(base_url=server.url, headers=client.headers, timeout=10)
        try:
            thread_id = ChatKitClient(server.url).create_thread(f"writer {n}")[0]
            with lock:
                created.append(thread_id)
            version = 0
            while not stop.is_set():
                version += 1
                title = f"w{n}-v{version:05}"
                body = {"type": "threads.update", "params": {"thread_id": thread_id, "title": title}}
                response = http.post("/chatkit", json=body)
                if response.status_code == 200:
                    with lock:
                        acknowledged[thread_id] = title
        except httpx.HTTPError:
            pass  # the server died under us: expected
        finally:
            http.close()

    with ThreadPoolExecutor(6) as pool:
        for n in range(6):
            pool.submit(writer, n)
        time.sleep(2.0)
        server.kill()  # SIGKILL: no shutdown code runs
        stop.set()

    assert len(acknowledged) == 6 and sum(int(t.rsplit("v", 1)[1]) for t in acknowledged.values()) > 50
    server.start()  # the file opens (WAL replayed)
    for thread_id, title in acknowledged.items():
        got = client.call("threads.get_by_id", {"thread_id": thread_id})["title"]
        assert got >= title, f"acknowledged write {title} lost (found {got})"
    assert len(client.call("threads.list", {"limit": 100})["data"]) >= len(created)


@pytest.mark.backends("duckdb", "postgres")
def test_client_disconnect_keeps_the_partial_answer(make_server: MakeServer) -> None:
    server = make_server(SLOW)
    client = ChatKitClient(server.url)
    body = {"type": "threads.create", "params": {"input": text_input("give me a long answer")}}
    events = _read_events(server, body, stop_after=25)
    thread_id = events[0]["thread"]["id"]

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        items = _items(client, thread_id)
        if any(i["type"] == "assistant_message" for i in items):
            break
        time.sleep(0.1)
    answer = [i for i in items if i["type"] == "assistant_message"]
    assert len(answer) == 1, items
    text = answer[0]["content"][0]["text"]
    assert text.startswith("Sentence 1 of a long scripted answer.")
    assert "Sentence 200" not in text, "only the part streamed before the disconnect"

    # The thread stays usable: the next message gets a full answer.
    follow_up = client.send(thread_id, "hello again")
    assert errors(follow_up) == [] and "hello again" in assistant_text(follow_up)


@pytest.mark.backends("duckdb", "postgres")
def test_sigterm_lets_a_short_stream_finish(make_server: MakeServer) -> None:
    server = make_server({**SLOW, "server": {"shutdown_grace_seconds": 10}})
    assert server.proc is not None

    def on_event(n: int, event: dict[str, Any]) -> None:
        if n == 6:
            os.killpg(server.proc.pid, signal.SIGTERM)  # type: ignore[union-attr]

    body = {"type": "threads.create", "params": {"input": text_input("short one")}}
    events = _read_events(server, body, on_event=on_event)
    done = [e for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"]
    assert done, "the stream finished within the grace period"
    assert server.proc.wait(20) == 0


def test_sigterm_persists_a_stream_that_outlives_the_grace_period(make_server: MakeServer) -> None:
    server = make_server({**SLOW, "server": {"shutdown_grace_seconds": 1}})
    assert server.proc is not None
    started = time.monotonic()

    def on_event(n: int, event: dict[str, Any]) -> None:
        if n == 8:
            os.killpg(server.proc.pid, signal.SIGTERM)  # type: ignore[union-attr]

    body = {"type": "threads.create", "params": {"input": text_input("a long answer")}}
    events = _read_events(server, body, on_event=on_event)
    thread_id = events[0]["thread"]["id"]
    assert server.proc.wait(20) == 0
    assert time.monotonic() - started < 10, "drained after the grace period, not killed later"
    events = {r["event"]: r for r in server.log_records()}
    assert events["draining streams"]["in_flight"] == 1
    assert events["shutdown complete"]["streams_cancelled"] == 1
    assert not (server.workdir / "data" / "chatkit.duckdb.wal").exists()

    server.start()
    items = _items(ChatKitClient(server.url), thread_id)
    answer = [i for i in items if i["type"] == "assistant_message"]
    assert len(answer) == 1 and answer[0]["content"][0]["text"].startswith("Sentence 1")


def test_stream_registry_drain_waits_then_cancels() -> None:
    """Streams that end within the grace period are left alone; the rest are cancelled."""
    import asyncio

    from chatkit_onprem.chat.protocol import StreamRegistry

    async def scenario() -> tuple[int, bool, bool, bool]:
        registry = StreamRegistry()

        async def stream(seconds: float) -> None:
            task = asyncio.current_task()
            assert task is not None
            registry.add(task)
            try:
                await asyncio.sleep(seconds)
            finally:
                registry.discard(task)

        quick = asyncio.create_task(stream(0.1))
        slow = asyncio.create_task(stream(30))
        await asyncio.sleep(0)
        cancelled = await registry.drain(0.5)
        return cancelled, registry.draining, quick.cancelled(), slow.cancelled()

    assert asyncio.run(scenario()) == (1, True, False, True)


def test_a_second_process_cannot_open_the_live_file(server: ServerProcess) -> None:
    with pytest.raises(DatabaseLockedError, match="is a chatkit-onprem server running"):
        DuckDBDatabase(server.workdir / "data" / "chatkit.duckdb")
