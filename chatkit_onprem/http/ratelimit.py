"""Limits on what callers may ask for: rates, concurrent streams per caller, and per process.

* Requests per minute per user and per tenant: token buckets (bursts up to the
  per-minute figure, refilled continuously) → 429 + ``Retry-After``.
* Concurrent streams per user and per tenant → 429 + ``Retry-After``.
* Concurrent streams per process (``server.max_streams``): past it a new stream is
  refused at once with 503 + ``Retry-After``, before anything is written, so the
  streams already running keep their latency instead of every stream slowing down
  together (``StreamAdmission``).

All in memory, in the one worker process that serves everything (ARCHITECTURE
§3.1), so the counts are exact without a shared store. The ChatKit controller takes
the stream slots after it parsed the request (once); the turn releases them when
its stream ends, however it ends.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request

from chatkit_onprem import metrics
from chatkit_onprem.config import RateLimitSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError
from chatkit_onprem.store.rates import RateRows

_PRUNE_EVERY = 1024
#: Seconds a shed stream is told to wait: streams end within seconds, slots free up fast.
SHED_RETRY_AFTER = 2


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


class Overloaded(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            503,
            "overloaded",
            f"the server is answering its limit of {limit} streams; retry in {SHED_RETRY_AFTER} s",
            details={"retry_after_seconds": SHED_RETRY_AFTER},
            headers={"Retry-After": str(SHED_RETRY_AFTER)},
        )


class StreamAdmission:
    """At most ``limit`` streams at once in this process (``server.max_streams``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    def admit(self) -> Callable[[], None]:
        """Take a slot or raise ``Overloaded`` (503); returns the (idempotent) release."""
        if self.active >= self.limit:
            metrics.STREAMS_SHED.inc()
            raise Overloaded(self.limit)
        self.active += 1
        metrics.STREAMS_ACTIVE.inc()
        metrics.STREAMS_ADMITTED.inc()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.active -= 1
                metrics.STREAMS_ACTIVE.dec()

        return release


class RateLimiter:
    """Requests per minute and concurrent streams per user and tenant.

    Requests per minute are counted in this process (one process: DuckDB) or, given
    ``shared`` (PostgreSQL), in the database, so the limit holds across every worker and
    replica. Concurrent streams are always counted per process (a limit of N means N per
    worker process; documented in the README's reliability section).
    """

    def __init__(
        self,
        settings: RateLimitSettings,
        clock: Callable[[], float] = time.monotonic,
        *,
        shared: RateRows | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.shared = shared
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._streams: dict[tuple[str, ...], int] = {}
        self._checks = 0

    # --- requests per minute --------------------------------------------
    async def check(self, caller: RequestContext) -> None:
        """Count one request (429 with Retry-After over a limit)."""
        if self.shared is None:
            self.check_request(caller)
            return
        user_key, tenant_key = json.dumps(["u", caller.tenant, caller.user]), json.dumps(["t", caller.tenant])
        limits = (
            (user_key, self.settings.user_requests_per_minute, "this user"),
            (tenant_key, self.settings.tenant_requests_per_minute, "this tenant"),
        )
        for key, rpm, who in limits:
            if rpm > 0 and (wait := await self.shared.take(key, rpm)) is not None:
                raise RateLimited(
                    "rate_limited", f"too many requests for {who} (limit {rpm} per minute)", wait
                )

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
        candidates: tuple[tuple[tuple[str, ...], int, str], ...] = (
            (("u", caller.tenant, caller.user), self.settings.user_concurrent_streams, "this user"),
            (("t", caller.tenant), self.settings.tenant_concurrent_streams, "this tenant"),
        )
        keys = tuple(k for k in candidates if k[1] > 0)
        for key, limit, who in keys:
            if self._streams.get(key, 0) >= limit:
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
    """Count the request against the caller's rates (stream slots are the controller's)."""
    await limiter.check(caller)
