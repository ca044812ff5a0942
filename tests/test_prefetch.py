"""The early model call: started before the message is committed, handed to respond once,
closed when the turn never gets there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chatkit_onprem.chat.prefetch import Prepared, PrimedStream, TurnPlan
from chatkit_onprem.chat.turn import Turn


class Source:
    """An async generator that records when it started and whether it was closed."""

    def __init__(self, items: list[str], gate: asyncio.Event | None = None) -> None:
        self.items = items
        self.gate = gate
        self.started = False
        self.closed = False

    async def stream(self) -> AsyncIterator[str]:
        self.started = True
        try:
            if self.gate is not None:
                await self.gate.wait()
            for item in self.items:
                yield item
        finally:
            self.closed = True


def test_a_primed_stream_fetches_before_it_is_read_and_yields_everything_in_order() -> None:
    async def scenario() -> None:
        source = Source(["a", "b", "c"])
        primed = PrimedStream(source.stream())
        await asyncio.sleep(0)
        assert source.started  # the request went out before anyone iterated
        assert [item async for item in primed] == ["a", "b", "c"]
        await primed.aclose()
        assert source.closed

    asyncio.run(scenario())


def test_closing_a_primed_stream_mid_fetch_closes_its_source() -> None:
    async def scenario() -> None:
        source = Source(["never"], gate=asyncio.Event())
        primed = PrimedStream(source.stream())
        await asyncio.sleep(0)
        await primed.aclose()  # the first fetch still waits on the "upstream"
        assert source.closed

    asyncio.run(scenario())


def test_a_plan_is_taken_once_by_its_own_message_only() -> None:
    async def scenario() -> None:
        async def prepare() -> Prepared:
            return Prepared("default", [], [])

        turn = Turn(kind="threads.add_user_message", tenant="acme", user="alice", thread_id="thr_1")
        turn.plan = plan = TurnPlan.start("msg_1", prepare())
        assert turn.take_plan("msg_other") is None
        taken = turn.take_plan("msg_1")
        assert taken is plan and (await plan.task).alias == "default"
        assert turn.take_plan("msg_1") is None
        plan.discard()  # taken: nothing to do

    asyncio.run(scenario())


@pytest.mark.parametrize("finished", [True, False], ids=["prepared", "still-preparing"])
def test_an_untaken_plan_closes_the_model_request_it_started(finished: bool) -> None:
    """The library failed to save the message: respond never runs, the upstream call ends."""

    async def scenario() -> None:
        source = Source(["x"], gate=asyncio.Event())
        release = asyncio.Event()

        async def prepare() -> Prepared:
            if not finished:
                await release.wait()
            return Prepared("default", [], [], PrimedStream(source.stream()))

        plan = TurnPlan.start("msg_1", prepare())
        await asyncio.sleep(0.01)
        plan.discard()
        await asyncio.sleep(0.01)
        assert plan.task.done()
        assert source.closed is finished  # a plan cancelled before it called the model never did
        assert source.started is finished

    asyncio.run(scenario())
