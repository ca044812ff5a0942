"""A planted fault: ``threads.list`` fails with an unexpected exception.

An internal error is what no correct request can cause, so the tests that check what an
internal error leaves in the log plant one: ``tests/support/egress/sitecustomize.py``
imports this module into the server process when ``CKO_TEST_FAULTS`` names it. This is
the only stand-in in these tests; everything else runs for real.
"""

from __future__ import annotations

from typing import Any

from chatkit_onprem.store.chatkit_store import DuckDBStore


async def _failing_load_threads(
    self: DuckDBStore, limit: int, after: str | None, order: str, context: Any
) -> Any:
    raise RuntimeError("planted fault for the log-hygiene test")


DuckDBStore.load_threads = _failing_load_threads  # type: ignore[method-assign]
