"""The Litestar application factory.

Granian imports ``chatkit_onprem.app:app_from_environment`` in its (single)
worker process; the settings reach that process through
``CHATKIT_ONPREM_CONFIG`` and ``CHATKIT_ONPREM_*`` variables.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp

from chatkit_onprem.config import Settings, load_settings
from chatkit_onprem.errors import classify, short
from chatkit_onprem.http.admin import admin_controllers
from chatkit_onprem.http.admin.guards import provide_admin
from chatkit_onprem.http.chatkit import ChatKitController
from chatkit_onprem.http.dependencies import provide_caller, provide_services
from chatkit_onprem.http.files import file_router
from chatkit_onprem.http.health import HealthController
from chatkit_onprem.http.metrics import metrics_endpoint
from chatkit_onprem.http.middleware import edge_guard, request_id_middleware
from chatkit_onprem.http.security import security_headers
from chatkit_onprem.http.web import web_router
from chatkit_onprem.lifecycle import chain_shutdown_signals, freeze_startup_heap
from chatkit_onprem.logging import configure_logging, get_logger
from chatkit_onprem.services import Services

log = get_logger(__name__)


def _error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    if isinstance(exc, HTTPException):
        code = {404: "route_not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        body = {"error": {"code": code, "message": short(str(exc.detail)), "request_id": request_id}}
        if exc.status_code >= 500:
            log.error("request failed in the framework", path=request.url.path[:200], status=exc.status_code)
        return _json_error(body, exc.status_code, exc.headers)
    error = classify(exc, request_id)
    if error.internal:
        log.exception("request failed", path=request.url.path[:200])
    return _json_error(error.body(request_id), error.status, getattr(exc, "headers", None))


def _json_error(body: Any, status: int, headers: dict[str, str] | None) -> Response[Any]:
    headers = dict(headers or {})
    if status in (408, 413) or body["error"]["code"] == "incomplete_body":
        # Refused before the rest of the body was read (the body cap, an upload over its
        # limit or quota, a body that did not arrive): the connection cannot carry another
        # request, and a client that reused it would see "disconnected without a response".
        headers["Connection"] = "close"
    return Response(body, status_code=status, headers=headers)


def create_app(settings: Settings) -> Litestar:
    configure_logging(
        level=settings.logging.level, fmt=settings.log_format, log_content=settings.logging.log_content
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        services = Services.build(settings)
        app.state.services = services
        await services.authenticator.start()  # first JWKS fetch; failure is logged, not fatal
        await services.attachments.start()  # bucket check/creation (a down store only warns), orphan sweep
        services.dependencies.start()  # optional dependencies for /readyz and metrics, in the background
        # Admin jobs: resume, re-apply erasures, migrate plaintext (or only queue them, for a jobs process).
        await services.start_background(run_jobs=settings.server.run_jobs)
        if not chain_shutdown_signals(asyncio.get_running_loop(), services.begin_shutdown):
            log.warning("could not hook shutdown signals; streams will not be drained on SIGTERM")
        freeze_startup_heap()
        log.info(
            "chatkit-onprem ready",
            mode=settings.mode,
            # The DSN may carry a password: name the engine only.
            store=str(settings.store_path) if services.db.dialect == "duckdb" else services.db.dialect,
            blobs=services.blobs.name,
        )
        try:
            yield
        finally:
            await services.dependencies.stop()
            await services.attachments.stop()
            await services.shutdown()

    cors = (
        CORSConfig(
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", "Authorization", "X-Request-Id", "X-Dev-User", "X-Dev-Tenant"],
            allow_credentials=True,
            expose_headers=["X-Request-Id"],
        )
        if settings.server.cors_origins
        else None
    )
    return Litestar(
        route_handlers=[
            ChatKitController,
            HealthController,
            *admin_controllers(),
            metrics_endpoint,
            file_router(settings.blobs.max_file_bytes),
            *([web_router(settings)] if settings.server.web_client else []),
        ],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "caller": Provide(provide_caller),
            "admin": Provide(provide_admin, sync_to_thread=False),
        },
        lifespan=[lifespan],
        middleware=[],
        exception_handlers={Exception: _error_response},
        request_max_body_size=settings.server.max_request_bytes,
        cors_config=cors,
        openapi_config=None,  # its docs UIs load from public CDNs: not in an air-gapped build
        logging_config=None,  # configure_logging owns logging
        state=State({}),
        debug=False,
    )


def create_asgi_app(settings: Settings) -> ASGIApp:
    """The app as served. Request ids, security headers and the edge guard (body timeout,
    413 drain, per-route metrics) wrap everything, router 404/405 answers included:
    Litestar's app-level middleware does not wrap those."""
    guarded = edge_guard(create_app(settings), body_timeout=settings.server.body_timeout_seconds)
    return request_id_middleware(security_headers(settings)(guarded))


def app_from_environment() -> ASGIApp:
    """Granian's factory: settings from ``CHATKIT_ONPREM_CONFIG`` and the environment."""
    return create_asgi_app(load_settings())
