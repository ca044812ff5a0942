"""Litestar dependency providers: the running services and the authenticated caller."""

from __future__ import annotations

from litestar import Request
from litestar.datastructures import State

from chatkit_onprem.context import RequestContext
from chatkit_onprem.services import Services


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


def provide_caller(request: Request[object, object, State], services: Services) -> RequestContext:
    return services.authenticator.authenticate(request)
