"""TLS to the object store with a custom CA (blobs.s3.ca_bundle), against moto served over HTTPS."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from tests.llm.certs import Pki, make_pki
from tests.support.client import ChatKitClient
from tests.uploads.support import ACCESS_KEY, SECRET_KEY, png_bytes, upload_direct


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_moto(pki: Pki) -> Iterator[int]:
    """moto's own WSGI app, served over HTTPS with a certificate from the test CA."""
    server: BaseWSGIServer = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
        ssl_context=pki.server_context(),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()
    thread.join()


def tls_config(port: int, ca: Path | None) -> dict[str, object]:
    s3: dict[str, object] = {
        "endpoint": f"https://127.0.0.1:{port}",
        "bucket": "tls-bucket",
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "region": "us-east-1",
        "retries": 0,
        "connect_timeout_seconds": 2,
    }
    if ca is not None:
        s3["ca_bundle"] = str(ca)
    return {"blobs": {"backend": "s3", "s3": s3}}


def test_custom_ca_is_trusted(make_server, tls_moto: int, pki: Pki) -> None:
    server = make_server(tls_config(tls_moto, pki.ca))
    alice = ChatKitClient(server.url)
    uploaded = upload_direct(alice, "p.png", png_bytes(), "image/png")
    assert uploaded.status_code == 200, uploaded.text
    assert alice.http.get(f"/files/{uploaded.json()['id']}").content == png_bytes()


def test_unknown_ca_is_refused_and_readiness_says_so(make_server, tls_moto: int, pki: Pki) -> None:
    config = {**tls_config(tls_moto, pki.other_ca), "server": {"dependency_check_seconds": 0.3}}
    server = make_server(config)  # ready: the object store is optional (only uploads are degraded)
    deadline = time.monotonic() + 20
    while True:
        ready = httpx.get(f"{server.url}/readyz", timeout=10)
        if ready.json()["checks"]["blobs"] != "pending: not checked yet" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ready.status_code == 200
    assert ready.json()["checks"]["blobs"] == "failing: object store TLS verification failed"
    assert "details" not in ready.json()  # causes only for an admin caller
    admin = httpx.get(f"{server.url}/readyz", headers={"X-Dev-Roles": "admin"}, timeout=10).json()
    assert "certificate verify failed" in admin["details"]["blobs"].lower()
    assert "object store not ready at start-up" in server.log()
    refused = upload_direct(ChatKitClient(server.url), "p.png", png_bytes(), "image/png")
    assert refused.status_code == 503
