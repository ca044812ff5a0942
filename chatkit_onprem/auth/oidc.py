"""OIDC bearer tokens: signature from the IdP's keys, then issuer, audience, times and claims.

* Only the configured asymmetric algorithms are accepted (never ``none``, never HMAC):
  the key object is built for the token's algorithm family from the JWK, so an RSA
  public key can never be used as an HMAC secret.
* Keys come from the IdP's JWKS URL (fetched from exactly that URL, cached, refetched
  after ``jwks_cache_seconds`` and, at most once per ``jwks_min_refresh_seconds``,
  when a token names an unknown ``kid``) or from a local JWKS/PEM file.
* If the IdP is down, the keys we already have keep working (a stale key set is refreshed
  in the background, so requests never wait on a slow IdP); with no keys at all the
  answer is 503 (our problem), not 401 (theirs).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt.algorithms import get_default_algorithms

from chatkit_onprem.auth.errors import AuthUnavailable, Unauthenticated
from chatkit_onprem.auth.identity import claim, valid_identity
from chatkit_onprem.auth.roles import map_roles
from chatkit_onprem.config import OidcSettings
from chatkit_onprem.logging import get_logger
from chatkit_onprem.trust import client_ssl_context

log = get_logger(__name__)
_ALGORITHMS = get_default_algorithms()


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    tenant: str
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str | None
    alg: str | None  # the JWK's own "alg", if it pins one
    material: dict[str, Any] | bytes  # a JWK, or PEM bytes
    prepared: dict[str, Any] = field(default_factory=dict, compare=False)  # alg -> key object (or None)

    def for_algorithm(self, alg: str) -> Any | None:
        """The verification key for ``alg``, or None if this key cannot be used with it."""
        if alg not in self.prepared:
            self.prepared[alg] = self._prepare(alg)
        return self.prepared[alg]

    def _prepare(self, alg: str) -> Any | None:
        if self.alg is not None and self.alg != alg:
            return None
        algorithm = _ALGORITHMS.get(alg)
        if algorithm is None:
            return None
        try:
            if isinstance(self.material, bytes):
                return algorithm.prepare_key(self.material)
            return algorithm.from_jwk(self.material)
        except (jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            return None


def parse_jwks(document: Any) -> list[_Key]:
    """Signing keys from a JWKS document; symmetric and encryption-only keys are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (expected an object with a 'keys' list)")
    keys = []
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        alg = jwk.get("alg")
        keys.append(_Key(kid if isinstance(kid, str) else None, alg if isinstance(alg, str) else None, jwk))
    return keys


def load_key_file(path: Path) -> list[_Key]:
    """A JWKS JSON file or a PEM public key (any ``kid`` matches a PEM key)."""
    raw = path.read_bytes()
    if raw.lstrip().startswith(b"-----BEGIN"):
        return [_Key(None, None, raw)]
    return parse_jwks(json.loads(raw))


class KeySet:
    """The IdP's signing keys, cached; refreshed when stale or when an unknown kid shows up."""

    def __init__(
        self,
        settings: OidcSettings,
        resolve: Callable[[Path], Path],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.url = settings.jwks_url
        self.file = resolve(settings.jwks_file) if settings.jwks_file else None
        self.keys: list[_Key] = []
        self.fetched_at: float | None = None
        self.last_attempt: float | None = None
        self._lock = asyncio.Lock()
        self._client: httpx.AsyncClient | None = None
        self._background: asyncio.Task[None] | None = None
        if self.file is not None:
            self.keys = load_key_file(self.file)  # a broken file fails start-up, loudly
            self.fetched_at = clock()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # The one trust rule (system store + SSL_CERT_FILE + jwks_ca_file), never certifi.
            verify = client_ssl_context(self.settings.jwks_ca_file)
            # trust_env=False: no proxy variables, no .netrc; we fetch exactly the configured URL.
            self._client = httpx.AsyncClient(
                timeout=self.settings.jwks_timeout_seconds,
                verify=verify,
                trust_env=False,
                follow_redirects=False,
            )
        return self._client

    async def start(self) -> None:
        if self.url is not None:
            await self.refresh()

    async def close(self) -> None:
        if self._background is not None:
            self._background.cancel()
        if self._client is not None:
            await self._client.aclose()

    async def refresh(self) -> bool:
        """Fetch the JWKS; on failure keep the keys we have. Returns whether it succeeded."""
        if self.url is None:
            return False
        self.last_attempt = self.clock()
        try:
            response = await self._http().get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            keys = parse_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            log.warning(
                "jwks fetch failed; keeping cached keys",
                url=self.url,
                error=f"{type(exc).__name__}: {exc}"[:300],
                cached_keys=len(self.keys),
            )
            return False
        self.keys = keys
        self.fetched_at = self.clock()
        log.info("jwks loaded", url=self.url, keys=len(keys))
        return True

    def _find(self, kid: str | None, alg: str) -> Any | None:
        candidates = [k for k in self.keys if kid is None or k.kid is None or k.kid == kid]
        if kid is None and len(candidates) > 1:
            # No kid: usable only when exactly one key fits the algorithm.
            usable = [key for k in candidates if (key := k.for_algorithm(alg)) is not None]
            return usable[0] if len(usable) == 1 else None
        for k in candidates:
            key = k.for_algorithm(alg)
            if key is not None:
                return key
        return None

    async def key_for(self, kid: str | None, alg: str) -> Any:
        if self.url is not None and self._stale():
            if self.keys:
                self._refresh_in_background()  # keep answering with the cached keys meanwhile
            else:
                async with self._lock:
                    if self._stale():
                        await self.refresh()
        key = self._find(kid, alg)
        if key is None and self.url is not None and self._may_retry():
            async with self._lock:
                key = self._find(kid, alg)
                if key is None and self._may_retry():
                    await self.refresh()
                    key = self._find(kid, alg)
        if key is not None:
            return key
        if not self.keys:
            raise AuthUnavailable(
                "cannot verify tokens: no signing keys from the identity provider yet "
                "(check auth.oidc.jwks_url / jwks_file and the IdP's availability)"
            )
        raise Unauthenticated("token signing key is not known to this server")

    def _refresh_in_background(self) -> None:
        if self._background is not None and not self._background.done():
            return
        self.last_attempt = self.clock()  # one attempt per interval, however many requests see it stale

        async def run() -> None:
            async with self._lock:
                await self.refresh()

        self._background = asyncio.get_running_loop().create_task(run())

    def _stale(self) -> bool:
        if self.fetched_at is None:
            return self._may_retry()
        return self.clock() - self.fetched_at >= self.settings.jwks_cache_seconds and self._may_retry()

    def _may_retry(self) -> bool:
        if self.last_attempt is None:
            return True
        return self.clock() - self.last_attempt >= self.settings.jwks_min_refresh_seconds


_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "token has expired"),
    (jwt.ImmatureSignatureError, "token is not yet valid (nbf/iat in the future)"),
    (jwt.InvalidAudienceError, "token audience is not accepted by this server"),
    (jwt.InvalidIssuerError, "token issuer is not accepted by this server"),
    (jwt.InvalidSignatureError, "token signature is invalid"),
    (jwt.InvalidAlgorithmError, "token algorithm is not allowed"),
    (jwt.DecodeError, "token is malformed"),
)


class OidcVerifier:
    method = "oidc"

    def __init__(self, settings: OidcSettings, keys: KeySet) -> None:
        self.settings = settings
        self.keys = keys

    async def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("token is malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.settings.algorithms:
            raise Unauthenticated("token algorithm is not allowed")
        kid = header.get("kid")
        key = await self.keys.key_for(kid if isinstance(kid, str) else None, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.clock_skew_seconds,
                options={"require": ["exp", "iss", "aud"], "strict_aud": False},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"token lacks the required '{exc.claim}' claim") from None
        except jwt.PyJWTError as exc:
            for kind, message in _ERRORS:
                if isinstance(exc, kind):
                    raise Unauthenticated(message) from None
            raise Unauthenticated("token is invalid") from None
        return self._identity(claims)

    def _identity(self, claims: dict[str, Any]) -> Identity:
        s = self.settings
        user = valid_identity(claim(claims, s.user_claim))
        if user is None:
            raise Unauthenticated(f"token has no usable '{s.user_claim}' claim")
        tenant_value = claim(claims, s.tenant_claim) if s.tenant_claim else None
        tenant = valid_identity(tenant_value) if tenant_value is not None else s.default_tenant
        if tenant is None:
            raise Unauthenticated(f"token has no usable '{s.tenant_claim}' claim")
        names: list[str] = []
        if s.roles_claim:
            raw = claim(claims, s.roles_claim)
            if isinstance(raw, str):
                names = raw.replace(",", " ").split()
            elif isinstance(raw, list):
                names = [r for r in raw if isinstance(r, str)]
        return Identity(user, tenant, map_roles(names, s.role_map))
