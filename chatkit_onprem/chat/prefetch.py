"""Start the model call while the user's message is being committed.

The library runs a user-message turn as: save the message (await its commit),
echo it, then call ``respond``, which reads the history and calls the model. On
a busy worker that commit is a writer round trip (docs/performance.md) spent
before the upstream even hears of the turn.

So when a turn starts, a ``TurnPlan`` prepares it in a task of its own (alias,
history with the new message, model input) and sends the model request; the
library saves and echoes the message meanwhile, and ``respond`` takes the plan
from the turn (``Turn.take_plan``). What the client sees keeps its order: the
echo only after the commit, the first model event only after the echo. If the
save fails the plan is discarded (the upstream request is closed) and the turn
ends with the library's error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PrimedStream(Generic[T]):
    """An async iterator whose first item is being fetched already, in its own task."""

    def __init__(self, stream: AsyncIterator[T]) -> None:
        self._stream = stream
        self._first: asyncio.Future[T] | None = asyncio.ensure_future(anext(stream))

    def __aiter__(self) -> PrimedStream[T]:
        return self

    async def __anext__(self) -> T:
        first = self._first
        if first is not None:
            self._first = None
            return await first  # StopAsyncIteration and errors arrive here as they would
        return await anext(self._stream)

    async def aclose(self) -> None:
        """Stop the early fetch if it still runs, then close the stream (and its request)."""
        first, self._first = self._first, None
        if first is not None:
            if not first.done():
                first.cancel()
            with contextlib.suppress(BaseException):
                await first
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()


@dataclass(slots=True)
class Prepared:
    """Everything ``respond`` needs before the model answers."""

    alias: str
    history: list[Any]
    agent_input: list[Any]
    stream: PrimedStream[Any] | None = None  # the lean path's model stream, already requested


@dataclass(slots=True)
class TurnPlan:
    """A turn being prepared (and its model call started) in a task of its own."""

    item_id: str
    task: asyncio.Task[Prepared]
    taken: bool = field(default=False)

    @classmethod
    def start(cls, item_id: str, preparing: Coroutine[Any, Any, Prepared]) -> TurnPlan:
        return cls(item_id, asyncio.get_running_loop().create_task(preparing))

    def discard(self) -> None:
        """An untaken plan: stop preparing, close any model request it sent.

        Synchronous, so it is safe in a ``finally`` of a cancelled generator: the
        closing happens in a task of its own once the plan's task has ended."""
        if self.taken:
            return
        self.taken = True
        if not self.task.done():
            self.task.cancel()
        self.task.add_done_callback(_close_prepared)


_closing: set[asyncio.Task[None]] = set()


def _close_prepared(task: asyncio.Task[Prepared]) -> None:
    if task.cancelled() or task.exception() is not None:  # exception() also marks it retrieved
        return
    stream = task.result().stream
    if stream is not None:
        closing = asyncio.get_running_loop().create_task(stream.aclose())
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)
