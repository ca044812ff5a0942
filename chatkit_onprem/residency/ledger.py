"""The erasure ledger: a record, kept apart from the data, of every subject whose keys were destroyed.

Crypto-shredding destroys a subject's data keys, but a backup of the database taken
before the erasure still holds those keys, wrapped by a KEK that still exists. So
every erasure is written three times: to the ``erasure_ledger`` table; with an fsync, to
an append-only JSON-lines file outside the data (``crypto.erasure_ledger``; keep it on
storage that is not restored with the data); and as one small object per erasure in the
object store (``erasure-ledger/<id>.json``), which every replica shares, so a pod with no
volume of its own (the chart's PostgreSQL mode) still learns of every erasure. At
start-up the three are merged and re-applied: a subject erased in any is never unwrapped
again (``erased``), and whatever a restored backup brought back is destroyed and purged.
Entries hold ids and dates only, never content.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from chatkit_onprem.blobs.base import BlobBackend, BlobNotFoundError, one_chunk
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.database import Cursor
from chatkit_onprem.store.ledger import Erasure, LedgerRows

log = get_logger(__name__)

OBJECT_PREFIX = "erasure-ledger/"
_ENTRY_BYTES = 4096  # an entry is ids and dates: far less


class ErasureLedger:
    def __init__(self, path: Path, rows: LedgerRows, objects: BlobBackend) -> None:
        self.path = path
        self.rows = rows
        self.objects = objects
        self._lock = threading.Lock()
        self._users: set[tuple[str, str]] = set()
        self._tenants: set[str] = set()
        self._before: dict[str, str] = {}  # tenant or "*" -> latest month cut-off
        self.entries: dict[str, Erasure] = {}
        #: Erasures the database lacked at start-up (restored backup): their purge is queued again.
        self.reapply: list[Erasure] = []

    # --- predicate (hot: every data-key load asks) ----------------------
    def erased(self, tenant: str, user: str, month: str | None = None) -> bool:
        if tenant in self._tenants or (tenant, user) in self._users:
            return True
        if month is not None:
            cut = max(self._before.get(tenant, ""), self._before.get("*", ""))
            return bool(cut) and month < cut
        return False

    def _learn(self, entry: Erasure) -> None:
        self.entries[entry.id] = entry
        if entry.scope == "user" and entry.user is not None:
            self._users.add((entry.tenant, entry.user))
        elif entry.scope == "tenant":
            self._tenants.add(entry.tenant)
        elif entry.scope == "before" and entry.before_month:
            self._before[entry.tenant] = max(self._before.get(entry.tenant, ""), entry.before_month)

    # --- load and record ------------------------------------------------
    def load(self) -> list[Erasure]:
        """Merge file and table (blocking, at start-up); return the entries the table was missing
        (those this process inserted: the ones it re-applies)."""
        from_file = self._read_file()
        from_table = {e.id: e for e in self.rows.all_sync()}
        missing_in_table = [e for i, e in from_file.items() if i not in from_table]
        missing_in_file = [e for i, e in from_table.items() if i not in from_file]
        for entry in missing_in_file:
            self._append(entry)
        if missing_in_table:
            log.warning(
                "erasure ledger: the database lacks erasures the ledger file holds (restored from a "
                "backup?); they are re-applied",
                entries=len(missing_in_table),
            )

            inserted = self.rows.db.write_sync(partial(self._insert_new_sync, missing_in_table))
        else:
            inserted = []
        for entry in [*from_table.values(), *missing_in_table]:
            self._learn(entry)
        self.reapply = inserted
        return inserted

    async def merge_object_copy(self) -> list[Erasure]:
        """Merge the object store's copy (async, at start-up, once the store is up); return the
        erasures neither the database nor the file had (those this process inserted into the
        table), which the caller re-applies. Entries the copy lacks (an erasure made while it
        was unreachable) are written to it. Only the objects of unknown erasures are read: the
        key names the erasure.

        Raises ``BlobUnavailableError`` while the store is unreachable: the caller retries."""
        listed = {
            key.removeprefix(OBJECT_PREFIX).removesuffix(".json"): key
            for key in await self.objects.keys(OBJECT_PREFIX)
        }
        missing_here: list[Erasure] = []
        for erasure_id, key in listed.items():
            if erasure_id in self.entries:
                continue
            try:
                body = b"".join([chunk async for chunk in self.objects.get(key)])
                missing_here.append(_entry(json.loads(body)))
            except BlobNotFoundError:
                continue  # removed between the listing and the read
            except (ValueError, KeyError, TypeError):
                log.error("erasure ledger: unreadable object skipped", key=key)
        for entry in [e for i, e in self.entries.items() if i not in listed]:
            await self.publish(entry)
        if missing_here:
            log.warning(
                "erasure ledger: the object store's copy holds erasures this database and ledger "
                "file lack (restored from a backup?); they are re-applied",
                entries=len(missing_here),
            )

            for entry in missing_here:
                await asyncio.to_thread(self._append, entry)
                self._learn(entry)
            return await self.rows.db.write(partial(self._insert_new_sync, missing_here))
        return []

    def _insert_new_sync(self, entries: list[Erasure], cur: Cursor) -> list[Erasure]:
        """Insert the entries the table lacks; return those this call inserted. Several processes
        starting at once on one PostgreSQL database may all find an entry missing: only the one
        whose insert lands re-applies it, so the purge is queued once."""
        return [entry for entry in entries if self.rows.insert_sync(cur, entry)]

    async def publish(self, entry: Erasure) -> None:
        """Write ``entry`` to the object store's copy, after the erasure committed (an entry for an
        erasure that did not happen, refused by a hold, would be re-applied at the next start).
        Idempotent; ``merge_object_copy`` writes whatever a crash or an outage left out."""
        body = json.dumps(entry.as_json(), sort_keys=True).encode()
        await self.objects.put(_object_key(entry.id), one_chunk(body), max_bytes=_ENTRY_BYTES)

    def record_sync(self, cur: Cursor, entry: Erasure) -> None:
        """On the writer thread, in the transaction that destroys the keys: file first (fsync)."""
        self._append(entry)
        self.rows.insert_sync(cur, entry)
        self._learn(entry)

    def _read_file(self) -> dict[str, Erasure]:
        entries: dict[str, Erasure] = {}
        if not self.path.exists():
            return entries
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = _entry(json.loads(line))
            except (ValueError, KeyError, TypeError):
                log.error("erasure ledger: unreadable line skipped", path=str(self.path), line=number)
                continue
            entries[entry.id] = entry
        return entries

    def _append(self, entry: Erasure) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry.as_json(), sort_keys=True) + "\n")
                out.flush()
                os.fsync(out.fileno())


def _object_key(erasure_id: str) -> str:
    return f"{OBJECT_PREFIX}{erasure_id}.json"


def _entry(data: dict[str, Any]) -> Erasure:
    """An entry from its JSON form (the file's lines, the object store's objects)."""
    return Erasure(
        id=str(data["id"]),
        scope=str(data["scope"]),
        tenant=str(data["tenant"]),
        user=data.get("user"),
        before_month=data.get("before_month"),
        erased_at=datetime.fromisoformat(data["erased_at"]),
        actor=str(data.get("actor", "")),
    )


def new_erasure(scope: str, tenant: str, user: str | None, before_month: str | None, actor: str) -> Erasure:
    from chatkit_onprem.ids import new_id

    return Erasure(new_id("erasure"), scope, tenant, user, before_month, datetime.now(UTC), actor)
