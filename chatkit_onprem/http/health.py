"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Response, get

from chatkit_onprem.services import Services

PROBE_TIMEOUT = 3.0


class HealthController(Controller):
    @get("/healthz", sync_to_thread=False)
    def healthz(self) -> dict[str, str]:
        """The process is alive and its event loop answers."""
        return {"status": "ok"}

    @get("/readyz")
    async def readyz(self, services: Services) -> Response[dict[str, Any]]:
        """Ready when the store accepts writes and the blob backend answers."""
        checks: dict[str, str] = {}
        if services.streams.draining:
            checks["server"] = "shutting down"
        for name, probe in (("store", services.store.check_writable), ("blobs", services.blobs.check)):
            try:
                await asyncio.wait_for(probe(), PROBE_TIMEOUT)
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"failing: {type(exc).__name__}: {exc}"[:300]
        ready = all(v == "ok" for v in checks.values())
        return Response(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )
