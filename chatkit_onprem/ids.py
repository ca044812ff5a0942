"""Identifiers with 128 random bits (the library's default has 32).

The bits come from the OS CSPRNG (``os.urandom``), fetched 4 KiB at a time: one
system call per 256 ids instead of one per id. On a busy worker every system
call releases the GIL, and taking it back can wait for another thread (cProfile
of the streaming benchmark: ~0.2 ms per ``urandom`` call under load).
"""

from __future__ import annotations

import os
import threading

from chatkit.store import StoreItemType

_PREFIXES: dict[str, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
    "call": "call",
}
_ID_BYTES = 16
_POOL_BYTES = 4096


class _RandomPool:
    """CSPRNG bytes handed out once each; refilled when used up, emptied in a forked child."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._offset = 0

    def take(self, count: int) -> bytes:
        with self._lock:
            if self._offset + count > len(self._pool):
                self._pool = os.urandom(_POOL_BYTES)
                self._offset = 0
            start = self._offset
            self._offset += count
            return self._pool[start : start + count]

    def forget(self) -> None:
        """A child must never reuse its parent's bytes (it would repeat its ids)."""
        self._pool = b""
        self._offset = 0


_RANDOM = _RandomPool()
os.register_at_fork(after_in_child=_RANDOM.forget)


def new_id(kind: StoreItemType | str) -> str:
    """``<prefix>_<32 hex chars>``: unguessable, so ids alone never grant access."""
    return f"{_PREFIXES.get(kind, kind)}_{_RANDOM.take(_ID_BYTES).hex()}"


def new_request_id() -> str:
    """32 hex chars for a request without a usable ``X-Request-Id``."""
    return _RANDOM.take(_ID_BYTES).hex()
