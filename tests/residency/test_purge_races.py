"""Purges and retention runs racing the requests and holds that change what they delete.

A batch of threads is chosen on a reader and deleted on the writer. In between, a user
writes to one of them (it is no longer old) and an admin puts another under a legal hold.
The delete used to remove the batch by id alone: the active conversation and the held
thread both went. Now the delete re-checks the scope and the holds in its own transaction,
and the hold is counted in ``skipped_held_threads``. Old uploads likewise: a hold placed
after their batch was chosen used to come too late; the rows are now re-checked when they
are marked for deletion, before the first object goes. And a purge's key destruction: a
hold placed between the job's hold check (a read) and the destruction (a write) used to be
ignored; the destroying transaction now checks again. On PostgreSQL, a hold another process
is committing while a delete re-checks is waited for (an advisory lock both take).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chatkit.types import ThreadMetadata

from chatkit_onprem.blobs.base import object_key
from chatkit_onprem.config import load_settings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.ids import new_id
from chatkit_onprem.residency.jobs import JobFailedError
from chatkit_onprem.residency.purge import PURGE, Purger
from chatkit_onprem.residency.retention import RETENTION
from chatkit_onprem.services import Services
from chatkit_onprem.store import purge as purge_sql
from chatkit_onprem.store.holds import Hold
from tests.residency.support import admin_config, run_job_here
from tests.residency.test_key_rotation import write_threads
from tests.support.server import ServerProcess

pytestmark = pytest.mark.backends("duckdb", "postgres")

THREADS = [f"thr_old{n}" for n in range(6)]


@pytest.fixture
def services(make_server: Callable[..., ServerProcess]) -> Iterator[Services]:
    server = make_server(
        admin_config(
            retention={
                "interval_seconds": 0,
                "policies": {"acme": {"thread_max_age_days": 1, "upload_max_age_days": 1}},
            }
        ),
        start=False,
    )
    write_threads(server, [("user1", thread_id, [f"words of {thread_id}"] * 3) for thread_id in THREADS])
    built = Services.build(load_settings(server.config_path, check_production=False))
    try:
        yield built
    finally:
        built.db.close()


def test_retention_spares_a_thread_written_to_or_held_after_its_batch_was_chosen(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = RequestContext(tenant="acme", user="user1")
    touched: list[str] = []
    real_next_threads = purge_sql.next_threads

    def next_threads_then_a_write_and_a_hold(*args: Any, **kwargs: Any) -> Any:
        batch = real_next_threads(*args, **kwargs)  # on a reader thread
        if batch and not touched:
            active, held = batch[0][0], batch[1][0]
            meta = ThreadMetadata(id=active, created_at=datetime.now(UTC), title="still talking")
            hold = _hold(user=None, thread_id=held, case="LIT-9")
            for request in (services.store.save_thread(meta, user), services.holds.create(hold)):
                asyncio.run_coroutine_threadsafe(request, loop).result(timeout=30)
            touched.extend([active, held])
        return batch

    monkeypatch.setattr(purge_sql, "next_threads", next_threads_then_a_write_and_a_hold)

    async def run_retention() -> tuple[dict[str, Any], list[str]]:
        # Threads idle since before now are past the policy's day.
        at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        result = await run_job_here(services, RETENTION, {"at": at})
        left = await services.db.read(
            lambda cur: cur.execute("SELECT id FROM threads ORDER BY id").fetchall()
        )
        return result, [str(r[0]) for r in left]

    loop = asyncio.new_event_loop()
    try:
        result, left = loop.run_until_complete(run_retention())
    finally:
        loop.close()
    assert len(touched) == 2, touched
    assert left == sorted(touched), "the active conversation or the held thread was deleted"
    (tenant,) = result["tenants"]
    assert tenant["threads"] == len(THREADS) - 2, tenant
    assert tenant["skipped_held_threads"] == 1, tenant


def _hold(*, user: str | None, thread_id: str | None, case: str) -> Hold:
    """A legal hold in tenant acme, as ``admin holds create`` makes it."""
    return Hold(
        new_id("hold"), "acme", user, thread_id, case, "court order", datetime.now(UTC), "admin", None, None
    )


async def _chunks(data: bytes) -> Any:
    yield data


def test_retention_spares_uploads_held_after_their_batch_was_chosen(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uploads never attached to a message, past the policy's age; their owner is put under a
    hold between the batch's read and its deletion."""
    user = RequestContext(tenant="acme", user="user9")
    held: list[str] = []
    real_old_uploads = purge_sql.old_uploads

    def old_uploads_then_a_hold(*args: Any, **kwargs: Any) -> Any:
        batch = real_old_uploads(*args, **kwargs)
        if batch and not held:
            hold = _hold(user="user9", thread_id=None, case="LIT-10")
            asyncio.run_coroutine_threadsafe(services.holds.create(hold), loop).result(timeout=30)
            held.append(hold.id)
        return batch

    async def upload_then_retain() -> list[int]:
        ids = []
        for n in range(2):
            attachment = await services.attachments.create_direct(
                f"old{n}.txt", "text/plain", _chunks(b"kept for the court\n"), user
            )
            ids.append(attachment.id)
        monkeypatch.setattr(purge_sql, "old_uploads", old_uploads_then_a_hold)
        monkeypatch.setattr(purge_sql, "next_threads", lambda *a, **k: [])  # uploads only
        at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        await run_job_here(services, RETENTION, {"at": at})
        return [await services.blobs.versions(object_key(user, i)) for i in ids]

    loop = asyncio.new_event_loop()
    try:
        versions = loop.run_until_complete(upload_then_retain())
        records = loop.run_until_complete(
            services.db.read(
                lambda cur: cur.execute("SELECT count(*) FROM attachments WHERE user_id = 'user9'").fetchall()
            )
        )
    finally:
        loop.close()
    assert held, "the hold was placed"
    assert versions == [1, 1], "a held upload's object was deleted"
    assert records == [(2,)]


def test_a_hold_placed_after_a_purge_checked_for_holds_still_stops_the_erasure(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The purge checks holds (a read), then destroys the keys (a write). A hold placed in
    between used to be ignored: the held user's keys were destroyed. Now the destroying
    transaction checks again and the job fails naming the hold; nothing was erased."""
    placed: list[str] = []
    real_holds = Purger._holds_sync

    def holds_then_a_new_hold(self: Purger, cur: Any, scope: Any) -> Any:
        found = real_holds(self, cur, scope)
        if not placed:  # the job's first check: on a reader thread, the loop is free
            hold = _hold(user="user1", thread_id=None, case="LIT-11")
            asyncio.run_coroutine_threadsafe(services.holds.create(hold), loop).result(timeout=30)
            placed.append(hold.id)
        return found

    monkeypatch.setattr(Purger, "_holds_sync", holds_then_a_new_hold)

    async def purge_user1() -> str:
        params = {"scope": "user", "tenant": "acme", "user": "user1", "actor": "admin"}
        with pytest.raises(JobFailedError) as refused:
            await run_job_here(services, PURGE, params)
        return str(refused.value)

    loop = asyncio.new_event_loop()
    try:
        refusal = loop.run_until_complete(purge_user1())
        keys = loop.run_until_complete(
            services.db.read(
                lambda cur: cur.execute(
                    "SELECT DISTINCT state FROM data_keys WHERE user_id = 'user1'"
                ).fetchall()
            )
        )
        ledger = loop.run_until_complete(
            services.db.read(lambda cur: cur.execute("SELECT count(*) FROM erasure_ledger").fetchall())
        )
    finally:
        loop.close()
    assert placed and placed[0] in refusal and "LIT-11" in refusal, refusal
    assert keys == [("active",)], "the held user's keys were destroyed"
    assert ledger == [(0,)], "an erasure that did not happen was recorded"
    assert not services.ledger.erased("acme", "user1")


@pytest.mark.backends("postgres")
def test_a_hold_being_placed_by_another_process_is_waited_for(services: Services) -> None:
    """Another process is committing a hold on a thread while retention deletes its batch. Under
    READ COMMITTED the delete's re-check could not see the uncommitted hold and deleted the
    thread; now both take the holds' advisory lock, so the delete waits for the hold."""
    import psycopg

    other_process = psycopg.connect(services.settings.store.postgres.dsn.get_secret_value())
    other_process.execute("SELECT pg_advisory_xact_lock(hashtext('chatkit-onprem legal holds'))")
    other_process.execute(
        "INSERT INTO holds (id, tenant, user_id, thread_id, case_ref, reason, created_at, created_by)"
        " VALUES (%s, 'acme', NULL, %s, 'LIT-12', 'court order', now(), 'admin')",
        [new_id("hold"), THREADS[0]],
    )

    async def retention_while_the_hold_commits() -> tuple[bool, dict[str, Any], list[str]]:
        at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        job = asyncio.ensure_future(run_job_here(services, RETENTION, {"at": at}))
        await asyncio.sleep(2)
        waited = not job.done()
        other_process.commit()
        result = await job
        left = await services.db.read(lambda cur: cur.execute("SELECT id FROM threads").fetchall())
        return waited, result, [str(r[0]) for r in left]

    try:
        waited, result, left = asyncio.run(retention_while_the_hold_commits())
    finally:
        other_process.close()
    assert waited, "the delete did not wait for the hold being placed"
    assert left == [THREADS[0]], "the held thread was deleted"
    assert result["tenants"][0]["skipped_held_threads"] == 1, result
