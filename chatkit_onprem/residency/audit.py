"""A tamper-evident audit log: every admin action and key operation, hash-chained.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical
JSON (sequence number, time, actor, verb, subject, parameters, outcome, counts), so a
row edited, deleted or reordered directly in the database breaks the chain from there
on; ``verify`` recomputes it and names the first broken entry. The head hash can be
copied to an external record (a ticket, a WORM store): an attacker who rewrites the
whole chain still cannot match a head hash recorded elsewhere.

Entries are appended on the database's writer thread, so the chain is linear. They hold
identifiers and parameters only, never message content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chatkit_onprem.context import RequestContext
from chatkit_onprem.store.audit import AuditRow, AuditRows, head_sync, insert_sync, lock_chain_sync
from chatkit_onprem.store.database import Cursor, Database

GENESIS = "0" * 64
_MAX_PARAM_CHARS = 2000


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def _chained(row: AuditRow) -> dict[str, Any]:
    """The fields the hash chain covers, as stored (params and counts are JSON text)."""
    return {
        "seq": row.seq,
        "at": row.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": row.actor,
        "auth_method": row.auth_method,
        "verb": row.verb,
        "tenant": row.tenant,
        "user": row.user,
        "params": row.params,
        "outcome": row.outcome,
        "counts": row.counts,
    }


def entry_hash(prev_hash: str, row: AuditRow) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(_chained(row))}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    entries: int
    head_hash: str
    first_broken_seq: int | None = None
    problem: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "first_broken_seq": self.first_broken_seq,
            "problem": self.problem,
        }


def public_row(row: AuditRow) -> dict[str, Any]:
    return {
        **_chained(row),
        "params": json.loads(row.params),
        "counts": json.loads(row.counts),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.rows = AuditRows(db)

    def append_sync(
        self,
        cur: Cursor,
        caller: RequestContext,
        verb: str,
        params: dict[str, Any],
        outcome: str,
        counts: dict[str, Any] | None = None,
    ) -> AuditRow:
        """On the writer thread (inside the action's own transaction when it has one), in turn
        with other processes sharing the database."""
        lock_chain_sync(cur, self.db.dialect)
        head = head_sync(cur)
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        text = canonical(params)
        if len(text) > _MAX_PARAM_CHARS:
            text = canonical({"truncated": text[:_MAX_PARAM_CHARS]})
        draft = AuditRow(
            seq=seq,
            at=datetime.now(UTC),
            actor=caller.user,
            auth_method=caller.auth_method,
            verb=verb,
            tenant=_subject(params, "tenant"),
            user=_subject(params, "user"),
            params=text,
            outcome=outcome,
            counts=canonical(counts or {}),
            prev_hash=prev,
            hash="",
        )
        row = _with_hash(draft)
        insert_sync(cur, row)
        return row

    async def append(
        self,
        caller: RequestContext,
        verb: str,
        params: dict[str, Any],
        outcome: str,
        counts: dict[str, Any] | None = None,
    ) -> AuditRow:
        return await self.db.write(lambda cur: self.append_sync(cur, caller, verb, params, outcome, counts))

    async def verify(self) -> Verification:
        prev, expected_seq, count = GENESIS, 1, 0
        after = 0
        while page := await self.rows.page(after_seq=after, limit=5000):
            for row in page:
                problem = None
                if row.seq != expected_seq:
                    problem = f"entry {expected_seq} is missing (next is {row.seq}): deleted or renumbered"
                elif row.prev_hash != prev:
                    problem = f"entry {row.seq} does not link to the entry before it: reordered or replaced"
                elif entry_hash(prev, row) != row.hash:
                    problem = f"entry {row.seq} was changed after it was written (hash mismatch)"
                if problem is not None:
                    return Verification(
                        False, count, prev, first_broken_seq=min(row.seq, expected_seq), problem=problem
                    )
                prev, expected_seq, count = row.hash, row.seq + 1, count + 1
            after = page[-1].seq
        return Verification(True, count, prev)


def _with_hash(draft: AuditRow) -> AuditRow:
    values = {name: getattr(draft, name) for name in AuditRow.__slots__}  # type: ignore[attr-defined]
    values["hash"] = entry_hash(draft.prev_hash, draft)
    return AuditRow(**values)


def _subject(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    return str(value) if isinstance(value, str) else None
