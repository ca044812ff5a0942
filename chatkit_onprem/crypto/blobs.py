"""Upload and preview encryption under data keys (Tink streaming AEAD).

Object layout: ``b"CKO2" | month (7 ASCII bytes, 'YYYY-MM') | Tink AES-256-GCM-HKDF stream``.
The month names the owner's data key, so an object (or a restored backup of one)
is only ever readable while that key exists: destroying it shreds every version.
Associated data binds tenant, user, attachment id and purpose (``blob`` or
``preview``): an object copied to another owner or id does not decrypt, and Tink's
segment format detects any flipped bit, truncation or reordering.

Objects written before the key hierarchy (``b"CKOE"``, one static key) stay readable
through ``legacy_stream`` until the migration job re-encrypts them.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import IO, Any

import anyio

from chatkit_onprem.crypto.deks import DataKeys, KeyUnavailableError, SubjectKeys
from chatkit_onprem.crypto.legacy_keys import KeyProvider
from chatkit_onprem.crypto.legacy_stream import MAGIC as LEGACY_MAGIC
from chatkit_onprem.crypto.legacy_stream import IntegrityError, StreamDecryptor
from chatkit_onprem.crypto.legacy_stream import binding as legacy_binding
from chatkit_onprem.crypto.primitives import TinkError

MAGIC = b"CKO2"
HEADER = len(MAGIC) + 7
READ_BLOCK = 256 * 1024
SPOOL_IN_MEMORY = 1024 * 1024  # a fetched object's ciphertext past this goes to a temporary file

__all__ = ["HEADER", "MAGIC", "BlobCipher", "BlobEncryptor", "IntegrityError"]


def blob_aad(tenant: str, user: str, attachment_id: str, purpose: str) -> bytes:
    return "\x00".join(("cko-blob", tenant, user, attachment_id, purpose)).encode()


class _Drain(io.RawIOBase):
    """Where Tink's encrypting stream writes; ``take`` hands the ciphertext on as it appears."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self._buffer)
        self._buffer.clear()
        return out


class _Borrowed(io.RawIOBase):
    """Reads the spool for Tink's decrypting stream, which closes its source when done."""

    def __init__(self, spool: IO[bytes]) -> None:
        self._spool = spool

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._spool.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class BlobEncryptor:
    """Feed plaintext with ``update``; ``finalize`` returns the last ciphertext."""

    def __init__(self, keys: SubjectKeys, aad: bytes) -> None:
        self.month = keys.subject[2]
        #: What ``blob_objects.key_id`` records: the data key's month and its blob primary key.
        self.key_ref = f"dek:{self.month}:{keys.blob_primary}"
        self._drain = _Drain()
        self._stream = keys.blob.new_encrypting_stream(self._drain, aad)
        self._header: bytes | None = MAGIC + self.month.encode()

    def update(self, data: bytes) -> bytes:
        self._stream.write(data)
        self._stream.flush()
        out = self._drain.take()
        if self._header is not None:
            out, self._header = self._header + out, None
        return out

    def finalize(self) -> bytes:
        self._stream.close()
        out = self._drain.take()
        if self._header is not None:
            out, self._header = self._header + out, None
        return out


class BlobCipher:
    def __init__(self, keys: DataKeys, legacy: KeyProvider | None = None) -> None:
        self.keys = keys
        self.legacy = legacy

    async def encryptor(self, tenant: str, user: str, attachment_id: str, purpose: str) -> BlobEncryptor:
        keys = await self.keys.for_write(tenant, user)
        return BlobEncryptor(keys, blob_aad(tenant, user, attachment_id, purpose))

    def encryptor_with(self, keys: SubjectKeys, attachment_id: str, purpose: str) -> BlobEncryptor:
        """Under a given month's keys (re-encryption keeps an object in its month)."""
        tenant, user, _ = keys.subject
        return BlobEncryptor(keys, blob_aad(tenant, user, attachment_id, purpose))

    async def seal(self, tenant: str, user: str, attachment_id: str, purpose: str, data: bytes) -> bytes:
        encryptor = await self.encryptor(tenant, user, attachment_id, purpose)
        return encryptor.update(data) + encryptor.finalize()

    async def fetch(
        self,
        chunks: AsyncIterable[bytes],
        tenant: str,
        user: str,
        attachment_id: str,
        purpose: str,
        *,
        verify: bool = False,
    ) -> BlobOpener:
        """Spool an object's ciphertext locally and open it (``verify``: authenticate all of it
        first, so a caller can refuse a damaged object before it sends any plaintext). The
        opener owns the spool: ``close`` it, or let ``stream`` do so."""
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - the opener closes it
        try:
            async for chunk in chunks:
                await anyio.to_thread.run_sync(spool.write, chunk)
            opener = await self.opener(spool, tenant, user, attachment_id, purpose)
            if verify:
                await anyio.to_thread.run_sync(opener.verify)
        except BaseException:
            spool.close()
            raise
        return opener

    async def opener(
        self, spool: IO[bytes], tenant: str, user: str, attachment_id: str, purpose: str
    ) -> BlobOpener:
        """Read the header of a spooled object and fetch its key (``KeyUnavailableError`` if gone)."""
        spool.seek(0)
        head = spool.read(HEADER)
        if head[:4] == MAGIC:
            month = head[4:HEADER].decode("ascii", "replace")
            keys = await self.keys.for_read((tenant, user, month))
            return BlobOpener(spool, keys, blob_aad(tenant, user, attachment_id, purpose), None)
        if head[:4] == LEGACY_MAGIC and self.legacy is not None:
            bound = legacy_binding(tenant, user, attachment_id, purpose)
            return BlobOpener(spool, None, bound, self.legacy)
        raise IntegrityError("not an encrypted object of a known format")


class BlobOpener:
    """Decrypts one spooled object; both methods block (run them in a thread)."""

    def __init__(
        self, spool: IO[bytes], keys: SubjectKeys | None, aad: bytes, legacy: KeyProvider | None
    ) -> None:
        self._spool = spool
        self._keys = keys
        self._aad = aad
        self._legacy = legacy
        self.month = keys.subject[2] if keys is not None else None

    def chunks(self) -> Iterator[bytes]:
        """Authenticated plaintext, block by block; ``IntegrityError`` on any damage."""
        if self._keys is None:
            yield from self._legacy_chunks()
            return
        self._spool.seek(HEADER)
        try:
            stream = self._keys.blob.new_decrypting_stream(_Borrowed(self._spool), self._aad)
            while block := stream.read(READ_BLOCK):
                yield block
        except TinkError as exc:
            raise IntegrityError(f"object failed authentication: {str(exc)[:120]}") from None

    def _legacy_chunks(self) -> Iterator[bytes]:
        assert self._legacy is not None
        self._spool.seek(0)
        dec = StreamDecryptor(self._legacy, self._aad)
        while block := self._spool.read(READ_BLOCK):
            if out := dec.update(block):
                yield out
        yield dec.finalize()

    def verify(self) -> int:
        """Decrypt everything without keeping it; return the plaintext size."""
        return sum(len(block) for block in self.chunks())

    async def stream(self, start: int = 0) -> AsyncIterator[bytes]:
        """The plaintext from byte ``start`` on, decrypted on a worker thread block by block;
        closes the spool at the end."""
        skip = start
        blocks = self.chunks()
        try:
            while block := await anyio.to_thread.run_sync(next, blocks, b""):
                if skip >= len(block):
                    skip -= len(block)
                    continue
                yield block[skip:]
                skip = 0
        finally:
            self.close()

    def close(self) -> None:
        self._spool.close()


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, KeyUnavailableError)
