"""A job's counts and resume point agree with the data, whichever commit a crash follows.

The process is "killed" right after a commit: each life after its first write, so that
every commit point of the job is a crash point once. A life that starts where the last one
did (its first write recorded no progress, e.g. marking objects before their delete) dies
one write later, so the job always moves on. Every life resumes from what the previous one
committed, as a restarted server would (same database, a fresh job context, the key and
thread-owner caches emptied). Until this session a life k died after its k-th write, which
left most commit points untried (a purge crashed right after destroying its keys, for one).
A crash between a batch's commit and its progress report used to leave the batch done
but uncounted (``done`` one batch short; purge and retention counts short).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatkit_onprem.config import load_settings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.crypto.rotation import ROTATE_DEK, ROTATE_KEK
from chatkit_onprem.residency.jobs import JobCancelledError, JobContext
from chatkit_onprem.residency.purge import PURGE
from chatkit_onprem.residency.retention import RETENTION
from chatkit_onprem.services import Services
from chatkit_onprem.store import reencrypt
from chatkit_onprem.store.chatkit_store import ThreadOwners
from chatkit_onprem.store.jobs import JobRecord
from tests.residency.support import admin_config
from tests.residency.test_key_rotation import write_threads
from tests.support.server import ServerProcess

pytestmark = pytest.mark.backends("duckdb", "postgres")

USERS, THREADS, ITEMS = 2, 4, 150


class Crash(BaseException):
    """The process dies here (a BaseException: no handler's ``except Exception`` sees it)."""


@pytest.fixture
def seeded(make_server: Callable[..., ServerProcess]) -> Iterator[Services]:
    server = make_server(
        admin_config(
            crypto={"rotation_batch_rows": 40, "rotation_duty_cycle": 1.0},
            retention={"interval_seconds": 0, "policies": {"acme": {"thread_max_age_days": 1}}},
        ),
        start=False,
    )
    threads = [
        (f"user{u}", f"thr_crash{u}{t}", [f"item {n} " * 10 for n in range(ITEMS)])
        for u in range(USERS)
        for t in range(THREADS)
    ]
    write_threads(server, threads)
    services = Services.build(load_settings(server.config_path, check_production=False))
    try:
        yield services
    finally:
        services.db.close()


async def _run_with_crashes(services: Services, kind: str, params: dict[str, Any]) -> tuple[JobRecord, int]:
    """Run a job to its end, crashing each life after its first write that moves the job on;
    (final row, lives)."""
    rows, db = services.job_rows, services.db
    handler = services.jobs.handlers[kind]
    job = await services.jobs.submit(kind, params, "test")
    real_write, real_background = db.write, db.write_background
    last_start: tuple[Any, ...] | None = None
    depth = 1
    for life in range(1, 400):
        owner = f"life{life}"
        record = await rows.claim(owner, 0.0, [kind])  # a zero lease: the next life may claim at once
        assert record is not None and record.id == job.id, record
        start = (record.done, record.total, json.dumps(record.cursor, sort_keys=True, default=str))
        depth = depth + 1 if start == last_start else 1  # no progress last life: die one write later
        last_start = start
        writes = 0

        def crashing(real: Callable[..., Any], depth: int = depth) -> Callable[..., Any]:
            async def write(fn: Callable[[Any], Any]) -> Any:
                nonlocal writes
                value = await real(fn)  # committed
                writes += 1
                if writes == depth:
                    raise Crash
                return value

            return write

        # Both writers count: a job's batches go to the background writer where there is one.
        db.write = crashing(real_write)  # type: ignore[method-assign]
        db.write_background = crashing(real_background)  # type: ignore[method-assign]
        try:
            result = await handler(JobContext(record, rows, owner, 0.0))
        except Crash:
            # The process is gone, and what it held in memory with it: the next life starts cold.
            services.data_keys.forget()
            services.store.owners = ThreadOwners()
            continue
        finally:
            del db.write, db.write_background
        await rows.finish(job.id, owner, "done", result=result)
        finished = await rows.get(job.id)
        assert finished is not None
        return finished, life
    raise AssertionError("the job never finished")


async def _upload(services: Services, user: str, count: int) -> None:
    """``count`` small files uploaded by ``user`` (tenant acme) through the real attachment store."""
    context = RequestContext(tenant="acme", user=user)
    for n in range(count):
        await services.attachments.create_direct(f"note{n}.txt", "text/plain", _chunks(b"a note"), context)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _stale(services: Services) -> int:
    def count(cur: Any) -> int:
        return sum(reencrypt.count_stale(cur, t, plaintext=False) for t in reencrypt.TABLES)

    return asyncio.run(services.db.read(count))


def test_a_dek_rotation_crashed_after_every_commit_counts_each_row_once(
    seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatkit_onprem.crypto.rotation._KEY_PAGE", 1)  # a commit per data key
    uploads = 3

    async def upload_then_rotate() -> tuple[JobRecord, int]:
        for user in range(USERS):
            await _upload(seeded, f"user{user}", uploads)
        return await _run_with_crashes(seeded, ROTATE_DEK, {})

    finished, lives = asyncio.run(upload_then_rotate())
    assert lives > 5, "the job crashed at many commit points"
    assert finished.result is not None
    assert finished.result["objects_reencrypted"] == USERS * uploads, finished.result
    assert finished.result is not None
    assert finished.result["items_reencrypted"] == USERS * THREADS * ITEMS, finished.result
    assert finished.result["threads_reencrypted"] == USERS * THREADS, finished.result
    assert finished.result["keys_rotated"] == USERS, "each data key rotated once, each counted"
    assert finished.done == finished.total, (finished.done, finished.total)
    assert _stale(seeded) == 0


def test_a_kek_rotation_crashed_after_every_commit_rewraps_and_counts_each_key_once(
    seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatkit_onprem.crypto.rotation._KEY_PAGE", 1)  # a commit per data key
    created = seeded.data_keys.kek.create_version()
    finished, lives = asyncio.run(_run_with_crashes(seeded, ROTATE_KEK, {"created_version": created}))
    assert lives >= 3
    assert finished.result is not None and finished.result["data_keys_rewrapped"] == USERS, finished.result
    assert finished.done == finished.total == USERS
    left = asyncio.run(seeded.data_keys.rows.count(where="kek_version <> ?", args=[created]))
    assert left == 0


def test_a_purge_crashed_after_every_commit_reports_exact_counts(
    seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatkit_onprem.residency.purge._THREAD_BATCH", 3)  # several batches
    monkeypatch.setattr("chatkit_onprem.residency.purge._OBJECT_BATCH", 2)
    uploads = 5

    async def upload_then_purge() -> tuple[JobRecord, int]:
        await _upload(seeded, "user0", uploads)  # not sent in a thread yet: the purge's "loose" phase
        params = {"scope": "user", "tenant": "acme", "user": "user0", "actor": "test"}
        return await _run_with_crashes(seeded, PURGE, params)

    finished, lives = asyncio.run(upload_then_purge())
    assert lives >= 3
    assert finished.result is not None
    counted = [finished.result[k] for k in ("threads", "items", "attachments", "objects")]
    assert counted == [THREADS, THREADS * ITEMS, uploads, uploads], finished.result
    assert finished.result["keys_destroyed"] == 1, "the key destroyed is counted, whichever life did it"
    assert finished.done == finished.total, (finished.done, finished.total)


def test_a_retention_run_crashed_after_every_commit_reports_exact_counts(
    seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatkit_onprem.residency.retention._BATCH", 3)  # several batches
    at = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    finished, lives = asyncio.run(_run_with_crashes(seeded, RETENTION, {"at": at}))
    assert lives >= 3
    assert finished.result is not None
    (tenant,) = finished.result["tenants"]
    assert tenant["threads"] == USERS * THREADS and tenant["items"] == USERS * THREADS * ITEMS, tenant


def test_a_cancel_during_a_dek_rotation_still_installs_the_keys_it_stored(
    seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel seen at a page's commit stops the job at its next batch, not before the page's
    new keys reach this process's cache: new writes must use the primary the database holds."""
    monkeypatch.setattr("chatkit_onprem.crypto.rotation._KEY_PAGE", 1)
    rows, db = seeded.job_rows, seeded.db

    async def run() -> None:
        await seeded.data_keys.for_write("acme", "user0")  # the cache holds the old keyset
        job = await seeded.jobs.submit(ROTATE_DEK, {}, "test")
        record = await rows.claim("p", 30.0, [ROTATE_DEK])
        assert record is not None
        writes = 0

        def cancel_before_the_first_page(real: Callable[..., Any]) -> Callable[..., Any]:
            async def write(fn: Callable[[Any], Any]) -> Any:
                nonlocal writes
                writes += 1
                if writes == 2:  # after the total's report: the cancel lands while page 1 is built
                    await rows.request_cancel(job.id)
                return await real(fn)

            return write

        db.write = cancel_before_the_first_page(db.write)  # type: ignore[method-assign]
        db.write_background = cancel_before_the_first_page(db.write_background)  # type: ignore[method-assign]
        try:
            with pytest.raises(JobCancelledError):
                await seeded.jobs.handlers[ROTATE_DEK](JobContext(record, rows, "p", 30.0))
        finally:
            del db.write, db.write_background
        stored = await seeded.data_keys.rows.get("acme", "user0", datetime.now(UTC).strftime("%Y-%m"))
        assert stored is not None and stored.generation > 1, "page 1 (user0) was rotated and committed"
        cached = await seeded.data_keys.for_write("acme", "user0")
        assert cached.row_primary == seeded.data_keys.unwrap(stored).row_primary

    asyncio.run(run())
