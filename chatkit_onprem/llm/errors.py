"""Failures of our own model clients, read directly by ``routing.describe_call``.

The lean parsers (``chat_stream``, ``responses_stream``) and the shared retry helper
raise these instead of imitating the openai client's exception classes; routing
still understands the openai client's own errors too (the SDK models raise them).
"""

from __future__ import annotations


class UpstreamHTTPError(Exception):
    """The upstream answered a non-200 status (after the retries the policy allows)."""

    def __init__(self, status: int, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


class UpstreamStreamError(Exception):
    """The upstream reported an error inside a 200 stream (an ``error`` chunk or event)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
