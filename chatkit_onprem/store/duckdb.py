"""The embedded engine: one DuckDB file, owned by one process.

DuckDB facts that shape this module (kept in docs/architecture.md §4):

* one process may open the file read-write (another gets a lock error), so this object
  is its only opener and the server runs one worker;
* cursors of one connection serve the reader threads and the writer;
* deleted rows keep their bytes in free pages until the file is rewritten (``compact``);
* extensions are never downloaded (air-gapped) and the file may not touch other files;
* a checkpoint (every 16 MB of WAL) rewrites the changed columns of every row group an
  update or delete touched, and every commit waits for it. With DuckDB's 122,880-row groups
  a key rotation's in-place rewrites stalled commits 300-400 ms per checkpoint; the file is
  therefore attached with smaller row groups (``row_group_rows``, 16,384 by default), which
  cuts those stalls about eight-fold (``scripts/bench_checkpoint.py``). The size applies to
  row groups written from then on; ``compact`` rewrites the whole file with it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb

from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.database import Cursor, Database, DatabaseLockedError

log = get_logger(__name__)

#: Rows per row group in the file (DuckDB's default is 122,880; a multiple of 2,048).
ROW_GROUP_ROWS = 16_384
#: The catalog name the file is attached under (every cursor ``USE``s it).
CATALOG = "store"


class DuckDBDatabase(Database):
    dialect = "duckdb"

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str = "512MB",
        threads: int = 2,
        reader_threads: int = 4,
        write_batch_max: int = 256,
        row_group_rows: int = ROW_GROUP_ROWS,
    ) -> None:
        super().__init__(reader_threads=reader_threads, write_batch_max=write_batch_max, name="duckdb")
        self.path = path
        self.row_group_rows = row_group_rows
        path.parent.mkdir(parents=True, exist_ok=True)
        self._config: dict[str, Any] = {
            "memory_limit": memory_limit,
            "threads": threads,
            # Air-gapped: never download an extension at first use.
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        self._conn = self._connect()
        self._seq: int | None = None
        self._start_writer()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory instance with the file attached: ATTACH is where DuckDB takes the row
        group size (``duckdb.connect(path)`` has no such option)."""
        conn = duckdb.connect(":memory:", config=self._config)
        try:
            self._attach(conn, self.path, CATALOG)
        except duckdb.IOException as exc:
            conn.close()
            if "lock" in str(exc).lower():
                raise DatabaseLockedError(
                    f"{self.path} is held by another process (is a chatkit-onprem server running?). "
                    "Stop it, or use the admin API instead of opening the file."
                ) from exc
            raise
        except BaseException:
            conn.close()
            raise
        conn.execute(f"USE {CATALOG}")
        # The server never reads or writes files other than its own database.
        conn.execute("SET enable_external_access = false")
        return conn

    def _attach(self, conn: duckdb.DuckDBPyConnection, path: Path, name: str) -> None:
        # ATTACH takes no parameter for its options; the size is an int we own, the name ours.
        conn.execute(f"ATTACH ? AS {name} (ROW_GROUP_SIZE {int(self.row_group_rows)})", [str(path)])

    def _new_cursor(self) -> Cursor:
        with self._cursor_lock:
            cursor = self._conn.cursor()
            cursor.execute(f"USE {CATALOG}")  # a cursor starts in the in-memory catalog
            self._cursors.append(cursor)
            return cursor

    def next_seq(self, cursor: Cursor) -> int:
        """One process owns the file: a counter started from the largest number stored."""
        if self._seq is None:
            row = cursor.execute(
                "SELECT greatest((SELECT coalesce(max(seq), 0) FROM items),"
                " (SELECT coalesce(max(seq), 0) FROM threads))"
            ).fetchone()
            self._seq = int(row[0]) if row else 0
        self._seq += 1
        return self._seq

    def _close_engine(self) -> None:
        with self._cursor_lock:  # an unconsumed result keeps a transaction open
            for cursor in self._cursors:
                cursor.close()
        try:
            self._conn.execute("CHECKPOINT")
        finally:
            self._conn.close()
        log.info("database file closed", path=str(self.path))

    def _compact_on_writer(self, _: Cursor) -> int:
        """Copy the live data into a new file and swap it in: freed pages keep no bytes.

        Writes wait (this runs on the writer thread); reads wait at the gate."""
        before = self.path.stat().st_size
        fresh = self.path.with_name(self.path.name + ".compact")
        fresh.unlink(missing_ok=True)
        self._gate.close()
        try:
            with self._cursor_lock:
                for cursor in self._cursors:
                    cursor.close()
                self._cursors.clear()
            self._conn.execute("CHECKPOINT")
            self._conn.close()
            # A connection of its own, allowed to write the second file (with our row groups).
            copier = duckdb.connect(":memory:", config=self._config)
            try:
                self._attach(copier, self.path, CATALOG)
                self._attach(copier, fresh, "compacted")
                copier.execute(f"COPY FROM DATABASE {CATALOG} TO compacted")
                copier.execute("DETACH compacted")
            finally:
                copier.close()
            os.replace(fresh, self.path)
            self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
        finally:
            fresh.unlink(missing_ok=True)
            self._conn = self._connect()
            self._generation += 1
            self._main.cursor = self._new_cursor()
            self._gate.open()
        after = self.path.stat().st_size
        log.info("database compacted", path=str(self.path), bytes_before=before, bytes_after=after)
        return before - after
