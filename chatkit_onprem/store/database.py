"""The one owner of the DuckDB file.

DuckDB facts that shape this module (ARCHITECTURE §3.1-3.3):

* one process may open the file read-write, so this object is the only opener;
* a connection must not be shared between threads, so each reader thread gets
  its own cursor and a single writer thread owns the write cursor;
* tiny transactions are slow (~650 commits/s), so the writer groups whatever
  writes are queued into one transaction (group commit). A write's future
  resolves only after its transaction committed: an acknowledged write is in
  the WAL. If a batch fails, it is rolled back and each write is replayed alone,
  so one bad write never takes its neighbours down with it.

Blocking calls never run on the event loop: ``read`` and ``write`` hand work to
threads and await the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from chatkit.errors import CustomStreamError

from chatkit_onprem import metrics
from chatkit_onprem.logging import get_logger

T = TypeVar("T")
Cursor = duckdb.DuckDBPyConnection
log = get_logger(__name__)


class DatabaseLockedError(RuntimeError):
    """Another process (usually a running server) holds the DuckDB file."""


class DatabaseClosedError(RuntimeError):
    """The database is shutting down; no new work is accepted."""


class StorageFullError(CustomStreamError):
    """The disk holding the database is full: the write was rolled back, nothing was acknowledged.

    A ``CustomStreamError`` so that the ChatKit library, which turns other exceptions in a
    stream into a bare "stream error", streams this message; HTTP answers 507 storage_full.
    Reads keep working, and writes succeed again once space returns."""

    MESSAGE = (
        "the server's storage is full, so nothing can be saved right now (reading still works); "
        "retry once an operator has freed space"
    )

    def __init__(self) -> None:
        super().__init__(self.MESSAGE, allow_retry=True)


_NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device", as DuckDB quotes it


def _classified(exc: Exception) -> Exception:
    """A write failure as the caller should see it: disk full gets its own error."""
    if isinstance(exc, duckdb.Error) and _NO_SPACE in str(exc):
        error = StorageFullError()
        error.__cause__ = exc
        return error
    return exc


GroupHandler = Callable[[Cursor, list[Any], bool], list[Any]]
"""Runs a run of same-kind writes at once; returns one result (or exception instance) each.

The flag is ``alone``: True when a request is replayed by itself after its batch
failed. A handler may take an optimistic fast path in a batch (a plain INSERT
that fails on a duplicate key) and the careful one alone.
"""


@dataclass(slots=True)
class _Write:
    fn: Callable[[Cursor], Any] | None
    future: Future[Any]
    group: GroupHandler | None = None
    request: Any = None


_STOP = object()


class _Gate:
    """Many readers, or one compaction: reads share it, swapping the file takes it alone."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._closed = False

    def enter(self) -> None:
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._readers += 1

    def leave(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            while self._readers:
                self._cond.wait()

    def open(self) -> None:
        with self._cond:
            self._closed = False
            self._cond.notify_all()


class Database:
    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str = "512MB",
        threads: int = 2,
        reader_threads: int = 4,
        write_batch_max: int = 256,
    ) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._config: dict[str, Any] = {
            "memory_limit": memory_limit,
            "threads": threads,
            # Air-gapped: never download an extension at first use.
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        self._conn = self._connect()
        self._write_batch_max = write_batch_max
        self._gate = _Gate()
        self._generation = 0
        self._writes: queue.SimpleQueue[_Write | object] = queue.SimpleQueue()
        self._local = threading.local()
        self._cursor_lock = threading.Lock()
        self._cursors: list[Cursor] = []
        self._readers = ThreadPoolExecutor(reader_threads, thread_name_prefix="duckdb-read")
        self._closed = False
        self._writer_cursor = self._new_cursor()
        self._writer = threading.Thread(target=self._write_loop, name="duckdb-write", daemon=True)
        self._writer.start()
        self.commits = 0  # transactions committed (for metrics and benchmarks)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        try:
            conn = duckdb.connect(str(self.path), config=self._config)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DatabaseLockedError(
                    f"{self.path} is held by another process (is a chatkit-onprem server running?). "
                    "Stop it, or use the admin API instead of opening the file."
                ) from exc
            raise
        # The server never reads or writes files other than its own database.
        conn.execute("SET enable_external_access = false")
        return conn

    # --- cursors -------------------------------------------------------
    def _new_cursor(self) -> Cursor:
        with self._cursor_lock:
            cursor = self._conn.cursor()
            self._cursors.append(cursor)
            return cursor

    def _reader_cursor(self) -> Cursor:
        cursor: Cursor | None = getattr(self._local, "cursor", None)
        if cursor is None or getattr(self._local, "generation", -1) != self._generation:
            cursor = self._new_cursor()  # first use, or the file was compacted since
            self._local.cursor = cursor
            self._local.generation = self._generation
        return cursor

    def _read_on_thread(self, fn: Callable[[Cursor], T]) -> T:
        self._gate.enter()
        try:
            return fn(self._reader_cursor())
        finally:
            self._gate.leave()

    # --- public API ----------------------------------------------------
    async def read(self, fn: Callable[[Cursor], T]) -> T:
        """Run ``fn(cursor)`` on a reader thread (sees every acknowledged write)."""
        if self._closed:
            raise DatabaseClosedError("database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read_on_thread, fn)

    async def write(self, fn: Callable[[Cursor], T]) -> T:
        """Run ``fn(cursor)`` inside a group-committed transaction; return once committed.

        The write is queued before the first ``await``: if the caller is
        cancelled while waiting, the write still happens (it was asked for).
        """
        return await asyncio.wrap_future(self.submit(fn))

    def submit(self, fn: Callable[[Cursor], T]) -> Future[T]:
        if self._closed:
            raise DatabaseClosedError("database is closed")
        future: Future[T] = Future()
        self._writes.put(_Write(fn, future))
        return future

    async def write_grouped(self, handler: GroupHandler, request: Any) -> Any:
        """Queue ``request`` for ``handler``, which runs consecutive queued requests together.

        Small writes of one kind (item upserts) become one multi-row statement: in
        DuckDB a 500-row upsert costs about a quarter of 500 single-row ones.
        A request the handler rejects gets its exception; its neighbours still commit.
        """
        if self._closed:
            raise DatabaseClosedError("database is closed")
        future: Future[Any] = Future()
        self._writes.put(_Write(None, future, handler, request))
        return await asyncio.wrap_future(future)

    def write_sync(self, fn: Callable[[Cursor], T]) -> T:
        """Blocking variant for start-up code and tools (not for the event loop)."""
        return self.submit(fn).result()

    async def compact(self) -> int:
        """Rewrite the file so deleted rows leave no bytes behind (free pages keep them otherwise).

        Runs on the writer thread, so writes wait; reads wait at the gate. The live data is
        copied into a new file, which then replaces the old one. Returns the bytes saved.
        """
        future: Future[int] = Future()
        self._writes.put(_Write(self._compact_on_writer, future))
        return await asyncio.wrap_future(future)

    def _compact_on_writer(self, _: Cursor) -> int:
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
            name = str(self._conn.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
            self._conn.close()
            # A connection of its own, allowed to write the second file.
            copier = duckdb.connect(str(self.path), config=self._config)
            try:
                copier.execute("ATTACH ? AS compacted", [str(fresh)])
                copier.execute(f'COPY FROM DATABASE "{name}" TO compacted')
                copier.execute("DETACH compacted")
            finally:
                copier.close()
            os.replace(fresh, self.path)
            self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
        finally:
            fresh.unlink(missing_ok=True)
            self._conn = self._connect()
            self._generation += 1
            self._writer_cursor = self._new_cursor()
            self._gate.open()
        after = self.path.stat().st_size
        log.info("database compacted", path=str(self.path), bytes_before=before, bytes_after=after)
        return before - after

    def close(self) -> None:
        """Finish queued writes, checkpoint (fold the WAL into the file) and close."""
        if self._closed:
            return
        self._closed = True
        self._writes.put(_STOP)
        self._writer.join()
        self._readers.shutdown(wait=True)
        with self._cursor_lock:  # an unconsumed result keeps a transaction open
            for cursor in self._cursors:
                cursor.close()
        try:
            self._conn.execute("CHECKPOINT")
        finally:
            self._conn.close()
        log.info("database closed", path=str(self.path), commits=self.commits)

    # --- writer thread -------------------------------------------------
    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._writes.get()
            if first is _STOP:
                break
            batch: list[_Write] = [first]  # type: ignore[list-item]
            while len(batch) < self._write_batch_max:
                try:
                    nxt = self._writes.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)  # type: ignore[arg-type]
            if batch[0].fn == self._compact_on_writer:
                self._run_exclusive(batch[0])
                batch = batch[1:]
            if batch:
                self._commit_batch(self._writer_cursor, batch)

    def _commit_batch(self, cursor: Cursor, batch: list[_Write]) -> None:
        outcomes: list[Any] = []
        try:
            cursor.execute("BEGIN TRANSACTION")
            start = 0
            while start < len(batch):
                write = batch[start]
                if write.group is None:
                    assert write.fn is not None
                    outcomes.append(write.fn(cursor))
                    start += 1
                    continue
                end = start
                while end < len(batch) and batch[end].group == write.group:  # bound methods: ==, not is
                    end += 1
                outcomes.extend(write.group(cursor, [w.request for w in batch[start:end]], False))
                start = end
            cursor.execute("COMMIT")
            self.commits += 1
            metrics.STORE_COMMITS.inc()
            metrics.STORE_WRITES.inc(len(batch))
        except Exception:
            _rollback(cursor)
            for write in batch:  # isolate the failing write(s)
                self._run_alone(cursor, write)
            return
        for write, outcome in zip(batch, outcomes, strict=True):
            _settle(write.future, outcome)

    def _run_exclusive(self, write: _Write) -> None:
        """Work that must run outside any transaction, with no other write queued in between."""
        assert write.fn is not None
        try:
            outcome = write.fn(self._writer_cursor)
        except Exception as exc:
            _resolve(write.future, error=exc)
            return
        _resolve(write.future, result=outcome)

    def _run_alone(self, cursor: Cursor, write: _Write) -> None:
        try:
            cursor.execute("BEGIN TRANSACTION")
            if write.group is not None:
                outcome = write.group(cursor, [write.request], True)[0]
                if isinstance(outcome, BaseException):
                    raise outcome
            else:
                assert write.fn is not None
                outcome = write.fn(cursor)
            cursor.execute("COMMIT")
            self.commits += 1
            metrics.STORE_COMMITS.inc()
            metrics.STORE_WRITES.inc()
        except Exception as exc:
            _rollback(cursor)
            _resolve(write.future, error=_classified(exc))
            return
        _resolve(write.future, result=outcome)


def insert_rows(
    cursor: Cursor, into: str, rows: Sequence[Sequence[Any]], *, suffix: str = "", chunk: int = 200
) -> None:
    """``INSERT INTO <into> VALUES (...), (...)`` in statements of ``chunk`` rows.

    DuckDB's ``executemany`` runs one statement per row, and each statement costs
    ~0.1 ms of planning before any work; a multi-row VALUES pays that once.
    ``into`` is the table with its column list, ``suffix`` e.g. an ON CONFLICT clause;
    both are fixed SQL fragments, every value is a bound parameter.
    """
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        placeholders = "(" + ", ".join(["?"] * len(part[0])) + ")"
        cursor.execute(
            f"INSERT INTO {into} VALUES " + ", ".join([placeholders] * len(part)) + suffix,
            [value for row in part for value in row],
        )


def _settle(future: Future[Any], outcome: Any) -> None:
    if isinstance(outcome, BaseException):
        _resolve(future, error=outcome)
    else:
        _resolve(future, result=outcome)


def _resolve(future: Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    """Hand the outcome to the waiter, unless it stopped waiting (cancelled)."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass  # the awaiting task was cancelled; the write itself still happened


def _rollback(cursor: Cursor) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction open
        cursor.execute("ROLLBACK")
