"""Checks on identity values taken from tokens or headers before they scope any data."""

from __future__ import annotations

MAX_IDENTITY = 256


def valid_identity(value: object) -> str | None:
    """``value`` if it is a usable user/tenant id (non-empty printable text), else None.

    Object keys hash these values, so any printable text is safe downstream.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_IDENTITY:
        return None
    if not value.isprintable() or value != value.strip():
        return None
    return value


def claim(claims: dict[str, object], path: str) -> object:
    """A claim by dotted path (``realm_access.roles``); None when absent."""
    node: object = claims
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
