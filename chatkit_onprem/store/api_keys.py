"""API key rows: hashed secrets bound to a tenant, a user id and roles (never the secret itself)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatkit_onprem.store.database import Cursor, Database

_COLUMNS = "id, tenant, user_id, name, roles, created_at, created_by, revoked_at, last_used_at"


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    tenant: str
    user: str
    name: str
    roles: tuple[str, ...]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None

    def public(self) -> dict[str, Any]:
        """What the admin API shows: never the secret or its hash."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "user": self.user,
            "name": self.name,
            "roles": list(self.roles),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


def _record(row: tuple[Any, ...]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row[0],
        tenant=row[1],
        user=row[2],
        name=row[3],
        roles=tuple(row[4]),
        created_at=row[5],
        created_by=row[6],
        revoked_at=row[7],
        last_used_at=row[8],
    )


class ApiKeyRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, record: ApiKeyRecord, secret_sha256: bytes) -> None:
        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO api_keys (id, tenant, user_id, name, secret_sha256, roles, created_at,"
                " created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record.id,
                    record.tenant,
                    record.user,
                    record.name,
                    secret_sha256,
                    list(record.roles),
                    record.created_at,
                    record.created_by,
                ],
            )

        await self.db.write(write)

    async def list(self, tenant: str | None = None, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        def query(cur: Cursor) -> list[tuple[Any, ...]]:
            where, args = [], []
            if tenant is not None:
                where.append("tenant = ?")
                args.append(tenant)
            if not include_revoked:
                where.append("revoked_at IS NULL")
            clause = f" WHERE {' AND '.join(where)}" if where else ""
            return cur.execute(
                f"SELECT {_COLUMNS} FROM api_keys{clause} ORDER BY created_at, id", args
            ).fetchall()

        return [_record(row) for row in await self.db.read(query)]

    async def revoke(self, key_id: str) -> ApiKeyRecord | None:
        """Revoke now (idempotent); None if no such key."""

        def write(cur: Cursor) -> tuple[Any, ...] | None:
            cur.execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = ?", [key_id])
            row: tuple[Any, ...] | None = cur.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", [key_id]
            ).fetchone()
            return row

        row = await self.db.write(write)
        return _record(row) if row else None

    async def load(self, key_id: str) -> tuple[ApiKeyRecord, bytes] | None:
        """The record and its secret's SHA-256, for verification."""

        def query(cur: Cursor) -> tuple[Any, ...] | None:
            row: tuple[Any, ...] | None = cur.execute(
                f"SELECT {_COLUMNS}, secret_sha256 FROM api_keys WHERE id = ?", [key_id]
            ).fetchone()
            return row

        row = await self.db.read(query)
        return (_record(row[:-1]), bytes(row[-1])) if row else None

    async def touch(self, key_id: str) -> None:
        await self.db.write(
            lambda cur: cur.execute("UPDATE api_keys SET last_used_at = now() WHERE id = ?", [key_id])
        )
