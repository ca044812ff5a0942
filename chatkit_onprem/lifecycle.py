"""Graceful shutdown glue for Granian.

Granian's worker handles SIGTERM itself (an asyncio signal handler) and runs
the ASGI lifespan shutdown only after every open connection has ended. A long
SSE stream therefore holds shutdown until Granian kills the worker, and our
lifespan code (persist cancelled streams, checkpoint DuckDB) never runs.

So we chain a handler in front of Granian's: on SIGTERM/SIGINT the stream
registry starts draining (bounded grace, then cancellation, which persists the
partial answers), while Granian stops accepting connections as usual.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable

from chatkit_onprem.logging import get_logger

log = get_logger(__name__)
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def chain_shutdown_signals(loop: asyncio.AbstractEventLoop, on_signal: Callable[[], None]) -> bool:
    """Call ``on_signal`` first, then whatever handler the server installed. True if hooked."""
    hooked = False
    for sig in _SIGNALS:
        # asyncio keeps loop signal handlers here; there is no public getter.
        previous = getattr(loop, "_signal_handlers", {}).get(sig)
        if previous is None:
            continue

        def handler(prev: asyncio.Handle = previous, signum: int = sig) -> None:
            log.info("shutdown signal received", signal=signal.Signals(signum).name)
            try:
                on_signal()
            finally:
                prev._run()

        loop.add_signal_handler(sig, handler)
        hooked = True
    return hooked


#: Young-generation threshold. A streamed turn allocates tens of thousands of short-lived
#: objects (pydantic models, dicts, frames); CPython's default (700) runs a collection
#: every few events.
GC_GEN0_THRESHOLD = 20_000


def freeze_startup_heap() -> None:
    """Move everything allocated at start-up out of the garbage collector's way.

    After imports and ``Services.build`` the heap holds ~250,000 tracked objects
    (openai and chatkit types, pydantic schemas) that live as long as the process.
    A full collection walked all of them and the young collections ran every 700
    allocations: a noticeable share of a streaming worker's CPU (docs/performance.md).
    ``gc.freeze`` moves them to the permanent generation, so collections only walk
    what requests allocate.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
    log.debug("start-up heap frozen", objects=gc.get_freeze_count())
