"""Model token usage rows: one per (turn, alias), written in batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chatkit_onprem.context import RequestContext
from chatkit_onprem.store.database import Cursor, Database, insert_rows

UsageRow = tuple[str, str, str, str, int, int, datetime]
"""(tenant, user, alias, thread id, input tokens, output tokens, at)."""


class UsageRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, rows: Sequence[UsageRow]) -> None:
        """One multi-row statement: a statement per turn cost about a tenth of the turn."""
        if rows:
            await self.db.write(
                lambda cur: insert_rows(
                    cur,
                    'usage (tenant, user_id, alias, thread_id, input_tokens, output_tokens, "at")',
                    rows,
                    chunk=500,
                )
            )

    async def totals(self, context: RequestContext) -> dict[str, tuple[int, int]]:
        """The caller's own totals per alias (tenant- and user-scoped)."""

        def query(cur: Cursor) -> dict[str, tuple[int, int]]:
            result = cur.execute(
                "SELECT alias, sum(input_tokens), sum(output_tokens) FROM usage"
                " WHERE tenant = ? AND user_id = ? GROUP BY alias",
                [context.tenant, context.user],
            ).fetchall()
            return {str(a): (int(i), int(o)) for a, i, o in result}

        return await self.db.read(query)
