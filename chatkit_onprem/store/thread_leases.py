"""Which process runs a thread's turn, when several processes share the store (PostgreSQL).

``chat.thread_turns`` allows one mutating turn per thread at a time. Within a process an
in-memory slot does that; across workers and replicas this lease row does. A lease names
its owner (one id per process) and expires ``ttl`` after its last renewal, so a process that
dies holding leases frees its threads within that time. Taking one is a single conditional
upsert (atomic in the database, on the database's clock); renewing all of a process's leases
is one UPDATE (of the leases it still holds: one whose release failed just expires). All of
it runs on reader connections in autocommit: a lease must be visible to the other processes
at once, not wait in the writer's group commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from functools import partial

from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.database import Cursor, Database

log = get_logger(__name__)
_EXPIRES = "clock_timestamp() + make_interval(secs => ?)"
Key = tuple[str, str, str]


class ThreadLeases:
    def __init__(self, db: Database, ttl_seconds: float = 30.0) -> None:
        self.db = db
        self.ttl = ttl_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._held: set[Key] = set()
        self._renewer: asyncio.Task[None] | None = None

    async def acquire(self, key: Key) -> bool:
        """Take ``key``'s lease if nobody holds a live one; True if this process now holds it."""
        tenant, user, thread_id = key

        def take(cur: Cursor) -> bool:
            row = cur.execute(
                "INSERT INTO thread_leases (tenant, user_id, thread_id, owner, expires_at)"
                f" VALUES (?, ?, ?, ?, {_EXPIRES}) ON CONFLICT (tenant, user_id, thread_id)"
                " DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at"
                " WHERE thread_leases.expires_at < clock_timestamp() RETURNING owner",
                [tenant, user, thread_id, self.owner, self.ttl],
            ).fetchone()
            return row is not None

        taken = await self.db.read(take)
        if taken:
            self._held.add(key)
            self._start_renewing()
        return taken

    async def release(self, key: Key) -> None:
        self._held.discard(key)
        tenant, user, thread_id = key
        await self.db.read(
            lambda cur: cur.execute(
                "DELETE FROM thread_leases WHERE tenant = ? AND user_id = ? AND thread_id = ? AND owner = ?",
                [tenant, user, thread_id, self.owner],
            )
        )

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew(), name="thread-lease-renewal")

    async def _renew(self) -> None:
        """While this process holds leases, push their expiry out every third of the ttl."""
        while self._held:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.db.read(partial(self._extend, [thread_id for _, _, thread_id in self._held]))
            except Exception:
                log.exception("renewing thread leases failed")

    def _extend(self, threads: list[str], cur: Cursor) -> None:
        cur.execute(
            f"UPDATE thread_leases SET expires_at = {_EXPIRES}"
            " WHERE owner = ? AND thread_id = ANY(CAST(? AS VARCHAR[]))",
            [self.ttl, self.owner, threads],
        )

    async def close(self) -> None:
        """Give every lease back (a clean shutdown frees its threads at once)."""
        task, self._renewer = self._renewer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._held.clear()
        with contextlib.suppress(Exception):
            await self.db.read(
                lambda cur: cur.execute("DELETE FROM thread_leases WHERE owner = ?", [self.owner])
            )
