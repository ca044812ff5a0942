"""Batches of rows whose payload must be re-encrypted, and their write-back.

Used by the key jobs (``crypto.rotation``): plaintext rows written before encryption,
and rows under a data key that is no longer its keyset's primary. A batch is read on a
reader thread and resealed off the writer thread (the crypto is most of a batch's time,
and every request's commit queues behind the writer); only the write-back runs on the
writer, and it rewrites a row only while its payload is still the one read (the engine's
digest of it, taken by the read: every seal has a fresh nonce, so any write changes it).
A row a request wrote meanwhile keeps the request's write. That holds across processes too
(PostgreSQL with several workers), where the guard is in the ``UPDATE`` itself and is
re-checked on a row another transaction had locked.

Where the engines differ, each gets its fast path:

* DuckDB walks ``rowid`` order (its physical order: a cursor that costs nothing to
  resume). The write-back appends the batch to a staging table of the writer's connection
  (in memory, no WAL) and runs one ``UPDATE ... FROM`` joined by rowid, primary key and
  digest, limited to the batch's rowid range (its row groups): 500 rows of 730 bytes in
  ~4.4 ms, against ~6.7 ms for the appender in update mode after a read-back of the
  digests, and ~55 ms for ``UPDATE ... FROM (VALUES ...)``, which re-plans per statement.
* PostgreSQL walks primary-key order (its B-tree index) and writes back with one
  ``UPDATE ... FROM (VALUES ...)`` per batch.

The resume point (``after``) is a rowid for DuckDB and a primary key for PostgreSQL;
``None`` means from the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from chatkit_onprem.store.database import Cursor, Dialect

EncryptedTable = Literal["threads", "items", "attachments"]
TABLES: tuple[EncryptedTable, ...] = ("threads", "items", "attachments")
_ROW_ID = {"threads": "t.id", "items": "t.thread_id || '/' || t.id", "attachments": "t.id"}
_KEY = {"threads": ["id"], "items": ["thread_id", "id"], "attachments": ["id"]}
_KEY_SELECT = {"threads": "t.id", "items": "t.thread_id, t.id", "attachments": "t.id"}
_STALE = "d.state = 'active' AND t.key_id <> d.row_primary"
_DIGEST = {"duckdb": "hash(t.payload)", "postgres": "md5(t.payload)"}
_JOIN = " JOIN data_keys d ON d.tenant = t.tenant AND d.user_id = t.user_id AND d.month = t.key_month"


@dataclass(frozen=True, slots=True)
class StaleRow:
    position: Any  # where this row is in the walk: a rowid (DuckDB) or its primary key (PostgreSQL)
    row_id: str  # as bound in the payload's associated data
    tenant: str
    user: str
    key_month: str | None
    payload: bytes
    key: tuple[str, ...]  # the primary key
    digest: Any  # the engine's digest of the payload read (DuckDB hash(), PostgreSQL md5()): the guard


Resealed = tuple[StaleRow, bytes, str, int]
"""(row, new payload, key month, key id)."""


def _stale_sql(
    table: EncryptedTable, columns: str, *, plaintext: bool, dialect: Dialect, after: Any
) -> tuple[str, list[Any]]:
    """Rows (after ``after``) that are plaintext, or not under their keyset's primary key."""
    if dialect == "duckdb":
        order, position, args = "t.rowid", "t.rowid > ?", [-1 if after is None else after]
    else:
        keys = [f"t.{c}" for c in _KEY[table]]
        order = ", ".join(keys)
        position = "true" if after is None else f"({order}) > ({', '.join('?' * len(keys))})"
        args = [] if after is None else list(after)
    if plaintext:
        return (
            f"SELECT {columns} FROM {table} t WHERE t.key_id IS NULL AND {position} ORDER BY {order} LIMIT ?",
            args,
        )
    return (
        f"SELECT {columns} FROM {table} t{_JOIN} WHERE {_STALE} AND {position} ORDER BY {order} LIMIT ?",
        args,
    )


def stale_rows(
    cur: Cursor, table: EncryptedTable, *, dialect: Dialect, plaintext: bool, after: Any, limit: int
) -> list[StaleRow]:
    position = "t.rowid" if dialect == "duckdb" else _KEY_SELECT[table]
    width = 1 if dialect == "duckdb" else len(_KEY[table])
    columns = (
        f"{position}, {_ROW_ID[table]}, t.tenant, t.user_id, t.key_month, t.payload, {_DIGEST[dialect]},"
        f" {_KEY_SELECT[table]}"
    )
    sql, args = _stale_sql(table, columns, plaintext=plaintext, dialect=dialect, after=after)
    rows = cur.execute(sql, [*args, limit]).fetchall()
    out = []
    for r in rows:
        where = r[0] if width == 1 and dialect == "duckdb" else [str(v) for v in r[:width]]
        rest = r[width:]
        out.append(
            StaleRow(
                where,
                str(rest[0]),
                str(rest[1]),
                str(rest[2]),
                rest[3],
                bytes(rest[4]),
                tuple(str(v) for v in rest[6:]),
                rest[5],
            )
        )
    return out


def count_stale(cur: Cursor, table: EncryptedTable, *, plaintext: bool) -> int:
    if plaintext:
        row = cur.execute(f"SELECT count(*) FROM {table} WHERE key_id IS NULL").fetchone()
    else:
        row = cur.execute(f"SELECT count(*) FROM {table} t{_JOIN} WHERE {_STALE}").fetchone()
    return int(row[0]) if row else 0


def plaintext_left_sync(cur: Cursor) -> bool:
    """Whether anything an earlier release wrote is still unencrypted: a row without a key, or
    an object under the old static key. Stops at the first (run at every start-up)."""
    queries = [f"SELECT 1 FROM {table} WHERE key_id IS NULL LIMIT 1" for table in TABLES]
    queries.append("SELECT 1 FROM blob_objects WHERE state = 'stored' AND key_id NOT LIKE 'dek:%' LIMIT 1")
    return any(cur.execute(query).fetchone() is not None for query in queries)


def write_back(cur: Cursor, *, dialect: Dialect, table: EncryptedTable, updates: list[Resealed]) -> int:
    """On the writer thread: store the resealed payloads of rows still as they were read.

    Returns the rows rewritten. A row changed meanwhile (a request wrote it, under the
    current key), deleted, or moved (a DuckDB checkpoint renumbered its rowid) is left as
    it is: the next pass finds it if it is still stale."""
    if not updates:
        return 0
    if dialect == "duckdb":
        return _write_back_duckdb(cur, table, updates)
    return _write_back_postgres(cur, table, updates)


def _write_back_duckdb(cur: Cursor, table: EncryptedTable, updates: list[Resealed]) -> int:
    """The batch goes into a staging table (the writer connection's own, in memory: no WAL),
    and one ``UPDATE ... FROM`` joins it by rowid, primary key and digest: a row changed,
    deleted or moved (a checkpoint renumbers rowids) since it was read matches nothing.
    Measured against the appender in update mode after a read-back of the digests: 8.7
    against 13.4 µs a row of 730 bytes (``docs/performance.md``)."""
    keys = _KEY[table]
    staging = f"reencrypt_{table}"
    key_columns = ", ".join(f"{k} VARCHAR" for k in keys)
    cur.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} (position BIGINT, {key_columns},"
        " digest UBIGINT, payload BLOB, key_month VARCHAR, key_id BIGINT)"
    )
    # Empty on entry: emptied below before the commit, and a rolled-back batch's rows go with it.
    appender = cur.appender(staging)  # type: ignore[attr-defined]
    appender.append_rows(
        [
            (row.position, *row.key, row.digest, payload, month, key_id)
            for row, payload, month, key_id in updates
        ]
    )
    appender.flush()
    positions = [row.position for row, *_ in updates]
    match = " AND ".join(f"t.{k} = u.{k}" for k in keys)
    found = cur.execute(
        f"UPDATE {table} AS t SET payload = u.payload, key_month = u.key_month, key_id = u.key_id"
        f" FROM {staging} AS u WHERE t.rowid = u.position AND {match}"
        f" AND t.rowid BETWEEN ? AND ? AND {_DIGEST['duckdb']} = u.digest",
        [min(positions), max(positions)],
    ).fetchone()
    cur.execute(f"DELETE FROM {staging}")
    return int(found[0]) if found else 0


def _write_back_postgres(cur: Cursor, table: EncryptedTable, updates: list[Resealed]) -> int:
    keys = _KEY[table]
    width = len(keys) + 4  # the key, the new payload, month and key id, the digest read
    values = ", ".join(["(" + ", ".join(["?"] * width) + ")"] * len(updates))
    match = " AND ".join(f"t.{k} = v.{k}" for k in keys)
    rows = cur.execute(
        f"UPDATE {table} AS t SET payload = v.p, key_month = v.m, key_id = v.k::bigint"
        f" FROM (VALUES {values}) AS v({', '.join(keys)}, p, m, k, d)"
        f" WHERE {match} AND {_DIGEST['postgres']} = v.d RETURNING 1",
        [
            value
            for row, payload, month, key_id in updates
            for value in (*row.key, payload, month, key_id, row.digest)
        ],
    ).fetchall()
    return len(rows)


def key_states(cur: Cursor) -> list[tuple[str, str, int]]:
    """(table, state, rows) with state plaintext | current | previous | shredded, for ``keys status``."""
    state = (
        "CASE WHEN t.key_id IS NULL THEN 'plaintext'"
        " WHEN d.state IS NULL OR d.state <> 'active' THEN 'shredded'"
        " WHEN t.key_id = d.row_primary THEN 'current' ELSE 'previous' END"
    )
    out: list[tuple[str, str, int]] = []
    for table in TABLES:
        rows = cur.execute(
            f"SELECT {state} AS key_state, count(*) FROM {table} t LEFT JOIN data_keys d"
            " ON d.tenant = t.tenant AND d.user_id = t.user_id AND d.month = t.key_month"
            " GROUP BY key_state ORDER BY key_state"
        ).fetchall()
        out.extend((table, str(s), int(n)) for s, n in rows)
    return out
