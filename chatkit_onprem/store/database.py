"""How the store talks to its database: reader threads, one group-commit writer, two engines.

``Database`` holds what both engines share; ``store.duckdb`` (the embedded file, one
process) and ``store.postgres`` (an external server, many processes) add connections.

* A connection must not be shared between threads, so each reader thread gets its own
  cursor and a single writer thread owns the write cursor.
* Tiny transactions are slow (DuckDB ~650 commits/s; a PostgreSQL commit is a round trip
  and an fsync), so the writer groups whatever writes are queued into one transaction
  (group commit). A write's future resolves only after its transaction committed: an
  acknowledged write is durable. If a batch fails, it is rolled back and each write is
  replayed alone, so one bad write never takes its neighbours down with it.
* Blocking calls never run on the event loop: ``read`` and ``write`` hand work to threads
  and await the result.

SQL in ``store/`` is written once for both engines, with ``?`` placeholders: the
PostgreSQL cursor translates them. Where the engines differ (rowids, appenders, row
locks, snapshots), a repository asks ``db.dialect``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from chatkit.errors import CustomStreamError

from chatkit_onprem import metrics
from chatkit_onprem.logging import get_logger

T = TypeVar("T")
log = get_logger(__name__)
Dialect = Literal["duckdb", "postgres"]


class Cursor(Protocol):
    """What repositories use of a cursor (a DuckDB connection cursor, or ``store.postgres.PgCursor``)."""

    def execute(self, query: str, parameters: Any = None) -> Cursor: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = 1) -> list[Any]: ...


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


_NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device", as both engines quote it


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
    queued_at: float = field(default_factory=time.monotonic)


_STOP = object()


@dataclass(slots=True)
class _Lane:
    """A writer: its thread, its queue of writes, its connection."""

    name: str
    writes: queue.SimpleQueue[_Write | object] = field(default_factory=queue.SimpleQueue)
    cursor: Cursor | None = None
    thread: threading.Thread | None = None


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
    """Readers on threads, one writer thread with group commit; the engine adds connections.

    An engine whose transactions may commit concurrently (``concurrent_writers``: PostgreSQL)
    also gets a **background writer** for admin jobs (``write_background``): a batch of a key
    rotation or purge then never holds the writer that every turn's commit queues behind. It
    is what another worker process of a multi-worker deployment is to this one, so the jobs'
    transactions already guard against it (digests, row locks, the holds lock). DuckDB has
    one writer: ``write_background`` is ``write`` there.

    Subclasses provide ``_new_cursor`` (one per thread), ``_classify`` (an engine error as
    the caller should see it), ``_close_engine`` and, where the engine has it, compaction.
    """

    dialect: Dialect
    concurrent_writers = False

    def __init__(self, *, reader_threads: int = 4, write_batch_max: int = 256, name: str = "db") -> None:
        self._write_batch_max = write_batch_max
        self._gate = _Gate()
        self._generation = 0
        self._main = _Lane("write")
        self._background: _Lane | None = None
        self._lane_lock = threading.Lock()
        self._local = threading.local()
        self._cursor_lock = threading.Lock()
        self._cursors: list[Any] = []
        self._readers = ThreadPoolExecutor(reader_threads, thread_name_prefix=f"{name}-read")
        self._closed = False
        self._name = name
        self.commits = 0  # transactions committed (for metrics and benchmarks)

    def _start_writer(self) -> None:
        self._start_lane(self._main)

    def _start_lane(self, lane: _Lane) -> None:
        lane.cursor = self._new_cursor()
        lane.thread = threading.Thread(
            target=self._write_loop, args=(lane,), name=f"{self._name}-{lane.name}", daemon=True
        )
        lane.thread.start()

    # --- engine hooks ----------------------------------------------------
    def _new_cursor(self) -> Cursor:
        raise NotImplementedError

    def _classify(self, exc: Exception) -> Exception:
        """A write failure as the caller should see it (disk full gets its own error)."""
        if _NO_SPACE in str(exc):
            error = StorageFullError()
            error.__cause__ = exc
            return error
        return exc

    def _close_engine(self) -> None:
        raise NotImplementedError

    def next_seq(self, cursor: Cursor) -> int:
        """A number larger than any given out before in this process (writer thread only): the
        tie-breaker of keyset pagination. Engines hand them out in their own way."""
        raise NotImplementedError

    def _compact_on_writer(self, cursor: Cursor) -> int:
        raise NotImplementedError

    # --- cursors -------------------------------------------------------
    def _reader_cursor(self) -> Cursor:
        cursor: Cursor | None = getattr(self._local, "cursor", None)
        if cursor is None or getattr(self._local, "generation", -1) != self._generation:
            cursor = self._new_cursor()  # first use, or the engine was reopened since
            self._local.cursor = cursor
            self._local.generation = self._generation
        return cursor

    def _read_on_thread(self, fn: Callable[[Cursor], T]) -> T:
        self._gate.enter()
        try:
            return fn(self._reader_cursor())
        except Exception as exc:
            if self._broken(exc):
                self._local.cursor = None  # a lost connection: the next read opens a new one
            raise
        finally:
            self._gate.leave()

    def _broken(self, exc: Exception) -> bool:
        """Whether ``exc`` means the cursor's connection is unusable (engine-specific)."""
        return False

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
        self._main.writes.put(_Write(fn, future))
        return future

    async def write_background(self, fn: Callable[[Cursor], T]) -> T:
        """``write`` for admin jobs: on the background writer where the engine has one."""
        if not self.concurrent_writers:
            return await asyncio.wrap_future(self.submit(fn))
        if self._closed:
            raise DatabaseClosedError("database is closed")
        lane = self._background
        if lane is None:
            lane = await asyncio.to_thread(self._background_lane)  # it connects: off the event loop
        future: Future[T] = Future()
        lane.writes.put(_Write(fn, future))
        return await asyncio.wrap_future(future)

    def _background_lane(self) -> _Lane:
        with self._lane_lock:
            if self._background is None:
                lane = _Lane("write-background")
                self._start_lane(lane)
                self._background = lane
            return self._background

    async def write_grouped(self, handler: GroupHandler, request: Any) -> Any:
        """Queue ``request`` for ``handler``, which runs consecutive queued requests together.

        Small writes of one kind (item upserts) become one multi-row statement: in
        DuckDB a 500-row upsert costs about a quarter of 500 single-row ones.
        A request the handler rejects gets its exception; its neighbours still commit.
        """
        if self._closed:
            raise DatabaseClosedError("database is closed")
        future: Future[Any] = Future()
        self._main.writes.put(_Write(None, future, handler, request))
        return await asyncio.wrap_future(future)

    def write_sync(self, fn: Callable[[Cursor], T]) -> T:
        """Blocking variant for start-up code and tools (not for the event loop)."""
        return self.submit(fn).result()

    async def compact(self) -> int:
        """Rewrite the storage so deleted rows leave no bytes behind (the engine's way).

        Runs on the writer thread with no other write in between. Returns the bytes saved.
        """
        future: Future[int] = Future()
        self._main.writes.put(_Write(self._compact_on_writer, future))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Finish queued writes, then close every connection (the engine's last words first)."""
        if self._closed:
            return
        self._closed = True
        with self._lane_lock:
            lanes = [lane for lane in (self._main, self._background) if lane is not None]
        for lane in lanes:
            lane.writes.put(_STOP)
        for lane in lanes:
            if lane.thread is not None:
                lane.thread.join()
        self._readers.shutdown(wait=True)
        self._close_engine()
        log.info("database closed", engine=self.dialect, commits=self.commits)

    # --- writer thread -------------------------------------------------
    def _write_loop(self, lane: _Lane) -> None:
        stopping = False
        while not stopping:
            first = lane.writes.get()
            if first is _STOP:
                break
            batch: list[_Write] = [first]  # type: ignore[list-item]
            while len(batch) < self._write_batch_max:
                try:
                    nxt = lane.writes.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)  # type: ignore[arg-type]
            if batch[0].fn == self._compact_on_writer:
                self._run_exclusive(lane, batch[0])
                batch = batch[1:]
            if batch:
                self._commit_batch(lane, batch)

    def _commit_batch(self, lane: _Lane, batch: list[_Write]) -> None:
        assert lane.cursor is not None
        cursor = lane.cursor
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
            committed = time.monotonic()
            waited = metrics.STORE_WRITE_SECONDS.labels(writer=lane.name)
            for write in batch:
                waited.observe(committed - write.queued_at)
        except Exception as exc:
            _rollback(cursor)
            if self._broken(exc):
                self._reconnect(lane)
            for write in batch:  # isolate the failing write(s)
                self._run_alone(lane, write)
            return
        for write, outcome in zip(batch, outcomes, strict=True):
            _settle(write.future, outcome)

    def _run_exclusive(self, lane: _Lane, write: _Write) -> None:
        """Work that must run outside any transaction, with no other write queued in between."""
        assert write.fn is not None and lane.cursor is not None
        try:
            outcome = write.fn(lane.cursor)
        except Exception as exc:
            _resolve(write.future, error=exc)
            return
        _resolve(write.future, result=outcome)

    def _run_alone(self, lane: _Lane, write: _Write) -> None:
        assert lane.cursor is not None
        cursor = lane.cursor
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
            metrics.STORE_WRITE_SECONDS.labels(writer=lane.name).observe(time.monotonic() - write.queued_at)
        except Exception as exc:
            _rollback(cursor)
            _resolve(write.future, error=self._classify(exc))
            return
        _resolve(write.future, result=outcome)

    def _reconnect(self, lane: _Lane) -> None:
        """A writer's connection was lost (a database restart): open a new one."""
        try:
            lane.cursor = self._new_cursor()
        except Exception as exc:
            log.error("database writer could not reconnect", error=str(exc)[:300])


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
    with contextlib.suppress(Exception):  # no transaction open, or the connection is gone
        cursor.execute("ROLLBACK")
