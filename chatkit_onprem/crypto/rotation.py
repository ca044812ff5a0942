"""The key jobs: KEK rotation, DEK rotation, and encrypting what was written before encryption.

They run in the job runner (``residency.jobs``) while the server serves, in batches
that each commit their progress and resume point:

* ``keys.rotate_kek``: re-wrap every data key (and server secret) still wrapped by an
  older KEK version under the current primary. Content is not touched.
* ``keys.rotate_dek``: (1) give every data key in scope a new primary key (new writes
  use it at once), (2) re-encrypt rows and objects still under an older key, (3) when
  nothing uses the older keys any more, drop them from the keysets (their key material
  is gone: a backup's copy of content under them is unreadable).
* ``keys.encrypt_plaintext``: rows and objects written before this release (plain JSON,
  objects under the single static key) are encrypted under their owners' data keys, then
  the database file is rewritten so the old plaintext leaves no bytes in free pages.
  Queued automatically at start-up while any exist.

Re-encrypted rows are written back with a guard on the payload read, so a request that
changed a row meanwhile always wins (``store.reencrypt``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

from chatkit_onprem.chat.attachments import OnPremAttachmentStore
from chatkit_onprem.crypto.deks import DataKeys, KeyUnavailableError, SubjectKeys
from chatkit_onprem.crypto.envelope import row_aad
from chatkit_onprem.crypto.primitives import TinkError
from chatkit_onprem.crypto.server_secrets import ServerSecrets
from chatkit_onprem.logging import get_logger
from chatkit_onprem.residency.duty_cycle import DutyCycle
from chatkit_onprem.residency.jobs import JobContext, JobFailedError, Progress
from chatkit_onprem.store import reencrypt
from chatkit_onprem.store.blob_objects import set_key_ref_sync
from chatkit_onprem.store.codec import ENCRYPTED
from chatkit_onprem.store.data_keys import DataKeyRows, WrappedDataKey, update_sync
from chatkit_onprem.store.database import Cursor, Database
from chatkit_onprem.store.reencrypt import TABLES, EncryptedTable, Resealed, StaleRow

log = get_logger(__name__)

ROTATE_KEK = "keys.rotate_kek"
ROTATE_DEK = "keys.rotate_dek"
ENCRYPT_PLAINTEXT = "keys.encrypt_plaintext"
_KEY_PAGE = 200
_ROW_PASSES = 3  # walks of the tables at most, while stale rows are left (see _reencrypt_rows)

BatchKeys = dict[tuple[str, str, str | None], SubjectKeys]
"""A batch's keys by (tenant, user, key month); key month None for plaintext rows (this month's keys)."""


class KeyJobs:
    def __init__(
        self,
        db: Database,
        keys: DataKeys,
        rows: DataKeyRows,
        secrets: ServerSecrets,
        attachments: OnPremAttachmentStore,
        *,
        batch_rows: int = 2000,
        duty_cycle: float = 1.0,
    ) -> None:
        self.db = db
        self.keys = keys
        self.rows = rows
        self.secrets = secrets
        self.attachments = attachments
        self.batch_rows = batch_rows
        self.duty_cycle = duty_cycle

    # --- KEK ------------------------------------------------------------
    async def rotate_kek(self, ctx: JobContext) -> dict[str, Any]:
        await asyncio.to_thread(self.keys.kek.reload)
        primary = self.keys.kek.primary()
        where, args = "kek_version <> ?", [primary]
        if ctx.total is None:
            await ctx.report(total=await self.rows.count(where=where, args=args), cursor=None)
        # Before the cursor carried the count it was the last subject alone (a job resumed
        # across an upgrade): both are read.
        state: dict[str, Any] = dict(ctx.cursor) if isinstance(ctx.cursor, dict) else {"after": ctx.cursor}
        state.setdefault("rewrapped", 0)
        after = tuple(state["after"]) if state["after"] else None
        while page := await self.rows.page(after, _KEY_PAGE, where=where, args=args):  # type: ignore[arg-type]
            fresh = [await asyncio.to_thread(self._rewrapped, stored) for stored in page]
            after = page[-1].subject

            def counted(replaced: int, page: list[WrappedDataKey] = page) -> Progress:
                state["after"], state["rewrapped"] = list(page[-1].subject), state["rewrapped"] + replaced
                return Progress(len(page), dict(state))

            pairs = list(zip(page, fresh, strict=True))
            replaced = await ctx.commit(partial(_replace_page, pairs, counted))
            self.keys.forget([page[i].subject for i in replaced])
        secrets = await self.db.write(self.secrets.rewrap_sync)
        return {
            "kek_primary": primary,
            "data_keys_rewrapped": state["rewrapped"],
            "server_secrets_rewrapped": secrets,
        }

    def _rewrapped(self, stored: WrappedDataKey) -> WrappedDataKey:
        try:
            return self.keys.rewrapped(stored)
        except KeyUnavailableError as exc:
            raise JobFailedError(str(exc)) from None

    # --- DEK --------------------------------------------------------------
    async def rotate_dek(self, ctx: JobContext) -> dict[str, Any]:
        scope_where, scope_args = _scope(ctx.params)
        state: dict[str, Any] = dict(ctx.cursor or {"phase": "keys", "after": None})
        if ctx.total is None:
            await ctx.report(total=await self.rows.count(where=scope_where, args=scope_args), cursor=state)
        result: dict[str, Any] = dict(state.get("result", {}))
        if state["phase"] == "keys":
            after = tuple(state["after"]) if state["after"] else None
            while page := await self.rows.page(after, _KEY_PAGE, where=scope_where, args=scope_args):  # type: ignore[arg-type]
                rotated = [await asyncio.to_thread(self._rotated, stored) for stored in page]
                after = page[-1].subject

                def counted(replaced: int, page: list[WrappedDataKey] = page) -> Progress:
                    result["keys_rotated"] = result.get("keys_rotated", 0) + replaced
                    cursor = {"phase": "keys", "after": list(page[-1].subject), "result": dict(result)}
                    return Progress(len(page), cursor)

                pairs = [(stored, wrapped) for stored, (wrapped, _) in zip(page, rotated, strict=True)]
                replaced = await ctx.commit(partial(_replace_page, pairs, counted))
                for i in replaced:
                    self.keys.install(rotated[i][1])  # new writes use the new primary from now on
            state = {"phase": "rows", "table": TABLES[0], "after": None, "result": result}
            if self.keys.cache_ttl is not None:
                # Other processes still hold the old keys in memory until their copies expire;
                # after that every new write uses the new primary.
                await asyncio.sleep(self.keys.cache_ttl)
            await ctx.report(total=(ctx.total or 0) + await self._count_stale(plaintext=False), cursor=state)
        if state["phase"] == "rows":
            state = await self._reencrypt_rows(ctx, state, plaintext=False)
        if state["phase"] == "blobs":
            state = await self._reencrypt_blobs(ctx, state, legacy=False, then="trim")
        if state["phase"] == "trim":
            trimmed = await self._trim(scope_where, scope_args)
            result = dict(state.get("result", {}))
            result["old_keys_dropped_from"] = trimmed
            state = {"phase": "done", "result": result}
            await ctx.report(cursor=state)
        return dict(state.get("result", {}))

    def _rotated(self, stored: WrappedDataKey) -> tuple[WrappedDataKey, SubjectKeys]:
        try:
            return self.keys.rotated(stored)
        except KeyUnavailableError as exc:
            raise JobFailedError(str(exc)) from None

    async def _trim(self, where: str, args: list[Any]) -> int:
        """Drop non-primary keys, once no row or object in scope uses them (checked again here)."""
        if await self._count_stale(plaintext=False):
            raise JobFailedError("rows are still under an older key; run the job again")
        trimmed = 0
        after = None
        while page := await self.rows.page(after, _KEY_PAGE, where=where, args=args):
            for stored in page:
                change = await asyncio.to_thread(self._trimmed, stored)
                if change is not None and await self.rows.replace(
                    change[0], expect_generation=stored.generation
                ):
                    self.keys.install(change[1])
                    trimmed += 1
            after = page[-1].subject
        return trimmed

    def _trimmed(self, stored: WrappedDataKey) -> tuple[WrappedDataKey, SubjectKeys] | None:
        """The keyset without its older keys, or None when it holds only its primary."""
        if len(self.keys.unwrap(stored).row_key_ids) <= 1:
            return None
        return self.keys.trimmed(stored)

    # --- plaintext migration ---------------------------------------------
    async def encrypt_plaintext(self, ctx: JobContext) -> dict[str, Any]:
        state: dict[str, Any] = dict(ctx.cursor or {"phase": "rows", "table": TABLES[0], "after": None})
        if ctx.total is None:
            await ctx.report(total=await self._count_stale(plaintext=True), cursor=state)
        if state["phase"] == "rows":
            state = await self._reencrypt_rows(ctx, state, plaintext=True)
        if state["phase"] == "blobs":
            state = await self._reencrypt_blobs(ctx, state, legacy=True, then="compact")
        if state["phase"] == "compact":
            # The plaintext the rows held is still in the file's free pages: rewrite the file.
            result = dict(state.get("result", {}))
            result["compacted_bytes_saved"] = await self.db.compact()
            state = {"phase": "done", "result": result}
            await ctx.report(cursor=state)
        return dict(state.get("result", {}))

    async def _count_stale(self, *, plaintext: bool) -> int:
        def count(cur: Any) -> int:
            return sum(reencrypt.count_stale(cur, t, plaintext=plaintext) for t in TABLES)

        return await self.db.read(count)

    # --- shared batch loops -------------------------------------------------
    async def _reencrypt_rows(
        self, ctx: JobContext, state: dict[str, Any], *, plaintext: bool
    ) -> dict[str, Any]:
        """Walk the tables batch by batch; then walk again while stale rows are left.

        A later pass finds rows the walk could not see: DuckDB renumbers rowids when a
        checkpoint vacuums deleted rows, so a row can move behind the cursor. Three passes
        at most; the trim that follows refuses to drop a key still in use."""
        result: dict[str, Any] = dict(state.get("result", {}))
        tables = list(TABLES)
        passes = int(state.get("pass", 1))
        pacing = DutyCycle(self.duty_cycle, slice_seconds=0)  # a pause after every batch
        while True:
            start = tables.index(state["table"])
            for table in tables[start:]:
                after = state.get("after") if state.get("table") == table else None
                while True:
                    pacing.restart()
                    stale = partial(
                        reencrypt.stale_rows,
                        table=table,
                        dialect=self.db.dialect,
                        plaintext=plaintext,
                        after=after,
                        limit=self.batch_rows,
                    )
                    rows = await self.db.read(stale)
                    if not rows:
                        break
                    keys = await self._keys_of(rows, plaintext=plaintext)
                    updates = await asyncio.to_thread(self._reseal, table, plaintext, keys, rows)
                    after = rows[-1].position
                    state = await ctx.commit(
                        partial(
                            self._write_back_with_progress,
                            table=table,
                            updates=updates,
                            read=len(rows),
                            after=after,
                            passes=passes,
                            result=result,
                        )
                    )
                    await pacing.pause()
            if passes >= _ROW_PASSES or not await self._count_stale(plaintext=plaintext):
                break
            passes += 1
            state = {"phase": "rows", "table": tables[0], "after": None, "pass": passes, "result": result}
            await ctx.report(cursor=state)
        state = {"phase": "blobs", "after": "", "result": result}
        await ctx.report(cursor=state)
        return state

    def _write_back_with_progress(
        self,
        cur: Cursor,
        *,
        table: EncryptedTable,
        updates: list[Resealed],
        read: int,
        after: Any,
        passes: int,
        result: dict[str, Any],
    ) -> tuple[dict[str, Any], Progress]:
        """On the writer thread: a batch's write-back, with the progress its transaction commits
        (the rows read count as done: a row skipped here was rewritten by a request, or is
        found again by the next pass)."""
        changed = reencrypt.write_back(cur, dialect=self.db.dialect, table=table, updates=updates)
        result[f"{table}_reencrypted"] = result.get(f"{table}_reencrypted", 0) + changed
        state = {"phase": "rows", "table": table, "after": after, "pass": passes, "result": result}
        return state, Progress(add=read, cursor=state)

    async def _keys_of(self, rows: list[StaleRow], *, plaintext: bool) -> BatchKeys:
        """The keys of a batch's subjects (made for plaintext rows, this month's), loaded before
        the batch is resealed on a worker thread, which cannot wait for them. They travel with
        the batch: the bounded cache may have let them go by then."""
        keys: BatchKeys = {}
        for tenant, user, month in {(r.tenant, r.user, None if plaintext else r.key_month) for r in rows}:
            try:
                if month is None:
                    keys[(tenant, user, None)] = await self.keys.for_write(tenant, user)
                else:
                    keys[(tenant, user, month)] = await self.keys.for_read((tenant, user, month))
            except KeyUnavailableError:
                continue  # shredded meanwhile: its rows are skipped
        return keys

    def _reseal(
        self, table: EncryptedTable, plaintext: bool, keys: BatchKeys, batch: list[StaleRow]
    ) -> list[Resealed]:
        """Decrypt (unless plain) and seal under the current keys, on a worker thread. A row
        whose subject has no keys in ``keys`` (shredded) or was erased meanwhile is skipped."""
        prefix = bytes([ENCRYPTED])
        out: list[Resealed] = []
        for row in batch:
            subject_keys = keys.get((row.tenant, row.user, None if plaintext else row.key_month))
            if subject_keys is None or self.keys.erased(subject_keys.subject):
                continue
            aad = row_aad(table, row.row_id, row.tenant, row.user)
            try:
                if plaintext:
                    plain = row.payload
                elif row.payload[:1] != prefix:
                    continue
                else:
                    plain = subject_keys.row.decrypt(row.payload[1:], aad)
            except TinkError as exc:
                log.warning(
                    "row skipped by re-encryption", table=table, row_id=row.row_id, error=str(exc)[:200]
                )
                continue
            sealed = prefix + subject_keys.row.encrypt(plain, aad)
            out.append((row, sealed, subject_keys.subject[2], subject_keys.row_primary))
        return out

    async def _reencrypt_blobs(
        self, ctx: JobContext, state: dict[str, Any], *, legacy: bool, then: str
    ) -> dict[str, Any]:
        result: dict[str, Any] = dict(state.get("result", {}))
        after = str(state.get("after", ""))
        while page := await self.attachments.objects.stale_keys(after, 100, legacy=legacy):
            for stale in page:
                keys = None
                if not legacy and stale.month is not None:
                    try:
                        keys = await self.keys.for_read((stale.tenant, stale.user, stale.month))
                    except KeyUnavailableError:
                        continue
                record = partial(self._record_object, ctx, stale.attachment_id, result)
                await self.attachments.reencrypt(
                    stale.attachment_id, stale.tenant, stale.user, stale.has_preview, keys, record
                )
            after = page[-1].attachment_id
            state = {"phase": "blobs", "after": after, "result": result}
            await ctx.report(cursor=state)
        state = {"phase": then, "result": result}
        await ctx.report(cursor=state)
        return state

    async def _record_object(
        self, ctx: JobContext, attachment_id: str, result: dict[str, Any], key_ref: str
    ) -> bool:
        """An object's new key reference, committed with its count and a resume point after it;
        False (nothing counted) if the object was deleted meanwhile."""

        def write(cur: Cursor) -> tuple[bool, Progress]:
            stored = set_key_ref_sync(cur, attachment_id, key_ref)
            if stored:
                result["objects_reencrypted"] = result.get("objects_reencrypted", 0) + 1
            return stored, Progress(cursor={"phase": "blobs", "after": attachment_id, "result": result})

        return await ctx.commit(write)


def _replace_page(
    pairs: list[tuple[WrappedDataKey, WrappedDataKey]],
    counted: Callable[[int], Progress],
    cur: Cursor,
) -> tuple[list[int], Progress]:
    """A page of new keysets, each unless someone changed its row meanwhile, and the progress
    that says so (``counted(keys replaced)``) in the same transaction: a resumed job neither
    rotates a key twice nor loses its count. Returns the indexes replaced."""
    replaced = []
    for i, (stored, new) in enumerate(pairs):
        if update_sync(cur, new, expect_generation=stored.generation):
            replaced.append(i)
    return replaced, counted(len(replaced))


def _scope(params: dict[str, Any]) -> tuple[str, list[Any]]:
    where, args = [], []
    if params.get("tenant"):
        where.append("tenant = ?")
        args.append(params["tenant"])
    if params.get("user"):
        where.append("user_id = ?")
        args.append(params["user"])
    return " AND ".join(where), args
