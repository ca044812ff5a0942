"""Who may call ``/admin/v1``: Litestar guards, applied to controllers and handlers.

* ``admin_reader`` (on every admin controller): the admin token, or a caller with the
  admin or auditor role. It authenticates once and leaves the caller on the
  connection's state, where the ``admin`` dependency picks it up.
* ``admin_writer`` (on every handler that changes something): the admin token or the
  admin role; auditors may look but not act.

Handlers never authorize by hand.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from chatkit_onprem.auth.roles import ADMIN, require_any
from chatkit_onprem.context import RequestContext

_CALLER = "admin_caller"


async def admin_reader(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    services = connection.app.state.services
    request = connection if isinstance(connection, Request) else Request(connection.scope, connection.receive)
    connection.state[_CALLER] = await services.authenticator.authenticate_admin(request, write=False)


async def admin_writer(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    caller: RequestContext = connection.state[_CALLER]  # admin_reader ran first (controller guard)
    require_any(caller, ADMIN)


def provide_admin(request: Request[Any, Any, Any]) -> RequestContext:
    """The caller ``admin_reader`` authenticated (the ``admin`` dependency)."""
    caller: RequestContext = request.state[_CALLER]
    return caller
