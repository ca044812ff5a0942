"""One retry policy for every upstream request our own code sends.

The policy is the openai client's, so SDK-driven and lean calls behave alike:
connection errors, 408, 409, 429 and 5xx are retried ``max_retries`` times;
``Retry-After`` / ``Retry-After-Ms`` are honoured up to 120 s, otherwise the wait
is 0.5 s doubling to 8 s, with up to 25% jitter. Other statuses fail at once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import httpx2

from chatkit_onprem.llm.errors import UpstreamHTTPError

RETRY_STATUS = frozenset({408, 409, 429})
MAX_HONOURED_WAIT = 120.0


async def send_streaming(
    client: httpx2.AsyncClient, build: Callable[[], httpx2.Request], max_retries: int
) -> httpx2.Response:
    """Send a request built by ``build`` with the policy; return the open 200 response."""
    for attempt in range(max_retries + 1):
        last = attempt == max_retries
        try:
            response = await client.send(build(), stream=True)
        except (httpx2.TimeoutException, httpx2.NetworkError, httpx2.ProxyError):
            if last:
                raise
            await asyncio.sleep(backoff(attempt, None))
            continue
        if response.status_code == 200:
            return response
        await response.aread()
        await response.aclose()
        retryable = response.status_code in RETRY_STATUS or response.status_code >= 500
        if retryable and not last:
            await asyncio.sleep(backoff(attempt, response.headers))
            continue
        raise UpstreamHTTPError(
            response.status_code, _detail(response), retry_after=_retry_after(response.headers)
        )
    raise AssertionError("unreachable")


def backoff(attempt: int, headers: httpx2.Headers | None) -> float:
    """Seconds to wait before retry number ``attempt + 1``."""
    honoured = _retry_after(headers) if headers is not None else None
    if honoured is not None:
        return honoured
    return min(0.5 * 2.0**attempt, 8.0) * (1 - 0.25 * random.random())  # noqa: S311 - jitter


def _retry_after(headers: httpx2.Headers) -> float | None:
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            delay = float(value) / divisor
        except ValueError:
            continue
        if 0 < delay <= MAX_HONOURED_WAIT:
            return delay
    return None


def _detail(response: httpx2.Response) -> str:
    """What the upstream said, short (its error message, else the start of the body)."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text[:300].split())
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            error = error.get("message", error)
        return " ".join(str(error)[:300].split())
    return " ".join(str(body)[:300].split())
