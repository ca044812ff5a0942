"""Encryption of attachment bytes before they reach a blob backend.

``keys`` holds the key provider interface (one configured key for now; key
management plugs in behind the same interface); ``stream`` the chunked AES-GCM
format that lets large files be encrypted and verified while they stream.
"""

from chatkit_onprem.crypto.keys import KeyProvider, StaticKeyProvider, UnknownKeyError, load_key_provider
from chatkit_onprem.crypto.stream import (
    IntegrityError,
    StreamDecryptor,
    StreamEncryptor,
    binding,
)

__all__ = [
    "IntegrityError",
    "KeyProvider",
    "StaticKeyProvider",
    "StreamDecryptor",
    "StreamEncryptor",
    "UnknownKeyError",
    "binding",
    "load_key_provider",
]
