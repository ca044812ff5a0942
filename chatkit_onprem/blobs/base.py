"""The blob backend interface and how object keys are built."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

from chatkit_onprem.context import RequestContext


class BlobNotFoundError(LookupError):
    pass


class BlobUnavailableError(RuntimeError):
    """The object store cannot be reached or refuses service; uploads answer 503.

    ``str(exc)`` is the operator's detail (the cause, never credentials); ``reason``
    is a fixed phrase anyone may see (``/readyz`` without an admin credential).
    """

    def __init__(self, message: str, *, reason: str = "object store unavailable") -> None:
        super().__init__(message)
        self.reason = reason


class BlobTooLargeError(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"file is larger than the {limit} byte limit")
        self.limit = limit


class BlobBackend(Protocol):
    name: str

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> int:
        """Store the stream under ``key``; nothing is visible unless it all arrived. Returns size."""
        ...

    def get(self, key: str) -> AsyncIterator[bytes]:
        """Stream the object's bytes; raise ``BlobNotFoundError`` if absent."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object (every version, where the store keeps versions)."""
        ...

    async def versions(self, key: str) -> int:
        """How many versions and delete markers of ``key`` exist (0 when none)."""
        ...

    async def keys(self, prefix: str) -> list[str]:
        """The keys of the current objects whose key starts with ``prefix`` (a small listing:
        the erasure ledger's copy, not the uploads)."""
        ...

    async def prune_versions(self, key: str) -> int:
        """Remove every version of ``key`` but the newest (after re-encrypting an object in place);
        return how many went. A backend that keeps no versions removes nothing."""
        ...

    async def check(self) -> None:
        """Raise if the backend cannot serve requests (readiness)."""
        ...

    async def start(self) -> None:
        """Prepare at start-up (e.g. check or create the bucket); may raise ``BlobUnavailableError``."""
        ...


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    """``data`` as the chunk stream ``BlobBackend.put`` takes (a body already in memory)."""
    yield data


def object_key(context: RequestContext, attachment_id: str) -> str:
    """``t/<tenant>/u/<user>/<attachment id>``, with tenant and user hashed.

    Hashing keeps keys path-safe whatever the IdP puts in a claim, and keeps
    identities out of bucket listings.
    """
    tenant = hashlib.sha256(context.tenant.encode()).hexdigest()[:32]
    user = hashlib.sha256(f"{context.tenant}\x00{context.user}".encode()).hexdigest()[:32]
    if not attachment_id.replace("_", "").isalnum():
        raise ValueError("invalid attachment id")
    return f"t/{tenant}/u/{user}/{attachment_id}"
