"""Batches of rows whose payload must be re-encrypted, and the guarded write-back.

Used by the key jobs (``crypto.rotation``): plaintext rows written before encryption,
and rows under a data key that is no longer its keyset's primary. Batches are found in
``rowid`` order (DuckDB's physical order: a cursor that costs nothing to resume) and
written back with one ``UPDATE ... FROM (VALUES ...)`` whose guard is the payload read:
a row changed meanwhile by a request is left alone (it was written under the current
key already, or the next pass finds it), so no concurrent write is ever overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chatkit_onprem.store.database import Cursor

EncryptedTable = Literal["threads", "items", "attachments"]
TABLES: tuple[EncryptedTable, ...] = ("threads", "items", "attachments")
_ROW_ID = {"threads": "t.id", "items": "t.thread_id || '/' || t.id", "attachments": "t.id"}


@dataclass(frozen=True, slots=True)
class StaleRow:
    rowid: int
    row_id: str  # as bound in the payload's associated data
    tenant: str
    user: str
    key_month: str | None
    payload: bytes


def stale_rows(
    cur: Cursor,
    table: EncryptedTable,
    *,
    plaintext: bool,
    after_rowid: int,
    limit: int,
    tenant: str | None = None,
    user: str | None = None,
) -> list[StaleRow]:
    """Plaintext rows, or encrypted rows not under their keyset's primary key, after ``after_rowid``."""
    where = ["t.rowid > ?"]
    args: list[Any] = [after_rowid]
    if tenant is not None:
        where.append("t.tenant = ?")
        args.append(tenant)
    if user is not None:
        where.append("t.user_id = ?")
        args.append(user)
    if plaintext:
        sql = (
            f"SELECT t.rowid, {_ROW_ID[table]}, t.tenant, t.user_id, t.key_month, t.payload FROM {table} t"
            f" WHERE t.key_id IS NULL AND {' AND '.join(where)} ORDER BY t.rowid LIMIT ?"
        )
    else:
        sql = (
            f"SELECT t.rowid, {_ROW_ID[table]},"
            f" t.tenant, t.user_id, t.key_month, t.payload FROM {table} t JOIN data_keys d"
            " ON d.tenant = t.tenant AND d.user_id = t.user_id AND d.month = t.key_month"
            f" WHERE d.state = 'active' AND t.key_id <> d.row_primary AND {' AND '.join(where)}"
            " ORDER BY t.rowid LIMIT ?"
        )
    rows = cur.execute(sql, [*args, limit]).fetchall()
    return [StaleRow(int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], bytes(r[5])) for r in rows]


def count_stale(cur: Cursor, table: EncryptedTable, *, plaintext: bool) -> int:
    if plaintext:
        row = cur.execute(f"SELECT count(*) FROM {table} WHERE key_id IS NULL").fetchone()
    else:
        row = cur.execute(
            f"SELECT count(*) FROM {table} t JOIN data_keys d"
            " ON d.tenant = t.tenant AND d.user_id = t.user_id AND d.month = t.key_month"
            " WHERE d.state = 'active' AND t.key_id <> d.row_primary"
        ).fetchone()
    return int(row[0]) if row else 0


def write_back(
    cur: Cursor,
    *,
    table: EncryptedTable,
    rows: Sequence[tuple[int, bytes, str, int, bytes]],
    chunk: int = 1000,
) -> int:
    """``rows``: (rowid, new payload, key month, key id, payload read). Returns rows changed."""
    changed = 0
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        values = ", ".join(["(?, ?, ?, ?, ?)"] * len(part))
        result = cur.execute(
            f"UPDATE {table} SET payload = v.p, key_month = v.m, key_id = v.k"
            f" FROM (VALUES {values}) v(rid, p, m, k, old)"
            f" WHERE {table}.rowid = v.rid AND {table}.payload = v.old",
            [value for row in part for value in row],
        ).fetchone()
        changed += int(result[0]) if result else 0
    return changed


def key_states(cur: Cursor) -> list[tuple[str, str, int]]:
    """(table, state, rows) with state plaintext | current | previous | shredded, for ``keys status``."""
    out: list[tuple[str, str, int]] = []
    for table in TABLES:
        rows = cur.execute(
            "SELECT CASE WHEN t.key_id IS NULL THEN 'plaintext'"
            " WHEN d.state IS NULL OR d.state <> 'active' THEN 'shredded'"
            " WHEN t.key_id = d.row_primary THEN 'current' ELSE 'previous' END AS state, count(*)"
            f" FROM {table} t LEFT JOIN data_keys d"
            " ON d.tenant = t.tenant AND d.user_id = t.user_id AND d.month = t.key_month"
            " GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        out.extend((table, str(state), int(n)) for state, n in rows)
    return out
