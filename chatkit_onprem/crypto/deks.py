"""Data keys (DEKs): one pair of Tink keysets per (tenant, user, calendar month).

Everything a person wrote or was shown is encrypted under the DEK of its owner and of
the month it was written; the DEK is stored wrapped by a KEK (``crypto.kek``). Why
per subject and month: destroying one user's keys (erasure) or the keys of months
past retention makes every copy of that content unreadable at once, in the database
file, its free pages, backups and old object versions (crypto-shredding), without
finding the copies.

* ``row`` keyset: AES-256-GCM for row payloads (Tink's prefix names the key).
* ``blob`` keyset: AES-256-GCM-HKDF streaming for uploads and previews.

Rotation adds a key to both keysets and makes it primary (old keys still decrypt)
until the rotation job has re-encrypted everything and drops them. Unwrapped keysets
are cached in memory (bounded, least recently used first out; with a time to live
when other processes may rotate them). A subject in the erasure ledger is treated as
destroyed even if a restored backup still holds its wrapped keys.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from tink import json_proto_keyset_format

from chatkit_onprem.crypto.kek import KekError, KekProvider
from chatkit_onprem.crypto.primitives import (
    BLOB_TEMPLATE,
    ROW_TEMPLATE,
    Aead,
    KeysetHandle,
    StreamingAead,
    TinkError,
    key_ids,
    new_keyset,
    only_primary,
    primary_key_id,
    with_new_primary,
)
from chatkit_onprem.store.data_keys import DataKeyRows, WrappedDataKey, get_sync
from chatkit_onprem.store.database import Cursor

Subject = tuple[str, str, str]
"""(tenant, user, month 'YYYY-MM')."""


class KeyUnavailableError(Exception):
    """A data key cannot be used: destroyed (shredded), erased, or its KEK is missing.

    Reads treat destroyed and erased keys like deleted content; a missing KEK is an
    operator error and is reported with the key id.
    """

    def __init__(self, subject: Subject, reason: str, *, shredded: bool) -> None:
        super().__init__(f"data key {dek_id(subject)} is unavailable: {reason}")
        self.subject = subject
        self.shredded = shredded


def dek_id(subject: Subject) -> str:
    """How a data key is named in messages and in ``keys status`` (no content, ids only)."""
    tenant, user, month = subject
    return f"dek:{tenant}/{user}/{month}"


def month_of(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m")


def _wrap_aad(subject: Subject, kind: str) -> bytes:
    return "\x00".join(("cko-dek", *subject, kind)).encode()


@dataclass(frozen=True, slots=True)
class SubjectKeys:
    """An unwrapped DEK: what encrypts and decrypts one subject-month's content."""

    subject: Subject
    row_handle: KeysetHandle
    blob_handle: KeysetHandle
    row: Aead
    blob: StreamingAead
    row_primary: int
    blob_primary: int
    row_key_ids: frozenset[int]
    generation: int
    kek_version: str
    loaded_at: float


class DataKeys:
    def __init__(
        self,
        kek: KekProvider,
        rows: DataKeyRows,
        *,
        cache_size: int = 10_000,
        cache_ttl_seconds: float | None = None,
        erased: Callable[[str, str, str], bool] | None = None,
    ) -> None:
        self.kek = kek
        self.rows = rows
        self.cache_size = cache_size
        self.cache_ttl = cache_ttl_seconds
        self._erased = erased or (lambda tenant, user, month: False)
        self._cache: OrderedDict[Subject, SubjectKeys] = OrderedDict()
        self._lock = threading.Lock()
        # One lock per subject being loaded or created, gone once nobody holds it.
        self._loading: weakref.WeakValueDictionary[Subject, asyncio.Lock] = weakref.WeakValueDictionary()

    # --- cache ----------------------------------------------------------
    def _cached(self, subject: Subject) -> SubjectKeys | None:
        with self._lock:
            keys = self._cache.get(subject)
            if keys is None:
                return None
            if self.cache_ttl is not None and time.monotonic() - keys.loaded_at > self.cache_ttl:
                del self._cache[subject]
                return None
            self._cache.move_to_end(subject)
            return keys

    def _remember(self, keys: SubjectKeys) -> SubjectKeys:
        with self._lock:
            self._cache[keys.subject] = keys
            self._cache.move_to_end(keys.subject)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return keys

    def forget(self, subjects: list[Subject] | None = None) -> None:
        """Drop cached keys (after destroying them, or all of them)."""
        with self._lock:
            if subjects is None:
                self._cache.clear()
            for subject in subjects or []:
                self._cache.pop(subject, None)

    @property
    def cached(self) -> int:
        return len(self._cache)

    # --- wrapping -------------------------------------------------------
    def unwrap(self, stored: WrappedDataKey) -> SubjectKeys:
        """Blocking (a Vault KEK is a network call): run it off the event loop."""
        subject = stored.subject
        if self._erased(*subject):
            raise KeyUnavailableError(subject, "its subject was erased", shredded=True)
        if stored.state != "active" or stored.row_keyset is None or stored.blob_keyset is None:
            raise KeyUnavailableError(subject, "it was destroyed", shredded=True)
        try:
            kek = self.kek.aead(stored.kek_version)
        except KekError as exc:
            raise KeyUnavailableError(subject, str(exc), shredded=False) from None
        try:
            row_handle = json_proto_keyset_format.parse_encrypted(
                stored.row_keyset, kek, _wrap_aad(subject, "row")
            )
            blob_handle = json_proto_keyset_format.parse_encrypted(
                stored.blob_keyset, kek, _wrap_aad(subject, "blob")
            )
        except (TinkError, KekError) as exc:
            raise KeyUnavailableError(
                subject, f"cannot unwrap it with KEK version {stored.kek_version!r}: {exc}", shredded=False
            ) from None
        return self._keys(subject, row_handle, blob_handle, stored.generation, stored.kek_version)

    def _keys(
        self, subject: Subject, row_handle: KeysetHandle, blob_handle: KeysetHandle, generation: int, kek: str
    ) -> SubjectKeys:
        return SubjectKeys(
            subject=subject,
            row_handle=row_handle,
            blob_handle=blob_handle,
            row=row_handle.primitive(Aead),
            blob=blob_handle.primitive(StreamingAead),
            row_primary=primary_key_id(row_handle),
            blob_primary=primary_key_id(blob_handle),
            row_key_ids=frozenset(key_ids(row_handle)),
            generation=generation,
            kek_version=kek,
            loaded_at=time.monotonic(),
        )

    def wrap(
        self,
        subject: Subject,
        row_handle: KeysetHandle,
        blob_handle: KeysetHandle,
        *,
        generation: int,
        created_at: datetime,
        rotated_at: datetime | None = None,
    ) -> WrappedDataKey:
        """Blocking: wrap both keysets under the KEK's current primary."""
        version = self.kek.primary()
        kek = self.kek.aead(version)
        tenant, user, month = subject
        return WrappedDataKey(
            tenant=tenant,
            user=user,
            month=month,
            kek_version=version,
            row_keyset=json_proto_keyset_format.serialize_encrypted(
                row_handle, kek, _wrap_aad(subject, "row")
            ),
            blob_keyset=json_proto_keyset_format.serialize_encrypted(
                blob_handle, kek, _wrap_aad(subject, "blob")
            ),
            row_primary=primary_key_id(row_handle),
            blob_primary=primary_key_id(blob_handle),
            generation=generation,
            state="active",
            created_at=created_at,
            rotated_at=rotated_at,
        )

    # --- use ------------------------------------------------------------
    async def for_write(self, tenant: str, user: str) -> SubjectKeys:
        """The keys new content of this subject is written with (this month's; made on first use)."""
        subject = (tenant, user, month_of())
        keys = self._cached(subject)
        if keys is not None:
            return keys
        lock = self._loading.get(subject)
        if lock is None:
            lock = self._loading[subject] = asyncio.Lock()
        async with lock:
            keys = self._cached(subject)
            if keys is not None:
                return keys
            stored = await self.rows.get(*subject)
            if stored is None:
                fresh = await asyncio.to_thread(self._generate, subject)
                stored = await self.rows.insert_if_absent(fresh)  # another process may have won
            return self._remember(await asyncio.to_thread(self.unwrap, stored))

    def _generate(self, subject: Subject) -> WrappedDataKey:
        return self.wrap(
            subject,
            new_keyset(ROW_TEMPLATE),
            new_keyset(BLOB_TEMPLATE),
            generation=1,
            created_at=datetime.now(UTC),
        )

    def erased(self, subject: Subject) -> bool:
        """Whether the subject was erased (its keys destroyed) since they were loaded."""
        return self._erased(*subject)

    def for_read_sync(self, cur: Cursor, subject: Subject) -> SubjectKeys:
        """On a reader or writer thread: the subject's keys, loaded with ``cur`` on a cache miss."""
        keys = self._cached(subject)
        if keys is not None:
            if self._erased(*subject):
                raise KeyUnavailableError(subject, "its subject was erased", shredded=True)
            return keys
        stored = get_sync(cur, *subject)
        if stored is None:
            raise KeyUnavailableError(subject, "no such data key (destroyed)", shredded=True)
        return self._remember(self.unwrap(stored))

    async def for_read(self, subject: Subject) -> SubjectKeys:
        keys = self._cached(subject)
        if keys is not None:
            return keys
        stored = await self.rows.get(*subject)
        if stored is None:
            raise KeyUnavailableError(subject, "no such data key (destroyed)", shredded=True)
        return self._remember(await asyncio.to_thread(self.unwrap, stored))

    # --- rotation ---------------------------------------------------------
    def rotated(self, stored: WrappedDataKey) -> tuple[WrappedDataKey, SubjectKeys]:
        """Blocking: the subject's keysets with a new primary each, wrapped under the primary KEK."""
        current = self.unwrap(stored)
        row_handle = with_new_primary(current.row_handle, ROW_TEMPLATE)
        blob_handle = with_new_primary(current.blob_handle, BLOB_TEMPLATE)
        return self._next_generation(stored, row_handle, blob_handle, rotated_at=datetime.now(UTC))

    def trimmed(self, stored: WrappedDataKey) -> tuple[WrappedDataKey, SubjectKeys]:
        """Blocking: the keysets without their old keys (after everything was re-encrypted)."""
        current = self.unwrap(stored)
        row_handle, blob_handle = only_primary(current.row_handle), only_primary(current.blob_handle)
        return self._next_generation(stored, row_handle, blob_handle, rotated_at=stored.rotated_at)

    def _next_generation(
        self,
        stored: WrappedDataKey,
        row_handle: KeysetHandle,
        blob_handle: KeysetHandle,
        *,
        rotated_at: datetime | None,
    ) -> tuple[WrappedDataKey, SubjectKeys]:
        """Changed keysets, wrapped as the subject's next generation, and their unwrapped form."""
        wrapped = self.wrap(
            stored.subject,
            row_handle,
            blob_handle,
            generation=stored.generation + 1,
            created_at=stored.created_at,
            rotated_at=rotated_at,
        )
        return wrapped, self._keys(
            stored.subject, row_handle, blob_handle, wrapped.generation, wrapped.kek_version
        )

    def rewrapped(self, stored: WrappedDataKey) -> WrappedDataKey:
        """Blocking: the same keysets wrapped under the KEK's current primary (KEK rotation)."""
        current = self.unwrap(stored)
        wrapped = self.wrap(
            stored.subject,
            current.row_handle,
            current.blob_handle,
            generation=stored.generation + 1,
            created_at=stored.created_at,
            rotated_at=stored.rotated_at,
        )
        return replace(wrapped)

    def install(self, keys: SubjectKeys) -> None:
        """Use these keys from now on in this process (after their row was committed)."""
        self._remember(keys)
