"""The IdP's keys: cached keys survive a JWKS outage; no keys at all is a 503; offline key files work."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.auth.conftest import as_caller
from tests.auth.idp import TestIdP, oidc_config
from tests.support.server import ServerProcess

MakeServer = Callable[..., ServerProcess]


def list_threads(server: ServerProcess, token: str) -> httpx.Response:
    return as_caller(server, token).post("threads.list", {})


def test_cached_keys_keep_working_while_the_jwks_endpoint_is_down(make_server: MakeServer) -> None:
    idp = TestIdP()
    try:
        config = oidc_config(idp, jwks_cache_seconds=0, jwks_min_refresh_seconds=0, jwks_timeout_seconds=2)
        server = make_server(config)
        assert list_threads(server, idp.token()).status_code == 200
        idp.down = True
        hits = idp.hits
        assert list_threads(server, idp.token()).status_code == 200, "cached key still verifies"
        deadline = time.monotonic() + 5
        while idp.hits == hits and time.monotonic() < deadline:
            time.sleep(0.05)
        assert idp.hits > hits, "it did try to refresh (cache age 0) and kept the old keys"

        idp.down, idp.delay = False, 3.0  # a hanging IdP: requests must not wait for it
        for _ in range(3):
            started = time.monotonic()
            assert list_threads(server, idp.token()).status_code == 200
            assert time.monotonic() - started < 1.0, "a stale key set is refreshed in the background"
        idp.delay, idp.down = 0.0, True
        idp.add_key("rsa-new")
        unknown = list_threads(server, idp.token(kid="rsa-new"))
        assert unknown.status_code == 401, "keys exist, this one is just unknown"
        assert "signing key is not known" in unknown.json()["error"]["message"]
        assert "jwks fetch failed" in server.log()
    finally:
        idp.close()


def test_no_keys_at_all_is_a_503_until_the_idp_answers(make_server: MakeServer) -> None:
    idp = TestIdP()
    idp.down = True
    try:
        server = make_server(oidc_config(idp, jwks_min_refresh_seconds=0))  # starts anyway
        response = list_threads(server, idp.token())
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "auth_unavailable"
        assert "no signing keys from the identity provider" in response.json()["error"]["message"]
        assert response.headers["retry-after"]
        idp.down = False
        assert list_threads(server, idp.token()).status_code == 200, "recovers without a restart"
    finally:
        idp.close()


def test_unknown_kid_refreshes_are_rate_limited(make_server: MakeServer) -> None:
    idp = TestIdP()
    try:
        server = make_server(oidc_config(idp, jwks_min_refresh_seconds=300))
        assert list_threads(server, idp.token()).status_code == 200
        hits = idp.hits
        idp.add_key("rsa-unpublished", publish=False)
        for _ in range(5):
            assert list_threads(server, idp.token(kid="rsa-unpublished")).status_code == 401
        assert idp.hits - hits <= 1, "a flood of unknown kids cannot hammer the IdP"
    finally:
        idp.close()


def test_offline_jwks_file_and_pem_file(make_server: MakeServer, tmp_path: Path) -> None:
    idp = TestIdP()
    try:
        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps(idp.jwks()))
        pem = tmp_path / "idp.pem"
        pem.write_bytes(idp.public_pem("rsa-1"))
        idp.close()  # nothing to fetch from: fully offline
        for key_file in (jwks, pem):
            config = oidc_config(idp, jwks_url=None, jwks_file=str(key_file))
            server = make_server(config, name=key_file.suffix.strip("."))
            assert list_threads(server, idp.token()).status_code == 200
            bad = list_threads(server, idp.token(iss="https://elsewhere"))
            assert bad.status_code == 401
        es = list_threads(server, idp.token(kid="ec-1"))  # the PEM holds only the RSA key
        assert es.status_code == 401
    finally:
        idp.close()
