"""Auth benchmark: what authenticating one request costs, in-process.

    .venv/bin/python scripts/bench_auth.py [--n 3000]

* OIDC: ``OidcVerifier.verify`` of an RS256 (2048-bit) and an ES256 token, keys
  already cached (the steady state; a JWKS fetch happens once per ``jwks_cache_seconds``);
* API key: ``ApiKeyStore.verify`` of a valid key after its first use (in-memory record,
  SHA-256 + constant-time compare; the last-use write happens at most once a minute);
* rate limiter: ``RateLimiter.check_request`` with user and tenant limits on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "auth"))

from chatkit_onprem.auth.api_keys import ApiKeyStore
from chatkit_onprem.auth.oidc import KeySet, OidcVerifier
from chatkit_onprem.config import OidcSettings, RateLimitSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.http.ratelimit import RateLimiter
from chatkit_onprem.store import DuckDBDatabase, apply_migrations
from chatkit_onprem.store.api_keys import ApiKeyRows
from tests.auth.idp import AUDIENCE, ISSUER, TestIdP


async def timed(label: str, n: int, fn: Callable[[], Awaitable[object]]) -> None:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    p50, p99 = statistics.median(samples), samples[int(len(samples) * 0.99)]
    print(f"{label:<34} p50 {p50:8.1f} us   p99 {p99:8.1f} us   {1e6 / statistics.mean(samples):9.0f}/s")


async def main(n: int) -> None:
    print(f"python {platform.python_version()}, {platform.machine()}, n={n}")
    idp = TestIdP()
    with tempfile.TemporaryDirectory() as tmp:
        jwks = Path(tmp) / "jwks.json"
        jwks.write_text(json.dumps(idp.jwks()))
        idp.close()
        settings = OidcSettings(issuer=ISSUER, audience=[AUDIENCE], jwks_file=jwks)
        verifier = OidcVerifier(settings, KeySet(settings, lambda p: p))
        for kid in ("rsa-1", "ec-1"):
            token = idp.token("alice", "acme", kid=kid)
            await timed(
                f"OIDC verify ({'RS256' if kid.startswith('rsa') else 'ES256'})",
                n,
                lambda token=token: verifier.verify(token),
            )

        db = DuckDBDatabase(
            Path(tmp) / "bench.duckdb", memory_limit="256MB", threads=1, reader_threads=2, write_batch_max=64
        )
        apply_migrations(db)
        keys = ApiKeyStore(ApiKeyRows(db))
        _, token = await keys.create(tenant="acme", user="svc", name="bench", roles=[], created_by="bench")
        await keys.verify(token)
        await timed("API key verify (cached)", n, lambda: keys.verify(token))
        await keys.flush()
        db.close()

    limiter = RateLimiter(RateLimitSettings(user_requests_per_minute=10**9, tenant_requests_per_minute=10**9))
    caller = RequestContext(tenant="acme", user="alice")

    async def check() -> None:
        limiter.check_request(caller)

    await timed("rate limiter check", n, check)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    asyncio.run(main(parser.parse_args().n))
