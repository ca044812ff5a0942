"""How a ChatKit model becomes the opaque ``payload`` column and back.

Today the payload is the model's JSON. Encryption at rest (ARCHITECTURE §3.5)
slots in here: an encrypted payload starts with a format byte that JSON can
never start with, so both kinds can be read side by side during a migration.
"""

from __future__ import annotations

from typing import Protocol


class PayloadCodec(Protocol):
    def encode(self, table: str, row_id: str, data: bytes) -> bytes: ...

    def decode(self, table: str, row_id: str, data: bytes) -> bytes: ...


class PlainCodec:
    """Stores the JSON as it is."""

    def encode(self, table: str, row_id: str, data: bytes) -> bytes:
        return data

    def decode(self, table: str, row_id: str, data: bytes) -> bytes:
        return data
