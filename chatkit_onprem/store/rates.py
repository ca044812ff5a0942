"""Request-rate buckets shared by every process and replica (PostgreSQL only).

A token bucket per key, refilled by the time passed on the database's clock (so replicas'
clocks do not matter). Taking a token is one conditional UPDATE, atomic in the database;
a missing bucket is created full, minus the token taken. With DuckDB one process counts
in memory instead (``http.ratelimit``).
"""

from __future__ import annotations

from chatkit_onprem.store.database import Cursor, Database

_NOW = "extract(epoch FROM clock_timestamp())"
_REFILL = f"least(?, tokens + ({_NOW} - updated_at) * ?)"


class RateRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def take(self, key: str, per_minute: int) -> float | None:
        """Take one request from ``key``'s bucket: None if taken, else seconds until one is there."""
        capacity, rate = float(per_minute), per_minute / 60.0

        def take(cur: Cursor) -> float | None:
            taken = cur.execute(
                f"UPDATE rate_buckets SET tokens = {_REFILL} - 1, updated_at = {_NOW}"
                f" WHERE key = ? AND {_REFILL} >= 1 RETURNING tokens",
                [capacity, rate, key, capacity, rate],
            ).fetchone()
            if taken is not None:
                return None
            created = cur.execute(
                f"INSERT INTO rate_buckets (key, tokens, updated_at) VALUES (?, ?, {_NOW})"
                " ON CONFLICT (key) DO NOTHING RETURNING tokens",
                [key, capacity - 1],
            ).fetchone()
            if created is not None:
                return None
            row = cur.execute(
                f"SELECT {_REFILL} FROM rate_buckets WHERE key = ?", [capacity, rate, key]
            ).fetchone()
            tokens = float(row[0]) if row else 0.0
            return max((1 - tokens) / rate, 0.001)

        # Self-committing statements on a reader connection: no place in the writer's group
        # commit is needed for a counter.
        return await self.db.read(take)
