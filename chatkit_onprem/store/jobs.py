"""Server-side jobs: long admin work (key rotation, purges, exports, retention) that survives restarts.

A job row carries its progress (``done``/``total``) and a ``cursor`` saying where to
resume. A process runs a job while it holds its lease (``lease_owner``,
``lease_until``, renewed with every progress report and heartbeat); a job whose lease ran out
(its process died) is claimed again and resumes from its cursor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chatkit_onprem.store.database import Cursor, Database

ACTIVE = ("queued", "running")
_COLUMNS = (
    'id, kind, params, state, done, total, "cursor", result, last_error, created_by, created_at,'
    " started_at, updated_at, finished_at, lease_owner, lease_until, cancel_requested"
)


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    kind: str
    params: dict[str, Any]
    state: str
    done: int
    total: int | None
    cursor: Any
    result: dict[str, Any] | None
    last_error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None
    lease_owner: str | None
    lease_until: datetime | None
    cancel_requested: bool

    def public(self) -> dict[str, Any]:
        """What the admin API shows: progress with rate and ETA, never a lease internals."""
        elapsed = None
        if self.started_at is not None:
            end = self.finished_at or datetime.now(UTC)
            elapsed = max((end - self.started_at).total_seconds(), 0.001)
        rate = round(self.done / elapsed, 1) if elapsed and self.done else None
        eta = None
        if rate and self.total is not None and self.state == "running":
            eta = round(max(self.total - self.done, 0) / rate, 1)
        return {
            "id": self.id,
            "kind": self.kind,
            "params": self.params,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "rate_per_second": rate,
            "eta_seconds": eta,
            "result": self.result,
            "last_error": self.last_error,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "cancel_requested": self.cancel_requested,
        }


def _record(row: tuple[Any, ...]) -> JobRecord:
    return JobRecord(
        id=row[0],
        kind=row[1],
        params=json.loads(row[2]),
        state=row[3],
        done=int(row[4]),
        total=None if row[5] is None else int(row[5]),
        cursor=json.loads(row[6]) if row[6] else None,
        result=json.loads(row[7]) if row[7] else None,
        last_error=row[8],
        created_by=row[9],
        created_at=row[10],
        started_at=row[11],
        updated_at=row[12],
        finished_at=row[13],
        lease_owner=row[14],
        lease_until=row[15],
        cancel_requested=bool(row[16]),
    )


class JobRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, job_id: str, kind: str, params: dict[str, Any], created_by: str) -> JobRecord:
        now = datetime.now(UTC)

        def write(cur: Cursor) -> JobRecord:
            cur.execute(
                f"INSERT INTO jobs ({_COLUMNS}) VALUES (?, ?, ?, 'queued', 0, NULL, NULL, NULL, NULL, ?, ?,"
                " NULL, ?, NULL, NULL, NULL, false)",
                [job_id, kind, json.dumps(params, sort_keys=True), created_by, now, now],
            )
            return _get(cur, job_id)  # type: ignore[return-value]

        return await self.db.write(write)

    async def get(self, job_id: str) -> JobRecord | None:
        return await self.db.read(lambda cur: _get(cur, job_id))

    async def recent(
        self, *, active_only: bool = False, kind: str | None = None, limit: int = 50
    ) -> list[JobRecord]:
        def query(cur: Cursor) -> list[Any]:
            where, args = [], []
            if active_only:
                where.append("state IN ('queued', 'running')")
            if kind is not None:
                where.append("kind = ?")
                args.append(kind)
            clause = f" WHERE {' AND '.join(where)}" if where else ""
            return cur.execute(
                f"SELECT {_COLUMNS} FROM jobs{clause} ORDER BY created_at DESC, id LIMIT ?", [*args, limit]
            ).fetchall()

        return [_record(r) for r in await self.db.read(query)]

    async def finished_before(
        self, kind: str, cutoff: datetime, *, after: JobRecord | None = None, limit: int = 200
    ) -> list[JobRecord]:
        """Jobs of ``kind`` that finished successfully before ``cutoff``, oldest first, in pages
        (``after``: the last job of the previous page)."""

        def query(cur: Cursor) -> list[Any]:
            page, args = "", []
            if after is not None:
                page = " AND (finished_at > ? OR (finished_at = ? AND id > ?))"
                args = [after.finished_at, after.finished_at, after.id]
            return cur.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE kind = ? AND state = 'done' AND finished_at < ?{page}"
                " ORDER BY finished_at, id LIMIT ?",
                [kind, cutoff, *args, limit],
            ).fetchall()

        return [_record(r) for r in await self.db.read(query)]

    async def active_of_kind(self, kind: str) -> JobRecord | None:
        jobs = await self.recent(active_only=True, kind=kind, limit=1)
        return jobs[0] if jobs else None

    async def claim(self, owner: str, lease_seconds: float, kinds: list[str]) -> JobRecord | None:
        """Take the oldest runnable job (queued, or running with an expired lease) for ``owner``."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=lease_seconds)

        def write(cur: Cursor) -> JobRecord | None:
            # Several processes claim at once on PostgreSQL: a row lock, skipped by the others.
            lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
            row = cur.execute(
                "SELECT id FROM jobs WHERE state IN ('queued', 'running')"
                " AND (lease_until IS NULL OR lease_until < ?)"
                " AND kind = ANY(CAST(? AS VARCHAR[]))"
                f" ORDER BY created_at, id LIMIT 1{lock}",
                [now, kinds],
            ).fetchone()
            if row is None:
                return None
            cur.execute(
                "UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?,"
                " started_at = coalesce(started_at, ?), updated_at = ? WHERE id = ?",
                [owner, until, now, now, row[0]],
            )
            return _get(cur, str(row[0]))

        return await self.db.write(write)

    def progress_sync(
        self,
        cur: Cursor,
        job_id: str,
        owner: str,
        *,
        done: int,
        total: int | None,
        cursor: Any,
        lease_seconds: float,
    ) -> bool:
        """Persist progress and renew the lease inside the caller's write transaction (a batch and its
        progress commit together); False if the job is no longer ours or a cancel was asked."""
        now = datetime.now(UTC)
        row = cur.execute(
            'UPDATE jobs SET done = ?, total = ?, "cursor" = ?, lease_until = ?, updated_at = ?'
            " WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING cancel_requested",
            [done, total, json.dumps(cursor), now + timedelta(seconds=lease_seconds), now, job_id, owner],
        ).fetchone()
        return row is not None and not bool(row[0])

    async def renew(self, job_id: str, owner: str, *, lease_seconds: float) -> bool:
        """Extend the lease only; False if the job is no longer ours or a cancel was asked."""
        now = datetime.now(UTC)

        def write(cur: Cursor) -> bool:
            row = cur.execute(
                "UPDATE jobs SET lease_until = ?, updated_at = ?"
                " WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING cancel_requested",
                [now + timedelta(seconds=lease_seconds), now, job_id, owner],
            ).fetchone()
            return row is not None and not bool(row[0])

        return await self.db.write(write)

    async def finish(
        self,
        job_id: str,
        owner: str,
        state: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        now = datetime.now(UTC)

        def write(cur: Cursor) -> None:
            cur.execute(
                "UPDATE jobs SET state = ?, result = ?, last_error = coalesce(?, last_error),"
                " finished_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL"
                " WHERE id = ? AND lease_owner = ?",
                [state, json.dumps(result) if result is not None else None, error, now, now, job_id, owner],
            )

        await self.db.write(write)

    async def set_result(self, job_id: str, result: dict[str, Any]) -> None:
        await self.db.write(
            lambda cur: cur.execute("UPDATE jobs SET result = ? WHERE id = ?", [json.dumps(result), job_id])
        )

    async def request_cancel(self, job_id: str) -> JobRecord | None:
        now = datetime.now(UTC)

        def write(cur: Cursor) -> JobRecord | None:
            cur.execute("UPDATE jobs SET cancel_requested = true, updated_at = ? WHERE id = ?", [now, job_id])
            # A job nobody runs yet is cancelled at once.
            cur.execute(
                "UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'queued'",
                [now, job_id],
            )
            return _get(cur, job_id)

        return await self.db.write(write)

    def release_all_sync(self) -> int:
        """At start-up of the only process that may own the file (DuckDB): every lease is stale."""

        def write(cur: Cursor) -> int:
            rows = cur.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE state = 'running' RETURNING id"
            ).fetchall()
            return len(rows)

        return self.db.write_sync(write)


def _get(cur: Cursor, job_id: str) -> JobRecord | None:
    row = cur.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", [job_id]).fetchone()
    return _record(row) if row else None
