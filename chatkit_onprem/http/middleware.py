"""Plain ASGI middleware around the Litestar app (cheap on the stream path).

* ``request_id_middleware``: take ``X-Request-Id`` if sane (else make one), bind it to
  every log line, echo it back, write the access log line.
* ``edge_guard``: what Granian has no setting for (``docs/architecture.md`` §2):

  - the whole request body must arrive within ``server.body_timeout_seconds`` of the
    request's start, else 408 ``body_timeout`` (Granian's header timeout ends at the
    headers; a client that sends headers and then holds the body back would otherwise
    hold its connection, and a task, forever);
  - a body that ends before its ``Content-Length`` (the client half-closed) is 400
    ``incomplete_body``, not a 500;
  - before a 413 is sent, the rest of the body is read and dropped (up to
    ``DRAIN_BYTES`` / ``DRAIN_SECONDS``), so a client that writes its whole body before
    reading gets the JSON 413 instead of a reset connection;
  - per-route request counts and latency (``chatkit_http_requests_total``,
    ``chatkit_http_request_duration_seconds``), labelled by route template;
  - whatever a handler registered with ``on_request_end`` runs when the response is
    over, however it ended (a stream that never started still releases its slots).

Both wrap the app from outside, so router 404/405 answers pass through them too.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from chatkit_onprem import metrics
from chatkit_onprem.errors import ApiError
from chatkit_onprem.ids import new_request_id
from chatkit_onprem.logging import get_logger

log = get_logger("chatkit_onprem.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CLEANUP_KEY = "on_request_end"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Most body bytes read and dropped so a 413 reaches a client still sending.
DRAIN_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 2.0


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Take ``X-Request-Id`` if sane (else make one), bind it to every log line, echo it back."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _VALID_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await app(scope, receive, send_with_id)
            finally:
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=str(scope.get("path", ""))[:200],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )

    return middleware


def on_request_end(scope: Scope, release: Callable[[], None]) -> None:
    """Run ``release`` once the response is over (registered by a handler)."""
    scope.setdefault("state", {}).setdefault(_CLEANUP_KEY, []).append(release)


class BodyTimeout(ApiError):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            "body_timeout",
            f"the request body did not arrive within {seconds:g} s (server.body_timeout_seconds)",
        )


class IncompleteBody(ApiError):
    def __init__(self) -> None:
        super().__init__(
            400,
            "incomplete_body",
            "the request body ended before its Content-Length (the client stopped sending)",
        )


def edge_guard(app: ASGIApp, *, body_timeout: float) -> ASGIApp:
    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        deadline = loop.time() + body_timeout
        body_done = False
        status = 0

        async def guarded_receive() -> ReceiveMessage:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                body_done = True  # what is left of it is never read
                raise BodyTimeout(body_timeout) from None
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
            elif message["type"] == "http.disconnect":
                body_done = True
                raise IncompleteBody()
            return message

        async def drain() -> None:
            """Read what is left of a refused body, so the 413 is not answered by a reset."""
            nonlocal body_done
            budget = DRAIN_BYTES
            try:
                async with asyncio.timeout_at(min(deadline, loop.time() + DRAIN_SECONDS)):
                    while not body_done and budget > 0:
                        message = await receive()
                        if message["type"] != "http.request":
                            break
                        budget -= len(message.get("body", b""))
                        body_done = not message.get("more_body", False)
            except TimeoutError:
                pass

        async def guarded_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 413 and not body_done:
                    await drain()
            await send(message)

        try:
            await app(scope, guarded_receive, guarded_send)
        finally:
            route = scope.get("path_template") or "unmatched"
            method = scope.get("method", "")
            metrics.HTTP_REQUESTS.labels(
                route=route, method=method if method in _METHODS else "other", status=str(status)
            ).inc()
            metrics.HTTP_DURATION.labels(route=route).observe(time.perf_counter() - started)
            for release in scope.get("state", {}).pop(_CLEANUP_KEY, ()):
                release()

    return guard


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: Any = value.decode("latin-1")
            return str(decoded)
    return None
