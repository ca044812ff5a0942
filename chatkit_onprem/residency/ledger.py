"""The erasure ledger: a record, kept apart from the data, of every subject whose keys were destroyed.

Crypto-shredding destroys a subject's data keys, but a backup of the database taken
before the erasure still holds those keys, wrapped by a KEK that still exists. So
every erasure is written twice: to the ``erasure_ledger`` table and, with an fsync,
to an append-only JSON-lines file outside the data (``crypto.erasure_ledger``; keep it
on storage that is not restored with the data). At start-up the two are merged and
re-applied: a subject erased in either is never unwrapped again (``erased``), and
whatever a restored backup brought back is destroyed and purged.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.database import Cursor
from chatkit_onprem.store.ledger import Erasure, LedgerRows

log = get_logger(__name__)


class ErasureLedger:
    def __init__(self, path: Path, rows: LedgerRows) -> None:
        self.path = path
        self.rows = rows
        self._lock = threading.Lock()
        self._users: set[tuple[str, str]] = set()
        self._tenants: set[str] = set()
        self._before: dict[str, str] = {}  # tenant or "*" -> latest month cut-off
        self.entries: dict[str, Erasure] = {}
        #: Erasures the database lacked at start-up (restored backup): their purge is queued again.
        self.reapply: list[Erasure] = []

    # --- predicate (hot: every data-key load asks) ----------------------
    def erased(self, tenant: str, user: str, month: str | None = None) -> bool:
        if tenant in self._tenants or (tenant, user) in self._users:
            return True
        if month is not None:
            cut = max(self._before.get(tenant, ""), self._before.get("*", ""))
            return bool(cut) and month < cut
        return False

    def _learn(self, entry: Erasure) -> None:
        self.entries[entry.id] = entry
        if entry.scope == "user" and entry.user is not None:
            self._users.add((entry.tenant, entry.user))
        elif entry.scope == "tenant":
            self._tenants.add(entry.tenant)
        elif entry.scope == "before" and entry.before_month:
            self._before[entry.tenant] = max(self._before.get(entry.tenant, ""), entry.before_month)

    # --- load and record ------------------------------------------------
    def load(self) -> list[Erasure]:
        """Merge file and table (blocking, at start-up); return entries the table was missing."""
        from_file = self._read_file()
        from_table = {e.id: e for e in self.rows.all_sync()}
        missing_in_table = [e for i, e in from_file.items() if i not in from_table]
        missing_in_file = [e for i, e in from_table.items() if i not in from_file]
        for entry in missing_in_file:
            self._append(entry)
        if missing_in_table:
            log.warning(
                "erasure ledger: the database lacks erasures the ledger file holds (restored from a "
                "backup?); they are re-applied",
                entries=len(missing_in_table),
            )

            def write(cur: Cursor) -> None:
                for entry in missing_in_table:
                    self.rows.insert_sync(cur, entry)

            self.rows.db.write_sync(write)
        for entry in [*from_table.values(), *missing_in_table]:
            self._learn(entry)
        self.reapply = missing_in_table
        return missing_in_table

    def record_sync(self, cur: Cursor, entry: Erasure) -> None:
        """On the writer thread, in the transaction that destroys the keys: file first (fsync)."""
        self._append(entry)
        self.rows.insert_sync(cur, entry)
        self._learn(entry)

    def _read_file(self) -> dict[str, Erasure]:
        entries: dict[str, Erasure] = {}
        if not self.path.exists():
            return entries
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                entry = Erasure(
                    id=str(data["id"]),
                    scope=str(data["scope"]),
                    tenant=str(data["tenant"]),
                    user=data.get("user"),
                    before_month=data.get("before_month"),
                    erased_at=datetime.fromisoformat(data["erased_at"]),
                    actor=str(data.get("actor", "")),
                )
            except (ValueError, KeyError, TypeError):
                log.error("erasure ledger: unreadable line skipped", path=str(self.path), line=number)
                continue
            entries[entry.id] = entry
        return entries

    def _append(self, entry: Erasure) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry.as_json(), sort_keys=True) + "\n")
                out.flush()
                os.fsync(out.fileno())


def new_erasure(scope: str, tenant: str, user: str | None, before_month: str | None, actor: str) -> Erasure:
    from chatkit_onprem.ids import new_id

    return Erasure(new_id("erasure"), scope, tenant, user, before_month, datetime.now(UTC), actor)
