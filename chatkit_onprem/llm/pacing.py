"""Text pacing: at most one text event per interval on a streamed answer.

Every event a turn sends costs the whole server path: SSE parse, the Responses
event, the ChatKit event and the library's bookkeeping of it, JSON, the ASGI
middleware and Granian's send. An upstream that sends a token every 10 ms makes
that path run 100 times a second per stream, far more often than a person
reads or a screen redraws (``scripts/bench_stream.py``, README "Model upstreams").

``PacedBytes`` reads the upstream body in its own task and hands the consumer
everything received since it last asked, joined. The consumer asks at once for
the first text, and after sending text waits ``interval`` before asking again,
so tokens that arrive meanwhile go out as one event. Nothing is delayed by more
than ``interval``, and a token after a pause goes out as soon as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class PacedBytes:
    """Buffers an async byte stream in a reader task; ``next()`` returns all that arrived."""

    __slots__ = ("_chunks", "_ready", "_task")

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._chunks: list[bytes] = []
        self._ready = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._pump(source))

    async def _pump(self, source: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in source:
                self._chunks.append(chunk)
                self._ready.set()
        finally:
            self._ready.set()  # wake the consumer for the end (or the error)

    async def next(self) -> bytes | None:
        """What arrived since the last call (waiting for something); None at the end.

        A read error (timeout, cut connection) is raised after the bytes read
        before it were returned, so a partial answer is never lost.
        """
        while not self._chunks:
            if self._task.done():
                self._task.result()  # the reader's error, if any
                return None
            self._ready.clear()
            await self._ready.wait()
        data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks.clear()
        return data

    async def aclose(self) -> None:
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
