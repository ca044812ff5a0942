"""Tink, as this project uses it: AEAD keysets for rows, streaming keysets for blobs.

Tink gives us the formats (keyset serialization, encrypted keysets, ciphertext
prefixes that name the key, segment-authenticated streams) so none of them is
hand-written here. Python's Tink has no keyset manager, so rotation edits the
keyset proto through Tink's public cleartext serialization (``secret_key_access``):
add a freshly generated key, make it primary, later drop the old one.
"""

from __future__ import annotations

from typing import cast

import tink
from tink import (
    KeysetHandle,
    TinkError,
    aead,
    cleartext_keyset_handle,
    proto_keyset_format,
    secret_key_access,
    streaming_aead,
)
from tink.aead import Aead
from tink.proto import aes_gcm_pb2, tink_pb2
from tink.streaming_aead import StreamingAead

aead.register()
streaming_aead.register()

__all__ = ["Aead", "KeysetHandle", "StreamingAead", "TinkError"]

#: Rows: AES-256-GCM with Tink's 5-byte prefix naming the key inside the keyset.
ROW_TEMPLATE = aead.aead_key_templates.AES256_GCM
#: Blobs: AES-256-GCM-HKDF with 4 KiB segments, so ciphertext leaves as the upload arrives
#: (the 1 MiB template holds everything until close in the Python binding; seen here).
BLOB_TEMPLATE = streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_4KB

_AES_GCM_TYPE = "type.googleapis.com/google.crypto.tink.AesGcmKey"


def new_keyset(template: tink_pb2.KeyTemplate) -> KeysetHandle:
    return cast(KeysetHandle, tink.new_keyset_handle(template))


def keyset_proto(handle: KeysetHandle) -> tink_pb2.Keyset:
    return tink_pb2.Keyset.FromString(proto_keyset_format.serialize(handle, secret_key_access.TOKEN))


def primary_key_id(handle: KeysetHandle) -> int:
    return int(handle.keyset_info().primary_key_id)


def key_ids(handle: KeysetHandle) -> list[int]:
    return [int(k.key_id) for k in handle.keyset_info().key_info]


def with_new_primary(handle: KeysetHandle, template: tink_pb2.KeyTemplate) -> KeysetHandle:
    """The keyset plus a freshly generated key, which becomes primary (old keys still decrypt)."""
    keyset = keyset_proto(handle)
    fresh = keyset_proto(new_keyset(template)).key[0]
    taken = {k.key_id for k in keyset.key}
    while fresh.key_id in taken:  # ids are random 32-bit numbers; a clash is astronomically rare
        fresh = keyset_proto(new_keyset(template)).key[0]
    keyset.key.append(fresh)
    keyset.primary_key_id = fresh.key_id
    return cast(KeysetHandle, cleartext_keyset_handle.from_keyset(keyset))


def only_primary(handle: KeysetHandle) -> KeysetHandle:
    """The keyset without its non-primary keys: what they encrypted can no longer be read."""
    keyset = keyset_proto(handle)
    keep = [k for k in keyset.key if k.key_id == keyset.primary_key_id]
    del keyset.key[:]
    keyset.key.extend(keep)
    return cast(KeysetHandle, cleartext_keyset_handle.from_keyset(keyset))


def aead_from_raw_key(key: bytes, key_id: int) -> Aead:
    """An AES-256-GCM AEAD over raw key bytes (a keyring's KEK version), no ciphertext prefix."""
    if len(key) != 32:
        raise ValueError(f"a key must be 32 bytes, got {len(key)}")
    keyset = tink_pb2.Keyset(primary_key_id=key_id)
    entry = keyset.key.add()
    entry.key_data.type_url = _AES_GCM_TYPE
    entry.key_data.value = aes_gcm_pb2.AesGcmKey(version=0, key_value=key).SerializeToString()
    entry.key_data.key_material_type = tink_pb2.KeyData.SYMMETRIC
    entry.status = tink_pb2.ENABLED
    entry.key_id = key_id
    entry.output_prefix_type = tink_pb2.RAW
    return cast(Aead, cleartext_keyset_handle.from_keyset(keyset).primitive(Aead))
