"""Readiness reflects what the pod can serve (real servers over HTTP).

The store is required; the object store, model upstreams and the IdP are
optional: reported in /readyz and chatkit_dependency_up, degrading only their
features. Anonymous callers get fixed phrases, admins the causes. /metrics
takes a read-only metrics token that opens nothing else.
"""

from __future__ import annotations

import asyncio
import errno
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chatkit_onprem.config import ConfigError, Settings, load_settings
from chatkit_onprem.readiness import check_store
from tests.auth.idp import PRODUCTION_KEYS
from tests.deployment.support import StaticHttpServer
from tests.support.client import ChatKitClient, assistant_text, errors
from tests.support.server import ServerProcess, free_port
from tests.uploads.support import ACCESS_KEY, SECRET_KEY, MotoS3, png_bytes, upload_direct

ADMIN_TOKEN = "admin-token-0123456789abcdef-xyz"
METRICS_TOKEN = "metrics-token-0123456789abcdef-ro"
FAST = {"server": {"dependency_check_seconds": 0.3}}


def s3(endpoint: str, bucket: str, *, region: str | None = "us-east-1") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "endpoint": endpoint,
        "bucket": bucket,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "connect_timeout_seconds": 1,
        "read_timeout_seconds": 3,
        "retries": 0,
    }
    if region:
        spec["region"] = region
    return {"blobs": {"backend": "s3", "s3": spec}}


def settled(
    server: ServerProcess, headers: dict[str, str] | None = None, timeout: float = 20
) -> httpx.Response:
    """/readyz once no check is pending any more."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{server.url}/readyz", headers=headers, timeout=10)
        if not any(v.startswith("pending") for v in response.json()["checks"].values()):
            return response
        if time.monotonic() > deadline:
            raise AssertionError(response.text)
        time.sleep(0.2)


def metric(text: str, name: str, **labels: str) -> float:
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(selector)}\}} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{{{selector}}} not in metrics"
    return float(match.group(1))


def test_an_unreachable_object_store_degrades_uploads_not_the_pod(
    make_server: Callable[..., ServerProcess],
) -> None:
    down = MotoS3().start()
    down.stop()  # a port where nothing listens
    server = make_server({**s3(f"http://{down.endpoint}", "never-up"), **FAST})  # start() waits for 200

    ready = settled(server)
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"store": "ok", "blobs": "failing: object store unreachable"}
    assert body["degraded"] == {"blobs": "uploads, downloads and previews"}
    assert "details" not in body and str(down.port) not in ready.text  # no address for anonymous callers

    alice = ChatKitClient(server.url)
    _, events = alice.create_thread("chat works without the object store")
    assert errors(events) == [] and assistant_text(events)
    refused = upload_direct(alice, "p.png", png_bytes(), "image/png")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "object_store_unavailable"

    admin = httpx.get(f"{server.url}/readyz", headers={"X-Dev-Roles": "admin"}).json()
    assert "Connection refused" in admin["details"]["blobs"] and str(down.port) in admin["details"]["blobs"]
    metrics = httpx.get(f"{server.url}/metrics", headers={"X-Dev-Roles": "auditor"}).text
    assert metric(metrics, "chatkit_dependency_up", check="blobs") == 0.0
    assert metric(metrics, "chatkit_dependency_up", check="store") == 1.0


def test_an_object_store_answering_a_web_page_does_not_stop_the_start(
    make_server: Callable[..., ServerProcess],
) -> None:
    """A load balancer's maintenance page used to make the client's XML parser raise at start-up."""
    page = StaticHttpServer(lambda: b"<html><body>Maintenance<br></body></html>", content_type="text/html")
    try:
        # No region: the client first asks for the bucket's location and parses the page as XML.
        server = make_server({**s3(f"http://127.0.0.1:{page.port}", "behind-lb", region=None), **FAST})
        ready = settled(server)
        assert ready.status_code == 200
        assert ready.json()["checks"]["blobs"] == "failing: object store answer not understood"
        assert page.hits >= 1
        _, events = ChatKitClient(server.url).create_thread("still chatting")
        assert errors(events) == []
    finally:
        page.close()


def production(**extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "mode": "production",
        "server": {"public_url": "https://chat.example.internal", "dependency_check_seconds": 0.3},
        **PRODUCTION_KEYS,
        "auth": {"methods": ["api_keys"], "admin_token": ADMIN_TOKEN, "metrics_token": METRICS_TOKEN},
    }
    for key, value in extra.items():
        config[key] = {**config.get(key, {}), **value}
    return config


def test_causes_are_for_admins_only(make_server: Callable[..., ServerProcess]) -> None:
    """Unreachable model upstream and IdP: named in fixed phrases; ports, errors and paths only for admins."""
    closed = free_port()
    server = make_server(
        production(
            llm={
                "upstreams": {"vllm": {"base_url": f"http://127.0.0.1:{closed}/v1", "max_retries": 0}},
                "aliases": {"default": {"upstream": "vllm", "model": "m"}},
            },
            auth={
                "methods": ["oidc", "api_keys"],
                "admin_token": ADMIN_TOKEN,
                "oidc": {
                    "issuer": "https://sso.example.internal",
                    "audience": ["chatkit"],
                    "jwks_url": f"http://127.0.0.1:{closed}/jwks",
                },
            },
        )
    )
    anonymous = settled(server)
    assert anonymous.status_code == 200
    assert anonymous.json()["checks"] == {
        "store": "ok",
        "blobs": "ok",
        "upstream.vllm": "failing: upstream unreachable",
        "idp": "failing: no signing keys from the identity provider",
    }
    assert set(anonymous.json()["degraded"]) == {"upstream.vllm", "idp"}
    for leak in (str(closed), "/data", str(server.workdir), "Errno", "refused"):
        assert leak not in anonymous.text, leak
    # A wrong credential is just anonymous; the admin token and the metrics token differ here.
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {METRICS_TOKEN}"}):
        assert "details" not in httpx.get(f"{server.url}/readyz", headers=headers).json()
    admin = httpx.get(f"{server.url}/readyz", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    assert f"127.0.0.1:{closed}" in admin["details"]["upstream.vllm"]
    assert f"127.0.0.1:{closed}/jwks" in admin["details"]["idp"]


@pytest.mark.parametrize(
    ("exc", "public"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/data/chatkit.duckdb.wal"),
            "failing: storage full",
        ),
        (
            RuntimeError(
                'IO Error: Could not write file "/data/chatkit.duckdb.wal": No space left on device'
            ),
            "failing: storage full",
        ),
        (RuntimeError("Catalog Error: something internal at /data/x"), "failing: store not writable"),
    ],
)
def test_store_failures_are_named_without_internals(exc: Exception, public: str) -> None:
    async def probe() -> None:
        raise exc

    result = asyncio.run(check_store(probe))
    assert result.public == public and "/data" not in result.public
    assert "/data/" in result.detail  # the admin sees the cause


def test_the_metrics_token_reads_metrics_and_nothing_else(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server(production())
    as_metrics = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    scraped = httpx.get(f"{server.url}/metrics", headers=as_metrics)
    assert scraped.status_code == 200, scraped.text
    assert metric(scraped.text, "chatkit_dependency_up", check="store") == 1.0
    assert (
        httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code
        == 200
    )
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    assert (
        httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer " + "x" * 32}).status_code == 401
    )
    # Nowhere else: not the admin API (read or write), not the ChatKit protocol.
    assert httpx.get(f"{server.url}/admin/v1/whoami", headers=as_metrics).status_code == 401
    made = httpx.post(
        f"{server.url}/admin/v1/api-keys", headers=as_metrics, json={"tenant": "acme", "name": "x"}
    )
    assert made.status_code == 401
    listed = httpx.post(
        f"{server.url}/chatkit", headers=as_metrics, json={"type": "threads.list", "params": {}}
    )
    assert listed.status_code == 401


def test_production_refuses_a_weak_or_reused_metrics_token(tmp_path: Path) -> None:
    for token, message in (("short", "at least 24"), (ADMIN_TOKEN, "must differ from auth.admin_token")):
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump(production(auth={"metrics_token": token})))
        with pytest.raises(ConfigError, match=message):
            load_settings(config)
    assert Settings().auth.metrics_token is None  # off unless configured
