"""Text pacing: fast tokens go out as fewer, larger events; nothing is lost or reordered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from chatkit_onprem.llm.pacing import PacedBytes
from tests.llm.conftest import llm_config
from tests.llm.fakes import FakeUpstream, Reply
from tests.support.client import ChatKitClient, errors
from tests.support.server import ServerProcess

TOKENS = [f"t{n} " for n in range(30)]


def text_deltas(events: list) -> list[str]:
    return [
        e.update.delta
        for e in events
        if e.type == "thread.item.updated" and e.update.type == "assistant_message.content_part.text_delta"
    ]


@pytest.mark.parametrize("style", ["chat_completions", "responses"])
def test_tokens_arriving_within_the_interval_share_one_event(
    style: str, upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    # 30 tokens 4 ms apart (120 ms) with a 60 ms interval: the first token alone, then
    # at most one event per 60 ms, so a handful of events instead of 30.
    upstream.default = Reply(tokens=TOKENS, token_delay=0.004)
    server = make_server(
        llm_config(
            {"local": {"base_url": upstream.url, "api_style": style}},
            {"default": {"upstream": "local", "model": "m"}},
            text_interval_ms=60,
        )
    )
    client = ChatKitClient(server.url)
    thread_id, events = client.create_thread("go")
    assert errors(events) == []
    deltas = text_deltas(events)
    assert "".join(deltas) == "".join(TOKENS)
    # The first token is not held back (on a busy machine the next may share its network read).
    assert deltas[0].startswith(TOKENS[0]) and len(deltas[0].split()) <= 3, deltas
    assert 2 <= len(deltas) <= 6, deltas
    saved = client.call("items.list", {"thread_id": thread_id, "limit": 10})["data"]
    assert [i["content"][0]["text"] for i in saved if i["type"] == "assistant_message"] == ["".join(TOKENS)]


async def _source(chunks: list[bytes | Exception], gate: asyncio.Event) -> AsyncIterator[bytes]:
    for chunk in chunks:
        if isinstance(chunk, Exception):
            raise chunk
        yield chunk
        if chunk == b"first":
            await gate.wait()  # the rest arrives while the consumer is busy


def test_paced_bytes_joins_what_arrived_and_raises_only_after_it() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        paced = PacedBytes(_source([b"first", b"a", b"b", b"c", ConnectionError("cut")], gate))
        assert await paced.next() == b"first"
        gate.set()
        await asyncio.sleep(0.01)  # the consumer "sends" while the reader keeps reading
        assert await paced.next() == b"abc"
        with pytest.raises(ConnectionError):
            await paced.next()
        await paced.aclose()

    asyncio.run(scenario())


def test_paced_bytes_ends_and_closes_cleanly() -> None:
    async def scenario() -> None:
        paced = PacedBytes(_source([b"x"], asyncio.Event()))
        assert await paced.next() == b"x"
        assert await paced.next() is None

        forever = asyncio.Event()
        stuck = PacedBytes(_source([b"first", b"never"], forever))
        assert await stuck.next() == b"first"
        await stuck.aclose()  # cancels the reader waiting on the upstream

    asyncio.run(scenario())
