"""Per-user and per-tenant limits: requests per minute and concurrent streams → 429 + Retry-After.

In memory, in the one worker process that serves everything (see ARCHITECTURE §3.1),
so the counts are exact without a shared store. Requests per minute are token
buckets (bursts up to the per-minute figure, refilled continuously); streams are
counted from admission until the response body ends, released by an ASGI
middleware whatever way the stream ends.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.types import ASGIApp, Receive, Scope, Send

from chatkit_onprem.config import RateLimitSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError

RELEASE_KEY = "stream_slot_release"
_PRUNE_EVERY = 1024


def _streaming_types() -> frozenset[str]:
    from chatkit.types import StreamingReq

    members = StreamingReq.__args__  # type: ignore[attr-defined]
    return frozenset(m.model_fields["type"].default for m in members)


STREAMING_TYPES = _streaming_types()


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimited(ApiError):
    def __init__(self, code: str, message: str, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            429,
            code,
            f"{message}; retry in {seconds} s",
            details={"retry_after_seconds": seconds},
            headers={"Retry-After": str(seconds)},
        )


class RateLimiter:
    def __init__(self, settings: RateLimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._streams: dict[tuple[str, ...], int] = {}
        self._checks = 0

    # --- requests per minute --------------------------------------------
    def check_request(self, caller: RequestContext) -> None:
        now = self.clock()
        limits = (
            (("u", caller.tenant, caller.user), self.settings.user_requests_per_minute, "this user"),
            (("t", caller.tenant), self.settings.tenant_requests_per_minute, "this tenant"),
        )
        active = [(key, rpm, who) for key, rpm, who in limits if rpm > 0]
        buckets = [(self._refill(key, rpm, now), rpm, who) for key, rpm, who in active]
        for bucket, rpm, who in buckets:
            if bucket.tokens < 1:
                raise RateLimited(
                    "rate_limited",
                    f"too many requests for {who} (limit {rpm} per minute)",
                    (1 - bucket.tokens) * 60 / rpm,
                )
        for bucket, _, _ in buckets:
            bucket.tokens -= 1
        self._checks += 1
        if self._checks % _PRUNE_EVERY == 0:
            self._prune(now)

    def _refill(self, key: tuple[str, ...], rpm: int, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(rpm), now)
            return bucket
        bucket.tokens = min(float(rpm), bucket.tokens + (now - bucket.updated) * rpm / 60)
        bucket.updated = now
        return bucket

    def _prune(self, now: float) -> None:
        """Forget buckets idle for a minute: they are full again anyway."""
        for key in [k for k, b in self._buckets.items() if now - b.updated > 60]:
            del self._buckets[key]

    # --- concurrent streams ---------------------------------------------
    def open_stream(self, caller: RequestContext) -> Callable[[], None]:
        """Take a stream slot for the caller, or raise 429; returns the (idempotent) release."""
        keys = (
            (("u", caller.tenant, caller.user), self.settings.user_concurrent_streams, "this user"),
            (("t", caller.tenant), self.settings.tenant_concurrent_streams, "this tenant"),
        )
        for key, limit, who in keys:
            if limit > 0 and self._streams.get(key, 0) >= limit:
                raise RateLimited(
                    "too_many_streams", f"too many concurrent streams for {who} (limit {limit})", 1
                )
        for key, _, _ in keys:
            self._streams[key] = self._streams.get(key, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            for key, _, _ in keys:
                left = self._streams.get(key, 0) - 1
                if left > 0:
                    self._streams[key] = left
                else:
                    self._streams.pop(key, None)

        return release

    def open_streams(self, caller: RequestContext) -> int:
        return self._streams.get(("u", caller.tenant, caller.user), 0)


async def admit(request: Request[Any, Any, Any], caller: RequestContext, limiter: RateLimiter) -> None:
    """Count the request; for streaming ChatKit requests also take a stream slot.

    The body is read (and cached by Litestar for the handler) only on ``POST /chatkit``,
    which is already capped at ``server.max_request_bytes``.
    """
    limiter.check_request(caller)
    if request.method != "POST" or request.url.path.rstrip("/") != "/chatkit":
        return
    s = limiter.settings
    if s.user_concurrent_streams <= 0 and s.tenant_concurrent_streams <= 0:
        return
    try:
        kind = json.loads(await request.body()).get("type")
    except (ValueError, AttributeError):
        return  # the handler answers malformed bodies with a 400
    if kind in STREAMING_TYPES:
        request.scope.setdefault("state", {})[RELEASE_KEY] = limiter.open_stream(caller)


def stream_slot_middleware(app: ASGIApp) -> ASGIApp:
    """Release a stream slot once the response (the whole SSE body) is over, however it ended."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            release = scope.get("state", {}).pop(RELEASE_KEY, None)
            if release is not None:
                release()

    return middleware
