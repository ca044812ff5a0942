"""``/admin/v1/api-keys`` and ``/admin/v1/whoami``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from pydantic import Field

from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError
from chatkit_onprem.http.admin.audited import audited
from chatkit_onprem.http.admin.common import ADMIN_BODY_CAP, Body, check_identity, parse_body
from chatkit_onprem.http.admin.guards import admin_reader, admin_writer
from chatkit_onprem.logging import get_logger
from chatkit_onprem.services import Services

log = get_logger(__name__)


class CreateApiKey(Body):
    tenant: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=200)
    user: str | None = Field(None, max_length=256, description="User id it acts as (default svc:<name>).")
    roles: list[str] = Field(default_factory=lambda: ["user"])


class ApiKeyController(Controller):
    path = "/admin/v1"
    guards = [admin_reader]
    request_max_body_size = ADMIN_BODY_CAP

    @get("/whoami")
    async def whoami(self, admin: RequestContext) -> dict[str, Any]:
        return {
            "user": admin.user,
            "tenant": admin.tenant,
            "roles": sorted(admin.roles),
            "auth_method": admin.auth_method,
        }

    @get("/api-keys")
    async def list_api_keys(
        self, services: Services, tenant: str | None = None, include_revoked: bool = False
    ) -> dict[str, Any]:
        keys = await services.api_keys.list(tenant, include_revoked=include_revoked)
        return {"data": [k.public() for k in keys]}

    @post("/api-keys", status_code=201, guards=[admin_writer])
    async def create_api_key(
        self, request: Request[Any, Any, Any], services: Services, admin: RequestContext
    ) -> Response[dict[str, Any]]:
        body = await parse_body(request, CreateApiKey)
        user = body.user or f"svc:{body.name}"
        check_identity("tenant", body.tenant)
        check_identity("user", user)
        params = {"tenant": body.tenant, "user": user, "name": body.name, "roles": body.roles}

        async def create() -> Any:
            try:
                return await services.api_keys.create(
                    tenant=body.tenant, user=user, name=body.name, roles=body.roles, created_by=admin.user
                )
            except ValueError as exc:
                raise ApiError(400, "invalid_params", str(exc)) from None

        record, token = await audited(
            services, admin, "api-keys.create", params, create, outcome=lambda r: (f"created {r[0].id}", {})
        )
        log.info(
            "api key created", key_id=record.id, tenant=record.tenant, roles=list(record.roles), by=admin.user
        )
        # The only time the token is ever shown: keep it out of every cache.
        return Response(
            {**record.public(), "token": token}, status_code=201, headers={"Cache-Control": "no-store"}
        )

    @post("/api-keys/{key_id:str}/revoke", status_code=200, guards=[admin_writer])
    async def revoke_api_key(self, key_id: str, services: Services, admin: RequestContext) -> dict[str, Any]:
        async def revoke() -> Any:
            record = await services.api_keys.revoke(key_id)
            if record is None:
                raise ApiError(404, "not_found", f"no API key {key_id}")
            return record

        record = await audited(services, admin, "api-keys.revoke", {"key_id": key_id}, revoke)
        log.info("api key revoked", key_id=key_id, tenant=record.tenant, by=admin.user)
        return dict(record.public())
