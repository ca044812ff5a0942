"""Row payload encryption under data keys: the store's ``PayloadCodec``.

Layout: ``0x01 | Tink AEAD ciphertext`` (Tink's 5-byte prefix names the key inside the
subject's row keyset; nonce and tag follow). The subject is the row's (tenant, user)
and its ``key_month`` column; associated data is ``table | row id | tenant | user``.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatkit_onprem.crypto.deks import DataKeys, KeyUnavailableError, SubjectKeys
from chatkit_onprem.crypto.primitives import TinkError
from chatkit_onprem.store.codec import ENCRYPTED, ShreddedError
from chatkit_onprem.store.database import Cursor

_PREFIX = bytes([ENCRYPTED])


def row_aad(table: str, row_id: str, tenant: str, user: str) -> bytes:
    return "\x00".join(("cko-row", table, row_id, tenant, user)).encode()


class MissingKeyError(Exception):
    """A row's key cannot be unwrapped (its KEK version is missing): an operator must act."""


class IntegrityFailure(ValueError):
    """A payload did not authenticate: tampered, or copied to another row or owner."""


@dataclass(frozen=True, slots=True)
class RowSealer:
    keys: SubjectKeys

    @property
    def month(self) -> str:
        return self.keys.subject[2]

    @property
    def key_id(self) -> int:
        return self.keys.row_primary

    def seal(self, table: str, row_id: str, data: bytes) -> bytes:
        tenant, user, _ = self.keys.subject
        return _PREFIX + bytes(self.keys.row.encrypt(data, row_aad(table, row_id, tenant, user)))


class EncryptingCodec:
    def __init__(self, keys: DataKeys) -> None:
        self.keys = keys

    async def sealer(self, tenant: str, user: str) -> RowSealer:
        return RowSealer(await self.keys.for_write(tenant, user))

    def open(
        self, cur: Cursor, table: str, row_id: str, tenant: str, user: str, month: str | None, payload: bytes
    ) -> bytes:
        if payload[:1] != _PREFIX:
            return payload  # written before encryption; the migration job encrypts it
        if month is None:
            raise IntegrityFailure(f"{table} row {row_id} is encrypted but names no key")
        try:
            keys = self.keys.for_read_sync(cur, (tenant, user, month))
        except KeyUnavailableError as exc:
            if exc.shredded:
                raise ShreddedError(str(exc)) from None
            raise MissingKeyError(str(exc)) from None
        try:
            return bytes(keys.row.decrypt(payload[1:], row_aad(table, row_id, tenant, user)))
        except TinkError:
            raise IntegrityFailure(
                f"{table} row {row_id} failed authentication under its data key (tampered or moved)"
            ) from None
