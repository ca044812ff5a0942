"""``chatkit.store.Store`` on DuckDB, scoped to the caller on every query.

Protocol details this implementation owes the library (ARCHITECTURE §4):

* thread, item and attachment saves are upserts (the library re-adds ids);
* pages are keyset-paginated on ``(created_at, seq)``; ``seq`` is a monotonic
  sequence that breaks ties between equal timestamps; ``after`` is the id of
  the last item returned and ``desc`` means newest first;
* the library stamps naive local ``datetime.now()``; rows are stored in UTC;
* an id that exists but belongs to someone else is reported exactly like an id
  that does not exist (``NotFoundError``), so ids cannot be probed.

Cost facts (DuckDB, measured in ``scripts/bench_store.py`` and the stream
benchmark): every statement pays ~0.1 ms of planning, a primary-key lookup
~0.3 ms, a plain single-row INSERT ~0.9 ms and a single-row ``INSERT ... ON
CONFLICT`` ~2 ms of CPU. So a turn's writes avoid lookups whose answer this
process already knows (``ThreadOwners``) and insert new items without the
conflict clause (a duplicate id fails the batch, which is replayed with upserts).

The store keeps no per-request state. What a streamed turn hands from one step to
the next rides on ``context.turn`` (``chat.turn``), which the library passes to every
store call: the thread the precheck read (``load_thread`` takes it instead of reading
again), a new thread's first save (written in the same transaction as the thread's
first item or attachment, so a create refused before then writes nothing), and the
title the turn chose itself (a title the user stored meanwhile wins).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import (
    Attachment,
    FeedbackKind,
    Page,
    Thread,
    ThreadItem,
    ThreadMetadata,
)
from pydantic import BaseModel, TypeAdapter

from chatkit_onprem.context import RequestContext
from chatkit_onprem.ids import new_id
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.codec import PayloadCodec, PlainCodec, Sealer, ShreddedError
from chatkit_onprem.store.database import Cursor, Database, insert_rows

if TYPE_CHECKING:
    from chatkit_onprem.chat.turn import Turn

log = get_logger(__name__)
_ITEM = TypeAdapter[ThreadItem](ThreadItem)
_ITEMS = "items (thread_id, id, tenant, user_id, type, created_at, seq, payload, key_month, key_id)"
_ITEM_UPSERT = (
    " ON CONFLICT (thread_id, id) DO UPDATE SET type = excluded.type, payload = excluded.payload,"
    " key_month = excluded.key_month, key_id = excluded.key_id"
)
_ATTACHMENT = TypeAdapter[Attachment](Attachment)
_THREADS = "threads (id, tenant, user_id, created_at, updated_at, seq, status, payload, key_month, key_id)"
Order = Literal["asc", "desc"]
#: Outside-a-turn thread saves remembered (a turn longer than this many renames elsewhere
#: could miss one, and its automatic title would win).
_OUTSIDE_SAVES_KEPT = 10_000


def to_utc(value: datetime) -> datetime:
    """Naive datetimes are the library's local ``now()``; make them aware UTC."""
    return value.astimezone(UTC)


class ReadHook(Protocol):
    """Applied to every attachment and item a reader gets (e.g. re-signing preview links)."""

    def attachment(self, attachment: Attachment, context: RequestContext) -> Attachment: ...

    def item(self, item: ThreadItem, context: RequestContext) -> ThreadItem: ...


class _NoHook:
    def attachment(self, attachment: Attachment, context: RequestContext) -> Attachment:
        return attachment

    def item(self, item: ThreadItem, context: RequestContext) -> ThreadItem:
        return item


class DuckDBStore(Store[RequestContext]):
    def __init__(
        self,
        db: Database,
        *,
        codec: PayloadCodec | None = None,
        max_page_size: int = 100,
        read_hook: ReadHook | None = None,
    ) -> None:
        self.db = db
        self.codec = codec or PlainCodec()
        self.hook: ReadHook = read_hook or _NoHook()
        self.max_page_size = max_page_size
        self.owners = ThreadOwners()
        #: Thread id → when it was last saved outside a turn (``threads.update``), newest last.
        self._outside_saves: dict[str, float] = {}

    # --- ids ------------------------------------------------------------
    def generate_thread_id(self, context: RequestContext) -> str:
        thread_id = new_id("thread")
        self.owners.fresh(thread_id)
        return thread_id

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        return new_id(item_type)

    def generate_attachment_id(self, context: RequestContext) -> str:
        return new_id("attachment")

    def clamp(self, limit: int | None) -> int:
        return max(1, min(limit or 20, self.max_page_size))

    # --- payloads -------------------------------------------------------
    # Sealing runs on the event loop (one AES-GCM call); opening runs on the reader or
    # writer thread that fetched the row, where a data-key cache miss can use the cursor.
    @staticmethod
    def _seal(sealer: Sealer, table: str, row_id: str, model: BaseModel) -> bytes:
        return sealer.seal(table, row_id, model.model_dump_json().encode())

    def _thread_from(self, cur: Cursor, row: Any) -> ThreadMetadata:
        """``row``: (id, payload, tenant, user_id, key_month)."""
        return ThreadMetadata.model_validate_json(
            self.codec.open(cur, "threads", row[0], row[2], row[3], row[4], bytes(row[1]))
        )

    def _item_from(self, cur: Cursor, thread_id: str, row: Any) -> ThreadItem:
        """``row``: (id, payload, tenant, user_id, key_month)."""
        return _ITEM.validate_json(
            self.codec.open(cur, "items", f"{thread_id}/{row[0]}", row[2], row[3], row[4], bytes(row[1]))
        )

    def _attachment_from(self, cur: Cursor, row: Any) -> Attachment:
        """``row``: (id, payload, tenant, user_id, key_month)."""
        return _ATTACHMENT.validate_json(
            self.codec.open(cur, "attachments", row[0], row[2], row[3], row[4], bytes(row[1]))
        )

    def _items_from(self, cur: Cursor, thread_id: str, rows: list[Any]) -> list[ThreadItem]:
        """Items of a page; rows whose key was destroyed read as deleted (skipped)."""
        items = []
        for row in rows:
            try:
                items.append(self._item_from(cur, thread_id, row))
            except ShreddedError:
                continue
        return items

    def _read_thread(self, cur: Cursor, thread_id: str, context: RequestContext) -> ThreadMetadata:
        try:
            return self._thread_from(cur, _select_thread(cur, thread_id, context))
        except ShreddedError:
            raise NotFoundError(f"thread {thread_id} not found") from None

    # --- threads --------------------------------------------------------
    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        turn: Turn | None = context.turn
        if turn is not None and (read := turn.take_thread(thread_id)) is not None:
            return read  # the precheck read it for this turn: one read instead of two
        return await self.read_thread(thread_id, context)

    async def read_thread_and_history(
        self, thread_id: str, limit: int, context: RequestContext
    ) -> tuple[ThreadMetadata, list[ThreadItem]]:
        """The thread and its ``limit`` newest items (newest first), in one reader round trip."""
        limit = self.clamp(limit)

        def query(cur: Cursor) -> tuple[ThreadMetadata, list[ThreadItem]]:
            thread = self._read_thread(cur, thread_id, context)
            rows = _page_rows(cur, thread_id, None, limit, "DESC", context)
            return thread, self._items_from(cur, thread_id, rows[:limit])

        return await self.db.read(query)

    async def read_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        return await self.db.read(lambda cur: self._read_thread(cur, thread_id, context))

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        fields = thread.model_dump(exclude={"items"}) if isinstance(thread, Thread) else None
        meta = ThreadMetadata.model_validate(fields) if fields is not None else thread.model_copy()
        meta.created_at = to_utc(meta.created_at)
        sealer = await self.codec.sealer(context.tenant, context.user)
        payload = self._seal(sealer, "threads", meta.id, meta)
        first = _FirstSave(meta.id, meta.created_at, meta.status.type, payload, sealer.month, sealer.key_id)
        turn: Turn | None = context.turn
        if turn is not None and self.owners.is_fresh(meta.id):
            # ``threads.create``: the row is written with the thread's first item (or an
            # attachment bound to it), in one transaction; a create refused before that
            # writes nothing. Other requests cannot see the id before it is written.
            turn.first_save = first
            return
        # Within a turn, a title the turn did not choose (none, or its automatic one) must
        # not replace a title the user stored meanwhile (``threads.update`` during the turn).
        # Only a save made outside a turn since this turn began can have stored one; noted
        # before that save is queued, so a turn save queued after it always sees it.
        # With several processes (PostgreSQL) the outside save may have happened in another one,
        # which this process cannot see: there the stored title is always checked.
        outside_saved = self.db.dialect == "postgres" or self._outside_saves.get(meta.id, -1.0) >= (
            turn.started if turn is not None else 0.0
        )
        keep_stored_title = (
            turn is not None and (meta.title is None or meta.title == turn.auto_title) and outside_saved
        )
        if turn is None:
            self._outside_saves[meta.id] = time.monotonic()
            if len(self._outside_saves) > _OUTSIDE_SAVES_KEPT:
                del self._outside_saves[next(iter(self._outside_saves))]
        now = datetime.now(UTC)

        def write(cur: Cursor) -> None:
            # A thread id this process generated cannot exist yet; one it has seen has a
            # known owner. Only other ids need the lookup (primary-key index, ~0.3 ms).
            known = self.owners.get(meta.id)
            if known is None and not self.owners.is_fresh(meta.id):
                known = cur.execute("SELECT tenant, user_id FROM threads WHERE id = ?", [meta.id]).fetchone()
            if known is None:
                _insert_thread(cur, first, context, self.db.next_seq(cur))
            elif tuple(known) == (context.tenant, context.user):
                final = self._titled(cur, meta, payload, sealer, context) if keep_stored_title else payload
                cur.execute(
                    "UPDATE threads SET updated_at = ?, status = ?, payload = ?, key_month = ?, key_id = ?"
                    " WHERE id = ?",
                    [now, meta.status.type, final, sealer.month, sealer.key_id, meta.id],
                )
            else:
                raise NotFoundError(f"thread {meta.id} not found")
            self.owners.learn(meta.id, context.tenant, context.user)

        await self.db.write(write)

    def _titled(
        self, cur: Cursor, meta: ThreadMetadata, payload: bytes, sealer: Sealer, context: RequestContext
    ) -> bytes:
        """Writer thread: ``payload``, with the stored title if the user stored one."""
        try:
            stored = self._read_thread(cur, meta.id, context).title
        except NotFoundError:
            stored = None
        if stored is None or stored == meta.title:
            return payload
        return self._seal(sealer, "threads", meta.id, meta.model_copy(update={"title": stored}))

    def _first_save(self, thread_id: str | None, context: RequestContext) -> _FirstSave | None:
        turn: Turn | None = context.turn
        found = turn.first_save if turn is not None else None
        return found if found is not None and found.thread_id == thread_id else None

    def _saved_first(self, first: _FirstSave | None, context: RequestContext) -> None:
        """The deferred first save went in with its write: the turn no longer carries it."""
        turn: Turn | None = context.turn
        if first is not None and turn is not None and turn.first_save is first:
            turn.first_save = None

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        limit = self.clamp(limit)
        direction = _direction(order)

        def query(cur: Cursor) -> tuple[list[ThreadMetadata], bool]:
            where = "tenant = ? AND user_id = ?"
            args: list[Any] = [context.tenant, context.user]
            if after:
                key = cur.execute(
                    f"SELECT created_at, seq FROM threads WHERE id = ? AND {where}",
                    [after, *args],
                ).fetchone()
                if key is None:
                    raise NotFoundError(f"thread {after} not found")
                where, args = _after(where, args, key, direction)
            rows = cur.execute(
                f"SELECT id, payload, tenant, user_id, key_month FROM threads WHERE {where}"
                f" ORDER BY created_at {direction}, seq {direction} LIMIT ?",
                [*args, limit + 1],
            ).fetchall()
            threads = []
            for row in rows[:limit]:
                try:
                    threads.append(self._thread_from(cur, row))
                except ShreddedError:
                    continue  # its key was destroyed: it reads as deleted
            return threads, len(rows) > limit

        threads, has_more = await self.db.read(query)
        return _page(threads, has_more=has_more)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        await self.delete_thread_returning_attachments(thread_id, context)

    async def delete_thread_returning_attachments(self, thread_id: str, context: RequestContext) -> list[str]:
        """Delete the thread with its items, feedback and attachment records, in one transaction;
        return the ids of the attachments whose bytes are to be removed next."""

        def write(cur: Cursor) -> list[str]:
            _require_thread(cur, thread_id, context)
            attachments = cur.execute(
                "SELECT id FROM attachments WHERE thread_id = ? AND tenant = ? AND user_id = ?",
                [thread_id, context.tenant, context.user],
            ).fetchall()
            for table in ("items", "feedback", "attachments"):
                cur.execute(f"DELETE FROM {table} WHERE thread_id = ?", [thread_id])
            cur.execute("DELETE FROM threads WHERE id = ?", [thread_id])
            self.owners.forget(thread_id)
            return [str(row[0]) for row in attachments]

        return await self.db.write(write)

    # --- items ----------------------------------------------------------
    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        limit = self.clamp(limit)
        direction = _direction(order)

        def query(cur: Cursor) -> tuple[list[ThreadItem], bool]:
            rows = _page_rows(cur, thread_id, after, limit, direction, context)
            return self._items_from(cur, thread_id, rows[:limit]), len(rows) > limit

        items, has_more = await self.db.read(query)
        return _page([self.hook.item(item, context) for item in items], has_more=has_more)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        """Usually a new item: inserted without the conflict clause (a re-added id is upserted)."""
        await self._write_items(thread_id, [item], context, new=True)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self.save_items(thread_id, [item], context)

    async def save_items(self, thread_id: str, items: Iterable[ThreadItem], context: RequestContext) -> None:
        """Upsert items (all or none); concurrent callers' upserts share one statement."""
        await self._write_items(thread_id, items, context, new=False)

    async def _write_items(
        self, thread_id: str, items: Iterable[ThreadItem], context: RequestContext, *, new: bool
    ) -> None:
        sealer = await self.codec.sealer(context.tenant, context.user)
        rows: list[_ItemRow] = []
        for item in items:
            item = item.model_copy(update={"created_at": to_utc(item.created_at)})
            payload = self._seal(sealer, "items", f"{thread_id}/{item.id}", item)
            rows.append((item.id, item.type, item.created_at, payload, sealer.month, sealer.key_id))
        first = self._first_save(thread_id, context)
        await self.db.write_grouped(self._item_runs, _ItemWrite(thread_id, context, rows, new, first))
        self._saved_first(first, context)

    def _item_runs(self, cur: Cursor, requests: list[_ItemWrite], alone: bool) -> list[Any]:
        """Writer thread: check owners, then one multi-row INSERT for new items and one
        upsert for the rest. In a batch, a "new" item whose id exists fails the statement
        and so the batch; replayed ``alone``, it is upserted. A new thread's deferred first
        save goes in first, in the same transaction."""
        new_threads: list[list[Any]] = []
        for request in requests:
            first = request.first
            if first is None:
                continue
            # Replayed alone after a failed batch, what that batch learned was rolled back.
            exists = self.owners.get(first.thread_id) is not None and not alone
            if alone:
                exists = (
                    cur.execute("SELECT 1 FROM threads WHERE id = ?", [first.thread_id]).fetchone()
                    is not None
                )
            if not exists:
                new_threads.append(_thread_row(first, request.context, self.db.next_seq(cur)))
                self.owners.learn(first.thread_id, request.context.tenant, request.context.user)
        insert_rows(cur, _THREADS, new_threads)  # one statement for the batch's new threads
        unknown = sorted({r.thread_id for r in requests if self.owners.get(r.thread_id) is None})
        if unknown:
            for thread_id, tenant, user in cur.execute(
                "SELECT id, tenant, user_id FROM threads WHERE id = ANY(CAST(? AS VARCHAR[]))",
                [unknown],
            ).fetchall():
                self.owners.learn(thread_id, tenant, user)
        outcomes: list[Any] = []
        inserts: dict[tuple[str, str], list[Any]] = {}
        upserts: dict[tuple[str, str], list[Any]] = {}  # last write of an id wins
        for request in requests:
            ctx = request.context
            if self.owners.get(request.thread_id) != (ctx.tenant, ctx.user):
                outcomes.append(NotFoundError(f"thread {request.thread_id} not found"))
                continue
            target = inserts if request.new and not alone else upserts
            for item_id, item_type, created_at, payload, month, key_id in request.rows:
                key = (request.thread_id, item_id)
                row = inserts.pop(key, None) or upserts.get(key)
                if row is not None:
                    row[4], row[7], row[8], row[9] = item_type, payload, month, key_id
                    upserts[key] = row
                    continue
                target[key] = [
                    request.thread_id,
                    item_id,
                    ctx.tenant,
                    ctx.user,
                    item_type,
                    created_at,
                    self.db.next_seq(cur),
                    payload,
                    month,
                    key_id,
                ]
            outcomes.append(None)
        insert_rows(cur, _ITEMS, list(inserts.values()))
        insert_rows(
            cur,
            _ITEMS,
            list(upserts.values()),
            suffix=_ITEM_UPSERT,
        )
        return outcomes

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        def query(cur: Cursor) -> ThreadItem:
            row = cur.execute(
                "SELECT id, payload, tenant, user_id, key_month FROM items"
                " WHERE thread_id = ? AND id = ? AND tenant = ? AND user_id = ?",
                [thread_id, item_id, context.tenant, context.user],
            ).fetchone()
            try:
                if row is not None:
                    return self._item_from(cur, thread_id, row)
            except ShreddedError:
                pass
            raise NotFoundError(f"item {item_id} not found")

        return self.hook.item(await self.db.read(query), context)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        def write(cur: Cursor) -> None:
            _require_thread(cur, thread_id, context)
            cur.execute("DELETE FROM items WHERE thread_id = ? AND id = ?", [thread_id, item_id])
            cur.execute("DELETE FROM feedback WHERE thread_id = ? AND item_id = ?", [thread_id, item_id])

        await self.db.write(write)

    # --- attachments ----------------------------------------------------
    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        sealer = await self.codec.sealer(context.tenant, context.user)
        payload = self._seal(sealer, "attachments", attachment.id, attachment)
        first = self._first_save(attachment.thread_id, context)

        def write(cur: Cursor) -> None:
            owner = cur.execute(
                "SELECT tenant, user_id FROM attachments WHERE id = ?", [attachment.id]
            ).fetchone()
            if owner is not None and owner != (context.tenant, context.user):
                raise NotFoundError(f"attachment {attachment.id} not found")
            if (
                first is not None
                and not cur.execute("SELECT 1 FROM threads WHERE id = ?", [first.thread_id]).fetchone()
            ):
                _insert_thread(cur, first, context, self.db.next_seq(cur))
                self.owners.learn(first.thread_id, context.tenant, context.user)
            if attachment.thread_id is not None:
                _require_thread(cur, attachment.thread_id, context)
            cur.execute(
                "INSERT INTO attachments (id, tenant, user_id, thread_id, created_at, payload, key_month,"
                " key_id) VALUES (?, ?, ?, ?, now(), ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET thread_id = excluded.thread_id,"
                " payload = excluded.payload, key_month = excluded.key_month, key_id = excluded.key_id",
                [
                    attachment.id,
                    context.tenant,
                    context.user,
                    attachment.thread_id,
                    payload,
                    sealer.month,
                    sealer.key_id,
                ],
            )

        await self.db.write(write)
        self._saved_first(first, context)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        def query(cur: Cursor) -> Attachment:
            row = cur.execute(
                "SELECT id, payload, tenant, user_id, key_month FROM attachments"
                " WHERE id = ? AND tenant = ? AND user_id = ?",
                [attachment_id, context.tenant, context.user],
            ).fetchone()
            try:
                if row is not None:
                    return self._attachment_from(cur, row)
            except ShreddedError:
                pass
            raise NotFoundError(f"attachment {attachment_id} not found")

        return self.hook.attachment(await self.db.read(query), context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        def write(cur: Cursor) -> None:
            cur.execute(
                "DELETE FROM attachments WHERE id = ? AND tenant = ? AND user_id = ?",
                [attachment_id, context.tenant, context.user],
            )

        await self.db.write(write)

    # --- feedback -------------------------------------------------------
    async def save_feedback(
        self, thread_id: str, item_ids: list[str], kind: FeedbackKind, context: RequestContext
    ) -> None:
        """Record (or change) the caller's feedback; every item must be theirs."""

        def write(cur: Cursor) -> None:
            _require_thread(cur, thread_id, context)
            for item_id in item_ids:
                found = cur.execute(
                    "SELECT 1 FROM items WHERE thread_id = ? AND id = ?", [thread_id, item_id]
                ).fetchone()
                if found is None:
                    raise NotFoundError(f"item {item_id} not found")
                cur.execute(
                    "INSERT INTO feedback (thread_id, item_id, tenant, user_id, kind, created_at)"
                    " VALUES (?, ?, ?, ?, ?, now())"
                    " ON CONFLICT (thread_id, item_id, user_id) DO UPDATE SET kind = excluded.kind,"
                    " created_at = excluded.created_at",
                    [thread_id, item_id, context.tenant, context.user, kind],
                )

        await self.db.write(write)

    async def load_feedback(self, thread_id: str, context: RequestContext) -> dict[str, str]:
        def query(cur: Cursor) -> list[Any]:
            _require_thread(cur, thread_id, context)
            return cur.execute(
                "SELECT item_id, kind FROM feedback WHERE thread_id = ? AND user_id = ?",
                [thread_id, context.user],
            ).fetchall()

        return {r[0]: r[1] for r in await self.db.read(query)}

    # --- health ---------------------------------------------------------
    async def check_writable(self) -> None:
        """A real write through the writer thread: proves the file and the writer work."""

        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO health VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET checked_at = now()"
            )

        await self.db.write(write)


@dataclass(frozen=True, slots=True)
class _FirstSave:
    """A new thread's row, deferred until its first item or attachment is written."""

    thread_id: str
    created_at: datetime
    status: str
    payload: bytes
    key_month: str | None
    key_id: int | None


_ItemRow = tuple[str, str, datetime, bytes, str | None, int | None]
"""(item id, type, created at, payload, key month, key id)."""


@dataclass(frozen=True, slots=True)
class _ItemWrite:
    thread_id: str
    context: RequestContext
    rows: list[_ItemRow]
    new: bool
    first: _FirstSave | None = None


def _thread_row(first: _FirstSave, context: RequestContext, seq: int) -> list[Any]:
    return [
        first.thread_id,
        context.tenant,
        context.user,
        first.created_at,
        datetime.now(UTC),
        seq,
        first.status,
        first.payload,
        first.key_month,
        first.key_id,
    ]


def _insert_thread(cur: Cursor, first: _FirstSave, context: RequestContext, seq: int) -> None:
    insert_rows(cur, _THREADS, [_thread_row(first, context, seq)])


class ThreadOwners:
    """What this process knows about thread owners, so writes skip the lookup.

    Sound because this process is the only writer of the file (``Database``), a
    thread's owner never changes, and every method but ``fresh`` runs on the
    writer thread, in order with the writes themselves: a thread deleted in one
    transaction is forgotten before any later write can ask. Bounded (oldest
    entries dropped); a miss costs one primary-key lookup.
    """

    __slots__ = ("_fresh", "_lock", "_owners", "limit")

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._owners: dict[str, tuple[str, str]] = {}
        self._fresh: dict[str, None] = {}  # generated here, not saved yet (oldest first)
        self._lock = threading.Lock()

    def fresh(self, thread_id: str) -> None:
        with self._lock:
            if len(self._fresh) >= self.limit:
                self._fresh.pop(next(iter(self._fresh)))
            self._fresh[thread_id] = None

    def is_fresh(self, thread_id: str) -> bool:
        return thread_id in self._fresh

    def get(self, thread_id: str) -> tuple[str, str] | None:
        return self._owners.get(thread_id)

    def learn(self, thread_id: str, tenant: str, user: str) -> None:
        with self._lock:
            self._fresh.pop(thread_id, None)
            if thread_id not in self._owners and len(self._owners) >= self.limit:
                self._owners.pop(next(iter(self._owners)))
            self._owners[thread_id] = (tenant, user)

    def forget(self, thread_id: str) -> None:
        with self._lock:
            self._owners.pop(thread_id, None)
            self._fresh.pop(thread_id, None)


def _page_rows(
    cur: Cursor, thread_id: str, after: str | None, limit: int, direction: str, context: RequestContext
) -> list[Any]:
    """Rows (id, payload, tenant, user_id, key_month) of one items page, plus one to tell ``has_more``.

    Items carry their owner (written only after the thread's ownership was checked), so a
    non-empty page whose rows are the caller's proves ownership; the thread lookup is
    needed only to tell "no such thread" from "no items". The owner is compared on the
    rows, not in the WHERE clause: filtered on thread_id alone DuckDB answers from the
    items_thread index (0.8 ms); with the owner columns too it scans the table (1.5 ms at
    10,000 items).
    """
    where, args = "thread_id = ?", [thread_id]
    if after:
        key = cur.execute(
            "SELECT created_at, seq FROM items WHERE id = ? AND thread_id = ? AND tenant = ? AND user_id = ?",
            [after, thread_id, context.tenant, context.user],
        ).fetchone()
        if key is None:
            _require_thread(cur, thread_id, context)
            raise NotFoundError(f"item {after} not found")
        where, args = _after(where, args, key, direction)
    rows: list[Any] = cur.execute(
        f"SELECT id, payload, tenant, user_id, key_month FROM items WHERE {where}"
        f" ORDER BY created_at {direction}, seq {direction} LIMIT ?",
        [*args, limit + 1],
    ).fetchall()
    if any((row[2], row[3]) != (context.tenant, context.user) for row in rows):
        raise NotFoundError(f"thread {thread_id} not found")
    if not rows and not after:
        _require_thread(cur, thread_id, context)
    return rows


def _select_thread(cur: Cursor, thread_id: str, context: RequestContext) -> Any:
    """(id, payload, tenant, user_id, key_month) of the caller's thread; NotFoundError otherwise."""
    row = cur.execute(
        "SELECT id, payload, tenant, user_id, key_month FROM threads"
        " WHERE id = ? AND tenant = ? AND user_id = ?",
        [thread_id, context.tenant, context.user],
    ).fetchone()
    if row is None:
        raise NotFoundError(f"thread {thread_id} not found")
    return row


def _require_thread(cur: Cursor, thread_id: str, context: RequestContext) -> None:
    """NotFoundError unless the caller owns the thread (a foreign one looks missing)."""
    if (
        cur.execute(
            "SELECT 1 FROM threads WHERE id = ? AND tenant = ? AND user_id = ?",
            [thread_id, context.tenant, context.user],
        ).fetchone()
        is None
    ):
        raise NotFoundError(f"thread {thread_id} not found")


def _direction(order: str) -> Literal["ASC", "DESC"]:
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
    return "ASC" if order == "asc" else "DESC"


def _after(where: str, args: list[Any], key: tuple[Any, ...], direction: str) -> tuple[str, list[Any]]:
    cmp = ">" if direction == "ASC" else "<"
    created_at, seq = key
    return (
        f"{where} AND (created_at {cmp} ? OR (created_at = ? AND seq {cmp} ?))",
        [*args, created_at, created_at, seq],
    )


def _page(data: list[Any], *, has_more: bool) -> Page[Any]:
    return Page(data=data, has_more=has_more, after=data[-1].id if data else None)
