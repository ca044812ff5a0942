"""Authentication: turn a request into a ``RequestContext``.

Only the development identity exists so far: user and tenant come from the
``X-Dev-User`` / ``X-Dev-Tenant`` headers (or configured defaults). Config
validation refuses this mode in production.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from chatkit_onprem.config import Settings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError

_IDENTITY = re.compile(r"^[A-Za-z0-9._@+:-]{1,128}$")


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dev = settings.auth.development

    def authenticate(self, request: Request[Any, Any, Any]) -> RequestContext:
        user = request.headers.get("x-dev-user") or self.dev.default_user
        tenant = request.headers.get("x-dev-tenant") or self.dev.default_tenant
        for label, value in (("X-Dev-User", user), ("X-Dev-Tenant", tenant)):
            if not _IDENTITY.match(value):
                raise ApiError(400, "invalid_identity", f"{label} has characters outside [A-Za-z0-9._@+:-]")
        return RequestContext(
            tenant=tenant,
            user=user,
            roles=frozenset({"user"}),
            auth_method="development",
            request_id=str(request.scope.get("state", {}).get("request_id", "")),
            public_base_url=self.public_base_url(request),
        )

    def public_base_url(self, request: Request[Any, Any, Any]) -> str:
        if self.settings.server.public_url:
            return self.settings.server.public_url
        return str(request.base_url).rstrip("/")
