"""Roles: ``user`` (chat), ``admin`` (the admin API), ``auditor`` (read-only admin)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from chatkit_onprem.auth.errors import Forbidden
from chatkit_onprem.context import RequestContext

USER = "user"
ADMIN = "admin"
AUDITOR = "auditor"
KNOWN = frozenset({USER, ADMIN, AUDITOR})


def map_roles(names: Iterable[str], role_map: Mapping[str, str]) -> frozenset[str]:
    """IdP role names → ours. Everyone authenticated is a ``user``; unknown names are dropped."""
    roles = {USER}
    for name in names:
        mapped = role_map.get(name, name)
        if mapped in KNOWN:
            roles.add(mapped)
    return frozenset(roles)


def require_any(context: RequestContext, *roles: str) -> None:
    """403 unless the caller holds one of ``roles``."""
    if not context.roles.intersection(roles):
        raise Forbidden(f"this operation requires the {' or '.join(roles)} role")
