"""Token accounting: one row per (turn, alias) in ``usage``, plus per-tenant counters.

Users, threads and times go to the table (queryable, exportable, purgeable with
the user); metric labels carry only tenant and alias, so cardinality stays bounded.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chatkit_onprem import metrics
from chatkit_onprem.context import RequestContext
from chatkit_onprem.llm.routing import TurnUsage
from chatkit_onprem.store.database import Cursor, Database


class UsageRecorder:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, context: RequestContext, thread_id: str, turn: TurnUsage) -> None:
        rows = [
            (context.tenant, context.user, alias, thread_id, inp, out, datetime.now(UTC))
            for alias, (inp, out) in turn.tokens.items()
            if inp or out
        ]
        for alias, (inp, out) in turn.tokens.items():
            metrics.TOKENS.labels(tenant=context.tenant, alias=alias, direction="input").inc(inp)
            metrics.TOKENS.labels(tenant=context.tenant, alias=alias, direction="output").inc(out)
        if not rows:
            return

        def insert(cursor: Cursor) -> None:
            cursor.executemany("INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

        await self.db.write(insert)

    async def totals(self, context: RequestContext) -> dict[str, tuple[int, int]]:
        """The caller's own totals per alias (tenant- and user-scoped)."""

        def query(cursor: Cursor) -> dict[str, tuple[int, int]]:
            result = cursor.execute(
                "SELECT alias, sum(input_tokens), sum(output_tokens) FROM usage"
                " WHERE tenant = ? AND user_id = ? GROUP BY alias",
                [context.tenant, context.user],
            ).fetchall()
            return {str(a): (int(i), int(o)) for a, i, o in result}

        return await self.db.read(query)
