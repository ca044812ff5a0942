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

from chatkit_onprem.auth.errors import Unauthenticated
from chatkit_onprem.auth.roles import KNOWN, USER
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.api_keys import ApiKeyRecord, ApiKeyRows

log = get_logger(__name__)
PREFIX = "cko_"
_TOKEN = re.compile(r"^cko_([a-z0-9]{20})_([A-Za-z0-9_-]{43})$")

__all__ = ["ApiKeyRecord", "ApiKeyStore", "looks_like_api_key"]


@dataclass(frozen=True, slots=True)
class _Cached:
    digest: bytes
    record: ApiKeyRecord
    loaded: float


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def looks_like_api_key(token: str) -> bool:
    return token.startswith(PREFIX)


class ApiKeyStore:
    method = "api_key"

    def __init__(
        self, rows: ApiKeyRows, *, last_used_write_seconds: float = 60.0, cache_seconds: float | None = None
    ) -> None:
        self.rows = rows
        self.interval = last_used_write_seconds
        #: How long a verified key is trusted from memory. None: until revoked here (one
        #: process, DuckDB). With several processes a revoke in one must reach the others:
        #: the key is re-read after this many seconds.
        self.cache_seconds = cache_seconds
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
        granted = tuple(sorted({USER, *roles}))
        record = ApiKeyRecord(key_id, tenant, user, name, granted, datetime.now(UTC), created_by, None, None)
        await self.rows.insert(record, _digest(secret))
        return record, f"{PREFIX}{key_id}_{secret}"

    async def list(self, tenant: str | None = None, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
        return await self.rows.list(tenant, include_revoked=include_revoked)

    async def revoke(self, key_id: str) -> ApiKeyRecord | None:
        """Revoke now (idempotent); None if no such key."""
        record = await self.rows.revoke(key_id)
        self._cache.pop(key_id, None)
        return record

    async def verify(self, token: str) -> ApiKeyRecord:
        match = _TOKEN.match(token)
        if match is None:
            raise Unauthenticated("API key is malformed")
        key_id, secret = match.groups()
        cached = self._cache.get(key_id)
        ttl = self.cache_seconds
        if cached is not None and ttl is not None and time.monotonic() - cached.loaded > ttl:
            cached = None  # another process may have revoked it: read it again
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
        loaded = await self.rows.load(key_id)
        if loaded is None:
            return None
        entry = _Cached(loaded[1], loaded[0], time.monotonic())
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
        try:
            await self.rows.touch(key_id)
        except Exception as exc:  # a lost "last used" stamp must never fail a request
            log.warning("could not record API key use", key_id=key_id, error=type(exc).__name__)

    async def flush(self) -> None:
        """Wait for pending last-used writes (at shutdown, before the database closes)."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=5)
