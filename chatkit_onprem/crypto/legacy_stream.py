"""Chunked AES-GCM: encrypt and verify large files as they stream.

Layout of an encrypted object::

    header  = b"CKOE" | version (1) | key-id length (1) | key id | chunk size (u32) | salt (32)
    chunk*  = AES-256-GCM(chunk plaintext) incl. 16-byte tag

Each object gets its own key, HKDF(master key, salt), so nonces never repeat
across objects; chunk ``i`` uses nonce ``i (8 bytes) | final flag (1) | 0 0 0``.
The AAD of every chunk is the header, the *binding* (tenant, user, attachment
id, purpose) and the chunk index with its final flag. Hence:

* a chunk moved to another object, owner or position fails to decrypt;
* dropping trailing chunks fails (the new last chunk was not written as final);
* any flipped bit fails; an unknown key id fails before any decryption.
"""

from __future__ import annotations

import secrets
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chatkit_onprem.crypto.legacy_keys import KeyProvider, UnknownKeyError

MAGIC = b"CKOE"
VERSION = 1
TAG = 16
SALT = 32
DEFAULT_CHUNK = 64 * 1024
MAX_CHUNK = 16 * 1024 * 1024


class IntegrityError(Exception):
    """The ciphertext is not what we wrote: tampered, truncated, reordered or misplaced."""


def binding(tenant: str, user: str, attachment_id: str, purpose: str) -> bytes:
    """The identity an object is bound to; part of every chunk's AAD."""
    return b"\x00".join(p.encode() for p in ("cko-blob", tenant, user, attachment_id, purpose))


def _object_key(master: bytes, salt: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"chatkit-onprem blob v1")
    return AESGCM(hkdf.derive(master))


def _nonce(index: int, final: bool) -> bytes:
    return struct.pack(">QB3x", index, 1 if final else 0)


def _aad(header: bytes, bound: bytes, index: int, final: bool) -> bytes:
    return header + bound + struct.pack(">QB", index, 1 if final else 0)


class StreamEncryptor:
    """Feed plaintext with ``update``; ``finalize`` emits the last (final-flagged) chunk."""

    def __init__(self, keys: KeyProvider, bound: bytes, chunk_size: int = DEFAULT_CHUNK) -> None:
        key_id, master = keys.current()
        kid = key_id.encode()
        if not 0 < len(kid) < 256 or not 0 < chunk_size <= MAX_CHUNK:
            raise ValueError("invalid key id or chunk size")
        salt = secrets.token_bytes(SALT)
        self.key_id = key_id
        self.header = MAGIC + bytes([VERSION, len(kid)]) + kid + struct.pack(">I", chunk_size) + salt
        self._aead = _object_key(master, salt)
        self._bound = bound
        self._chunk = chunk_size
        self._buffer = bytearray()
        self._index = 0
        self._started = False
        self._done = False

    def _seal(self, data: bytes, final: bool) -> bytes:
        out = self._aead.encrypt(
            _nonce(self._index, final), data, _aad(self.header, self._bound, self._index, final)
        )
        self._index += 1
        return out

    def update(self, data: bytes) -> bytes:
        if self._done:
            raise ValueError("encryptor already finalized")
        out = bytearray()
        if not self._started:
            out += self.header
            self._started = True
        self._buffer += data
        # Keep at least one byte back: the last chunk must be sealed as final.
        while len(self._buffer) > self._chunk:
            out += self._seal(bytes(self._buffer[: self._chunk]), final=False)
            del self._buffer[: self._chunk]
        return bytes(out)

    def finalize(self) -> bytes:
        head = self.update(b"")
        self._done = True
        return head + self._seal(bytes(self._buffer), final=True)


class StreamDecryptor:
    """Feed ciphertext with ``update``; only authenticated plaintext comes out.

    ``finalize`` must be called at end of input: it checks that the last chunk
    was written as final (else the object was truncated) and raises otherwise.
    """

    def __init__(self, keys: KeyProvider, bound: bytes) -> None:
        self._keys = keys
        self._bound = bound
        self._buffer = bytearray()
        self._aead: AESGCM | None = None
        self.header = b""
        self.key_id = ""
        self._block = 0
        self._index = 0
        self._done = False

    def _parse_header(self) -> bool:
        buf = self._buffer
        if len(buf) < 6:
            return False
        if bytes(buf[:4]) != MAGIC or buf[4] != VERSION:
            raise IntegrityError("not an encrypted object of a known format")
        size = 6 + buf[5] + 4 + SALT
        if len(buf) < size:
            return False
        kid = bytes(buf[6 : 6 + buf[5]])
        (chunk,) = struct.unpack(">I", buf[6 + buf[5] : 10 + buf[5]])
        if not 0 < chunk <= MAX_CHUNK:
            raise IntegrityError("invalid chunk size in header")
        try:
            self.key_id = kid.decode()
            master = self._keys.get(self.key_id)
        except (UnicodeDecodeError, UnknownKeyError) as exc:
            raise IntegrityError(f"object was written with an unknown key: {exc}") from None
        salt = bytes(buf[size - SALT : size])
        self.header = bytes(buf[:size])
        self._aead = _object_key(master, salt)
        self._block = chunk + TAG
        del buf[:size]
        return True

    def _open(self, data: bytes, final: bool) -> bytes:
        assert self._aead is not None
        try:
            out = self._aead.decrypt(
                _nonce(self._index, final), data, _aad(self.header, self._bound, self._index, final)
            )
        except InvalidTag:
            raise IntegrityError(f"chunk {self._index} failed authentication") from None
        self._index += 1
        return out

    def update(self, data: bytes) -> bytes:
        if self._done:
            raise ValueError("decryptor already finalized")
        self._buffer += data
        if self._aead is None and not self._parse_header():
            return b""
        out = bytearray()
        # A full block is final only if nothing follows it: keep one back until we know.
        while len(self._buffer) > self._block:
            out += self._open(bytes(self._buffer[: self._block]), final=False)
            del self._buffer[: self._block]
        return bytes(out)

    def finalize(self) -> bytes:
        self._done = True
        if self._aead is None:
            raise IntegrityError("object ends inside its header")
        if len(self._buffer) < TAG:
            raise IntegrityError("object is truncated")
        return self._open(bytes(self._buffer), final=True)


def encrypt_bytes(keys: KeyProvider, bound: bytes, data: bytes) -> bytes:
    enc = StreamEncryptor(keys, bound)
    return enc.update(data) + enc.finalize()


def decrypt_bytes(keys: KeyProvider, bound: bytes, data: bytes) -> bytes:
    dec = StreamDecryptor(keys, bound)
    return dec.update(data) + dec.finalize()
