"""Server secrets (e.g. the key that signs preview links), random, stored wrapped by the KEK.

Why in the database and not derived from a key file: every worker and replica needs the
same secret, and with a Vault KEK there is no local key material to derive from. KEK
rotation re-wraps them with the data keys.
"""

from __future__ import annotations

import base64
import secrets

from chatkit_onprem.crypto.kek import KekError, KekProvider
from chatkit_onprem.crypto.primitives import TinkError
from chatkit_onprem.store import server_secrets as rows
from chatkit_onprem.store.database import Cursor, Database


def _aad(name: str) -> bytes:
    return f"cko-secret\x00{name}".encode()


class ServerSecrets:
    def __init__(self, kek: KekProvider, db: Database) -> None:
        self.kek = kek
        self.db = db

    def get_sync(self, name: str) -> bytes:
        """The secret ``name`` (32 bytes), made on first use. Blocking: for start-up."""
        fresh = secrets.token_bytes(32)
        version = self.kek.primary()
        wrapped = base64.b64encode(self.kek.aead(version).encrypt(fresh, _aad(name))).decode()

        stored_version, stored = self.db.write_sync(
            lambda cur: rows.get_or_insert_sync(cur, name, version, wrapped)
        )
        try:
            return bytes(self.kek.aead(stored_version).decrypt(base64.b64decode(stored), _aad(name)))
        except (TinkError, KekError) as exc:
            raise KekError(
                f"server secret {name!r} cannot be unwrapped with KEK {stored_version!r}: {exc}"
            ) from None

    def rewrap_sync(self, cur: Cursor) -> int:
        """Re-wrap every secret under the primary KEK (on the writer thread); return how many changed."""
        primary = self.kek.primary()
        changed = 0
        for name, version, wrapped in rows.all_sync(cur):
            if version == primary:
                continue
            plain = self.kek.aead(version).decrypt(base64.b64decode(wrapped), _aad(name))
            again = base64.b64encode(self.kek.aead(primary).encrypt(plain, _aad(name))).decode()
            rows.rewrap_sync(cur, name, primary, again)
            changed += 1
        return changed

    def versions_in_use_sync(self, cur: Cursor) -> set[str]:
        return rows.kek_versions_sync(cur)
