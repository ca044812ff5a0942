"""One trust rule for every outbound client (chatkit_onprem.trust): system store + SSL_CERT_FILE + ca_bundle.

Each client (model upstream, JWKS, object store) is tried against servers whose
certificates come from a private CA: trusted once through ``SSL_CERT_FILE`` or
through the client's own ``ca_bundle``, refused when the CA is named nowhere.
"""

from __future__ import annotations

import http.server
import re
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit_onprem import trust
from chatkit_onprem.trust import TrustError, client_ssl_context, trust_sources
from tests.auth.idp import AUDIENCE, ISSUER, TestIdP
from tests.deployment.support import StaticHttpServer, TlsMoto, json_body
from tests.llm.certs import Pki, make_pki
from tests.llm.fakes import FakeUpstream
from tests.support.client import ChatKitClient, assistant_text, errors
from tests.support.server import ServerProcess
from tests.uploads.support import ACCESS_KEY, SECRET_KEY, png_bytes, upload_direct

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _subjects(context: ssl.SSLContext) -> set[str]:
    return {
        value
        for cert in context.get_ca_certs()
        for rdn in cert["subject"]  # type: ignore[union-attr]
        for key, value in rdn  # type: ignore[misc]
        if key == "commonName"
    }


# --- the function -----------------------------------------------------------


def test_system_store_ssl_cert_file_and_ca_bundle_are_all_trusted(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Additive: SSL_CERT_FILE and ca_bundle add to the system store, never replace it."""
    system = tmp_path / "system.pem"
    system.write_bytes(pki.other_ca.read_bytes())  # stands in for the OS bundle
    real = ssl.get_default_verify_paths()
    monkeypatch.setattr(
        trust.ssl,
        "get_default_verify_paths",
        lambda: ssl.DefaultVerifyPaths(
            str(system),
            None,
            real.openssl_cafile_env,
            str(system),
            real.openssl_capath_env,
            str(tmp_path / "none"),
        ),
    )
    extra = make_pki(tmp_path / "extra")
    context = client_ssl_context(extra.ca, environ={"SSL_CERT_FILE": str(pki.ca)})
    assert {"an unrelated CA", "chatkit-onprem test CA"} <= _subjects(context)
    assert len([c for c in context.get_ca_certs() if "test CA" in str(c["subject"])]) == 2  # pki + extra
    files, _ = trust_sources(extra.ca, environ={"SSL_CERT_FILE": str(pki.ca)})
    assert files == [system, pki.ca, extra.ca]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_the_real_system_store_is_loaded() -> None:
    paths = ssl.get_default_verify_paths()
    system_file = Path(paths.openssl_cafile)
    context = client_ssl_context(environ={})
    if system_file.is_file():
        expected = ssl.create_default_context(cafile=str(system_file)).cert_store_stats()["x509_ca"]
        assert context.cert_store_stats()["x509_ca"] >= expected > 0
    else:  # no OS bundle on this machine: then at least the directory is where OpenSSL looks
        assert trust_sources(environ={})[1] or context.cert_store_stats()["x509_ca"] == 0


def test_a_handshake_with_a_private_ca(pki: Pki) -> None:
    handler = type(
        "H",
        (http.server.BaseHTTPRequestHandler,),
        {
            "do_GET": lambda self: (self.send_response(204), self.end_headers()),
            "log_message": lambda self, *a: None,
        },
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = pki.server_context().wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/"
    try:
        for context in (
            client_ssl_context(environ={"SSL_CERT_FILE": str(pki.ca)}),
            client_ssl_context(pki.ca, environ={}),
        ):
            with urllib.request.urlopen(url, context=context, timeout=5) as response:
                assert response.status == 204
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(url, context=client_ssl_context(pki.other_ca, environ={}), timeout=5)
    finally:
        server.shutdown()
        server.server_close()


def test_unusable_files_are_named(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(TrustError, match=re.escape("SSL_CERT_FILE: /nonexistent/ca.pem")):
        client_ssl_context(environ={"SSL_CERT_FILE": "/nonexistent/ca.pem"})
    with pytest.raises(TrustError, match=re.escape("ca_bundle: /nonexistent/other.pem")):
        client_ssl_context("/nonexistent/other.pem", environ={})
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(TrustError, match=re.escape(str(garbage))):
        client_ssl_context(garbage, environ={})
    with pytest.raises(TrustError, match="client certificate"):
        client_ssl_context(pki.ca, client_cert=garbage, environ={})
    mtls = client_ssl_context(pki.ca, client_cert=pki.client_cert, client_key=pki.client_key, environ={})
    assert isinstance(mtls, ssl.SSLContext)


def test_no_client_uses_certifi() -> None:
    """certifi is Mozilla's list, not the system store: no module may load it."""
    uses = re.compile(r"^\s*(import certifi|from certifi )|certifi\.where\(", re.MULTILINE)
    users = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "chatkit_onprem").rglob("*.py")
        if uses.search(p.read_text(encoding="utf-8"))
    ]
    assert users == []


# --- every client in a running server -------------------------------------


@pytest.fixture(scope="module")
def tls_servers(pki: Pki) -> Iterator[dict[str, Any]]:
    idp = TestIdP()
    upstream = FakeUpstream(tls=pki.server_context()).start()
    jwks = StaticHttpServer(json_body(idp.jwks), tls=pki.server_context())
    s3 = TlsMoto(pki.server_context())
    yield {"idp": idp, "upstream": upstream, "jwks": jwks, "s3": s3}
    upstream.stop()
    jwks.close()
    s3.close()
    idp.close()


def tls_config(servers: dict[str, Any], bucket: str, ca: Path | None) -> dict[str, Any]:
    """Development mode, OIDC only, one https model upstream, https S3: every client on TLS."""
    per_client: dict[str, Any] = {"ca_bundle": str(ca)} if ca else {}
    return {
        "server": {"dependency_check_seconds": 0.3},
        "auth": {
            "methods": ["oidc"],
            "oidc": {
                "issuer": ISSUER,
                "audience": [AUDIENCE],
                "jwks_url": f"https://127.0.0.1:{servers['jwks'].port}/jwks",
                "jwks_min_refresh_seconds": 0,
                **({"jwks_ca_file": str(ca)} if ca else {}),
            },
        },
        "llm": {
            "upstreams": {
                "tls": {
                    "base_url": servers["upstream"].url,
                    "max_retries": 0,
                    "timeouts": {"connect": 2, "read": 5, "total": 20},
                    **per_client,
                }
            },
            "aliases": {"default": {"upstream": "tls", "model": "m"}},
        },
        "blobs": {
            "backend": "s3",
            "s3": {
                "endpoint": f"https://127.0.0.1:{servers['s3'].port}",
                "bucket": bucket,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "region": "us-east-1",
                "retries": 0,
                "connect_timeout_seconds": 2,
                **per_client,
            },
        },
    }


def settled_readiness(server: ServerProcess, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = httpx.get(f"{server.url}/readyz", timeout=10).json()
        if not any(v.startswith("pending") for v in body["checks"].values()) or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


@pytest.mark.parametrize("how", ["SSL_CERT_FILE", "ca_bundle"])
def test_every_client_trusts_the_private_ca_named_once(
    how: str, tls_servers: dict[str, Any], pki: Pki, make_server: Callable[..., ServerProcess]
) -> None:
    by_env = how == "SSL_CERT_FILE"
    server = make_server(
        tls_config(tls_servers, f"trust-{how.lower().replace('_', '-')}", None if by_env else pki.ca),
        env={"SSL_CERT_FILE": str(pki.ca)} if by_env else {},
    )
    ready = settled_readiness(server)
    assert ready["checks"] == {"store": "ok", "blobs": "ok", "upstream.tls": "ok", "idp": "ok"}, ready
    # JWKS over TLS: the token verifies. Model upstream over TLS: the answer streams.
    alice = ChatKitClient(server.url, Authorization=f"Bearer {tls_servers['idp'].token()}")
    _, events = alice.create_thread("hello over tls")
    assert errors(events) == [] and assistant_text(events) == "Echo: hello over tls"
    # Object store over TLS: an upload round-trips.
    uploaded = upload_direct(alice, "p.png", png_bytes(), "image/png")
    assert uploaded.status_code == 200, uploaded.text
    assert alice.http.get(f"/files/{uploaded.json()['id']}").content == png_bytes()


def test_a_ca_named_nowhere_is_refused_by_every_client(
    tls_servers: dict[str, Any], make_server: Callable[..., ServerProcess]
) -> None:
    server = make_server(tls_config(tls_servers, "trust-none", None))
    ready = settled_readiness(server)
    assert ready["checks"] == {
        "store": "ok",
        "blobs": "failing: object store TLS verification failed",
        "upstream.tls": "failing: upstream TLS verification failed",
        "idp": "failing: no signing keys from the identity provider",
    }, ready
    assert "jwks fetch failed" in server.log() and "CERTIFICATE_VERIFY_FAILED" in server.log()
    token = tls_servers["idp"].token()
    refused = ChatKitClient(server.url, Authorization=f"Bearer {token}").post("threads.list", {})
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "auth_unavailable"
