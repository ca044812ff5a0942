"""Litestar dependency providers: the running services and the authenticated caller."""

from __future__ import annotations

from litestar import Request
from litestar.datastructures import State

from chatkit_onprem.context import RequestContext
from chatkit_onprem.http.ratelimit import admit
from chatkit_onprem.services import Services


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


async def provide_caller(request: Request[object, object, State], services: Services) -> RequestContext:
    """Authenticate (401/403/503), then apply the caller's rate and stream limits (429)."""
    caller = await services.authenticator.authenticate(request)
    await admit(request, caller, services.limiter)
    return caller
