"""Reading a subject's rows for an export: one read transaction, so the export is a consistent
snapshot while writes go on (DuckDB's MVCC), in pages so memory stays flat.

Rows come back with their routing columns and raw payload; decryption happens in the caller
on the same reader thread (the codec needs the cursor for data-key lookups).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from chatkit_onprem.store.database import Cursor, Dialect

PAGE = 5000


def subject_where(
    alias: str, tenant: str, user: str | None, thread_id: str | None, *, thread_column: str
) -> tuple[str, list[Any]]:
    where, args = [f"{alias}.tenant = ?"], [tenant]
    if user is not None:
        where.append(f"{alias}.user_id = ?")
        args.append(user)
    if thread_id is not None:
        where.append(f"{alias}.{thread_column} = ?")
        args.append(thread_id)
    return " AND ".join(where), args


def begin_snapshot(cur: Cursor, dialect: Dialect) -> None:
    """One snapshot for every read until ``end_snapshot`` (PostgreSQL's default isolation would
    give each statement its own)."""
    cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if dialect == "postgres" else "BEGIN TRANSACTION")


def end_snapshot(cur: Cursor) -> None:
    cur.execute("COMMIT")


def thread_rows(
    cur: Cursor,
    tenant: str,
    user: str | None,
    thread_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Iterator[tuple[Any, ...]]:
    """(id, tenant, user_id, created_at, updated_at, status, key_month, payload) in creation order."""
    where, args = subject_where("t", tenant, user, thread_id, thread_column="id")
    if since is not None:
        where += " AND t.updated_at >= ?"
        args.append(since)
    if until is not None:
        where += " AND t.created_at < ?"
        args.append(until)
    yield from _paged(
        cur,
        "SELECT t.id, t.tenant, t.user_id, t.created_at, t.updated_at, t.status, t.key_month, t.payload"
        f" FROM threads t WHERE {where} ORDER BY t.created_at, t.seq",
        args,
    )


def item_rows(
    cur: Cursor, thread_ids: list[str], since: datetime | None, until: datetime | None
) -> Iterator[tuple[Any, ...]]:
    """(thread_id, id, tenant, user_id, type, created_at, key_month, payload), thread by thread."""
    for start in range(0, len(thread_ids), 500):
        part = thread_ids[start : start + 500]
        where = "i.thread_id = ANY(CAST(? AS VARCHAR[]))"
        args: list[Any] = [part]
        if since is not None:
            where += " AND i.created_at >= ?"
            args.append(since)
        if until is not None:
            where += " AND i.created_at < ?"
            args.append(until)
        yield from _paged(
            cur,
            "SELECT i.thread_id, i.id, i.tenant, i.user_id, i.type, i.created_at, i.key_month, i.payload"
            f" FROM items i WHERE {where} ORDER BY i.thread_id, i.created_at, i.seq",
            args,
        )


def attachment_rows(
    cur: Cursor, tenant: str, user: str | None, thread_ids: list[str] | None
) -> Iterator[tuple[Any, ...]]:
    """(id, tenant, user_id, thread_id, created_at, key_month, payload, size, has_preview, stored)."""
    where, args = subject_where("a", tenant, user, None, thread_column="thread_id")
    if thread_ids is not None:
        where += " AND a.thread_id = ANY(CAST(? AS VARCHAR[]))"
        args.append(thread_ids)
    yield from _paged(
        cur,
        "SELECT a.id, a.tenant, a.user_id, a.thread_id, a.created_at, a.key_month, a.payload,"
        " coalesce(b.size, 0), coalesce(b.has_preview, false), b.state = 'stored'"
        " FROM attachments a LEFT JOIN blob_objects b ON b.attachment_id = a.id"
        f" WHERE {where} ORDER BY a.created_at, a.id",
        args,
    )


def _paged(cur: Cursor, sql: str, args: list[Any]) -> Iterator[tuple[Any, ...]]:
    result = cur.execute(sql, args)
    while rows := result.fetchmany(PAGE):
        yield from rows


def jsonl_to_parquet(
    folder: Path, tables: dict[str, dict[str, str]], threads: int | None = None
) -> dict[str, list[Any]]:
    """Each ``<table>.jsonl`` as ``<table>.parquet`` with the given column types, by a separate
    in-memory DuckDB that streams the file (the server's own database instance may not touch
    other files), on ``threads`` threads (None: DuckDB's default, one per core). Returns
    {file name: [sha256, bytes]}."""
    import duckdb

    hashes: dict[str, list[Any]] = {}
    config: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(":memory:", config=config)
    try:
        for name, columns in tables.items():
            source, target = folder / f"{name}.jsonl", folder / f"{name}.parquet"
            if source.stat().st_size == 0:
                continue
            # COPY ... TO takes no parameter for its target; it is our own bundle folder, quoted.
            # The column map is ours too (names and types, no input), as a struct literal.
            quoted = str(target).replace("'", "''")
            struct = ", ".join(f"'{column}': '{kind}'" for column, kind in columns.items())
            con.execute(
                "COPY (SELECT * FROM read_json(?, format = 'newline_delimited',"
                f" maximum_object_size = 67108864, columns = {{{struct}}}))"
                f" TO '{quoted}' (FORMAT parquet)",
                [str(source)],
            )
            digest = hashlib.sha256()
            with target.open("rb") as handle:
                while block := handle.read(1024 * 1024):
                    digest.update(block)
            hashes[target.name] = [digest.hexdigest(), target.stat().st_size]
    finally:
        con.close()
    return hashes
