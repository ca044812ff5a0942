"""The audit log's rows: a hash chain (each row stores the previous row's hash and its own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatkit_onprem.store.database import Cursor, Database, Dialect

_COLUMNS = 'seq, "at", actor, auth_method, verb, tenant, user_id, params, outcome, counts, prev_hash, hash'


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    at: datetime
    actor: str
    auth_method: str
    verb: str
    tenant: str | None
    user: str | None
    params: str  # canonical JSON
    outcome: str
    counts: str  # canonical JSON
    prev_hash: str
    hash: str


def _row(r: tuple[Any, ...]) -> AuditRow:
    return AuditRow(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11])


def lock_chain_sync(cur: Cursor, dialect: Dialect) -> None:
    """Processes sharing a PostgreSQL database append in turn: an advisory lock, held to the end
    of the transaction, orders the chain (one DuckDB process has one writer already)."""
    if dialect == "postgres":
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('chatkit-onprem audit chain'))")


def head_sync(cur: Cursor) -> tuple[int, str] | None:
    row = cur.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def insert_sync(cur: Cursor, row: AuditRow) -> None:
    cur.execute(
        f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            row.seq,
            row.at,
            row.actor,
            row.auth_method,
            row.verb,
            row.tenant,
            row.user,
            row.params,
            row.outcome,
            row.counts,
            row.prev_hash,
            row.hash,
        ],
    )


class AuditRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self,
        *,
        after_seq: int = 0,
        limit: int = 1000,
        since: datetime | None = None,
        actor: str | None = None,
        tenant: str | None = None,
        user: str | None = None,
    ) -> list[AuditRow]:
        def query(cur: Cursor) -> list[Any]:
            where: list[str] = ["seq > ?"]
            args: list[Any] = [after_seq]
            filters = (
                ('"at" >= ?', since),
                ("actor = ?", actor),
                ("tenant = ?", tenant),
                ("user_id = ?", user),
            )
            for clause, value in filters:
                if value is not None:
                    where.append(clause)
                    args.append(value)
            return cur.execute(
                f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                [*args, limit],
            ).fetchall()

        return [_row(r) for r in await self.db.read(query)]
