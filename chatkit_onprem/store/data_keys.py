"""Wrapped data keys: one row per (tenant, user, calendar month).

A row holds two Tink keysets encrypted under a KEK version (rows' AEAD keyset and
blobs' streaming keyset), the ids of their primary keys, and a state:
``active`` or ``destroyed`` (keysets gone: crypto-shredded). Nothing here is
plaintext key material.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatkit_onprem.store.database import Cursor, Database

_COLUMNS = (
    "tenant, user_id, month, kek_version, row_keyset, blob_keyset, row_primary, blob_primary,"
    " generation, state, created_at, rotated_at, destroyed_at"
)


@dataclass(frozen=True, slots=True)
class WrappedDataKey:
    tenant: str
    user: str
    month: str
    kek_version: str
    row_keyset: str | None
    blob_keyset: str | None
    row_primary: int | None
    blob_primary: int | None
    generation: int
    state: str
    created_at: datetime
    rotated_at: datetime | None = None
    destroyed_at: datetime | None = None

    @property
    def subject(self) -> tuple[str, str, str]:
        return (self.tenant, self.user, self.month)


def _record(row: tuple[Any, ...]) -> WrappedDataKey:
    return WrappedDataKey(
        tenant=row[0],
        user=row[1],
        month=row[2],
        kek_version=row[3],
        row_keyset=row[4],
        blob_keyset=row[5],
        row_primary=row[6],
        blob_primary=row[7],
        generation=int(row[8]),
        state=row[9],
        created_at=row[10],
        rotated_at=row[11],
        destroyed_at=row[12],
    )


def get_sync(cur: Cursor, tenant: str, user: str, month: str) -> WrappedDataKey | None:
    """For reader and writer threads that already hold a cursor."""
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM data_keys WHERE tenant = ? AND user_id = ? AND month = ?",
        [tenant, user, month],
    ).fetchone()
    return _record(row) if row else None


class DataKeyRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, tenant: str, user: str, month: str) -> WrappedDataKey | None:
        return await self.db.read(lambda cur: get_sync(cur, tenant, user, month))

    async def insert_if_absent(self, key: WrappedDataKey) -> WrappedDataKey:
        """Insert, unless another writer got there first; return the row that is stored."""

        def write(cur: Cursor) -> WrappedDataKey:
            # ON CONFLICT DO NOTHING: another process may insert the same subject-month at once.
            cur.execute(
                f"INSERT INTO data_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (tenant, user_id, month) DO NOTHING",
                [
                    key.tenant,
                    key.user,
                    key.month,
                    key.kek_version,
                    key.row_keyset,
                    key.blob_keyset,
                    key.row_primary,
                    key.blob_primary,
                    key.generation,
                    key.state,
                    key.created_at,
                    None,
                    None,
                ],
            )
            stored = get_sync(cur, key.tenant, key.user, key.month)
            assert stored is not None
            return stored

        return await self.db.write(write)

    async def replace(self, key: WrappedDataKey, *, expect_generation: int) -> bool:
        """Store new keysets (rotation, re-wrap) unless someone else changed the row meanwhile."""

        def write(cur: Cursor) -> bool:
            return update_sync(cur, key, expect_generation=expect_generation)

        return await self.db.write(write)

    async def page(
        self,
        after: tuple[str, str, str] | None,
        limit: int,
        *,
        where: str = "",
        args: list[Any] | None = None,
    ) -> list[WrappedDataKey]:
        """Active keys in subject order after ``after`` (for batch jobs); ``where`` is a fixed fragment."""

        def query(cur: Cursor) -> list[Any]:
            clauses, values = ["state = 'active'"], list(args or [])
            if where:
                clauses.append(where)
            if after is not None:
                clauses.append("(tenant, user_id, month) > (?, ?, ?)")
                values.extend(after)
            return cur.execute(
                f"SELECT {_COLUMNS} FROM data_keys WHERE {' AND '.join(clauses)}"
                " ORDER BY tenant, user_id, month LIMIT ?",
                [*values, limit],
            ).fetchall()

        return [_record(r) for r in await self.db.read(query)]

    async def count(self, *, where: str = "", args: list[Any] | None = None) -> int:
        def query(cur: Cursor) -> int:
            clause = f" AND {where}" if where else ""
            row = cur.execute(
                f"SELECT count(*) FROM data_keys WHERE state = 'active'{clause}", args or []
            ).fetchone()
            return int(row[0]) if row else 0

        return await self.db.read(query)

    async def summary(self) -> list[tuple[str, str, int]]:
        """(state, KEK version, count) for ``keys status``."""

        def query(cur: Cursor) -> list[Any]:
            return cur.execute(
                "SELECT state, kek_version, count(*) FROM data_keys GROUP BY state, kek_version"
                " ORDER BY state, kek_version"
            ).fetchall()

        return [(str(s), str(v), int(n)) for s, v, n in await self.db.read(query)]


def update_sync(cur: Cursor, key: WrappedDataKey, *, expect_generation: int) -> bool:
    row = cur.execute(
        "UPDATE data_keys SET kek_version = ?, row_keyset = ?, blob_keyset = ?, row_primary = ?,"
        " blob_primary = ?, generation = ?, state = ?, rotated_at = ?, destroyed_at = ?"
        " WHERE tenant = ? AND user_id = ? AND month = ? AND generation = ? RETURNING 1",
        [
            key.kek_version,
            key.row_keyset,
            key.blob_keyset,
            key.row_primary,
            key.blob_primary,
            key.generation,
            key.state,
            key.rotated_at,
            key.destroyed_at,
            key.tenant,
            key.user,
            key.month,
            expect_generation,
        ],
    ).fetchone()
    return row is not None


def destroy_sync(cur: Cursor, where: str, args: list[Any]) -> list[tuple[str, str, str]]:
    """Crypto-shred: drop the keysets of the matching subjects; return which were destroyed."""
    rows = cur.execute(
        "UPDATE data_keys SET row_keyset = NULL, blob_keyset = NULL, state = 'destroyed',"
        f" destroyed_at = now(), generation = generation + 1 WHERE state = 'active' AND {where}"
        " RETURNING tenant, user_id, month",
        args,
    ).fetchall()
    return [(str(t), str(u), str(m)) for t, u, m in rows]


def count_active_sync(cur: Cursor, where: str, args: list[Any]) -> int:
    row = cur.execute(f"SELECT count(*) FROM data_keys WHERE state = 'active' AND {where}", args).fetchone()
    return int(row[0]) if row else 0
