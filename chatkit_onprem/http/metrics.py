"""``GET /metrics``: Prometheus text format, for the admin token or an admin/auditor caller.

It carries counts per tenant and alias (no user ids, no content), but tenant
names are still not for everyone who can reach the Ingress. Prometheus sends
the admin token as a bearer token (the chart's ServiceMonitor does so).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from chatkit_onprem.metrics import render
from chatkit_onprem.services import Services


@get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request[Any, Any, Any], services: Services) -> Response[bytes]:
    await services.authenticator.authenticate_admin(request, write=False)
    return Response(render(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
