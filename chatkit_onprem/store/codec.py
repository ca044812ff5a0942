"""How a ChatKit model becomes the ``payload`` column and back: the store's seam to encryption.

The store never sees keys: it asks the codec for a ``Sealer`` before a write (async:
the first write of a subject in a month creates its data key) and calls ``open`` on
reader and writer threads with the row's routing columns. An encrypted payload starts
with a format byte JSON can never start with, so rows written before encryption (plain
JSON) stay readable until the migration job has encrypted them.

Associated data binds a ciphertext to its table, row id, tenant and user: a payload
copied to another row or owner fails to open.
"""

from __future__ import annotations

from typing import Protocol

from chatkit_onprem.store.database import Cursor

ENCRYPTED = 0x01


class ShreddedError(Exception):
    """The row's data key was destroyed or its subject erased: read it as deleted."""


class Sealer(Protocol):
    @property
    def month(self) -> str | None: ...

    @property
    def key_id(self) -> int | None: ...

    def seal(self, table: str, row_id: str, data: bytes) -> bytes: ...


class PayloadCodec(Protocol):
    async def sealer(self, tenant: str, user: str) -> Sealer: ...

    def open(
        self, cur: Cursor, table: str, row_id: str, tenant: str, user: str, month: str | None, payload: bytes
    ) -> bytes:
        """Plain JSON of the payload; ``ShreddedError`` if its key is gone; ``ValueError`` if
        the ciphertext does not authenticate (tampered, moved to another row or owner)."""
        ...


class _PlainSealer:
    @property
    def month(self) -> str | None:
        return None

    @property
    def key_id(self) -> int | None:
        return None

    def seal(self, table: str, row_id: str, data: bytes) -> bytes:
        return data


class PlainCodec:
    """Stores the JSON as it is (tests of the store alone; the server always encrypts)."""

    _sealer = _PlainSealer()

    async def sealer(self, tenant: str, user: str) -> Sealer:
        return self._sealer

    def open(
        self, cur: Cursor, table: str, row_id: str, tenant: str, user: str, month: str | None, payload: bytes
    ) -> bytes:
        if payload[:1] == bytes([ENCRYPTED]):
            raise ValueError(f"{table} row {row_id} is encrypted and this store has no keys")
        return payload
