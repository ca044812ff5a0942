"""Past one process: two replicas on one PostgreSQL, two workers in one server, a job that
outlives its process, and moving a DuckDB deployment over. A real PostgreSQL server
(Debian's, started by the tests in a temporary folder)."""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.residency.support import ADMIN_TOKEN, cli, wait_job
from tests.support.client import ChatKitClient, errors
from tests.support.postgres import PostgresCluster
from tests.support.store_query import query

pytestmark = pytest.mark.backends("postgres")  # the tests set their databases up themselves
KEYRING = json.dumps({"primary": "v1", "keys": {"v1": base64.b64encode(os.urandom(32)).decode()}})


def replica_config(dsn: str, **extra: Any) -> dict[str, Any]:
    """What replicas share: the database, the KEK keyring and the export signing key."""
    config: dict[str, Any] = {
        "store": {"backend": "postgres", "postgres": {"dsn": dsn}},
        "crypto": {"kek": {"keyring": KEYRING}},
        "exports": {"signing_key": base64.b64encode(b"s" * 32).decode()},
        "auth": {"methods": ["api_keys"], "admin_token": ADMIN_TOKEN},
    }
    for key, value in extra.items():
        config[key] = {**config.get(key, {}), **value}
    return config


def as_key(server: Any, token: str) -> ChatKitClient:
    client = ChatKitClient(server.url)
    client.http.headers.pop("X-Dev-User", None)
    client.http.headers.pop("X-Dev-Tenant", None)
    client.http.headers["Authorization"] = f"Bearer {token}"
    return client


def new_key(server: Any, **body: Any) -> dict[str, Any]:
    answer = httpx.post(
        f"{server.url}/admin/v1/api-keys",
        json={"tenant": "acme", "name": "svc", **body},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_two_replicas_serve_the_same_users_and_share_revocations_and_rates(
    make_server: Any, postgres_cluster: PostgresCluster
) -> None:
    dsn = postgres_cluster.create_database()
    config = replica_config(dsn, rate_limits={"user_requests_per_minute": 12})
    a = make_server(config, name="a")
    b = make_server(config, name="b")
    key = new_key(a, user="alice")
    on_a, on_b = as_key(a, key["token"]), as_key(b, key["token"])

    thread_id, _ = on_a.create_thread("written through replica a")
    assert not errors(on_b.send(thread_id, "continued on replica b"))
    items = on_a.call("items.list", {"thread_id": thread_id, "limit": 20})["data"]
    texts = json.dumps(items)
    assert "written through replica a" in texts and "continued on replica b" in texts
    assert [t["id"] for t in on_b.call("threads.list", {})["data"]] == [thread_id]

    # A rate limit holds across both: 12 per minute in all, whichever replica answers.
    used = 4  # the key's requests so far
    answers = [(on_a if n % 2 else on_b).post("threads.list", {}).status_code for n in range(12 - used + 2)]
    assert answers[: 12 - used].count(200) == 12 - used and answers[-1] == 429, answers

    # A key revoked on one replica stops working on the other within a second.
    revoked_at = time.monotonic()
    cli(a, "api-keys", "revoke", key["id"], check=True)
    while as_key(b, key["token"]).post("threads.list", {}).status_code != 401:
        assert time.monotonic() - revoked_at < 1.5, "replica b still accepts a revoked key"
        time.sleep(0.05)


def test_one_turn_per_thread_holds_across_replicas(
    make_server: Any, postgres_cluster: PostgresCluster
) -> None:
    """The hardening race (a retry against a new message on the same thread) with each request
    on a different replica: no acknowledged message is removed, every message gets one answer."""
    from tests.hardening.test_races import race_retry_against_add

    config = replica_config(postgres_cluster.create_database(), llm={"scripted": {"token_delay_ms": 5}})
    a = make_server(config, name="a")
    b = make_server(config, name="b")
    key = new_key(a, user="racer")
    race_retry_against_add(as_key(a, key["token"]), as_key(b, key["token"]), rounds=10, stagger=0.003)
    # Every lease is given back when its turn ends (just after the stream's last byte).
    deadline = time.monotonic() + 5
    while (left := query(a, "SELECT count(*) FROM thread_leases")) != [(0,)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [(0,)]


def test_sigkill_of_one_of_two_workers_loses_no_acknowledged_write(
    make_server: Any, postgres_cluster: PostgresCluster
) -> None:
    server = make_server(
        {
            "store": {"backend": "postgres", "postgres": {"dsn": postgres_cluster.create_database()}},
            "server": {"workers": 2},
        }
    )
    acknowledged: list[tuple[str, str, str]] = []  # (user, thread, message id)
    stop = threading.Event()

    def writer(user: str) -> None:
        client = ChatKitClient(server.url, user=user)
        thread_id = None
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if thread_id is None:
                    events = client.stream("threads.create", {"input": _text(f"{user} {n}")})
                    thread_id = next(e for e in events if e.type == "thread.created").thread.id
                else:
                    events = client.send(thread_id, f"{user} {n}")
            except (AssertionError, httpx.HTTPError, StopIteration):
                continue  # the request hit the killed worker: not acknowledged
            for event in events:
                item = getattr(event, "item", None)
                if event.type == "thread.item.done" and getattr(item, "type", "") == "user_message":
                    acknowledged.append((user, thread_id, item.id))  # type: ignore[arg-type, union-attr]

    writers = [threading.Thread(target=writer, args=(f"u{i}",), daemon=True) for i in range(4)]
    for t in writers:
        t.start()
    time.sleep(2)
    workers = _worker_pids(server)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    time.sleep(3)
    stop.set()
    for t in writers:
        t.join(30)
    assert len(acknowledged) > 10
    stored = {row[0] for row in query(server, "SELECT id FROM items WHERE type = 'user_message'")}
    lost = [a for a in acknowledged if a[2] not in stored]
    assert lost == [], lost[:5]


def test_one_scrape_counts_every_workers_metrics(make_server: Any, postgres_cluster: PostgresCluster) -> None:
    """Whichever worker answers the scrape, it reports the turns all of them ran."""
    server = make_server(
        {
            "store": {"backend": "postgres", "postgres": {"dsn": postgres_cluster.create_database()}},
            "server": {"workers": 2},
        }
    )
    client = ChatKitClient(server.url, user="counted")
    for n in range(8):  # new connections: spread over both workers
        fresh = ChatKitClient(server.url, user=f"counted{n}")
        fresh.create_thread(f"turn {n}")
        fresh.http.close()
    for _ in range(4):
        text = client.http.get("/metrics", headers={"X-Dev-Roles": "auditor", "Connection": "close"}).text
        turns = [line for line in text.splitlines() if line.startswith('chatkit_turns_total{outcome="ok"}')]
        assert turns and float(turns[0].split()[-1]) == 8, turns
        commits = [line for line in text.splitlines() if line.startswith("chatkit_store_commits_total ")]
        assert commits and float(commits[0].split()[-1]) >= 8, commits


def _text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


def _worker_pids(server: Any) -> list[int]:
    """Granian's worker processes: children of the server's main process (workers are
    spawned, so multiprocessing's resource tracker is a child too: not a worker)."""
    main = server.proc.pid
    children: list[int] = []
    for task in os.listdir(f"/proc/{main}/task"):
        with open(f"/proc/{main}/task/{task}/children") as handle:
            children += [int(p) for p in handle.read().split()]
    return sorted(p for p in children if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes())


def test_a_job_survives_the_death_of_the_replica_running_it(
    make_server: Any, postgres_cluster: PostgresCluster
) -> None:
    config = replica_config(
        postgres_cluster.create_database(),
        server={"job_lease_seconds": 2},
        crypto={"rotation_batch_rows": 20, "rotation_duty_cycle": 0.2},
        auth={"methods": ["development"]},
    )
    a = make_server(config, name="a")
    b = make_server(config, name="b")
    for user in ("alice", "bob", "carol"):
        client = ChatKitClient(a.url, user=user)
        for n in range(4):
            thread_id, _ = client.create_thread(f"{user} thread {n}")
            for m in range(3):
                client.send(thread_id, f"message {m}")
    job = httpx.post(
        f"{a.url}/admin/v1/keys/rotate-dek",
        json={"confirm": True},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    ).json()["job"]
    deadline = time.monotonic() + 60
    runner = None
    while runner is None:
        assert time.monotonic() < deadline, "nobody started the job"
        for name, server in (("a", a), ("b", b)):
            started = [
                r
                for r in server.log_records()
                if r.get("event") == "job started" and r.get("job_id") == job["id"]
            ]
            if started:
                runner = (name, server)
        time.sleep(0.05)
    name, holder = runner
    other = b if holder is a else a
    holder.kill()  # SIGKILL: its lease runs out, nobody releases it
    finished = wait_job(other, job["id"], timeout=120)
    assert finished["state"] == "done", finished
    took_over = [
        r for r in other.log_records() if r.get("event") == "job started" and r.get("job_id") == job["id"]
    ]
    assert took_over and took_over[-1]["resumed"] is True


def test_migrate_store_moves_a_duckdb_deployment_to_postgres(
    make_server: Any, postgres_cluster: PostgresCluster, tmp_path: Any
) -> None:
    from tests.uploads.support import upload_direct

    duck = make_server({"store": {"backend": "duckdb"}, "auth": {"admin_token": ADMIN_TOKEN}}, name="duck")
    alice = ChatKitClient(duck.url, user="alice")
    thread_id, _ = alice.create_thread("moving to postgres")
    alice.send(thread_id, "second message")
    upload = upload_direct(alice, "notes.txt", b"carried over\n" * 10, "text/plain").json()
    cli(
        duck,
        "holds",
        "create",
        "--tenant",
        "acme",
        "--user",
        "alice",
        "--case",
        "C1",
        "--reason",
        "r",
        check=True,
    )
    items_before = alice.call("items.list", {"thread_id": thread_id, "limit": 50})["data"]
    duck.stop()

    data_dir = duck.config["data_dir"]
    dsn = postgres_cluster.create_database()
    moved = cli(
        duck.url,
        "migrate-store",
        "--from",
        f"duckdb:{data_dir}/chatkit.duckdb",
        "--to",
        f"postgres:{dsn}",
        "--json",
    )
    assert moved.returncode == 0, moved.stderr
    report = json.loads(moved.stdout)
    assert report["verified"] and {t["table"]: t["rows"] for t in report["tables"]}["threads"] == 1
    again = cli(
        duck.url, "migrate-store", "--from", f"duckdb:{data_dir}/chatkit.duckdb", "--to", f"postgres:{dsn}"
    )
    assert again.returncode == 1 and "already holds rows" in again.stderr

    pg = make_server(
        {
            "store": {"backend": "postgres", "postgres": {"dsn": dsn}},
            "crypto": {"kek": {"keyring_path": f"{data_dir}/keys/kek-keyring.json"}},
            "blobs": {"local": {"path": f"{data_dir}/blobs"}},
            "auth": {"admin_token": ADMIN_TOKEN},
        },
        name="pg",
    )
    moved_alice = ChatKitClient(pg.url, user="alice")
    assert moved_alice.call("items.list", {"thread_id": thread_id, "limit": 50})["data"] == items_before
    assert moved_alice.http.get(f"/files/{upload['id']}").content == b"carried over\n" * 10
    holds = json.loads(cli(pg, "--json", "holds", "list", check=True).stdout)
    assert [h["case"] for h in holds] == ["C1"]
    assert json.loads(cli(pg, "--json", "audit", "verify", check=True).stdout)["ok"] is True


@pytest.fixture
def make_server(make_server: Any) -> Any:
    return make_server
