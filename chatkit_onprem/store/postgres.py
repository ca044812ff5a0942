"""The engine past one process: an external PostgreSQL (CloudNativePG, Patroni, a managed one).

Each worker process keeps its own connections: one per reader thread and one for the
group-commit writer (``store.database``), all in autocommit mode with explicit
transactions, exactly like the DuckDB path. Many processes and replicas share the
database, so what one process knew alone now lives in the database: sequence numbers come
from a sequence (in blocks), row locks (``FOR UPDATE SKIP LOCKED``) hand jobs out,
advisory locks order the audit chain and migrations, foreign keys keep items from
outliving their thread.

TLS to the database follows the project's one trust rule (``chatkit_onprem.trust``):
libpq takes a CA *file*, so the system store, ``SSL_CERT_FILE`` and ``store.postgres.ca_bundle``
are written into one PEM file that is passed as ``sslrootcert`` when the DSN verifies
the server (``sslmode=verify-ca`` or ``verify-full``) and names no ``sslrootcert`` itself.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo

from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.database import Cursor, Database, StorageFullError

log = get_logger(__name__)
_SEQ_BLOCK = 100  # the sequence's increment: one round trip per 100 numbers


@functools.lru_cache(maxsize=4096)
def _translate(query: str) -> str:
    """``?`` placeholders (the store's one SQL dialect) as psycopg's ``%s``."""
    return query.replace("%", "%%").replace("?", "%s")


class PgCursor:
    """A psycopg cursor that takes the store's ``?`` placeholders."""

    __slots__ = ("_conn", "_cur")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._cur = conn.cursor()

    def execute(self, query: str, parameters: Any = None) -> PgCursor:
        if parameters:
            self._cur.execute(_translate(query), parameters)  # type: ignore[call-overload]
        else:
            self._cur.execute(query)  # type: ignore[call-overload]
        return self

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    def fetchmany(self, size: int = 1) -> list[Any]:
        return self._cur.fetchmany(size)

    def close(self) -> None:
        self._conn.close()


def trusted_dsn(dsn: str, ca_bundle: Path | None) -> tuple[str, Path | None]:
    """The DSN with ``sslrootcert`` pointing at one PEM file that holds the one trust rule's CAs,
    when the DSN verifies the server and names none itself. Returns (dsn, the file to delete)."""
    params = conninfo.conninfo_to_dict(dsn)
    if params.get("sslmode") not in ("verify-ca", "verify-full") or params.get("sslrootcert"):
        return dsn, None
    from chatkit_onprem.trust import trust_sources

    files, _ = trust_sources(ca_bundle)
    fd, name = tempfile.mkstemp(prefix="chatkit-pg-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as out:
        for file in files:
            out.write(Path(file).read_bytes().rstrip(b"\n") + b"\n")
    params["sslrootcert"] = name
    return conninfo.make_conninfo("", **params), Path(name)


class PostgresDatabase(Database):
    dialect = "postgres"
    concurrent_writers = True

    def __init__(
        self,
        dsn: str,
        *,
        ca_bundle: Path | None = None,
        reader_threads: int = 4,
        write_batch_max: int = 256,
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__(reader_threads=reader_threads, write_batch_max=write_batch_max, name="postgres")
        self._dsn, self._ca_file = trusted_dsn(dsn, ca_bundle)
        self._connect_timeout = connect_timeout
        self._seq_next = 0
        self._seq_end = 0
        self._seq_lock = threading.Lock()
        probe = self._new_cursor()  # fail at start-up, with libpq's own words, when unreachable
        probe.execute("SELECT 1")
        self._start_writer()

    def _new_cursor(self) -> Cursor:
        conn = psycopg.connect(
            self._dsn,
            autocommit=True,  # transactions are explicit: BEGIN ... COMMIT, as on DuckDB
            connect_timeout=max(1, int(self._connect_timeout)),
            application_name="chatkit-onprem",
        )
        cursor = PgCursor(conn)
        with self._cursor_lock:
            self._cursors.append(cursor)
        return cursor

    def _broken(self, exc: Exception) -> bool:
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)

    def _classify(self, exc: Exception) -> Exception:
        if isinstance(exc, psycopg.errors.DiskFull):
            error = StorageFullError()
            error.__cause__ = exc
            return error
        return super()._classify(exc)

    def next_seq(self, cursor: Cursor) -> int:
        """From the shared sequence, a block at a time (processes interleave blocks: ties between
        equal timestamps of different processes are broken arbitrarily, never twice the same)."""
        with self._seq_lock:
            if self._seq_next >= self._seq_end:
                row = cursor.execute("SELECT nextval('chatkit_seq')").fetchone()
                self._seq_next = int(row[0])
                self._seq_end = self._seq_next + _SEQ_BLOCK
            self._seq_next += 1
            return self._seq_next - 1

    def _compact_on_writer(self, cursor: Cursor) -> int:
        """``VACUUM FULL`` of the content tables: their files are rewritten without dead rows
        (each table is locked while it is rewritten)."""
        tables = ("threads", "items", "attachments", "feedback", "blob_objects", "usage")
        size = "SELECT sum(pg_total_relation_size(t::regclass)) FROM unnest(CAST(? AS VARCHAR[])) AS t"
        before = int(cursor.execute(size, [list(tables)]).fetchone()[0] or 0)
        for table in tables:
            cursor.execute(f"VACUUM FULL {table}")
        after = int(cursor.execute(size, [list(tables)]).fetchone()[0] or 0)
        log.info("database compacted", engine="postgres", bytes_before=before, bytes_after=after)
        return before - after

    def _close_engine(self) -> None:
        with self._cursor_lock:
            for cursor in self._cursors:
                try:
                    cursor.close()
                except Exception as exc:  # a connection already gone
                    log.debug("closing a database connection failed", error=str(exc)[:200])
            self._cursors.clear()
        if self._ca_file is not None:
            self._ca_file.unlink(missing_ok=True)
