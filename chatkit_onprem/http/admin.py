"""``/admin/v1``: the API the admin CLI talks to (the CLI never opens the DuckDB file itself).

Callers: the admin token (``auth.admin_token``) or an authenticated caller with the
``admin`` role; ``auditor`` may read but not change. Bodies are small JSON (capped).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatkit_onprem.auth.identity import valid_identity
from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError, validation_details
from chatkit_onprem.logging import get_logger
from chatkit_onprem.services import Services

log = get_logger(__name__)
ADMIN_BODY_CAP = 64 * 1024


class CreateApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=200)
    user: str | None = Field(None, max_length=256, description="User id it acts as (default svc:<name>).")
    roles: list[str] = Field(default_factory=lambda: ["user"])


async def _caller(request: Request[Any, Any, Any], services: Services, *, write: bool) -> RequestContext:
    return await services.authenticator.authenticate_admin(request, write=write)


async def _body(request: Request[Any, Any, Any], model: type[CreateApiKey]) -> CreateApiKey:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        details = validation_details(exc)
        raise ApiError(400, "invalid_params", "invalid request body", details=details) from None


class AdminController(Controller):
    path = "/admin/v1"
    request_max_body_size = ADMIN_BODY_CAP

    @get("/whoami")
    async def whoami(self, request: Request[Any, Any, Any], services: Services) -> dict[str, Any]:
        caller = await _caller(request, services, write=False)
        return {
            "user": caller.user,
            "tenant": caller.tenant,
            "roles": sorted(caller.roles),
            "auth_method": caller.auth_method,
        }

    @get("/api-keys")
    async def list_api_keys(
        self,
        request: Request[Any, Any, Any],
        services: Services,
        tenant: str | None = None,
        include_revoked: bool = False,
    ) -> dict[str, Any]:
        await _caller(request, services, write=False)
        keys = await services.api_keys.list(tenant, include_revoked=include_revoked)
        return {"data": [k.public() for k in keys]}

    @post("/api-keys", status_code=201)
    async def create_api_key(
        self, request: Request[Any, Any, Any], services: Services
    ) -> Response[dict[str, Any]]:
        caller = await _caller(request, services, write=True)
        body = await _body(request, CreateApiKey)
        user = body.user or f"svc:{body.name}"
        for label, value in (("tenant", body.tenant), ("user", user)):
            if valid_identity(value) is None:
                raise ApiError(400, "invalid_params", f"{label} must be printable text without edge spaces")
        try:
            record, token = await services.api_keys.create(
                tenant=body.tenant, user=user, name=body.name, roles=body.roles, created_by=caller.user
            )
        except ValueError as exc:
            raise ApiError(400, "invalid_params", str(exc)) from None
        log.info(
            "api key created",
            key_id=record.id,
            tenant=record.tenant,
            roles=list(record.roles),
            by=caller.user,
        )
        # The only time the token is ever shown: keep it out of every cache.
        return Response(
            {**record.public(), "token": token}, status_code=201, headers={"Cache-Control": "no-store"}
        )

    @post("/api-keys/{key_id:str}/revoke", status_code=200)
    async def revoke_api_key(
        self, key_id: str, request: Request[Any, Any, Any], services: Services
    ) -> Response[dict[str, Any]]:
        caller = await _caller(request, services, write=True)
        record = await services.api_keys.revoke(key_id)
        if record is None:
            raise ApiError(404, "not_found", f"no API key {key_id}")
        log.info("api key revoked", key_id=key_id, tenant=record.tenant, by=caller.user)
        return Response(record.public())
