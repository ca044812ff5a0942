"""Upstream failures end the turn with an actionable SSE error, keep the partial answer
and leave the thread usable; a fallback alias answers when the first one fails early."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.llm.conftest import llm_config
from tests.llm.fakes import Cut, FakeUpstream, ForwardProxy, Hang, Reply, Status
from tests.support.client import ChatKitClient, assistant_text, errors
from tests.support.server import ServerProcess, free_port


def items_of(client: ChatKitClient, thread_id: str) -> list[dict]:
    return client.call("items.list", {"thread_id": thread_id, "limit": 50, "order": "asc"})["data"]


@pytest.mark.parametrize("style", ["chat_completions", "responses"])
def test_failures_are_reported_partial_answers_kept_and_the_thread_stays_usable(
    style: str, upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    server = make_server(
        llm_config(
            {
                "local": {
                    "base_url": upstream.url,
                    "api_style": style,
                    "max_retries": 1,
                    "timeouts": {"connect": 2, "read": 0.5, "total": 20},
                }
            },
            {"default": {"upstream": "local", "model": "m"}},
        )
    )
    client = ChatKitClient(server.url)
    thread_id, _ = client.create_thread("hello")

    # A stream cut midway: the tokens already shown are saved as the answer.
    upstream.plan.append(Cut("one two three four five six", after=3))
    events = client.send(thread_id, "tell me a story")
    [error] = errors(events)
    assert "upstream 'local'" in error.message and "cut" in error.message and error.allow_retry
    shown = "".join(
        e.update.delta
        for e in events
        if e.type == "thread.item.updated" and e.update.type == "assistant_message.content_part.text_delta"
    )
    saved = [i for i in items_of(client, thread_id) if i["type"] == "assistant_message"]
    partial = saved[-1]["content"][0]["text"]
    assert partial and "one two three four five six".startswith(partial) and partial.startswith(shown)

    # 429 after the retries (Retry-After honoured: two requests, about 0.2 s apart).
    upstream.plan += [Status(429, retry_after=0.2), Status(429, retry_after=0.2)]
    before = len(upstream.model_requests())
    events = client.send(thread_id, "again")
    [error] = errors(events)
    assert "rate-limited" in error.message and "HTTP 429" in error.message and "1 retries" in error.message
    assert len(upstream.model_requests()) - before == 2

    # 5xx after the retries.
    upstream.plan += [Status(503), Status(502)]
    [error] = errors(client.send(thread_id, "and again"))
    assert "HTTP 502" in error.message

    # The upstream says nothing: the read timeout, once per attempt.
    upstream.plan += [Hang(3), Hang(3)]
    [error] = errors(client.send(thread_id, "hello?"))
    assert "did not answer in time" in error.message

    # ... and the thread still works, with the partial answer in the history sent upstream.
    events = client.send(thread_id, "are you back?")
    assert errors(events) == [] and assistant_text(events) == "Echo: are you back?"
    body = upstream.model_requests()[-1].body
    history = body["messages"] if style == "chat_completions" else body["input"]
    assert json.dumps(partial) in json.dumps(history), "the partial answer is part of the history"
    metrics = httpx.get(f"{server.url}/metrics", headers={"X-Dev-Roles": "auditor"}).text
    for kind in ("cut", "rate_limited", "status", "timeout"):
        assert f'chatkit_upstream_failures_total{{alias="default",kind="{kind}"}}' in metrics


def test_fallback_alias_answers_when_the_first_fails_before_its_first_token(
    upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    server = make_server(
        llm_config(
            {"primary": {"base_url": dead}, "backup": {"base_url": upstream.url}},
            {
                "default": {"upstream": "primary", "model": "big", "fallbacks": ["spare"]},
                "spare": {"upstream": "backup", "model": "small"},
                "lonely": {"upstream": "primary", "model": "big"},
            },
        )
    )
    client = ChatKitClient(server.url)
    thread_id, events = client.create_thread("hello")
    assert errors(events) == [] and assistant_text(events) == "Echo: hello"
    assert upstream.model_requests()[-1].body["model"] == "small"
    metrics = httpx.get(f"{server.url}/metrics", headers={"X-Dev-Roles": "auditor"}).text
    assert 'chatkit_model_fallbacks_total{alias="spare"} 1.0' in metrics
    assert 'chatkit_upstream_failures_total{alias="default",kind="unreachable"} 1.0' in metrics

    # No fallback configured: the operator learns which upstream is down, and where.
    [error] = errors(client.send(thread_id, "hi", model="lonely"))
    assert (
        "upstream 'primary'" in error.message and dead in error.message and "cannot connect" in error.message
    )

    # A failure after the first token is not retried elsewhere (the user saw the text).
    upstream.plan.append(Cut("partial words here and more", after=2))
    [error] = errors(client.send(thread_id, "story", model="spare"))
    assert "cut" in error.message
    assert len([r for r in upstream.model_requests() if r.body["model"] == "small"]) == 2


def test_proxy_refusals_are_reported_as_proxy_problems(
    upstream: FakeUpstream, make_proxy: Callable[..., ForwardProxy], make_server: Callable[..., ServerProcess]
) -> None:
    needs_auth = make_proxy(auth=("svc", "right"))
    broken = make_proxy(refuse=502)
    server = make_server(
        llm_config(
            {
                "wrong_password": {
                    "base_url": upstream.url,
                    "proxy": {"url": needs_auth.url, "username": "svc", "password": "Pw-not-for-logs-1"},
                },
                "good_password": {
                    "base_url": upstream.url,
                    "proxy": {"url": needs_auth.url, "username": "svc", "password": "right"},
                },
                "bad_gateway": {"base_url": upstream.url, "proxy": {"url": broken.url}},
            },
            {
                "default": {"upstream": "good_password", "model": "m"},
                "p407": {"upstream": "wrong_password", "model": "m"},
                "p502": {"upstream": "bad_gateway", "model": "m"},
            },
        )
    )
    client = ChatKitClient(server.url)
    thread_id, events = client.create_thread("through the proxy")
    assert errors(events) == [] and assistant_text(events) == "Echo: through the proxy"
    [error] = errors(client.send(thread_id, "x", model="p407"))
    assert "HTTP 407" in error.message and "proxy.username/password" in error.message
    [error] = errors(client.send(thread_id, "y", model="p502"))
    assert "HTTP 502" in error.message and "proxy" in error.message
    assert broken.refused and needs_auth.refused
    assert "Pw-not-for-logs-1" not in server.log()  # the proxy password never reaches the log
    events = client.send(thread_id, "still fine?")
    assert errors(events) == [] and assistant_text(events) == "Echo: still fine?"


def test_upstream_failure_before_any_token_keeps_no_empty_answer(
    upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    server = make_server(
        llm_config({"local": {"base_url": upstream.url}}, {"default": {"upstream": "local", "model": "m"}})
    )
    client = ChatKitClient(server.url)
    upstream.plan.append(Status(500))
    response = client.post(
        "threads.create",
        {
            "input": {
                "content": [{"type": "input_text", "text": "hi"}],
                "attachments": [],
                "inference_options": {},
            }
        },
    )
    from tests.support.client import parse_sse

    events = parse_sse(response.text)
    [error] = errors(events)
    assert "HTTP 500" in error.message
    thread_id = events[0].thread.id
    kinds = [i["type"] for i in items_of(client, thread_id)]
    assert kinds == ["user_message"]
    upstream.plan.append(Reply("Recovered."))
    assert assistant_text(client.send(thread_id, "retry")) == "Recovered."
