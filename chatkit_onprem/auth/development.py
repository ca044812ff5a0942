"""The development identity: user and tenant from ``X-Dev-User`` / ``X-Dev-Tenant``.

Anyone can claim to be anyone, so config validation refuses it in production.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from chatkit_onprem.auth.roles import KNOWN, USER
from chatkit_onprem.config import DevelopmentIdentitySettings
from chatkit_onprem.errors import ApiError

_IDENTITY = re.compile(r"^[A-Za-z0-9._@+:-]{1,128}$")


class DevelopmentIdentity:
    method = "development"

    def __init__(self, settings: DevelopmentIdentitySettings) -> None:
        self.settings = settings

    def identify(self, request: Request[Any, Any, Any]) -> tuple[str, str, frozenset[str]]:
        user = request.headers.get("x-dev-user") or self.settings.default_user
        tenant = request.headers.get("x-dev-tenant") or self.settings.default_tenant
        for label, value in (("X-Dev-User", user), ("X-Dev-Tenant", tenant)):
            if not _IDENTITY.match(value):
                raise ApiError(400, "invalid_identity", f"{label} has characters outside [A-Za-z0-9._@+:-]")
        roles = {USER}
        extra = request.headers.get("x-dev-roles")
        if extra:
            roles.update(r.strip() for r in extra.split(",") if r.strip() in KNOWN)
        return user, tenant, frozenset(roles)
