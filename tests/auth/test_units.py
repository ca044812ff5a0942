"""The pure parts, with a fake clock: token buckets, stream slots, role mapping, key selection."""

from __future__ import annotations

import json

import pytest

from chatkit_onprem.auth.oidc import parse_jwks
from chatkit_onprem.auth.roles import map_roles
from chatkit_onprem.config import RateLimitSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.http.ratelimit import RateLimited, RateLimiter
from tests.auth.idp import TestIdP


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


ALICE = RequestContext(tenant="acme", user="alice")
BOB = RequestContext(tenant="acme", user="bob")


def test_token_bucket_refills_and_says_when_to_retry() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitSettings(user_requests_per_minute=2), clock)
    limiter.check_request(ALICE)
    limiter.check_request(ALICE)
    with pytest.raises(RateLimited) as raised:
        limiter.check_request(ALICE)
    assert raised.value.status == 429 and raised.value.headers["Retry-After"] == "30"
    limiter.check_request(BOB)  # per user
    clock.now += 30
    limiter.check_request(ALICE)
    with pytest.raises(RateLimited):
        limiter.check_request(ALICE)


def test_a_refused_request_consumes_nothing() -> None:
    limiter = RateLimiter(
        RateLimitSettings(user_requests_per_minute=1, tenant_requests_per_minute=1), Clock()
    )
    limiter.check_request(ALICE)
    for _ in range(3):
        with pytest.raises(RateLimited):
            limiter.check_request(BOB)  # the tenant bucket is empty; bob's own stays full
    assert limiter._buckets[("u", "acme", "bob")].tokens == 1


def test_stream_slots_are_counted_and_released_once() -> None:
    limiter = RateLimiter(RateLimitSettings(user_concurrent_streams=1, tenant_concurrent_streams=2))
    release = limiter.open_stream(ALICE)
    with pytest.raises(RateLimited) as raised:
        limiter.open_stream(ALICE)
    assert raised.value.code == "too_many_streams"
    bob = limiter.open_stream(BOB)
    with pytest.raises(RateLimited):
        limiter.open_stream(RequestContext(tenant="acme", user="carol"))  # tenant cap 2
    release()
    release()  # idempotent: no negative counts
    assert limiter.open_streams(ALICE) == 0
    limiter.open_stream(ALICE)
    bob()
    assert limiter._streams == {("u", "acme", "alice"): 1, ("t", "acme"): 1}


def test_roles_are_mapped_and_unknown_ones_dropped() -> None:
    assert map_roles(["chatkit-admin", "auditor", "root", "staff"], {"chatkit-admin": "admin"}) == {
        "user",
        "admin",
        "auditor",
    }
    assert map_roles([], {}) == {"user"}


def test_jwks_parsing_skips_symmetric_and_encryption_keys() -> None:
    idp = TestIdP()
    try:
        document = idp.jwks()
        document["keys"].append({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"})
        document["keys"].append({**idp.jwk("rsa-1"), "kid": "enc", "use": "enc"})
        keys = parse_jwks(json.loads(json.dumps(document)))
        assert sorted(k.kid or "" for k in keys) == ["ec-1", "rsa-1"]
        rsa = next(k for k in keys if k.kid == "rsa-1")
        assert rsa.for_algorithm("RS256") is not None
        assert rsa.for_algorithm("ES256") is None, "an RSA key never verifies another family"
        assert rsa.for_algorithm("HS256") is None
        with pytest.raises(ValueError):
            parse_jwks({"not": "a jwks"})
    finally:
        idp.close()
