"""One mapping from exceptions to what a client is told.

JSON requests get an HTTP status and ``{"error": {...}}``; streams that have
started get an SSE ``error`` event with the same message (and our code in
``error_code``). Internal errors say only that something failed and which request
id to quote to an operator. Messages built from client input are cut short, so a
huge value never comes back (or reaches the log) whole.
"""

from __future__ import annotations

import binascii
import errno
from dataclasses import dataclass
from typing import Any

from chatkit.errors import CustomStreamError
from chatkit.store import NotFoundError
from pydantic import ValidationError

from chatkit_onprem.crypto.deks import KeyUnavailableError
from chatkit_onprem.crypto.envelope import IntegrityFailure, MissingKeyError
from chatkit_onprem.store.database import DatabaseClosedError, StorageFullError

MESSAGE_LIMIT = 500
STORAGE_FULL_MESSAGE = StorageFullError.MESSAGE
SUBJECT_ERASED_MESSAGE = (
    "this account's data was erased by an administrator (its keys were destroyed): "
    "nothing new can be stored for it"
)


class ApiError(Exception):
    """An error whose status, code and message are meant for the client."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


class TurnRefused(ApiError, CustomStreamError):
    """A client error that can also be raised inside a running turn.

    The protocol layer maps it like any ``ApiError``; inside the library's event loop
    it is a ``CustomStreamError``, which the library streams as an error event with
    this message (its generic errors carry none)."""

    def __init__(self, status: int, code: str, message: str, *, allow_retry: bool = False) -> None:
        ApiError.__init__(self, status, code, message)
        self.allow_retry = allow_retry


class UnsupportedError(ApiError):
    """A request this deployment is not configured for (e.g. transcription without an upstream)."""

    def __init__(self, message: str) -> None:
        super().__init__(501, "not_supported", message)


class ThreadNotWritableError(ApiError):
    def __init__(self, thread_id: str, status: str, reason: str | None) -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(409, f"thread_{status}", f"thread {thread_id} is {status}{detail}")


@dataclass(frozen=True, slots=True)
class ClientError:
    status: int
    code: str
    message: str
    allow_retry: bool = False
    details: Any = None
    internal: bool = False

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        if request_id:
            error["request_id"] = request_id
        return {"error": error}


def classify(exc: BaseException, request_id: str = "") -> ClientError:
    if isinstance(exc, ApiError):
        return ClientError(
            exc.status, exc.code, short(exc.message), getattr(exc, "allow_retry", False), details=exc.details
        )
    if isinstance(exc, StorageFullError) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
        return ClientError(507, "storage_full", STORAGE_FULL_MESSAGE, allow_retry=True)
    if isinstance(exc, NotFoundError):
        return ClientError(404, "not_found", short(str(exc)) or "not found")
    if isinstance(exc, ValidationError):
        return ClientError(400, "invalid_params", "invalid parameters", details=validation_details(exc))
    if isinstance(exc, binascii.Error):
        return ClientError(400, "invalid_params", f"invalid base64 data: {short(str(exc))}")
    if isinstance(exc, CustomStreamError):
        return ClientError(400, "rejected", short(exc.message), allow_retry=exc.allow_retry)
    if isinstance(exc, IntegrityFailure):
        # Stored data that does not authenticate: never shown, never a plain internal error.
        return ClientError(502, "integrity_check_failed", short(str(exc)))
    if isinstance(exc, KeyUnavailableError):
        # A write for a subject whose keys were destroyed (erased; the ledger keeps it so), or
        # whose KEK version is missing. Reads never get here: shredded content reads as deleted.
        if exc.shredded:
            return ClientError(403, "subject_erased", SUBJECT_ERASED_MESSAGE)
        return ClientError(503, "key_unavailable", short(str(exc)), allow_retry=True)
    if isinstance(exc, MissingKeyError):
        return ClientError(503, "key_unavailable", short(str(exc)), allow_retry=True)
    if isinstance(exc, DatabaseClosedError):
        return ClientError(503, "shutting_down", "the server is shutting down; retry shortly", True)
    if isinstance(exc, ValueError):
        # The library raises ValueError for requests that do not fit the thread's state.
        return ClientError(400, "invalid_request", short(str(exc)))
    suffix = f" (request id {request_id})" if request_id else ""
    return ClientError(
        500, "internal_error", f"an internal error occurred{suffix}", allow_retry=True, internal=True
    )


def short(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """A message for the client, at most ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Where and why, never the offending input (it may be large or sensitive)."""
    return [
        {"loc": [short(str(p), 100) for p in err.get("loc", ())], "msg": short(err.get("msg", ""), 200)}
        for err in exc.errors(include_url=False, include_input=False)[:20]
    ]
