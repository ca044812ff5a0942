"""The erasure ledger's copy in the object store: a replica with no ledger file of its own (the
chart's PostgreSQL mode mounts no volume) still re-applies an erasure a restored database undid.

Before this copy existed, such a pod started on a restored database unwrapped the erased
user's keys again: the database's ledger table was restored with the data, and the ledger
file lived only on the pod that made the erasure.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from minio.versioningconfig import ENABLED, VersioningConfig

from chatkit_onprem.config import load_settings
from chatkit_onprem.residency.ledger import new_erasure
from chatkit_onprem.services import Services
from chatkit_onprem.store.ledger import Erasure
from tests.residency.support import admin_config, assert_erasure_reapplied, cli_json, data_dir, query
from tests.support.client import ChatKitClient
from tests.support.server import ServerProcess
from tests.uploads.support import MotoS3, s3_config, upload_direct

pytestmark = pytest.mark.backends("duckdb", "postgres")


def _backup(server: ServerProcess, tmp_path: Path) -> Any:
    """A copy of the stopped server's database: the data folder (DuckDB) or a cloned database."""
    store = server.config.get("store", {})
    if store.get("backend") != "postgres":
        backup = tmp_path / "backup"
        shutil.copytree(data_dir(server), backup)
        return backup
    import psycopg

    dsn = store["postgres"]["dsn"]
    base, _, name = dsn.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}_backup" TEMPLATE "{name}"')
    return f"{base}/{name}_backup"


def _restore_on_a_new_pod(server: ServerProcess, backup: Any, ledger: Path) -> None:
    """The stopped server comes back on the backup, with a ledger file that starts empty."""
    if isinstance(backup, Path):
        shutil.rmtree(data_dir(server))
        shutil.copytree(backup, data_dir(server))
    else:
        server.config["store"]["postgres"]["dsn"] = backup
    server.config["crypto"]["erasure_ledger"] = str(ledger)
    server.config_path.write_text(yaml.safe_dump(server.config))


@pytest.mark.parametrize("store_down_at_start", [False, True], ids=["store-up", "store-down-at-start"])
def test_a_pod_without_the_ledger_file_learns_an_erasure_from_the_object_store(
    make_server, moto: MotoS3, tmp_path: Path, store_down_at_start: bool
) -> None:
    """With the store down when the new pod starts, the pod starts anyway and merges the copy
    (then purges) as soon as the store answers: it retries every dependency check."""
    bucket = f"ledger-copy-{uuid.uuid4().hex[:8]}"  # the module shares one moto server
    moto.client().make_bucket(bucket)
    moto.client().set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    config = {**admin_config(crypto={"erasure_ledger": str(tmp_path / "pod-a" / "erasure.jsonl")})}
    config.update(s3_config(moto, bucket))
    config["server"] = {"dependency_check_seconds": 0.5}
    server = make_server(config)
    alice, bob = ChatKitClient(server.url, user="alice"), ChatKitClient(server.url, user="bob")
    a_thread, _ = alice.create_thread("alice wrote this")
    upload = upload_direct(alice, "a.txt", b"alice's file\n" * 20, "text/plain").json()
    b_thread, _ = bob.create_thread("bob wrote this")
    server.stop()
    backup = _backup(server, tmp_path)  # taken before the erasure
    server.start()

    done = cli_json(server, "keys", "destroy", "--tenant", "acme", "--user", "alice", "--confirm")
    assert done["state"] == "done" and done["result"]["keys_destroyed"] == 1, done
    copies = [o.object_name for o in moto.client().list_objects(bucket, prefix="erasure-ledger/")]
    assert len(copies) == 1, copies
    entry = json.loads(moto.client().get_object(bucket, copies[0]).read())
    assert (entry["scope"], entry["tenant"], entry["user"]) == ("user", "acme", "alice")
    assert set(entry) == {"id", "scope", "tenant", "user", "before_month", "erased_at", "actor"}, "ids only"
    server.stop()

    # Another pod, on the restored database, with no ledger file of its own.
    new_ledger = tmp_path / "pod-b" / "erasure.jsonl"
    _restore_on_a_new_pod(server, backup, new_ledger)
    [(state,)] = query(server, "SELECT state FROM data_keys WHERE user_id = 'alice'")
    assert state == "active", "the restored database holds alice's wrapped key again"
    if store_down_at_start:
        moto.stop()
        try:
            server.start()
            assert "could not be read; retrying" in server.log()
        finally:
            moto.start()  # the same port; its objects survive
        _wait_until(lambda: alice.call("threads.list", {})["data"] == [])
    else:
        server.start()
    # Unreadable at once (the copy is merged before the server takes requests), then purged by
    # re-applying it, while bob is intact.
    assert_erasure_reapplied(
        server,
        alice,
        bob,
        erased_thread=a_thread,
        erased_upload=upload["id"],
        kept_thread=b_thread,
        kept_text="bob wrote this",
    )
    assert "alice" in new_ledger.read_text(), "the new pod's file learned the erasure too"
    server.stop()
    assert query(server, "SELECT count(*) FROM threads WHERE user_id = 'alice'") == [(0,)]
    assert query(server, "SELECT state FROM data_keys WHERE user_id = 'alice'") == [("destroyed",)]
    assert query(server, "SELECT scope, user_id FROM erasure_ledger") == [("user", "alice")]


def _wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.2)


@pytest.mark.backends("postgres")
def test_workers_starting_together_reapply_an_erasure_once(make_server, tmp_path: Path) -> None:
    """Several processes on one PostgreSQL database each find the object store's entry missing
    from the table: only the one whose insert lands queues the purge (each used to queue its own)."""
    server = make_server(admin_config(), start=False)
    settings = load_settings(server.config_path, check_production=False)
    workers = [Services.build(settings), Services.build(settings)]
    entry = new_erasure("user", "acme", "alice", None, "admin")

    async def start_together() -> list[list[Erasure]]:
        await workers[0].ledger.publish(entry)  # made by a pod whose database was then restored
        return list(await asyncio.gather(*(w.ledger.merge_object_copy() for w in workers)))

    try:
        merged = asyncio.run(start_together())
    finally:
        for worker in workers:
            worker.db.close()
    assert sorted(len(found) for found in merged) == [0, 1], merged
    assert all(worker.ledger.erased("acme", "alice") for worker in workers)
    assert query(server, "SELECT id FROM erasure_ledger") == [(entry.id,)]
