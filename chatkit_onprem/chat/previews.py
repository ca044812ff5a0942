"""Signed, expiring, absolute preview links (a browser ``<img>`` cannot send our auth header).

A link is ``{public base}/files/{id}/preview?exp=<unix time>&sig=<HMAC>`` where
the HMAC (SHA-256, a server key derived from the blob encryption key) covers
the owner's tenant and user, the attachment id and the expiry. The link itself
is the credential, so it is short-lived; expiries are rounded up to a step, so
one item read twice in a row gives the same URL (browser caches keep working).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time

STEP_SECONDS = 300


class PreviewSigner:
    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = key
        self.ttl = ttl_seconds

    def _mac(self, tenant: str, user: str, attachment_id: str, expires: int) -> str:
        message = "\x00".join(("preview-v1", tenant, user, attachment_id, str(expires))).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def expiry(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return int(math.ceil((now + self.ttl) / STEP_SECONDS) * STEP_SECONDS)

    def url(self, base_url: str, tenant: str, user: str, attachment_id: str, now: float | None = None) -> str:
        expires = self.expiry(now)
        sig = self._mac(tenant, user, attachment_id, expires)
        return f"{base_url}/files/{attachment_id}/preview?exp={expires}&sig={sig}"

    def verify(self, tenant: str, user: str, attachment_id: str, expires: int, sig: str) -> str | None:
        """None when valid, else why not ("expired" or "invalid")."""
        expected = self._mac(tenant, user, attachment_id, expires)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            return "invalid"
        if expires < time.time():
            return "expired"
        return None
