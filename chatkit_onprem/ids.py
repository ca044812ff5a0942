"""Identifiers with 128 random bits (the library's default has 32)."""

from __future__ import annotations

import secrets

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


def new_id(kind: StoreItemType | str) -> str:
    """``<prefix>_<32 hex chars>``: unguessable, so ids alone never grant access."""
    return f"{_PREFIXES.get(kind, kind)}_{secrets.token_hex(16)}"
