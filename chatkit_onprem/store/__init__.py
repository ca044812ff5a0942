"""Persistence: the database engines, migrations, the ChatKit Store and the repositories.

``open_database`` picks the engine from ``store.backend``: an embedded DuckDB file (one
process) or an external PostgreSQL (many workers and replicas).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatkit_onprem.store.chatkit_store import DuckDBStore
from chatkit_onprem.store.database import Database, DatabaseLockedError
from chatkit_onprem.store.duckdb import DuckDBDatabase
from chatkit_onprem.store.migrations import apply_migrations

if TYPE_CHECKING:
    from chatkit_onprem.config import Settings

__all__ = [
    "Database",
    "DatabaseLockedError",
    "DuckDBDatabase",
    "DuckDBStore",
    "apply_migrations",
    "open_database",
]


def open_database(settings: Settings) -> Database:
    store = settings.store
    if store.backend == "postgres":
        from chatkit_onprem.store.postgres import PostgresDatabase

        assert store.postgres.dsn is not None  # the config requires it for this backend
        return PostgresDatabase(
            store.postgres.dsn.get_secret_value(),
            ca_bundle=settings.resolve(store.postgres.ca_bundle) if store.postgres.ca_bundle else None,
            reader_threads=store.postgres.reader_connections,
            write_batch_max=store.write_batch_max,
            connect_timeout=store.postgres.connect_timeout_seconds,
        )
    return DuckDBDatabase(
        settings.store_path,
        memory_limit=store.memory_limit,
        threads=store.threads,
        reader_threads=store.reader_threads,
        write_batch_max=store.write_batch_max,
        row_group_rows=store.row_group_rows,
    )
