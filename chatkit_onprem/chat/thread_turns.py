"""At most one mutating streamed operation per thread at a time.

``threads.create`` (once its thread exists), ``add_user_message``,
``add_client_tool_output``, ``add_structured_input``, ``retry_after_item`` and
``custom_action`` each hold their thread's slot for the whole stream. A second one
on the same thread waits up to ``chat.busy_wait_seconds`` for the first to end and
otherwise gets ``409 thread_busy`` (with ``Retry-After``) before it writes anything.
A retry that had to wait is refused (``409 thread_changed``) if a user message now
follows the one it retries: it was sent before that message existed and must not
delete it. So two retries cannot leave two answers, a retry never removes what a
concurrent add acknowledged, and a client tool output cannot interleave with a new
message. ``threads.delete`` cancels the turn running on the thread and waits for it
to end before it deletes.

Slots are keyed by (tenant, user, thread id): another caller's id never contends
with yours, so a busy answer tells nothing about threads you cannot see. In memory for
the turns of this process; when several processes share the store (PostgreSQL), a slot is
also a lease row in the database (``store.thread_leases``), taken after the in-memory slot
and polled for while another process holds it. ``threads.delete`` cancels only a turn of
this process; one running in another process fails at its next write (the thread is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from chatkit_onprem.chat.turn import Turn
from chatkit_onprem.errors import ApiError

Key = tuple[str, str, str]
CANCEL_WAIT_SECONDS = 10.0
LEASE_POLL_SECONDS = 0.05


class Leases(Protocol):
    """Slots shared with other processes (``store.thread_leases.ThreadLeases``)."""

    async def acquire(self, key: Key) -> bool: ...

    async def release(self, key: Key) -> None: ...


class ThreadBusy(ApiError):
    def __init__(self, thread_id: str, waited: float) -> None:
        super().__init__(
            409,
            "thread_busy",
            f"thread {thread_id} is still answering another request (waited {waited:g} s); "
            "retry when it ends",
            headers={"Retry-After": "1"},
        )


@dataclass(slots=True)
class _Running:
    turn: Turn
    done: asyncio.Event = field(default_factory=asyncio.Event)


class ThreadTurns:
    def __init__(self, busy_wait_seconds: float, leases: Leases | None = None) -> None:
        self.busy_wait_seconds = busy_wait_seconds
        self.leases = leases
        self._running: dict[Key, _Running] = {}
        self._releasing: set[asyncio.Task[None]] = set()  # lease releases in flight

    def __len__(self) -> int:
        return len(self._running)

    async def enter(self, turn: Turn) -> None:
        """Take ``turn.thread_id``'s slot, waiting briefly for a running turn to end."""
        assert turn.thread_id is not None
        key = (turn.tenant, turn.user, turn.thread_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.busy_wait_seconds
        while (running := self._running.get(key)) is not None:
            turn.waited = True
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ThreadBusy(turn.thread_id, self.busy_wait_seconds)
            try:
                await asyncio.wait_for(running.done.wait(), remaining)
            except TimeoutError:
                raise ThreadBusy(turn.thread_id, self.busy_wait_seconds) from None
        release = self._take(key, turn)
        if self.leases is None:
            turn.on_close(release)
            return
        try:
            while not await self.leases.acquire(key):  # another process runs a turn here
                turn.waited = True
                if loop.time() >= deadline:
                    raise ThreadBusy(turn.thread_id, self.busy_wait_seconds)
                await asyncio.sleep(LEASE_POLL_SECONDS)
        except BaseException:
            release()
            raise
        turn.on_close(self._after_lease(key, release))

    async def enter_new(self, turn: Turn, thread_id: str) -> None:
        """A thread this turn just created: nobody else can hold its slot yet."""
        turn.thread_id = thread_id
        key = (turn.tenant, turn.user, thread_id)
        if key in self._running:  # pragma: no cover - ids carry 128 random bits
            raise ThreadBusy(thread_id, 0)
        release = self._take(key, turn)
        if self.leases is None:
            turn.on_close(release)
            return
        # Before the client learns the id: a request on it in another process must wait too.
        try:
            taken = await self.leases.acquire(key)
        except BaseException:
            release()
            raise
        turn.on_close(self._after_lease(key, release) if taken else release)

    def _take(self, key: Key, turn: Turn) -> Callable[[], None]:
        running = _Running(turn)
        self._running[key] = running

        def release() -> None:
            if self._running.get(key) is running:
                del self._running[key]
            running.done.set()

        return release

    def _after_lease(self, key: Key, release: Callable[[], None]) -> Callable[[], None]:
        """A closer that gives the lease back, then the in-memory slot (so a turn of this
        process waiting for the slot finds the lease free)."""
        leases = self.leases
        assert leases is not None

        async def give_back() -> None:
            try:
                await leases.release(key)
            finally:
                release()

        def closer() -> None:
            task = asyncio.get_running_loop().create_task(give_back())
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)

        return closer

    async def cancel(self, tenant: str, user: str, thread_id: str) -> bool:
        """Cancel the turn running on this thread (if any) and wait for it to end."""
        running = self._running.get((tenant, user, thread_id))
        if running is None:
            return False
        running.turn.cancel_requested = True  # a stream that has not started yet ends at its start
        task = running.turn.task
        if task is not None and not task.done():
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(running.done.wait(), CANCEL_WAIT_SECONDS)
        return True
