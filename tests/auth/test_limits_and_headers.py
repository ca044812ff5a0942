"""Rate limits (429 + Retry-After), stream limits, security headers, CORS and trusted proxy headers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.auth.conftest import as_caller
from tests.auth.idp import TestIdP, oidc_config
from tests.support.client import text_input
from tests.support.server import ServerProcess, deep_merge

MakeServer = Callable[..., ServerProcess]
LIMITS = {
    "rate_limits": {
        "user_requests_per_minute": 20,
        "tenant_requests_per_minute": 30,
        "user_concurrent_streams": 1,
        "tenant_concurrent_streams": 0,
    },
    "llm": {"scripted": {"token_delay_ms": 100}},
}
# An answer of a few dozen tokens, 100 ms apart: a stream that stays open for a few seconds.
LONG = {"type": "threads.create", "params": {"input": text_input("tell me about the weather in spring")}}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, idp: TestIdP) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("limited"), deep_merge(oidc_config(idp), LIMITS)).start()
    yield proc
    proc.stop()
    assert proc.egress() == []


def test_requests_per_minute_per_user_and_tenant(limited: ServerProcess, idp: TestIdP) -> None:
    server = limited
    alice = as_caller(server, idp.token("alice", "acme"))
    for _ in range(20):
        assert alice.post("threads.list", {}).status_code == 200
    limited = alice.post("threads.list", {})
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    assert "this user" in limited.json()["error"]["message"]

    bob = as_caller(server, idp.token("bob", "acme"))
    codes = [bob.post("threads.list", {}).status_code for _ in range(11)]
    assert codes == [200] * 10 + [429], "the tenant's 30 per minute are used up"
    assert "this tenant" in bob.post("threads.list", {}).json()["error"]["message"]

    carol = as_caller(server, idp.token("carol", "globex"))
    assert carol.post("threads.list", {}).status_code == 200, "other tenants are unaffected"


def test_concurrent_streams_per_user(limited: ServerProcess, idp: TestIdP) -> None:
    server = limited
    token = idp.token("dave", "streams")
    headers = {"Authorization": f"Bearer {token}"}
    started = threading.Event()
    result: dict[str, Any] = {}

    def long_stream() -> None:
        with httpx.stream(
            "POST", f"{server.url}/chatkit", json=LONG, headers=headers, timeout=60
        ) as response:
            for _ in response.iter_bytes():
                started.set()
            result["status"] = response.status_code

    worker = threading.Thread(target=long_stream)
    worker.start()
    assert started.wait(20)
    second = httpx.post(f"{server.url}/chatkit", json=LONG, headers=headers, timeout=30)
    assert second.status_code == 429, second.text[:300]
    assert second.json()["error"]["code"] == "too_many_streams"
    assert second.headers["retry-after"] == "1"
    other_user = as_caller(server, idp.token("erin", "streams"))
    assert other_user.post("threads.list", {}).status_code == 200
    worker.join(60)
    assert result["status"] == 200

    # A client that hangs up mid-stream gives its slot back too.
    with httpx.stream("POST", f"{server.url}/chatkit", json=LONG, headers=headers, timeout=60) as response:
        next(response.iter_bytes())
    for _ in range(10):
        again = httpx.post(
            f"{server.url}/chatkit",
            json={"type": "threads.create", "params": {"input": text_input("hi")}},
            headers=headers,
            timeout=30,
        )
        if again.status_code != 429:
            break
        threading.Event().wait(0.3)
    assert again.status_code == 200, again.text[:300]


def test_security_headers(prod_server: ServerProcess, idp: TestIdP) -> None:
    for response in (
        as_caller(prod_server, idp.token()).post("threads.list", {}),
        httpx.post(f"{prod_server.url}/chatkit", json={}, timeout=10),  # a 401 gets them too
    ):
        h = response.headers
        assert h["x-content-type-options"] == "nosniff"
        assert h["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in h, "no HSTS over plain http"


def test_hsts_behind_tls_and_cors_allowlist_with_credentials(make_server: MakeServer, idp: TestIdP) -> None:
    allowed = "https://app.corp.internal"
    server_config = {"public_url": "https://chat.corp.internal", "cors_origins": [allowed]}
    server = make_server(deep_merge(oidc_config(idp), {"server": server_config}))
    response = as_caller(server, idp.token()).post("threads.list", {})
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    ok = httpx.options(f"{server.url}/chatkit", headers={"Origin": allowed, **preflight}, timeout=10)
    assert ok.status_code in (200, 204)
    assert ok.headers["access-control-allow-origin"] == allowed
    assert ok.headers["access-control-allow-credentials"] == "true"
    evil = httpx.options(
        f"{server.url}/chatkit", headers={"Origin": "https://evil.example", **preflight}, timeout=10
    )
    assert evil.headers.get("access-control-allow-origin") != "https://evil.example"
    real = as_caller(server, idp.token()).http.post(
        "/chatkit", json={"type": "threads.list", "params": {}}, headers={"Origin": allowed}
    )
    assert real.headers["access-control-allow-origin"] == allowed


def test_trusted_headers_only_from_trusted_networks(make_server: MakeServer, idp: TestIdP) -> None:
    def config(sources: list[str]) -> dict[str, Any]:
        return deep_merge(
            oidc_config(idp),
            {"auth": {"methods": ["trusted_headers"], "trusted_headers": {"trusted_sources": sources}}},
        )

    proxy = {
        "X-Forwarded-User": "alice@corp",
        "X-Forwarded-Tenant": "acme",
        "X-Forwarded-Groups": "staff,auditor",
    }
    trusting = make_server(config(["127.0.0.1/32"]), name="trusting")
    me = httpx.get(f"{trusting.url}/admin/v1/whoami", headers=proxy, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json() == {
        "user": "alice@corp",
        "tenant": "acme",
        "roles": ["auditor", "user"],
        "auth_method": "trusted_headers",
    }
    client = ChatKitLike(trusting.url, proxy)
    assert client.post("threads.list").status_code == 200
    assert client.post("threads.list", {"X-Forwarded-User": ""}).status_code == 401

    elsewhere = make_server(config(["10.0.0.0/8"]), name="elsewhere")
    refused = ChatKitLike(elsewhere.url, proxy).post("threads.list")
    assert refused.status_code == 401
    assert "identity header from an untrusted address ignored" in elsewhere.log()


class ChatKitLike:
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers

    def post(self, type_: str, override: dict[str, str] | None = None) -> httpx.Response:
        headers = {**self.headers, **(override or {})}
        headers = {k: v for k, v in headers.items() if v}
        return httpx.post(
            f"{self.url}/chatkit", json={"type": type_, "params": {}}, headers=headers, timeout=10
        )
