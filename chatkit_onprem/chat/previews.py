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

from chatkit.types import Attachment, ImageAttachment, ThreadItem, UserMessageItem
from pydantic import AnyUrl

from chatkit_onprem.context import RequestContext

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


class PreviewLinks:
    """The store's read hook: every attachment a reader gets carries a freshly signed link.

    Why at the store's reads: every path by which the library hands attachments to a
    client (``threads.get_by_id``, ``items.list``, the user message echoed in a stream,
    ``attachments.create``) reads them through ``load_thread_items``, ``load_item`` or
    ``load_attachment`` with the caller's context, so signing there gives each reader an
    unexpired link. Stored payloads keep whatever link they had; it is never trusted,
    only replaced. ``data:`` URLs (``previews.mode: data_url``) are left as they are.
    """

    def __init__(self, signer: PreviewSigner) -> None:
        self.signer = signer

    def url(self, attachment_id: str, context: RequestContext) -> str:
        return self.signer.url(context.public_base_url, context.tenant, context.user, attachment_id)

    def attachment(self, attachment: Attachment, context: RequestContext) -> Attachment:
        if isinstance(attachment, ImageAttachment) and not str(attachment.preview_url).startswith("data:"):
            url = AnyUrl(self.url(attachment.id, context))  # model_copy does not validate
            return attachment.model_copy(update={"preview_url": url})
        return attachment

    def item(self, item: ThreadItem, context: RequestContext) -> ThreadItem:
        if isinstance(item, UserMessageItem) and item.attachments:
            fresh = [self.attachment(a, context) for a in item.attachments]
            return item.model_copy(update={"attachments": fresh})
        return item
