"""Graceful overload: past ``server.max_streams`` a new stream is refused at once with 503 and
Retry-After, before anything is written; the admitted streams run to the end untouched."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.llm.conftest import llm_config
from tests.llm.fakes import FakeUpstream, Reply
from tests.support.client import ChatKitClient, parse_sse, text_input
from tests.support.server import ServerProcess

LIMIT = 6
BURST = 30
TOKENS = [f"w{i} " for i in range(25)]


@pytest.fixture
def slow_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream(default=Reply(tokens=TOKENS, first_delay=0.05, token_delay=0.04)).start()
    assert isinstance(fake, FakeUpstream)
    yield fake
    fake.stop()


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


@pytest.mark.parametrize("style", ["chat_completions", "responses"])
def test_a_burst_past_the_limit_is_shed_at_once_and_the_rest_finish(
    style: str, slow_upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    server = make_server(
        {
            **llm_config(
                {"local": {"base_url": slow_upstream.url, "api_style": style, "timeouts": {"read": 5}}},
                {"default": {"upstream": "local", "model": "m"}},
            ),
            "server": {"max_streams": LIMIT},
        }
    )
    barrier = threading.Barrier(BURST)

    def one(n: int) -> dict[str, Any]:
        barrier.wait()
        started = time.monotonic()
        response = httpx.post(
            f"{server.url}/chatkit",
            json={"type": "threads.create", "params": {"input": text_input(f"burst {n}")}},
            headers={"X-Dev-User": "burst"},
            timeout=60,
        )
        return {"response": response, "seconds": time.monotonic() - started}

    with ThreadPoolExecutor(BURST) as pool:
        results = list(pool.map(one, range(BURST)))
    served = [r for r in results if r["response"].status_code == 200]
    shed = [r for r in results if r["response"].status_code == 503]
    assert len(served) + len(shed) == BURST, [r["response"].status_code for r in results]
    assert LIMIT <= len(served) < BURST and shed
    for result in shed:
        response = result["response"]
        assert response.json()["error"]["code"] == "overloaded"
        assert int(response.headers["retry-after"]) >= 1
    for result in served:
        events = parse_sse(result["response"].text)
        assert [e for e in events if e.type == "error"] == [], "no admitted stream fails or times out"
        done = [e for e in events if e.type == "thread.item.done" and e.item.type == "assistant_message"]
        assert done and done[0].item.content[0].text == "".join(TOKENS)

    client = ChatKitClient(server.url, user="burst", tenant="default")
    assert len(client.call("threads.list", {"limit": 100})["data"]) == len(served), (
        "shed streams wrote nothing"
    )
    assert len(slow_upstream.model_requests()) == len(served), "shed streams never reached the upstream"
    metrics = httpx.get(f"{server.url}/metrics", headers={"X-Dev-Roles": "auditor"}).text
    assert _metric(metrics, "chatkit_streams_shed_total") == len(shed)
    assert _metric(metrics, "chatkit_streams_admitted_total") == len(served)
    assert _metric(metrics, "chatkit_streams_active") == 0
    # Each served turn's writes were timed from queue to commit (at least its user message).
    assert _metric(metrics, 'chatkit_store_write_seconds_count{writer="write"}') >= len(served)
    assert "chatkit_upstream_failures_total{" not in metrics, "no upstream call failed or timed out"
    assert 'chatkit_http_requests_total{method="POST",route="/chatkit",status="503"}' in metrics
    # Shed at once: the server answered each 503 without waiting for a slot.
    assert server.stop() == 0
    shed_ms = [
        r["duration_ms"] for r in server.log_records() if r.get("event") == "request" and r["status"] == 503
    ]
    assert len(shed_ms) == len(shed) and max(shed_ms) < 250, shed_ms
