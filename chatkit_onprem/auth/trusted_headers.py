"""Identity headers set by an authenticating reverse proxy (oauth2-proxy style).

Accepted only when the TCP peer is inside ``trusted_sources``: from anywhere else
the headers are ignored (and logged), so a client cannot name itself.
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

from litestar import Request

from chatkit_onprem.auth.errors import Unauthenticated
from chatkit_onprem.auth.identity import valid_identity
from chatkit_onprem.auth.oidc import Identity
from chatkit_onprem.auth.roles import map_roles
from chatkit_onprem.config import TrustedHeaderSettings
from chatkit_onprem.logging import get_logger

log = get_logger(__name__)


class TrustedHeaders:
    method = "trusted_headers"

    def __init__(self, settings: TrustedHeaderSettings) -> None:
        self.settings = settings
        self.networks = list(settings.trusted_sources)

    def from_trusted_source(self, request: Request[Any, Any, Any]) -> bool:
        client = request.scope.get("client")
        if not client:
            return False
        try:
            peer = ip_address(client[0])
        except ValueError:
            return False
        return any(peer in network for network in self.networks)

    def identify(self, request: Request[Any, Any, Any]) -> Identity | None:
        """The proxy's identity, or None when this request carries none we may trust."""
        s = self.settings
        raw_user = request.headers.get(s.user_header)
        if raw_user is None:
            return None
        if not self.from_trusted_source(request):
            client = request.scope.get("client")
            log.warning(
                "identity header from an untrusted address ignored",
                header=s.user_header,
                peer=client[0] if client else None,
            )
            return None
        user = valid_identity(raw_user)
        if user is None:
            raise Unauthenticated(f"proxy header {s.user_header} is not a usable user id")
        raw_tenant = request.headers.get(s.tenant_header) if s.tenant_header else None
        tenant = valid_identity(raw_tenant) if raw_tenant is not None else s.default_tenant
        if tenant is None:
            raise Unauthenticated(f"proxy header {s.tenant_header} is missing or not a usable tenant id")
        names: list[str] = []
        if s.roles_header:
            names = [r.strip() for r in request.headers.get(s.roles_header, "").split(",") if r.strip()]
        return Identity(user, tenant, map_roles(names, {}))
