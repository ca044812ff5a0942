"""The erasure ledger's rows: who was erased and when (ids and dates only, never content)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatkit_onprem.store.database import Cursor, Database


@dataclass(frozen=True, slots=True)
class Erasure:
    id: str
    scope: str  # "user" | "tenant" | "before"
    tenant: str  # "*" for every tenant (scope "before" only)
    user: str | None
    before_month: str | None
    erased_at: datetime
    actor: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope,
            "tenant": self.tenant,
            "user": self.user,
            "before_month": self.before_month,
            "erased_at": self.erased_at.isoformat(),
            "actor": self.actor,
        }


class LedgerRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all_sync(self) -> list[Erasure]:
        def query(cur: Cursor) -> list[Any]:
            return cur.execute(
                "SELECT id, scope, tenant, user_id, before_month, erased_at, actor FROM erasure_ledger"
                " ORDER BY erased_at, id"
            ).fetchall()

        return [Erasure(*row) for row in self.db.write_sync(query)]

    def insert_sync(self, cur: Cursor, entry: Erasure) -> bool:
        """Insert ``entry`` unless the table holds it; whether this call inserted it."""
        row = cur.execute(
            "INSERT INTO erasure_ledger (id, scope, tenant, user_id, before_month, erased_at, actor)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING 1",
            [
                entry.id,
                entry.scope,
                entry.tenant,
                entry.user,
                entry.before_month,
                entry.erased_at,
                entry.actor,
            ],
        ).fetchone()
        return row is not None
