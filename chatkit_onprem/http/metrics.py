"""``GET /metrics``: Prometheus text format, for a metrics reader only.

It carries counts per tenant and alias (no user ids, no content), but tenant
names are still not for everyone who can reach the Ingress. Readers are:

* the **metrics token** (``auth.metrics_token``): read-only, good for this one
  route and nothing else. Prometheus gets this one (the chart's ServiceMonitor
  sends it), never the admin token, which can create API keys and purge data;
* an admin or auditor caller (or the admin token), e.g. an operator with curl.
"""

from __future__ import annotations

import hmac
from typing import Any, cast

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST

from chatkit_onprem.metrics import render
from chatkit_onprem.services import Services


async def metrics_reader(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: the metrics token, else an admin/auditor caller (401/403 otherwise)."""
    services = cast(Services, connection.app.state.services)
    expected = services.settings.auth.metrics_token
    scheme, _sep, token = connection.headers.get("authorization", "").partition(" ")
    if (
        expected is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip().encode(), expected.get_secret_value().encode())
    ):
        return
    request = cast(Request[Any, Any, Any], connection)  # the authenticator reads headers, scope, base URL
    await services.authenticator.authenticate_admin(request, write=False)


@get("/metrics", guards=[metrics_reader], include_in_schema=False, sync_to_thread=False)
def metrics_endpoint() -> Response[bytes]:
    return Response(render(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
