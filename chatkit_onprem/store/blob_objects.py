"""Upload bookkeeping: the ``blob_objects`` table (quota, orphans, preview owner, key used).

A ``pending`` row reserves quota before any byte is stored and names what to clean
up if the upload never completes; ``stored`` rows are objects that exist; ``deleting``
rows are objects being removed (marked before the first delete, forgotten after the
last). The mark is what a key job that rewrites an object in place checks when it records
the new key (``set_key_ref_sync``): a row no longer ``stored`` means the object was deleted
meanwhile, and the job removes what it wrote, so a deleted file never comes back. An
upload's ``settle`` likewise only turns a ``pending`` row into ``stored``: an attachment
deleted while its bytes were arriving is not brought back by the upload's end.
Every statement is scoped to the owner, except the two housekeeping reads
(``owner_of`` for a signed preview link, ``orphans``), which return owners.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from chatkit_onprem.context import RequestContext
from chatkit_onprem.store.database import Cursor, Database


class UploadInProgressError(Exception):
    """A bookkeeping row for this attachment exists already (a second upload of the same id)."""


class QuotaExceededError(Exception):
    def __init__(self, used: int, quota: int) -> None:
        super().__init__(f"{used} of {quota} bytes used")
        self.used = used
        self.quota = quota


@dataclass(frozen=True, slots=True)
class ObjectOwner:
    tenant: str
    user: str
    has_preview: bool
    key_ref: str


@dataclass(frozen=True, slots=True)
class Orphan:
    attachment_id: str
    tenant: str
    user: str
    has_record: bool  # an attachment record without a thread (else: an object row without a record)


@dataclass(frozen=True, slots=True)
class StaleObject:
    attachment_id: str
    tenant: str
    user: str
    has_preview: bool
    key_ref: str

    @property
    def month(self) -> str | None:
        parts = self.key_ref.split(":")
        return parts[1] if len(parts) == 3 and parts[0] == "dek" else None


class BlobObjects:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def reserve(
        self, attachment_id: str, context: RequestContext, *, quota: int, per_file: int, key_ref: str
    ) -> int:
        """Insert the ``pending`` row, reserving quota; return the byte cap for this upload."""

        def write(cur: Cursor) -> int:
            if cur.execute("SELECT 1 FROM blob_objects WHERE attachment_id = ?", [attachment_id]).fetchone():
                raise UploadInProgressError(attachment_id)
            used = _used(cur, context)
            cap = min(per_file, quota - used)
            if cap <= 0:
                raise QuotaExceededError(used, quota)
            cur.execute(
                "INSERT INTO blob_objects (attachment_id, tenant, user_id, state, size, has_preview, key_id,"
                " created_at) VALUES (?, ?, ?, 'pending', ?, false, ?, now())",
                [attachment_id, context.tenant, context.user, cap, key_ref],
            )
            return cap

        return await self.db.write(write)

    async def settle(self, attachment_id: str, size: int, has_preview: bool, key_ref: str) -> bool:
        """The object (and preview) are stored: record their real size and key. False when the
        upload's row is no longer ``pending`` (the attachment was deleted while its bytes were
        arriving): the caller removes what it wrote."""

        def write(cur: Cursor) -> bool:
            row = cur.execute(
                "UPDATE blob_objects SET state = 'stored', size = ?, has_preview = ?, key_id = ?"
                " WHERE attachment_id = ? AND state = 'pending' RETURNING 1",
                [size, has_preview, key_ref, attachment_id],
            ).fetchone()
            return row is not None

        return await self.db.write(write)

    async def stale_keys(self, after: str, limit: int, *, legacy: bool) -> list[StaleObject]:
        """Stored objects to re-encrypt: written with the legacy static key (``legacy``), or under a
        data key whose blob keyset has a newer primary. In attachment-id order after ``after``."""

        def query(cur: Cursor) -> list[Any]:
            if legacy:
                return cur.execute(
                    "SELECT attachment_id, tenant, user_id, has_preview, key_id FROM blob_objects"
                    " WHERE state = 'stored' AND key_id NOT LIKE 'dek:%' AND attachment_id > ?"
                    " ORDER BY attachment_id LIMIT ?",
                    [after, limit],
                ).fetchall()
            return cur.execute(
                "SELECT b.attachment_id, b.tenant, b.user_id, b.has_preview, b.key_id FROM blob_objects b"
                " JOIN data_keys d ON d.tenant = b.tenant AND d.user_id = b.user_id"
                " AND d.month = split_part(b.key_id, ':', 2)"
                " WHERE b.state = 'stored' AND b.key_id LIKE 'dek:%' AND d.state = 'active'"
                " AND b.key_id <> 'dek:' || d.month || ':' || d.blob_primary AND b.attachment_id > ?"
                " ORDER BY b.attachment_id LIMIT ?",
                [after, limit],
            ).fetchall()

        return [
            StaleObject(str(r[0]), str(r[1]), str(r[2]), bool(r[3]), str(r[4]))
            for r in await self.db.read(query)
        ]

    async def mark_deleting(self, attachment_ids: list[str], context: RequestContext) -> None:
        """Before the objects' first delete (see the module docstring)."""
        if not attachment_ids:
            return

        await self.db.write(partial(mark_deleting_sync, attachment_ids=attachment_ids, owner=context))

    async def forget(self, attachment_ids: list[str], context: RequestContext) -> None:
        if not attachment_ids:
            return

        def write(cur: Cursor) -> None:
            for attachment_id in attachment_ids:
                cur.execute(
                    "DELETE FROM blob_objects WHERE attachment_id = ? AND tenant = ? AND user_id = ?",
                    [attachment_id, context.tenant, context.user],
                )

        await self.db.write(write)

    async def owner_of(self, attachment_id: str) -> ObjectOwner | None:
        """Owner of a stored object, for checking a signed preview link (which names no caller)."""

        def query(cur: Cursor) -> Any:
            return cur.execute(
                "SELECT tenant, user_id, has_preview, key_id FROM blob_objects"
                " WHERE attachment_id = ? AND state = 'stored'",
                [attachment_id],
            ).fetchone()

        row = await self.db.read(query)
        return ObjectOwner(str(row[0]), str(row[1]), bool(row[2]), str(row[3])) if row else None

    async def used_bytes(self, context: RequestContext) -> int:
        return await self.db.read(lambda cur: _used(cur, context))

    async def orphans(self, cutoff: datetime) -> list[Orphan]:
        """Uploads never attached to a message, and object rows whose record is gone, before ``cutoff``."""

        def query(cur: Cursor) -> list[Any]:
            return cur.execute(
                "SELECT id, tenant, user_id, true FROM attachments"
                " WHERE thread_id IS NULL AND created_at < ?"
                " UNION ALL"
                " SELECT b.attachment_id, b.tenant, b.user_id, false FROM blob_objects b"
                " LEFT JOIN attachments a ON a.id = b.attachment_id"
                " WHERE a.id IS NULL AND b.created_at < ?",
                [cutoff, cutoff],
            ).fetchall()

        return [Orphan(str(r[0]), str(r[1]), str(r[2]), bool(r[3])) for r in await self.db.read(query)]


def _used(cur: Cursor, context: RequestContext) -> int:
    row = cur.execute(
        "SELECT coalesce(sum(size), 0) FROM blob_objects WHERE tenant = ? AND user_id = ?",
        [context.tenant, context.user],
    ).fetchone()
    return int(row[0]) if row else 0


def set_key_ref_sync(cur: Cursor, attachment_id: str, key_ref: str) -> bool:
    """Which key an object is sealed under now (after re-encryption), in the caller's transaction.

    False when the object is no longer ``stored`` (deleted meanwhile): what the caller wrote
    must be removed."""
    row = cur.execute(
        "UPDATE blob_objects SET key_id = ? WHERE attachment_id = ? AND state = 'stored' RETURNING 1",
        [key_ref, attachment_id],
    ).fetchone()
    return row is not None


def mark_deleting_sync(
    cur: Cursor, attachment_ids: list[str], owner: RequestContext | None = None
) -> None:
    """``BlobObjects.mark_deleting`` in the caller's transaction; admin jobs (purges, retention),
    which act on any owner, pass no ``owner``."""
    where = "attachment_id = ANY(CAST(? AS VARCHAR[]))"
    args: list[Any] = [attachment_ids]
    if owner is not None:
        where += " AND tenant = ? AND user_id = ?"
        args += [owner.tenant, owner.user]
    cur.execute(f"UPDATE blob_objects SET state = 'deleting' WHERE {where}", args)
