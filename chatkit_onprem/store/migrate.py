"""Moving a deployment from its DuckDB file to PostgreSQL, offline, verified.

Every table is copied as it is (payloads stay encrypted: their associated data names the
table, row, tenant and user, none of which changes, so the same KEK reads them), in
batches, with PostgreSQL's COPY. Then both sides are compared per table: the row count and
a checksum of every row (the sum of the rows' SHA-256 values, so the engines' different
sort orders of text do not matter). The target must be empty
(a fresh database, migrated here to the current schema); the source must not be held by
a running server (DuckDB would refuse to open it anyway: one process owns the file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from chatkit_onprem.store.database import DatabaseLockedError

#: Tables in an order that satisfies PostgreSQL's foreign keys, with their key columns.
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("threads", ("id",)),
    ("items", ("thread_id", "id")),
    ("attachments", ("id",)),
    ("feedback", ("thread_id", "item_id", "user_id")),
    ("blob_objects", ("attachment_id",)),
    ("usage", ("tenant", "user_id", "alias", "thread_id", '"at"')),
    ("api_keys", ("id",)),
    ("data_keys", ("tenant", "user_id", "month")),
    ("server_secrets", ("name",)),
    ("jobs", ("id",)),
    ("erasure_ledger", ("id",)),
    ("holds", ("id",)),
    ("audit_log", ("seq",)),
)
_BATCH = 5000


class MigrationError(Exception):
    """The move cannot go on: the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class TableResult:
    table: str
    rows: int
    sha256: str


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [str(r[0]) for r in rows]


def _quoted(column: str) -> str:
    return f'"{column}"' if column in ("at", "cursor") else column


def _canonical(row: tuple[Any, ...]) -> bytes:
    """One row as bytes for the checksum, the same whichever engine returned it."""
    parts = []
    for value in row:
        if isinstance(value, bytes | bytearray | memoryview):
            parts.append(b"b:" + bytes(value).hex().encode())
        elif isinstance(value, list | tuple):
            parts.append(b"l:" + repr([str(v) for v in value]).encode())
        elif isinstance(value, datetime):
            parts.append(b"t:" + value.astimezone(UTC).isoformat().encode())
        else:
            parts.append(b"v:" + repr(value).encode())
    return b"\x1f".join(parts)


def _digest(rows: Iterator[tuple[Any, ...]]) -> tuple[int, str]:
    """(rows, checksum): the sum of the rows' SHA-256 values modulo 2**256, order-free."""
    total, count = 0, 0
    for row in rows:
        total = (total + int.from_bytes(hashlib.sha256(_canonical(row)).digest(), "big")) % (1 << 256)
        count += 1
    return count, f"{total:064x}"


def _duck_rows(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
    result = con.execute(f"SELECT {', '.join(map(_quoted, columns))} FROM {table}")
    while batch := result.fetchmany(_BATCH):
        yield from batch


def migrate_duckdb_to_postgres(
    source: Path, dsn: str, *, progress: Callable[[str, int], None] | None = None
) -> list[TableResult]:
    """Copy everything from the DuckDB file ``source`` into the empty PostgreSQL database ``dsn``."""
    import psycopg

    from chatkit_onprem.store.migrations import POSTGRES_MIGRATIONS, apply_migrations
    from chatkit_onprem.store.postgres import PostgresDatabase

    if not source.is_file():
        raise MigrationError(f"{source} does not exist")
    try:
        duck = duckdb.connect(str(source), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseLockedError(
                f"{source} is held by another process: stop the chatkit-onprem server first "
                "(the move is offline)"
            ) from exc
        raise
    try:
        version = duck.execute("SELECT max(version) FROM schema_migrations").fetchone()
        if version is None or int(version[0]) != POSTGRES_MIGRATIONS[-1][0]:
            raise MigrationError(
                f"{source} is at schema version {version[0] if version else '?'}; start this release on "
                "it once (it migrates the file), stop it, then move it"
            )
        target = PostgresDatabase(dsn, reader_threads=1)
        try:
            apply_migrations(target)
        finally:
            target.close()
        with psycopg.connect(dsn, autocommit=False) as pg:
            for table, _ in TABLES:
                if pg.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:  # type: ignore[arg-type]
                    raise MigrationError(
                        f"the target database already holds rows in {table}: give an empty database"
                    )
            for table, _ in TABLES:
                columns = _columns(duck, table)
                copied = 0
                with pg.cursor().copy(
                    f"COPY {table} ({', '.join(map(_quoted, columns))}) FROM STDIN"
                ) as copy:  # type: ignore[arg-type]
                    for row in _duck_rows(duck, table, columns):
                        copy.write_row(row)
                        copied += 1
                        if progress is not None and copied % _BATCH == 0:
                            progress(table, copied)
                if progress is not None:
                    progress(table, copied)
            top = duck.execute(
                "SELECT greatest((SELECT coalesce(max(seq), 0) FROM items),"
                " (SELECT coalesce(max(seq), 0) FROM threads))"
            ).fetchone()
            pg.execute("SELECT setval('chatkit_seq', %s)", [int(top[0]) + 1 if top else 1])  # type: ignore[index]
            pg.commit()
            return _verify(duck, pg)
    finally:
        duck.close()


def _verify(duck: duckdb.DuckDBPyConnection, pg: Any) -> list[TableResult]:
    """Row counts and checksums, per table, on both sides; MigrationError on any difference."""
    results = []
    for table, _ in TABLES:
        columns = _columns(duck, table)
        count, digest = _digest(_duck_rows(duck, table, columns))
        cursor = pg.cursor(name=f"verify_{table}")  # server-side: the rows stream
        cursor.execute(f"SELECT {', '.join(map(_quoted, columns))} FROM {table}")
        theirs = _digest(iter(cursor))
        cursor.close()
        if (count, digest) != theirs:
            raise MigrationError(
                f"{table}: {count} rows (sha256 {digest[:16]}…) in DuckDB but {theirs[0]} rows "
                f"(sha256 {theirs[1][:16]}…) in PostgreSQL"
            )
        results.append(TableResult(table, count, digest))
    pg.commit()
    return results
