"""A DEK rotation racing the requests that change what it rewrites: the request always wins.

* A row edited while its batch is resealed keeps the edit. The job reads a batch, reseals it
  and writes it back; an edit lands in between. On PostgreSQL the editor is a second
  ``Services`` (its own connection and writer, as another worker process has): the job used
  to read, reseal and write back in one transaction that held no lock on what it read, and
  its write-back put the old text back over the edit (a lost write). On DuckDB, where one
  process owns the file, it is a request of the same process: the batch is now resealed off
  the writer thread, so requests commit meanwhile, and the write-back rewrites only rows
  whose payload is still the one read.
* A file deleted while the job rewrites its object stays deleted. The job fetches the
  object, seals it under the new key and puts it back; the delete lands before the put. The
  put used to bring the deleted file back (a new object version, no bookkeeping row: no
  purge or sweep would ever find it). Now a delete marks the row first, and the job removes
  what it wrote when it finds the row no longer stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from chatkit.types import AssistantMessageContent, AssistantMessageItem

from chatkit_onprem.blobs.base import object_key
from chatkit_onprem.config import load_settings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.crypto.rotation import ROTATE_DEK, KeyJobs
from chatkit_onprem.services import Services
from chatkit_onprem.store import reencrypt
from tests.residency.support import admin_config, run_job_here
from tests.residency.test_key_rotation import write_threads
from tests.support.server import ServerProcess

pytestmark = pytest.mark.backends("duckdb", "postgres")

THREAD, ITEMS = "thr_edit1", 120
ACME_USER = RequestContext(tenant="acme", user="user1")


@pytest.fixture
def config_path(make_server: Callable[..., ServerProcess]) -> Iterator[Any]:
    server = make_server(
        admin_config(crypto={"rotation_batch_rows": 40, "rotation_duty_cycle": 1.0}), start=False
    )
    write_threads(server, [("user1", THREAD, [f"original {n} " * 10 for n in range(ITEMS)])])
    yield server.config_path


def _edited(item_id: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id,
        thread_id=THREAD,
        created_at=datetime.now(UTC),
        content=[AssistantMessageContent(text=f"edited meanwhile {item_id}")],
    )


def test_an_edit_made_while_its_batch_is_resealed_is_kept(
    config_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_side = Services.build(load_settings(config_path, check_production=False))
    postgres = job_side.db.dialect == "postgres"
    other_worker = (
        Services.build(load_settings(config_path, check_production=False)) if postgres else job_side
    )
    edited: list[str] = []
    real_reseal = KeyJobs._reseal

    def reseal_while_another_worker_edits(
        self: KeyJobs, table: str, plaintext: bool, keys: Any, batch: Any
    ) -> Any:
        if table == "items" and not edited:
            # The first and the last item of the batch just read, edited and committed by the other worker.
            for row in (batch[0], batch[-1]):
                item_id = row.key[1]
                future = asyncio.run_coroutine_threadsafe(
                    other_worker.store.save_item(THREAD, _edited(item_id), ACME_USER), loop
                )
                future.result(timeout=30)
                edited.append(item_id)
        return real_reseal(self, table, plaintext, keys, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(KeyJobs, "_reseal", reseal_while_another_worker_edits)

    async def rotate() -> dict[str, Any]:
        return await run_job_here(job_side, ROTATE_DEK, {})

    async def read_back() -> dict[str, str]:
        texts = {}
        for n in range(ITEMS):
            item = await job_side.store.load_item(THREAD, f"msg_edit1_{n}", ACME_USER)
            assert isinstance(item, AssistantMessageItem)
            texts[item.id] = item.content[0].text
        return texts

    def stale(cur: Any) -> int:
        return sum(reencrypt.count_stale(cur, t, plaintext=False) for t in reencrypt.TABLES)

    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(rotate())
        texts = loop.run_until_complete(read_back())
        left = loop.run_until_complete(job_side.db.read(stale))
    finally:
        loop.close()
        if postgres:
            other_worker.db.close()
        job_side.db.close()

    assert len(edited) == 2, edited
    for item_id in edited:
        assert texts[item_id] == f"edited meanwhile {item_id}", "the other worker's edit was overwritten"
    untouched = [text for item_id, text in texts.items() if item_id not in edited]
    assert untouched == [f"original {n} " * 10 for n in range(ITEMS) if f"msg_edit1_{n}" not in edited]
    # The edits were sealed under the new primary by their writer: the job rewrote the others.
    assert result["items_reencrypted"] == ITEMS - len(edited), result
    assert left == 0


async def _chunks(data: bytes) -> Any:
    yield data


def test_a_file_deleted_while_its_object_is_rewritten_stays_deleted(
    config_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = Services.build(load_settings(config_path, check_production=False))
    deleted: list[str] = []
    real_put = services.blobs.put

    async def put_after_the_user_deleted_it(key: str, chunks: Any, *, max_bytes: int) -> int:
        victim = ids[0]
        if victim in key and not deleted:
            await services.attachments.delete_attachment(victim, ACME_USER)  # the user's request
            deleted.append(victim)
        return await real_put(key, chunks, max_bytes=max_bytes)

    async def upload_then_rotate() -> tuple[dict[str, Any], list[int]]:
        for n in range(3):
            attachment = await services.attachments.create_direct(
                f"note{n}.txt", "text/plain", _chunks(b"a private note\n" * 10), ACME_USER
            )
            ids.append(attachment.id)
        monkeypatch.setattr(services.blobs, "put", put_after_the_user_deleted_it)
        result = await run_job_here(services, ROTATE_DEK, {})
        keys = [object_key(ACME_USER, attachment_id) for attachment_id in ids]
        return result, [await services.blobs.versions(key) for key in keys]

    ids: list[str] = []
    try:
        result, versions = asyncio.run(upload_then_rotate())
    finally:
        services.db.close()
    assert deleted == [ids[0]]
    assert versions == [0, 1, 1], "the deleted file's object came back"
    assert result["objects_reencrypted"] == 2, result
