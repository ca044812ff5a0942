"""Where model calls go: through the configured proxy only, per host; TLS with a private CA and mTLS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.llm.certs import Pki
from tests.llm.conftest import llm_config
from tests.llm.fakes import FakeUpstream, ForwardProxy
from tests.support.client import ChatKitClient, assistant_text, errors
from tests.support.egress_guard import EgressGuard
from tests.support.server import ServerProcess


def test_multi_turn_conversations_go_through_the_proxy_and_nowhere_else(
    upstream: FakeUpstream, make_proxy: Callable[..., ForwardProxy], make_server: Callable[..., ServerProcess]
) -> None:
    proxy = make_proxy(auth=("svc", "pw"))
    direct = FakeUpstream().start()
    try:
        server = make_server(
            llm_config(
                {
                    "proxied": {
                        "base_url": upstream.url,
                        "proxy": {"url": proxy.url, "username": "svc", "password": "pw"},
                    },
                    "local": {"base_url": direct.url},
                },
                {
                    "default": {"upstream": "proxied", "model": "m"},
                    "near": {"upstream": "local", "model": "n"},
                },
                title_alias="default",
            ),
            # Proxy variables in the environment must change nothing: the config alone routes.
            env={
                "HTTP_PROXY": "http://127.0.0.1:9",
                "HTTPS_PROXY": "http://127.0.0.1:9",
                "ALL_PROXY": "http://127.0.0.1:9",
            },
        )
        for user in ("alice", "bob"):
            client = ChatKitClient(server.url, user=user)
            thread_id, events = client.create_thread(f"hi from {user}")
            assert errors(events) == []
            for n in range(3):
                events = client.send(thread_id, f"turn {n}")
                assert errors(events) == [] and assistant_text(events) == f"Echo: turn {n}"
            events = client.send(thread_id, "nearby please", model="near")
            assert errors(events) == [] and assistant_text(events) == "Echo: nearby please"

        proxied = upstream.model_requests()
        assert len(proxied) == 2 * (1 + 1 + 3)  # first turn + its title + 3 turns, per user
        assert all(r.headers.get("via") == "1.1 test-proxy" for r in upstream.requests)
        assert len(proxy.seen) == len(upstream.requests)
        assert all(line.startswith(f"POST http://127.0.0.1:{upstream.port}/v1/") for line in proxy.seen)
        # The other upstream is reached directly, never through the proxy.
        assert len(direct.model_requests()) == 2 and all("via" not in r.headers for r in direct.requests)
        assert all("Authorization" not in line for line in proxy.seen)
    finally:
        direct.stop()
    # make_server asserts that the server contacted nothing but loopback (no trace upload,
    # no tokenizer download); the egress_guard fixture does the same for this process.


def test_tls_with_a_private_ca_and_mtls(
    pki: Pki, make_proxy: Callable[..., ForwardProxy], make_server: Callable[..., ServerProcess]
) -> None:
    tls = FakeUpstream(pki.server_context()).start()
    mtls = FakeUpstream(pki.server_context(require_client_cert=True)).start()
    proxy = make_proxy()
    try:
        client_cert = {"client_cert": str(pki.client_cert), "client_key": str(pki.client_key)}
        server = make_server(
            llm_config(
                {
                    "tls": {"base_url": tls.url, "ca_bundle": str(pki.ca)},
                    "tls_via_proxy": {
                        "base_url": tls.url,
                        "ca_bundle": str(pki.ca),
                        "proxy": {"url": proxy.url},
                    },
                    "wrong_ca": {"base_url": tls.url, "ca_bundle": str(pki.other_ca)},
                    "system_ca": {"base_url": tls.url},
                    "mtls": {"base_url": mtls.url, "ca_bundle": str(pki.ca), **client_cert},
                    "mtls_no_cert": {"base_url": mtls.url, "ca_bundle": str(pki.ca)},
                },
                {
                    "default": {"upstream": "tls", "model": "m"},
                    "proxied": {"upstream": "tls_via_proxy", "model": "m"},
                    "wrong_ca": {"upstream": "wrong_ca", "model": "m"},
                    "system_ca": {"upstream": "system_ca", "model": "m"},
                    "mtls": {"upstream": "mtls", "model": "m"},
                    "mtls_no_cert": {"upstream": "mtls_no_cert", "model": "m"},
                },
            )
        )
        client = ChatKitClient(server.url)
        thread_id, events = client.create_thread("over tls")
        assert errors(events) == [] and assistant_text(events) == "Echo: over tls"
        events = client.send(thread_id, "through a tunnel", model="proxied")
        assert errors(events) == [] and assistant_text(events) == "Echo: through a tunnel"
        assert proxy.seen == [f"CONNECT 127.0.0.1:{tls.port}"]
        events = client.send(thread_id, "with my certificate", model="mtls")
        assert errors(events) == [] and assistant_text(events) == "Echo: with my certificate"
        for alias in ("wrong_ca", "system_ca"):
            [error] = errors(client.send(thread_id, "x", model=alias))
            assert "TLS failed" in error.message and "CERTIFICATE_VERIFY_FAILED" in error.message, (
                error.message
            )
        [error] = errors(client.send(thread_id, "x", model="mtls_no_cert"))
        assert f"upstream 'mtls_no_cert' at {mtls.url}" in error.message
        assert len(mtls.model_requests()) == 1
    finally:
        tls.stop()
        mtls.stop()


def test_the_test_process_guard_refuses_non_loopback(egress_guard: EgressGuard) -> None:
    import socket

    with socket.socket() as s:
        try:
            s.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed
        except ConnectionRefusedError as exc:
            assert "egress guard" in str(exc)
        else:
            raise AssertionError("connect was allowed")
    assert egress_guard.attempts == ["connect ('192.0.2.1', 80)"]
    egress_guard.attempts.clear()  # expected here; any other attempt fails its test


def test_the_upstream_via_proxy_example_works_as_shipped(
    upstream: FakeUpstream, make_proxy: Callable[..., ForwardProxy], make_server: Callable[..., ServerProcess]
) -> None:
    import yaml

    from tests.support.server import ROOT

    proxy = make_proxy(auth=("svc", "pw"))
    config = yaml.safe_load((ROOT / "config/examples/upstream-via-proxy.yaml").read_text())
    config.pop("data_dir")
    env = {
        "UPSTREAM_BASE_URL": upstream.url,
        "EGRESS_PROXY_URL": proxy.url,
        "EGRESS_PROXY_USER": "svc",
        "EGRESS_PROXY_PASSWORD": "pw",
        "UPSTREAM_MODEL": "big",
        "UPSTREAM_FAST_MODEL": "small",
    }
    server = make_server(config, env=env)
    client = ChatKitClient(server.url)
    thread_id, events = client.create_thread("hello via the example")
    assert errors(events) == [] and assistant_text(events) == "Echo: hello via the example"
    events = client.send(thread_id, "second turn")
    assert errors(events) == [] and assistant_text(events) == "Echo: second turn"
    assert [r.body["model"] for r in upstream.model_requests()] == [
        "big",
        "small",
        "big",
    ]  # answer, title, answer
    assert len(proxy.seen) == 3 and not proxy.refused


def test_the_responses_example_is_valid(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support.server import ROOT

    key = tmp_path / "key"
    key.write_text("sk-example\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "RESPONSES_BASE_URL": "https://llm-gateway.internal/v1",
        "RESPONSES_MODEL": "gpt-oss-120b",
        "RESPONSES_API_KEY_FILE": str(key),
        "UPSTREAM_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatkit_onprem",
            "config",
            "check",
            "--config",
            str(ROOT / "config/examples/responses-direct.yaml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "api_style: responses" in result.stdout and "sk-example" not in result.stdout
