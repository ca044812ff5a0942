"""Where encryption keys come from.

The interface is what key management (KEK/DEK rotation) will implement later:
``current()`` names the key new data is written with; ``get(key_id)`` finds any
key still needed to read old data. Until then one configured key is enough.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32


class UnknownKeyError(LookupError):
    """Data was written with a key this server does not hold."""


class KeyProvider(Protocol):
    def current(self) -> tuple[str, bytes]:
        """(key id, 32-byte key) to encrypt new data with."""
        ...

    def get(self, key_id: str) -> bytes:
        """The key named ``key_id``; raise ``UnknownKeyError`` if unknown."""
        ...

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret for ``purpose`` (e.g. signing preview URLs), stable across restarts."""
        ...


def key_id_for(key: bytes) -> str:
    """A non-secret, stable name for a key: an HMAC of a constant, so it reveals nothing."""
    return "k" + hmac.new(key, b"chatkit-onprem key id", hashlib.sha256).hexdigest()[:15]


class StaticKeyProvider:
    """One (or a few, for reading) keys given at start-up."""

    def __init__(self, key: bytes, key_id: str | None = None, *, older: dict[str, bytes] | None = None):
        if len(key) != KEY_BYTES:
            raise ValueError(f"encryption key must be {KEY_BYTES} bytes, got {len(key)}")
        self._current_id = key_id or key_id_for(key)
        # Also under its derived id: naming a key later must not orphan what it already wrote.
        self._keys = {**(older or {}), key_id_for(key): key, self._current_id: key}

    def current(self) -> tuple[str, bytes]:
        return self._current_id, self._keys[self._current_id]

    def get(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKeyError(f"no encryption key with id {key_id!r}") from None

    def derive(self, purpose: str) -> bytes:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"cko:{purpose}".encode())
        return hkdf.derive(self._keys[self._current_id])


def decode_key(text: str) -> bytes:
    """A key as configured: base64 (standard or URL-safe) of 32 random bytes."""
    try:
        raw = base64.b64decode(text.strip() + "==", altchars=b"-_" if ("-" in text or "_" in text) else None)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("encryption key is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"encryption key must decode to {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def development_key(path: Path) -> bytes:
    """Read, or create once with 0600 permissions, the development key file."""
    if path.exists():
        return decode_key(path.read_text(encoding="utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    text = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return decode_key(text)


def load_key_provider(configured: str | None, key_id: str | None, dev_key_path: Path) -> StaticKeyProvider:
    """The configured key, else (development only; production refuses) a generated key file."""
    key = decode_key(configured) if configured else development_key(dev_key_path)
    return StaticKeyProvider(key, key_id)
