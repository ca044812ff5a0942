"""API keys for service callers: ``cko_<id>_<secret>``, bound to a tenant, a user id and roles.

Only the SHA-256 of the 256-bit random secret is stored (a slow password hash buys
nothing against a secret with that much entropy); comparison is constant-time.
Verified keys are cached in memory (revocation goes through this process, which
drops the cache entry), and "last used" is written at most once per interval per
key, in the background, so authenticating never waits for a DuckDB write.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chatkit_onprem.auth.errors import Unauthenticated
from chatkit_onprem.auth.roles import KNOWN, USER
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.database import Cursor, Database

log = get_logger(__name__)
PREFIX = "cko_"
_TOKEN = re.compile(r"^cko_([a-z0-9]{20})_([A-Za-z0-9_-]{43})$")
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


@dataclass(frozen=True, slots=True)
class _Cached:
    digest: bytes
    record: ApiKeyRecord


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


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


def looks_like_api_key(token: str) -> bool:
    return token.startswith(PREFIX)


class ApiKeyStore:
    method = "api_key"

    def __init__(self, db: Database, *, last_used_write_seconds: float = 60.0) -> None:
        self.db = db
        self.interval = last_used_write_seconds
        self._cache: dict[str, _Cached] = {}
        self._written: dict[str, float] = {}
        self._pending: set[asyncio.Task[None]] = set()

    async def create(
        self, *, tenant: str, user: str, name: str, roles: list[str], created_by: str
    ) -> tuple[ApiKeyRecord, str]:
        """A new key; returns its record and the full token, which is shown once and never again."""
        unknown = sorted(set(roles) - KNOWN)
        if unknown:
            raise ValueError(f"unknown roles {unknown}; known: {sorted(KNOWN)}")
        key_id = secrets.token_hex(10)
        secret = secrets.token_urlsafe(32)
        granted = sorted({USER, *roles})
        now = datetime.now(UTC)

        def insert(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO api_keys (id, tenant, user_id, name, secret_sha256, roles, created_at,"
                " created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [key_id, tenant, user, name, _digest(secret), granted, now, created_by],
            )

        await self.db.write(insert)
        record = ApiKeyRecord(key_id, tenant, user, name, tuple(granted), now, created_by, None, None)
        return record, f"{PREFIX}{key_id}_{secret}"

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
                f"SELECT {_COLUMNS} FROM api_keys{clause} ORDER BY created_at, id",  # noqa: S608
                args,
            ).fetchall()

        return [_record(row) for row in await self.db.read(query)]

    async def revoke(self, key_id: str) -> ApiKeyRecord | None:
        """Revoke now (idempotent); None if no such key."""

        def update(cur: Cursor) -> tuple[Any, ...] | None:
            cur.execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = ?", [key_id])
            return cur.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", [key_id]).fetchone()  # noqa: S608

        row = await self.db.write(update)
        self._cache.pop(key_id, None)
        return _record(row) if row else None

    async def verify(self, token: str) -> ApiKeyRecord:
        match = _TOKEN.match(token)
        if match is None:
            raise Unauthenticated("API key is malformed")
        key_id, secret = match.groups()
        cached = self._cache.get(key_id)
        if cached is None:
            cached = await self._load(key_id)
        # Compare even when the key is unknown, so timing does not tell which ids exist.
        digest = cached.digest if cached else b"\0" * 32
        if not hmac.compare_digest(digest, _digest(secret)) or cached is None:
            raise Unauthenticated("API key is not valid")
        if cached.record.revoked_at is not None:
            raise Unauthenticated("API key has been revoked")
        self._touch(key_id)
        return cached.record

    async def _load(self, key_id: str) -> _Cached | None:
        def query(cur: Cursor) -> tuple[Any, ...] | None:
            return cur.execute(
                f"SELECT {_COLUMNS}, secret_sha256 FROM api_keys WHERE id = ?",  # noqa: S608
                [key_id],
            ).fetchone()

        row = await self.db.read(query)
        if row is None:
            return None
        entry = _Cached(bytes(row[-1]), _record(row[:-1]))
        self._cache[key_id] = entry
        return entry

    def _touch(self, key_id: str) -> None:
        now = time.monotonic()
        last = self._written.get(key_id)
        if last is not None and now - last < self.interval:
            return
        self._written[key_id] = now
        task = asyncio.get_running_loop().create_task(self._write_last_used(key_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write_last_used(self, key_id: str) -> None:
        def update(cur: Cursor) -> None:
            cur.execute("UPDATE api_keys SET last_used_at = now() WHERE id = ?", [key_id])

        try:
            await self.db.write(update)
        except Exception as exc:  # a lost "last used" stamp must never fail a request
            log.warning("could not record API key use", key_id=key_id, error=type(exc).__name__)

    async def flush(self) -> None:
        """Wait for pending last-used writes (at shutdown, before the database closes)."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=5)
