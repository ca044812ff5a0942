"""``GET /metrics``: Prometheus text format.

Unauthenticated like ``/healthz`` (scrapers run inside the cluster); it exposes
counts per tenant and alias only, no user ids and no content. Restrict it with
the cluster's NetworkPolicy.
"""

from __future__ import annotations

from litestar import Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from chatkit_onprem.metrics import render


@get("/metrics", sync_to_thread=False, include_in_schema=False)
def metrics_endpoint() -> Response[bytes]:
    return Response(render(), media_type=CONTENT_TYPE_LATEST)
