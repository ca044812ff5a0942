"""Authentication: turn a request into a ``RequestContext`` (tenant, user, roles, method).

Methods are enabled in ``auth.methods`` and tried in a fixed order:

* ``Authorization: Bearer cko_…`` → API key (``api_keys``);
* any other ``Authorization: Bearer …`` → OIDC JWT (``oidc``);
* no bearer token → identity headers from a trusted proxy (``trusted_headers``),
  then the development identity (``development``, refused in production);
* nothing usable → 401 with a ``WWW-Authenticate`` challenge.

A presented credential that fails is a 401 even if a later method might have
matched: a bad token never silently falls back to a weaker method.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request

from chatkit_onprem.auth.api_keys import ApiKeyStore, looks_like_api_key
from chatkit_onprem.auth.development import DevelopmentIdentity
from chatkit_onprem.auth.errors import AuthUnavailable, Forbidden, MissingCredentials, Unauthenticated
from chatkit_onprem.auth.oidc import KeySet, OidcVerifier
from chatkit_onprem.auth.roles import ADMIN, AUDITOR, require_any
from chatkit_onprem.auth.trusted_headers import TrustedHeaders
from chatkit_onprem.config import Settings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.logging import get_logger

log = get_logger(__name__)
ADMIN_TOKEN_USER = "admin-token"  # noqa: S105 - a user id, not a secret

__all__ = [
    "ApiKeyStore",
    "AuthUnavailable",
    "Authenticator",
    "Forbidden",
    "Unauthenticated",
    "require_any",
]


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'", error="invalid_request")
    return token.strip()


class Authenticator:
    def __init__(self, settings: Settings, api_keys: ApiKeyStore | None = None) -> None:
        self.settings = settings
        methods = settings.auth.methods
        self.api_keys = api_keys if "api_keys" in methods else None
        if "api_keys" in methods and api_keys is None:
            raise ValueError("api_keys is enabled but no key store was given")
        self.keys = KeySet(settings.auth.oidc, settings.resolve) if "oidc" in methods else None
        self.oidc = OidcVerifier(settings.auth.oidc, self.keys) if self.keys else None
        self.trusted = TrustedHeaders(settings.auth.trusted_headers) if "trusted_headers" in methods else None
        self.dev = DevelopmentIdentity(settings.auth.development) if "development" in methods else None
        token = settings.auth.admin_token
        self._admin_token = token.get_secret_value().encode() if token else None

    async def start(self) -> None:
        """Fetch the IdP's keys once at start-up; failing that, the first token will try again."""
        if self.keys is not None:
            await self.keys.start()

    async def close(self) -> None:
        if self.keys is not None:
            await self.keys.close()
        if self.api_keys is not None:
            await self.api_keys.flush()

    async def authenticate(self, request: Request[Any, Any, Any]) -> RequestContext:
        try:
            return await self._authenticate(request)
        except (Unauthenticated, AuthUnavailable) as exc:
            # For the operator: why, and from where; never the credential itself.
            client = request.scope.get("client")
            log.info("authentication refused", reason=exc.message, peer=client[0] if client else None)
            raise

    async def _authenticate(self, request: Request[Any, Any, Any]) -> RequestContext:
        token = bearer_token(request)
        if token is not None:
            if self.api_keys is not None and looks_like_api_key(token):
                key = await self.api_keys.verify(token)
                return self._context(request, key.user, key.tenant, frozenset(key.roles), "api_key")
            if self.oidc is not None:
                identity = await self.oidc.verify(token)
                return self._context(request, identity.user, identity.tenant, identity.roles, "oidc")
            raise Unauthenticated("bearer tokens of this kind are not accepted by this server")
        if self.trusted is not None:
            found = self.trusted.identify(request)
            if found is not None:
                return self._context(request, found.user, found.tenant, found.roles, "trusted_headers")
        if self.dev is not None:
            user, tenant, roles = self.dev.identify(request)
            return self._context(request, user, tenant, roles, "development")
        raise MissingCredentials()

    async def authenticate_admin(self, request: Request[Any, Any, Any], *, write: bool) -> RequestContext:
        """The admin token, or a caller with the admin role (auditor too, for reads)."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if (
            self._admin_token is not None
            and scheme.lower() == "bearer"
            and hmac.compare_digest(token.strip().encode(), self._admin_token)
        ):
            return self._context(request, ADMIN_TOKEN_USER, "*", frozenset({ADMIN}), "admin_token")
        caller = await self.authenticate(request)
        if write:
            require_any(caller, ADMIN)
        else:
            require_any(caller, ADMIN, AUDITOR)
        return caller

    def _context(
        self, request: Request[Any, Any, Any], user: str, tenant: str, roles: frozenset[str], method: str
    ) -> RequestContext:
        return RequestContext(
            tenant=tenant,
            user=user,
            roles=roles,
            auth_method=method,
            request_id=str(request.scope.get("state", {}).get("request_id", "")),
            public_base_url=self.public_base_url(request),
        )

    def public_base_url(self, request: Request[Any, Any, Any]) -> str:
        if self.settings.server.public_url:
            return self.settings.server.public_url
        return str(request.base_url).rstrip("/")
