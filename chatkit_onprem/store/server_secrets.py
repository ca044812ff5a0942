"""``server_secrets``: random secrets every worker and replica shares, stored wrapped by the KEK
(``crypto.server_secrets`` wraps and unwraps them; these run on the caller's cursor)."""

from __future__ import annotations

from datetime import UTC, datetime

from chatkit_onprem.store.database import Cursor


def get_or_insert_sync(cur: Cursor, name: str, kek_version: str, wrapped: str) -> tuple[str, str]:
    """The stored (KEK version, wrapped secret) of ``name``; the given one if there was none."""
    row = cur.execute("SELECT kek_version, wrapped FROM server_secrets WHERE name = ?", [name]).fetchone()
    if row is not None:
        return str(row[0]), str(row[1])
    cur.execute(
        "INSERT INTO server_secrets (name, kek_version, wrapped, created_at) VALUES (?, ?, ?, ?)",
        [name, kek_version, wrapped, datetime.now(UTC)],
    )
    return kek_version, wrapped


def all_sync(cur: Cursor) -> list[tuple[str, str, str]]:
    """Every secret as (name, KEK version, wrapped)."""
    rows = cur.execute("SELECT name, kek_version, wrapped FROM server_secrets").fetchall()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def rewrap_sync(cur: Cursor, name: str, kek_version: str, wrapped: str) -> None:
    cur.execute(
        "UPDATE server_secrets SET kek_version = ?, wrapped = ? WHERE name = ?", [kek_version, wrapped, name]
    )


def kek_versions_sync(cur: Cursor) -> set[str]:
    return {str(r[0]) for r in cur.execute("SELECT DISTINCT kek_version FROM server_secrets").fetchall()}
