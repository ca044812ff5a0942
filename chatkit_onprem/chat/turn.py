"""One streamed turn's state, in one object passed with the request.

A ``Turn`` is made by the ChatKit controller right after it parsed a mutating
streamed request, and rides on the caller's ``RequestContext`` (``context.turn``),
which the library hands to every store call and to ``respond``. So everything a
turn carries from one step to the next travels explicitly:

* the thread (and, for a new message, its history page) the protocol precheck read,
  handed to the library's ``load_thread`` and to the history step once, instead of
  being read again;
* the early model call (``chat.prefetch``) started while the message is committed;
* a new thread's first save, which the store writes together with the thread's first
  item, so a create that is refused before then writes nothing;
* the title the turn chose itself (a title the user set meanwhile wins);
* the usage the model calls report, recorded when the turn ends however it ends;
* the leases the turn holds (a stream slot, the thread's turn lock), released once.

Nothing here is shared between requests; the per-thread lock lives in ``chat.thread_turns``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatkit.types import ThreadItem, ThreadMetadata

from chatkit_onprem.chat.prefetch import TurnPlan
from chatkit_onprem.llm.routing import TurnUsage


@dataclass(slots=True, eq=False)
class Turn:
    kind: str
    tenant: str
    user: str
    #: The thread it runs on; for ``threads.create``, set once the library made it.
    thread_id: str | None = None
    #: The model alias, when the precheck resolved it (a new message, a retry).
    alias: str | None = None
    thread: ThreadMetadata | None = None
    history: list[ThreadItem] | None = None
    plan: TurnPlan | None = None
    usage: TurnUsage = field(default_factory=TurnUsage)
    #: A new thread's row, kept by the store until the thread's first item is written.
    first_save: Any = None
    auto_title: str | None = None
    #: The task running the turn's stream (cancelled when the thread is deleted).
    task: asyncio.Task[Any] | None = None
    cancel_requested: bool = False
    #: When the turn began (monotonic): the store compares it with outside-a-turn saves.
    started: float = field(default_factory=time.monotonic)
    #: It found another turn running on its thread and waited for it: what the client
    #: saw of the thread when it sent the request may have changed since.
    waited: bool = False
    _closers: list[Callable[[], None]] = field(default_factory=list)
    closed: bool = False

    # --- what the precheck read, handed on once ---------------------------
    def take_thread(self, thread_id: str) -> ThreadMetadata | None:
        thread = self.thread
        if thread is None or thread.id != thread_id:
            return None
        self.thread = None  # the caller may change it
        return thread

    def take_history(self, thread_id: str, limit: int) -> list[ThreadItem] | None:
        """The newest-first page read with the thread, if it covers ``limit`` items."""
        history = self.history
        if history is None or self.thread_id != thread_id:
            return None
        self.history = None
        return history[:limit]

    def take_plan(self, item_id: str) -> TurnPlan | None:
        plan = self.plan
        if plan is None or plan.item_id != item_id or plan.taken:
            return None
        plan.taken = True
        self.plan = None
        return plan

    # --- leases -------------------------------------------------------------
    def on_close(self, release: Callable[[], None]) -> None:
        if self.closed:
            release()
        else:
            self._closers.append(release)

    def close(self) -> None:
        """Release everything the turn holds (idempotent: the stream's end and the request's
        end both call it, so a stream that never started releases too)."""
        if self.closed:
            return
        self.closed = True
        closers, self._closers = self._closers, []
        for release in reversed(closers):
            release()
