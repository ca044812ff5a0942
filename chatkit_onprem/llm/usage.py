"""Token accounting: one row per (turn, alias) in ``usage``, plus per-tenant counters.

Users, threads and times go to the table (queryable, exportable, purgeable with
the user); metric labels carry only tenant and alias, so cardinality stays bounded.

Rows are buffered and written in one statement about once a second (and at
shutdown): a statement per turn cost a tenth of the turn's CPU (docs/performance.md).
A crash loses at most the last second of accounting, never conversation data.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from chatkit_onprem import metrics
from chatkit_onprem.context import RequestContext
from chatkit_onprem.llm.routing import TurnUsage
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.usage import UsageRow, UsageRows

log = get_logger(__name__)


class UsageRecorder:
    def __init__(self, rows: UsageRows, flush_seconds: float = 1.0) -> None:
        self.rows = rows
        self.flush_seconds = flush_seconds
        self._pending: list[UsageRow] = []
        self._timer: asyncio.Task[None] | None = None

    async def record(self, context: RequestContext, thread_id: str, turn: TurnUsage) -> None:
        now = datetime.now(UTC)
        for alias, (inp, out) in turn.tokens.items():
            metrics.TOKENS.labels(tenant=context.tenant, alias=alias, direction="input").inc(inp)
            metrics.TOKENS.labels(tenant=context.tenant, alias=alias, direction="output").inc(out)
            if inp or out:
                self._pending.append((context.tenant, context.user, alias, thread_id, inp, out, now))
        if self._pending and self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.flush_seconds)
        self._timer = None
        await self._write()

    async def flush(self) -> None:
        """Write what is buffered now (shutdown, tests)."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self._write()

    async def _write(self) -> None:
        rows, self._pending = self._pending, []
        if not rows:
            return

        try:
            await self.rows.insert(rows)
        except Exception:
            log.exception("recording token usage failed", rows=len(rows))

    async def totals(self, context: RequestContext) -> dict[str, tuple[int, int]]:
        """The caller's own totals per alias (tenant- and user-scoped)."""
        await self.flush()
        return await self.rows.totals(context)
