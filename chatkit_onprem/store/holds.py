"""Legal holds' rows: a hold names a tenant, optionally a user or a thread, and a case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chatkit_onprem.store.database import Cursor, Database, Dialect

_COLUMNS = (
    "id, tenant, user_id, thread_id, case_ref, reason, created_at, created_by, released_at, released_by"
)


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    tenant: str
    user: str | None
    thread_id: str | None
    case: str
    reason: str
    created_at: datetime
    created_by: str
    released_at: datetime | None
    released_by: str | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "user": self.user,
            "thread_id": self.thread_id,
            "case": self.case,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "released_by": self.released_by,
        }

    def describe(self) -> str:
        what = (
            f"thread {self.thread_id}"
            if self.thread_id
            else f"user {self.user}"
            if self.user
            else "the tenant"
        )
        return f"hold {self.id} (case {self.case}) on {what} in tenant {self.tenant}"


def _hold(row: tuple[Any, ...]) -> Hold:
    return Hold(*row)


def active_holds_sync(
    cur: Cursor, tenant: str | None, user: str | None = None, thread_ids: list[str] | None = None
) -> list[Hold]:
    """Active holds that cover the scope: a tenant-wide hold covers everything in it; a user hold
    covers the user's threads; a thread hold its thread. ``tenant`` None: every tenant."""
    where = ["released_at IS NULL"]
    args: list[Any] = []
    if tenant is not None:
        where.append("tenant = ?")
        args.append(tenant)
    if user is not None:
        # The user's own holds, tenant-wide holds, and holds on threads the user owns.
        where.append(
            "(user_id = ? OR (user_id IS NULL AND thread_id IS NULL)"
            " OR thread_id IN (SELECT id FROM threads WHERE tenant = holds.tenant AND user_id = ?))"
        )
        args.extend([user, user])
    elif thread_ids is not None:
        where.append(
            "(thread_id = ANY(CAST(? AS VARCHAR[])) OR (user_id IS NULL AND thread_id IS NULL)"
            " OR user_id IN (SELECT user_id FROM threads WHERE id = ANY(CAST(? AS VARCHAR[]))))"
        )
        args.extend([thread_ids, thread_ids])
    rows = cur.execute(f"SELECT {_COLUMNS} FROM holds WHERE {' AND '.join(where)} ORDER BY created_at", args)
    return [_hold(r) for r in rows.fetchall()]


def lock_holds_sync(cur: Cursor, dialect: Dialect) -> None:
    """Serialize placing a hold with deleting what holds protect, across PostgreSQL processes: an
    advisory lock held to the end of the transaction, taken by ``HoldRows.create`` and by every
    transaction that re-checks holds before it deletes or destroys (purges, retention). Without
    it, a hold committed by one process while another's delete was checking could be missed
    (READ COMMITTED has no predicate locks). One DuckDB process has one writer already."""
    if dialect == "postgres":
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('chatkit-onprem legal holds'))")


def held_thread_filter() -> str:
    """A SQL condition on a ``threads`` row ``t``: true when an active hold covers it."""
    return (
        "EXISTS (SELECT 1 FROM holds h WHERE h.released_at IS NULL AND h.tenant = t.tenant"
        " AND (h.thread_id = t.id OR (h.thread_id IS NULL AND (h.user_id IS NULL OR h.user_id = t.user_id))))"
    )


class HoldRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, hold: Hold) -> Hold:
        def write(cur: Cursor) -> Hold:
            lock_holds_sync(cur, self.db.dialect)
            cur.execute(
                f"INSERT INTO holds ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                [
                    hold.id,
                    hold.tenant,
                    hold.user,
                    hold.thread_id,
                    hold.case,
                    hold.reason,
                    hold.created_at,
                    hold.created_by,
                ],
            )
            return hold

        return await self.db.write(write)

    async def list(self, *, include_released: bool = False, tenant: str | None = None) -> list[Hold]:
        def query(cur: Cursor) -> list[Any]:
            where, args = [], []
            if not include_released:
                where.append("released_at IS NULL")
            if tenant is not None:
                where.append("tenant = ?")
                args.append(tenant)
            clause = f" WHERE {' AND '.join(where)}" if where else ""
            return cur.execute(
                f"SELECT {_COLUMNS} FROM holds{clause} ORDER BY created_at, id", args
            ).fetchall()

        return [_hold(r) for r in await self.db.read(query)]

    async def release(self, hold_id: str, by: str) -> Hold | None:
        def write(cur: Cursor) -> Hold | None:
            cur.execute(
                "UPDATE holds SET released_at = coalesce(released_at, ?),"
                " released_by = coalesce(released_by, ?) WHERE id = ?",
                [datetime.now(UTC), by, hold_id],
            )
            row = cur.execute(f"SELECT {_COLUMNS} FROM holds WHERE id = ?", [hold_id]).fetchone()
            return _hold(row) if row else None

        return await self.db.write(write)
