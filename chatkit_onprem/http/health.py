"""Liveness and readiness probes.

``/readyz`` answers 503 only for what makes the pod useless (the store, a
shutdown in progress); optional dependencies are listed with what they degrade
(``chatkit_onprem.readiness``). Anyone may call it (kubelet, ``helm test``), so
by default it says *what* is wrong in fixed phrases; the causes (exception text,
addresses, file paths) are added under ``details`` only for an admin caller
(the admin token, or an admin/auditor identity).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from chatkit_onprem.errors import ApiError
from chatkit_onprem.readiness import AFFECTS, CheckResult, check_store, failing
from chatkit_onprem.services import Services


class HealthController(Controller):
    @get("/healthz", sync_to_thread=False)
    def healthz(self) -> dict[str, str]:
        """The process is alive and its event loop answers."""
        return {"status": "ok"}

    @get("/readyz")
    async def readyz(self, request: Request[Any, Any, Any], services: Services) -> Response[dict[str, Any]]:
        """Ready when the store accepts writes; optional dependencies are reported, not required."""
        required: dict[str, CheckResult] = {}
        if services.streams.draining:
            required["server"] = failing("shutting down", "draining open streams before exit")
        required["store"] = await check_store(services.store.check_writable)
        optional = dict(services.dependencies.results)
        ready = all(r.state == "ok" for r in required.values())
        body: dict[str, Any] = {
            "status": "ready" if ready else "not ready",
            "checks": {name: r.public for name, r in {**required, **optional}.items()},
        }
        degraded = {
            name: AFFECTS[name.split(".", 1)[0]] for name, r in optional.items() if r.state == "failing"
        }
        if degraded:
            body["degraded"] = degraded
        if await _is_admin(request, services):
            details = {name: r.detail for name, r in {**required, **optional}.items() if r.detail}
            if details:
                body["details"] = details
        return Response(body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})


async def _is_admin(request: Request[Any, Any, Any], services: Services) -> bool:
    """Whether the caller may see causes; probes send no credential, so they are never asked."""
    headers = request.headers
    trusted_roles = (services.settings.auth.trusted_headers.roles_header or "").lower()
    if not any(h in headers for h in ("authorization", "x-dev-roles", trusted_roles) if h):
        return False
    try:
        await services.authenticator.authenticate_admin(request, write=False)
    except ApiError:
        return False
    return True
