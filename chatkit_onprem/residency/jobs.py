"""The job runner: long admin work runs in the server, in batches, and resumes after a crash.

A handler is an async function of a ``JobContext``. It works in batches and reports
after each one: progress and a cursor are committed together with the lease renewal,
so a ``kill -9`` loses at most the batch in flight, and the handler picks up from
``ctx.cursor`` when the job is claimed again (by this process after a restart, or by
another replica once the lease ran out). A cancel asked through the admin API stops
the job at its next report.

A batch that writes the database commits its progress in the same transaction
(``ctx.commit``): a crash keeps both or neither, so ``done``, the counts in the cursor
and the resume point always agree with the data. (Committed apart, a crash between the
two left the batch done but uncounted, and the resumed walk never saw it again.) Work
outside the database (object deletes, export files) reports after it (``ctx.report``)
and must be idempotent: it may run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from chatkit_onprem.ids import new_id
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.database import Cursor
from chatkit_onprem.store.jobs import JobRecord, JobRows

log = get_logger(__name__)

_UNSET: Any = object()
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Progress:
    """What a batch adds to ``done``, and where the job resumes after it."""

    add: int = 0
    cursor: Any = _UNSET


class JobCancelledError(Exception):
    """Raised inside a handler at its next report after an operator cancelled the job."""


class JobFailedError(Exception):
    """A handler's own, expected failure: the message is shown to the operator as it is."""


class JobContext:
    def __init__(self, record: JobRecord, rows: JobRows, owner: str, lease_seconds: float) -> None:
        self.record = record
        self.params = record.params
        self.cursor: Any = record.cursor
        self.done = record.done
        self.total = record.total
        self._rows = rows
        self._owner = owner
        self._lease = lease_seconds
        self._stopped = False  # a cancel (or a lost lease) seen at the last commit

    @property
    def id(self) -> str:
        return self.record.id

    async def report(self, *, add: int = 0, total: int | None = None, cursor: Any = _UNSET) -> None:
        """Commit progress and the resume point; raise ``JobCancelledError`` if a cancel was asked."""
        if total is not None:
            self.total = total
        await self.commit(lambda cur: (None, Progress(add, cursor)))
        if self._stopped:
            raise JobCancelledError(self.id)

    async def commit(self, batch: Callable[[Cursor], tuple[T, Progress]]) -> T:
        """Run a batch's write and commit its progress in the same transaction; return its value.

        ``batch`` runs on the writer thread and returns (value, progress). A cancel asked
        meanwhile (or a job no longer ours) raises ``JobCancelledError`` at the next commit or
        report, before its batch: what the handler does right after a commit (installing the
        keys it just stored in the cache) is never skipped."""
        if self._stopped:
            raise JobCancelledError(self.id)

        def write(cur: Cursor) -> tuple[T, Progress, bool]:
            value, step = batch(cur)
            cursor = self.cursor if step.cursor is _UNSET else step.cursor
            still_ours = self._rows.progress_sync(
                cur,
                self.id,
                self._owner,
                done=self.done + step.add,
                total=self.total,
                cursor=cursor,
                lease_seconds=self._lease,
            )
            return value, step, still_ours

        value, step, still_ours = await self._rows.db.write_background(write)
        self.done += step.add
        if step.cursor is not _UNSET:
            self.cursor = step.cursor
        self._stopped = not still_ours
        return value

    async def heartbeat(self) -> bool:
        """Renew the lease without touching progress (a long batch); False if cancelled or lost.

        Only the lease: progress is the handler's to write, so a heartbeat that lands after a
        batch's commit can never put back an older count or cursor."""
        return await self._rows.renew(self.id, self._owner, lease_seconds=self._lease)


JobHandler = Callable[[JobContext], Coroutine[Any, Any, dict[str, Any]]]


class JobRunner:
    def __init__(
        self,
        rows: JobRows,
        *,
        lease_seconds: float = 30.0,
        poll_seconds: float = 2.0,
    ) -> None:
        self.rows = rows
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{new_id('runner')[-8:]}"
        self.handlers: dict[str, JobHandler] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._current: asyncio.Task[dict[str, Any]] | None = None

    def register(self, kind: str, handler: JobHandler) -> None:
        self.handlers[kind] = handler

    async def submit(self, kind: str, params: dict[str, Any], created_by: str) -> JobRecord:
        if kind not in self.handlers:
            raise ValueError(f"unknown job kind {kind!r}")
        record = await self.rows.create(new_id("job"), kind, params, created_by)
        self._wake.set()
        log.info("job queued", job_id=record.id, kind=kind, by=created_by)
        return record

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="job-runner")

    async def stop(self) -> None:
        """Shutdown: stop the running job where it is; its lease and cursor let it resume later."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                record = await self.rows.claim(self.owner, self.lease_seconds, sorted(self.handlers))
            except Exception:
                log.exception("job runner could not claim a job")
                record = None
            if record is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                continue
            await self._run(record)

    async def _run(self, record: JobRecord) -> None:
        context = JobContext(record, self.rows, self.owner, self.lease_seconds)
        handler = self.handlers[record.kind]
        log.info("job started", job_id=record.id, kind=record.kind, resumed=record.cursor is not None)
        self._current = asyncio.get_running_loop().create_task(handler(context), name=f"job-{record.id}")
        beat = asyncio.get_running_loop().create_task(self._heartbeat(context, self._current))
        try:
            result = await asyncio.shield(self._current)
        except JobCancelledError:
            await self._finish(record, "cancelled", error="cancelled by an operator")
        except JobFailedError as exc:
            await self._finish(record, "failed", error=str(exc))
        except asyncio.CancelledError:
            # Shutdown: the handler stops; the lease and cursor let the next start resume it.
            self._current.cancel()
            with contextlib.suppress(BaseException):
                await self._current
            raise
        except Exception as exc:
            await self._finish(record, "failed", error=self._failed(record, exc))
        else:
            await self._finish(record, "done", result=result)
            log.info("job finished", job_id=record.id, kind=record.kind, done=context.done)
        finally:
            beat.cancel()
            self._current = None

    @staticmethod
    def _failed(record: JobRecord, exc: Exception) -> str:
        """Log an unexpected failure and say what the job row shows of it.

        Our own errors and the OS's speak in our words. Another library's message may quote
        the data it choked on (a database engine's conversion error names the value), and
        neither the log nor the job row (plaintext at rest) may hold what people wrote: for
        those, the type and where it was raised, never the text."""
        if type(exc).__module__.split(".")[0] == "chatkit_onprem" or isinstance(exc, OSError):
            log.exception("job failed", job_id=record.id, kind=record.kind)
            return f"{type(exc).__name__}: {str(exc)[:300]}"
        frames = traceback.extract_tb(exc.__traceback__)
        log.error(
            "job failed",
            job_id=record.id,
            kind=record.kind,
            error_type=f"{type(exc).__module__}.{type(exc).__qualname__}",
            raised_at="".join(traceback.format_list(frames)),
        )
        where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
        return (
            f"{type(exc).__name__}{where} (its message is not kept: it may quote stored data;"
            " the server log has where it was raised)"
        )

    async def _heartbeat(self, context: JobContext, task: asyncio.Task[Any]) -> None:
        """Keep the lease while a batch is slow (a cancel takes effect at the handler's next report)."""
        while not task.done():
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await context.heartbeat()
            except Exception:
                log.warning("job heartbeat failed", job_id=context.id)

    async def _finish(
        self, record: JobRecord, state: str, *, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        try:
            await self.rows.finish(record.id, self.owner, state, result=result, error=error)
        except Exception:
            log.exception("could not record the end of a job", job_id=record.id, state=state)
