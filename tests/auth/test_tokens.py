"""Bearer tokens against a production server: what is accepted, and every attack refused with a 401."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.auth.conftest import as_caller
from tests.auth.idp import ADMIN_TOKEN, AUDIENCE, ISSUER, TestIdP
from tests.support.server import ServerProcess

LIST = {"type": "threads.list", "params": {}}


def call(server: ServerProcess, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/chatkit", json=LIST, headers=headers, timeout=10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401(response: httpx.Response, message: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="chatkit-onprem"')
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "unauthenticated"
    assert message in error["message"], error["message"]
    assert ISSUER not in error["message"] and AUDIENCE not in response.text  # no hints for an attacker


def test_valid_rs256_and_es256_tokens_are_accepted(prod_server: ServerProcess, idp: TestIdP) -> None:
    for kid in ("rsa-1", "ec-1"):
        response = call(prod_server, bearer(idp.token("alice", "acme", kid=kid)))
        assert response.status_code == 200, response.text
        assert response.json()["data"] == []


def test_clock_skew_is_tolerated(prod_server: ServerProcess, idp: TestIdP) -> None:
    now = int(time.time())
    token = idp.token(exp=now - 20, iat=now - 320)  # expired 20 s ago; skew is 60 s
    assert call(prod_server, bearer(token)).status_code == 200


def test_no_credentials(prod_server: ServerProcess) -> None:
    response = call(prod_server, {"X-Dev-User": "alice", "X-Dev-Tenant": "acme"})  # dev headers mean nothing
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="chatkit-onprem"'
    assert "authentication required" in response.json()["error"]["message"]


def test_wrong_scheme(prod_server: ServerProcess) -> None:
    response = call(prod_server, {"Authorization": "Basic YWxpY2U6c2VjcmV0"})
    assert_401(response, "must be 'Bearer <token>'")
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    import base64
    import json

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "bob"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def attacks(idp: TestIdP) -> list[tuple[str, str, str]]:
    now = int(time.time())
    good = idp.token()
    idp.add_key("rsa-unpublished", publish=False)
    return [
        ("alg none", idp.unsigned({"alg": "none", "typ": "JWT"}, idp.claims("alice", "acme")), "algorithm"),
        ("alg None", idp.unsigned({"alg": "None", "kid": "rsa-1"}, idp.claims("alice", "acme")), "algorithm"),
        ("RS/HS confusion", idp.hs256_with_public_key(), "algorithm is not allowed"),
        ("expired", idp.token(exp=now - 3600, iat=now - 7200), "expired"),
        ("nbf in the future", idp.token(nbf=now + 3600), "not yet valid"),
        ("iat in the future", idp.token(iat=now + 3600, exp=now + 7200), "not yet valid"),
        ("wrong issuer", idp.token(iss="https://evil.example/realms/staff"), "issuer is not accepted"),
        ("wrong audience", idp.token(aud="another-app"), "audience is not accepted"),
        ("no exp", idp.token(exp=None), "'exp' claim"),
        ("no sub", idp.token(sub=None), "'sub' claim"),
        ("no tenant", idp.token(tenant=None), "'tenant' claim"),
        ("tampered payload", _tampered(good), "signature is invalid"),
        ("unknown kid", idp.token(kid="rsa-unpublished"), "signing key is not known"),
        (
            "EC kid, RSA alg",
            idp.unsigned({"alg": "RS256", "kid": "ec-1"}, idp.claims("a", "b"), b"x" * 256),
            "signing key is not known",
        ),
        ("garbage", "not-a-jwt", "malformed"),
        ("admin token is not a user token", ADMIN_TOKEN, "malformed"),
    ]


def test_token_attacks_are_refused(prod_server: ServerProcess, idp: TestIdP) -> None:
    failures: list[Any] = []
    cases = attacks(idp)
    for name, token, message in cases:
        response = call(prod_server, bearer(token))
        try:
            assert_401(response, message)
        except AssertionError as exc:
            failures.append((name, response.status_code, response.text[:200], str(exc)[:200]))
    assert failures == []
    log = prod_server.log()
    assert "authentication refused" in log and "token has expired" in log, "operators see why"
    leaked = [name for name, token, _ in cases if token in log]
    assert leaked == [], "credentials never reach the log"


def test_rotated_key_is_fetched_on_unknown_kid(prod_server: ServerProcess, idp: TestIdP) -> None:
    idp.add_key("rsa-2")
    hits = idp.hits
    response = call(prod_server, bearer(idp.token("alice", "acme", kid="rsa-2")))
    assert response.status_code == 200, response.text
    assert idp.hits == hits + 1, "exactly one JWKS refetch for the new kid"
    assert call(prod_server, bearer(idp.token(kid="rsa-2"))).status_code == 200
    assert idp.hits == hits + 1, "the refreshed key set is cached"


def test_roles_from_claims_reach_the_admin_api(prod_server: ServerProcess, idp: TestIdP) -> None:
    url = f"{prod_server.url}/admin/v1/whoami"
    me = httpx.get(url, headers=bearer(idp.token("ops", "acme", ["auditor", "unknown-role"])), timeout=10)
    assert me.status_code == 200, me.text
    assert me.json() == {"user": "ops", "tenant": "acme", "roles": ["auditor", "user"], "auth_method": "oidc"}
    plain = httpx.get(url, headers=bearer(idp.token("alice", "acme")), timeout=10)
    assert plain.status_code == 403 and plain.json()["error"]["code"] == "forbidden"
    assert "admin or auditor role" in plain.json()["error"]["message"]


@pytest.mark.parametrize("kid", ["rsa-1"])
def test_dev_identity_headers_cannot_override_the_token(
    prod_server: ServerProcess, idp: TestIdP, kid: str
) -> None:
    alice = as_caller(prod_server, idp.token("alice", "acme", kid=kid))
    thread_id, _ = alice.create_thread("mine")
    response = httpx.post(
        f"{prod_server.url}/chatkit",
        json={"type": "threads.get_by_id", "params": {"thread_id": thread_id}},
        headers={**bearer(idp.token("bob", "acme")), "X-Dev-User": "alice", "X-Dev-Tenant": "acme"},
        timeout=10,
    )
    assert response.status_code == 404
