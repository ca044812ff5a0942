"""KEK and DEK rotation while the server serves: nothing lost, nothing failed, and a killed job resumes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadMetadata

from chatkit_onprem.config import load_settings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.services import Services
from tests.residency.support import admin_config, admin_http, cli, cli_json, wait_job
from tests.support.client import ChatKitClient, errors
from tests.support.server import ServerProcess

pytestmark = pytest.mark.backends("duckdb", "postgres")


class Load:
    """Conversations in a background thread; remembers every acknowledged user message."""

    def __init__(self, url: str, users: list[str]) -> None:
        self.clients = [ChatKitClient(url, user=u) for u in users]
        self.acknowledged: dict[str, tuple[ChatKitClient, str]] = {}  # message id -> (client, thread)
        self.failures: list[str] = []
        self.turns = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            client = self.clients[n % len(self.clients)]
            n += 1
            try:
                events = client.stream("threads.create", {"input": _text(f"rotation turn {n}")})
                thread_id = next(e for e in events if e.type == "thread.created").thread.id
                self._note(client, thread_id, events)
                for m in range(2):
                    self._note(client, thread_id, client.send(thread_id, f"follow-up {n}.{m}"))
            except Exception as exc:
                self.failures.append(repr(exc))

    def _note(self, client: ChatKitClient, thread_id: str, events: list[object]) -> None:
        self.turns += 1
        if errors(events):
            self.failures.append(str(errors(events)))
        for event in events:
            item = getattr(event, "item", None)
            if (
                getattr(event, "type", "") == "thread.item.done"
                and getattr(item, "type", "") == "user_message"
            ):
                self.acknowledged[item.id] = (client, thread_id)  # type: ignore[union-attr]


def _text(text: str) -> dict[str, object]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


def test_kek_and_dek_rotation_under_load_lose_nothing(make_server) -> None:
    server = make_server(admin_config(crypto={"rotation_batch_rows": 50}))
    with Load(server.url, ["alice", "bob", "carol"]) as load:
        while load.turns < 30:
            time.sleep(0.1)
        kek = cli(server, "keys", "rotate-kek", "--confirm", check=True)
        assert "created KEK version v2" in kek.stdout
        dek = cli_json(server, "keys", "rotate-dek", "--confirm")
        assert dek["state"] == "done" and dek["result"]["keys_rotated"] >= 3, dek
        turns_during = load.turns
        time.sleep(1.0)  # keep writing under the new keys for a moment
    assert load.failures == [], load.failures[:5]
    assert load.turns > turns_during >= 30

    # Every acknowledged message is still there and readable.
    by_thread: dict[tuple[int, str], set[str]] = {}
    for message_id, (client, thread_id) in load.acknowledged.items():
        by_thread.setdefault((id(client), thread_id), set()).add(message_id)
    clients = {id(c): c for c in load.clients}
    for (client_id, thread_id), wanted in by_thread.items():
        items = clients[client_id].call("items.list", {"thread_id": thread_id, "limit": 100})["data"]
        assert wanted <= {i["id"] for i in items}, thread_id

    status = cli_json(server, "keys", "status")
    versions = {v["version"]: v for v in status["kek"]["versions"]}
    assert status["kek"]["primary"] == "v2" and versions["v1"]["data_keys"] == 0
    for table, states in status["rows"].items():
        # Rows written after the rotation started are already current; nothing is left behind.
        assert set(states) == {"current"}, (table, states)

    # v1 wraps nothing any more: it may be retired (and the development keyring drops it).
    assert cli_json(server, "keys", "retire-kek", "v1", "--confirm")["removed"] is True
    retire_primary = cli(server, "keys", "retire-kek", "v2")
    assert retire_primary.returncode == 2 and "primary" in retire_primary.stderr


def write_threads(server: ServerProcess, threads: list[tuple[str, str, list[str]]]) -> None:
    """Write (user, thread id, item texts), in this order, through the real store into the
    stopped server's database (tenant ``acme``)."""
    services = Services.build(load_settings(server.config_path, check_production=False))

    async def fill() -> None:
        for user, thread_id, texts in threads:
            context = RequestContext(tenant="acme", user=user)
            now = datetime.now(UTC)
            await services.store.save_thread(
                ThreadMetadata(id=thread_id, created_at=now, title=thread_id), context
            )
            items = [
                AssistantMessageItem(
                    id=f"msg_{thread_id[4:]}_{n}",
                    thread_id=thread_id,
                    created_at=now,
                    content=[AssistantMessageContent(text=text)],
                )
                for n, text in enumerate(texts)
            ]
            await services.store.save_items(thread_id, items, context)

    try:
        asyncio.run(fill())
    finally:
        services.db.close()


@pytest.fixture
def big_store(make_server) -> Iterator[tuple[object, dict[str, int]]]:
    """A stopped server whose database holds 4,000 items written through the real store."""
    server = make_server(admin_config(crypto={"rotation_batch_rows": 40}), start=False)
    threads = [
        (f"user{u}", f"thr_big{u}{t}", [f"item {n} " * 20 for n in range(200)])
        for u in range(4)
        for t in range(5)
    ]
    write_threads(server, threads)
    yield server, {thread_id: len(texts) for _, thread_id, texts in threads}


def test_a_dek_rotation_killed_with_sigkill_resumes_and_finishes(big_store) -> None:
    server, counts = big_store
    server.start()
    with admin_http(server) as http:
        job = http.post("/keys/rotate-dek", json={"confirm": True}).json()["job"]
        deadline = time.monotonic() + 60
        while True:
            seen = http.get(f"/jobs/{job['id']}").json()
            if seen["state"] == "running" and seen["done"] >= 300:
                break
            assert seen["state"] != "done", "the job finished before it could be killed; make it bigger"
            assert time.monotonic() < deadline, seen
            time.sleep(0.02)
    server.kill()  # SIGKILL, mid-job
    server.start()
    finished = wait_job(server, job["id"])
    assert finished["state"] == "done", finished
    resumed = [
        r for r in server.log_records() if r.get("event") == "job started" and r.get("job_id") == job["id"]
    ]
    assert [r["resumed"] for r in resumed][-1] is True, "the second process resumed from the saved cursor"
    # Each batch commits with its progress: a kill between the two cannot lose a count.
    assert finished["done"] == finished["total"], finished
    assert finished["result"]["items_reencrypted"] == sum(counts.values()), finished["result"]
    status = cli_json(server, "keys", "status")
    assert set(status["rows"]["items"]) == {"current"}, status["rows"]
    for thread_id, expected in counts.items():
        user = f"user{thread_id[7]}"
        client = ChatKitClient(server.url, user=user)
        seen_items: list[str] = []
        after = None
        while True:
            params = {"thread_id": thread_id, "limit": 100, **({"after": after} if after else {})}
            page = client.call("items.list", params)
            seen_items += [i["id"] for i in page["data"]]
            if not page["has_more"]:
                break
            after = page["after"]
        assert len(seen_items) == expected, thread_id


def test_a_batch_with_more_subjects_than_the_key_cache_holds_is_resealed_whole(make_server) -> None:
    """Regression: the batch's keys were loaded into the bounded cache and looked up again on
    the writer thread; with more subjects in one batch than the cache holds (or concurrent
    traffic evicting them), rows were skipped and the job failed at the end with "rows are
    still under an older key". The keys now travel with the batch."""
    server = make_server(admin_config(crypto={"rotation_batch_rows": 500, "dek_cache_size": 16}), start=False)
    users = [f"user{u:02d}" for u in range(20)]
    # Round-robin, so every batch holds rows of all 20 subjects.
    write_threads(
        server,
        [
            (user, f"thr_{user}_{t}", [f"item {n} of {user}" for n in range(5)])
            for t in range(3)
            for user in users
        ],
    )
    server.start()
    dek = cli_json(server, "keys", "rotate-dek", "--confirm")
    assert dek["state"] == "done", dek
    assert dek["result"]["items_reencrypted"] == 300 and dek["result"]["threads_reencrypted"] == 60, dek
    status = cli_json(server, "keys", "status")
    for table, states in status["rows"].items():
        assert set(states) <= {"current"}, (table, states)
    page = ChatKitClient(server.url, user="user07").call("items.list", {"thread_id": "thr_user07_2"})
    assert sorted(i["content"][0]["text"] for i in page["data"]) == [f"item {n} of user07" for n in range(5)]
