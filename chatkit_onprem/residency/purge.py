"""Purges and crypto-shredding: a subject's data goes, provably, and stays gone.

Order of a confirmed purge (a job, ``residency.purge``):

1. holds are checked again (one placed after the dry run still blocks);
2. for user, tenant and month scopes the subject's data keys are destroyed and the
   erasure recorded in the ledger, in one transaction: from that moment every copy of
   the content (database file, free pages, backups, object versions) is unreadable;
3. threads go in batches with their items, feedback and attachment records, then every
   version and delete marker of their objects; then uploads never attached to a message,
   and the subject's usage rows;
4. optionally (``compact``) the database file is rewritten so deleted rows leave no
   bytes in free pages either.

A thread purge destroys no keys (a data key covers a user's month, not a thread): its
rows and objects are deleted, and compaction removes the bytes from the file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from chatkit_onprem.blobs import BlobBackend, object_key
from chatkit_onprem.blobs.base import BlobUnavailableError
from chatkit_onprem.chat.attachments import system_context
from chatkit_onprem.crypto.deks import DataKeys
from chatkit_onprem.errors import ApiError
from chatkit_onprem.logging import get_logger
from chatkit_onprem.residency.jobs import JobContext, JobFailedError, Progress
from chatkit_onprem.residency.ledger import ErasureLedger, new_erasure
from chatkit_onprem.store import purge as sql
from chatkit_onprem.store.blob_objects import mark_deleting_sync
from chatkit_onprem.store.chatkit_store import DuckDBStore
from chatkit_onprem.store.data_keys import count_active_sync, destroy_sync
from chatkit_onprem.store.database import Cursor, Database
from chatkit_onprem.store.holds import Hold, active_holds_sync, lock_holds_sync
from chatkit_onprem.store.purge import PurgeCounts, PurgeScope

log = get_logger(__name__)

PURGE = "residency.purge"
_THREAD_BATCH = 200
_OBJECT_BATCH = 200


class HeldError(ApiError):
    """The subject is under a legal hold: the refusal names the hold(s)."""

    def __init__(self, holds: list[Hold]) -> None:
        names = "; ".join(h.describe() for h in holds[:5])
        super().__init__(
            409,
            "legal_hold",
            f"refused: {names} covers this data; release the hold first",
            details={"holds": [h.id for h in holds]},
        )


@dataclass(frozen=True, slots=True)
class Plan:
    scope: PurgeScope
    counts: PurgeCounts
    keys_destroyed: int
    object_versions: int | None

    def public(self) -> dict[str, Any]:
        return {
            **self.scope.public(),
            **self.counts.public(),
            "data_keys": self.keys_destroyed,
            "object_versions": self.object_versions,
        }


def scope_from(params: dict[str, Any]) -> PurgeScope:
    from datetime import datetime

    older = params.get("older_than")
    return PurgeScope(
        kind=params["scope"],
        tenant=params.get("tenant"),
        user=params.get("user"),
        thread_id=params.get("thread_id"),
        older_than=datetime.fromisoformat(older) if older else None,
        before_month=params.get("before_month"),
    )


def keys_where(scope: PurgeScope) -> tuple[str, list[Any]] | None:
    """Which data keys a scope destroys (None: none, e.g. a thread)."""
    if scope.kind == "user":
        return "tenant = ? AND user_id = ?", [scope.tenant, scope.user]
    if scope.kind == "tenant":
        return "tenant = ?", [scope.tenant]
    if scope.kind == "before":
        if scope.tenant is not None:
            return "month < ? AND tenant = ?", [scope.before_month, scope.tenant]
        return "month < ?", [scope.before_month]
    return None


class Purger:
    def __init__(
        self,
        db: Database,
        store: DuckDBStore,
        blobs: BlobBackend,
        keys: DataKeys,
        ledger: ErasureLedger,
    ) -> None:
        self.db = db
        self.store = store
        self.blobs = blobs
        self.keys = keys
        self.ledger = ledger

    # --- checks ----------------------------------------------------------
    def _holds_sync(self, cur: Cursor, scope: PurgeScope) -> list[Hold]:
        if scope.kind == "user":
            return active_holds_sync(cur, scope.tenant, user=scope.user)
        if scope.kind == "tenant":
            return active_holds_sync(cur, scope.tenant)
        if scope.kind == "thread":
            return active_holds_sync(cur, scope.tenant, thread_ids=[scope.thread_id or ""])
        if scope.kind == "before":
            return active_holds_sync(cur, scope.tenant)  # a month cut-off reaches every held subject
        # older_than: held threads are skipped by retention; an explicit purge refuses them.
        held = sql.held_threads(cur, scope)
        return active_holds_sync(cur, None, thread_ids=held) if held else []

    async def resolve(self, scope: PurgeScope) -> PurgeScope:
        """A thread scope learns its tenant (ids are global); an unknown subject is a 404."""

        def query(cur: Cursor) -> PurgeScope:
            if scope.kind == "thread":
                tenant = sql.thread_tenant(cur, scope.thread_id or "")
                if tenant is None:
                    raise ApiError(404, "not_found", f"no thread {scope.thread_id}")
                return PurgeScope("thread", tenant=tenant, thread_id=scope.thread_id)
            if scope.kind in ("user", "tenant") and not sql.subject_known(cur, scope):
                who = (
                    f"user {scope.user} in tenant {scope.tenant}"
                    if scope.kind == "user"
                    else f"tenant {scope.tenant}"
                )
                raise ApiError(404, "unknown_subject", f"no data is stored for {who}")
            return scope

        return await self.db.read(query)

    async def plan(self, scope: PurgeScope, *, exclude_held: bool = False) -> Plan:
        """The dry run: what a confirmed purge would delete; ``HeldError`` if a hold covers it."""
        scope = await self.resolve(scope)

        def query(cur: Cursor) -> tuple[list[Hold], PurgeCounts, list[str], int]:
            holds = [] if exclude_held else self._holds_sync(cur, scope)
            counts, attachment_ids = sql.preview(cur, scope, exclude_held=exclude_held)
            where = keys_where(scope)
            keys = count_active_sync(cur, where[0], where[1]) if where is not None else 0
            return holds, counts, attachment_ids, keys

        holds, counts, attachment_ids, keys = await self.db.read(query)
        if holds:
            raise HeldError(holds)
        versions = await self._count_versions(attachment_ids) if len(attachment_ids) <= 1000 else None
        return Plan(scope, counts, keys, versions)

    async def _count_versions(self, attachment_ids: list[str]) -> int | None:
        sizes = await self.db.read(partial(_sizes, attachment_ids))
        owners = await self.db.read(partial(_owners, attachment_ids))
        total = 0
        try:
            for attachment_id in attachment_ids:
                tenant, user = owners.get(attachment_id, ("", ""))
                if not tenant:
                    continue
                key = object_key(system_context(tenant, user), attachment_id)
                total += await self.blobs.versions(key)
                if sizes.get(attachment_id, (0, False))[1]:
                    total += await self.blobs.versions(key + ".preview")
        except Exception as exc:  # the object store is down: the dry run still answers
            log.warning("object versions not counted", error=str(exc)[:200])
            return None
        return total

    # --- the job ---------------------------------------------------------
    async def run(self, ctx: JobContext) -> dict[str, Any]:
        scope = scope_from(ctx.params)
        retention = bool(ctx.params.get("retention"))
        reapplied = ctx.params.get("reapply_erasure_id")  # a restored backup: the erasure already happened
        state: dict[str, Any] = dict(ctx.cursor or {"phase": "keys", "counts": {}})
        counts = PurgeCounts(**{k: v for k, v in state.get("counts", {}).items() if k != "extra"})
        if state["phase"] == "keys":
            skip_holds = retention or reapplied
            holds = [] if skip_holds else await self.db.read(lambda cur: self._holds_sync(cur, scope))
            if holds:
                raise JobFailedError(HeldError(holds).message)
            if ctx.total is None:
                plan = await self.db.read(lambda cur: sql.preview(cur, scope, exclude_held=retention))
                await ctx.report(total=plan[0].threads + plan[0].attachments, cursor=state)
            actor = str(ctx.params.get("actor", ""))
            destroyed = await self._destroy_keys(
                ctx, scope, actor, record=not reapplied, honour_holds=not skip_holds
            )
            counts.extra = {}
            state = {"phase": "threads", "counts": counts.public(), "keys_destroyed": destroyed}

        def saved() -> dict[str, Any]:
            """The state with the counts so far: what each batch's commit records."""
            return {**state, "counts": counts.public()}

        def objects_counted(removed: int, _records: int) -> Progress:
            counts.objects += removed
            return Progress(cursor=saved())

        def loose_counted(removed: int, records: int) -> Progress:
            counts.objects += removed
            counts.attachments += records
            return Progress(records, saved())

        if state["phase"] == "threads":
            honour_holds = not reapplied  # an erasure re-applied after a restore already happened
            while batch := await self.db.read(
                lambda cur: sql.next_threads(cur, scope, _THREAD_BATCH, honour_holds=honour_holds)
            ):
                ids = [thread_id for thread_id, _, _ in batch]

                def delete(cur: Cursor, ids: list[str] = ids) -> tuple[list[tuple[str, str, str]], Progress]:
                    deleted, attachments = sql.delete_threads(
                        cur, thread_ids=ids, scope=scope, dialect=self.db.dialect, honour_holds=honour_holds
                    )
                    counts.add(deleted)
                    counts.skipped_held_threads += deleted.skipped_held_threads
                    return attachments, Progress(len(ids) + len(attachments), saved())

                attachments = await ctx.commit(delete)
                for thread_id in ids:
                    self.store.owners.forget(thread_id)
                await self.delete_objects(ctx, attachments, objects_counted)
            state = {**saved(), "phase": "loose"}
            await ctx.report(cursor=state)
        if state["phase"] == "loose":
            while batch := await self.db.read(lambda cur: self._loose(cur, scope)):
                await self.delete_objects(ctx, batch, loose_counted)
            if scope.kind == "before" and scope.before_month:
                counts.items += await self.db.write(
                    partial(sql.delete_stray_items, before_month=scope.before_month, tenant=scope.tenant)
                )
            counts.usage_rows += await self.db.write(lambda cur: sql.delete_usage(cur, scope))
            state = {
                **state,
                "phase": "compact" if ctx.params.get("compact") else "done",
                "counts": counts.public(),
            }
            await ctx.report(cursor=state)
        if state["phase"] == "compact":
            await self.db.compact()
            state = {**state, "phase": "done", "compacted": True}
            await ctx.report(cursor=state)
        result = {
            **scope.public(),
            **state.get("counts", {}),
            "keys_destroyed": state.get("keys_destroyed", 0),
        }
        if state.get("compacted"):
            result["compacted"] = True
        return result

    def _loose(self, cur: Cursor, scope: PurgeScope) -> list[tuple[str, str, str]]:
        if scope.kind == "before" and scope.before_month:
            return sql.stray_rows(cur, scope.before_month, scope.tenant, _OBJECT_BATCH)
        return sql.loose_attachments(cur, scope, _OBJECT_BATCH)

    async def _destroy_keys(
        self, ctx: JobContext, scope: PurgeScope, actor: str, *, record: bool, honour_holds: bool
    ) -> int:
        """Destroy the subject's data keys and record the erasure, in one transaction that also
        commits the job's move to its next phase; return how many keys went.

        Holds are checked again inside that transaction: the job's first check was a read, and
        a hold placed since must still stop the erasure. The object store's copy of the ledger
        entry is written after the commit (an entry for an erasure a hold refused would be
        re-applied at the next start); if that write does not happen, every start-up writes
        the entries the copy lacks."""
        where = keys_where(scope)
        entry = (
            new_erasure(
                "user" if scope.kind == "user" else "tenant" if scope.kind == "tenant" else "before",
                scope.tenant or "*",
                scope.user,
                scope.before_month,
                actor,
            )
            if where is not None and record
            else None
        )

        def write(cur: Cursor) -> tuple[list[tuple[str, str, str]], Progress]:
            if honour_holds:
                lock_holds_sync(cur, self.db.dialect)
                if holds := self._holds_sync(cur, scope):
                    raise HeldError(holds)
            destroyed = destroy_sync(cur, where[0], where[1]) if where is not None else []
            if entry is not None:
                self.ledger.record_sync(cur, entry)  # the file first (fsync), then the table
            state = {"phase": "threads", "counts": PurgeCounts().public(), "keys_destroyed": len(destroyed)}
            return destroyed, Progress(cursor=state)

        try:
            destroyed = await ctx.commit(write)
        except HeldError as exc:
            raise JobFailedError(exc.message) from None
        if where is None:
            return 0
        self.keys.forget(destroyed)
        log.info("data keys destroyed", scope=scope.kind, keys=len(destroyed), erasure_id=entry and entry.id)
        if entry is not None:
            try:
                await self.ledger.publish(entry)
            except BlobUnavailableError as exc:
                log.warning(
                    "erasure ledger: the object store's copy is written at the next start-up",
                    erasure_id=entry.id,
                    error=str(exc)[:200],
                )
        return len(destroyed)

    async def delete_objects(
        self,
        ctx: JobContext,
        attachments: list[tuple[str, str, str]],
        counted: Callable[[int, int], Progress],
        *,
        honour_holds: bool = False,
    ) -> None:
        """Every version and delete marker of each object and preview, then their rows, in one
        transaction with the progress ``counted(objects removed, attachment records deleted)``
        gives (a job's count and resume point agree with what is gone).

        ``honour_holds``: uploads an active hold covers by now are left (retention chose them
        on a reader; a hold placed since wins)."""
        if not attachments:
            return

        def mark(cur: Cursor) -> set[str]:
            held: set[str] = set()
            if honour_holds:
                lock_holds_sync(cur, self.db.dialect)
                held = sql.held_uploads(cur, [a[0] for a in attachments])
            mark_deleting_sync(cur, [a[0] for a in attachments if a[0] not in held])
            return held

        held = await self.db.write(mark)  # the rows are marked before the first object delete
        attachments = [a for a in attachments if a[0] not in held]
        ids = [a[0] for a in attachments]
        sizes = await self.db.read(partial(_sizes, ids))
        removed = 0
        for attachment_id, tenant, user in attachments:
            key = object_key(system_context(tenant, user), attachment_id)
            for suffix in ("", ".preview"):
                for attempt in range(3):
                    try:
                        await self.blobs.delete(key + suffix)
                        break
                    except Exception:
                        if attempt == 2:
                            raise
                        await asyncio.sleep(1 + attempt)
            removed += 1 if attachment_id in sizes else 0
        await ctx.commit(lambda cur: (None, counted(removed, sql.forget_attachments(cur, ids))))


def _sizes(ids: list[str], cur: Cursor) -> dict[str, tuple[int, bool]]:
    return sql.object_sizes(cur, ids)


def _owners(ids: list[str], cur: Cursor) -> dict[str, tuple[str, str]]:
    return sql.attachment_owners(cur, ids)
