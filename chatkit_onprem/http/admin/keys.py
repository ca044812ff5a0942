"""``/admin/v1/keys``: key status, KEK and DEK rotation, retiring KEK versions, destroying keys.

Changing verbs are dry runs unless the body says ``"confirm": true``; long work answers
202 with the job that does it (``/admin/v1/jobs/{id}`` follows it).
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, Response, get, post
from pydantic import Field, field_validator

from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError
from chatkit_onprem.http.admin.audited import audited
from chatkit_onprem.http.admin.common import ADMIN_BODY_CAP, Body, check_identity, parse_body
from chatkit_onprem.http.admin.guards import admin_reader, admin_writer
from chatkit_onprem.residency.purge import PURGE
from chatkit_onprem.services import Services
from chatkit_onprem.store.purge import PurgeScope

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class Confirmable(Body):
    confirm: bool = False


class RotateDek(Confirmable):
    tenant: str | None = Field(None, max_length=256)
    user: str | None = Field(None, max_length=256)


class RetireKek(Confirmable):
    version: str = Field(min_length=1, max_length=64)


class DestroyKeys(Confirmable):
    tenant: str | None = Field(None, max_length=256)
    user: str | None = Field(None, max_length=256)
    before: str | None = Field(None, description="YYYY-MM: destroy every data key of the months before it.")
    compact: bool = False

    @field_validator("before")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        if value is not None and not _MONTH.match(value):
            raise ValueError("expected YYYY-MM")
        return value

    def scope(self) -> PurgeScope:
        if self.before is not None:
            if self.user is not None:
                raise ApiError(400, "invalid_params", "--before takes an optional --tenant, not --user")
            return PurgeScope("before", tenant=self.tenant, before_month=self.before)
        if self.tenant is None:
            raise ApiError(400, "invalid_params", "say whose keys: --tenant [--user], or --before YYYY-MM")
        if self.user is not None:
            return PurgeScope("user", tenant=self.tenant, user=self.user)
        return PurgeScope("tenant", tenant=self.tenant)


def job_response(summary: dict[str, Any], job: Any) -> Response[dict[str, Any]]:
    return Response({**summary, "job": job.public()}, status_code=202)


class KeysController(Controller):
    path = "/admin/v1/keys"
    guards = [admin_reader]
    request_max_body_size = ADMIN_BODY_CAP

    @get("")
    async def status(self, services: Services) -> dict[str, Any]:
        return await services.key_admin.status()

    @post("/rotate-kek", status_code=200, guards=[admin_writer])
    async def rotate_kek(
        self, request: Request[Any, Any, Any], services: Services, admin: RequestContext
    ) -> Response[dict[str, Any]]:
        body = await parse_body(request, Confirmable)
        if not body.confirm:
            plan = await audited(
                services,
                admin,
                "keys.rotate-kek",
                {"confirm": False},
                services.key_admin.plan_rotate_kek,
                outcome=lambda p: ("dry_run", {"data_keys": p["data_keys_to_rewrap"]}),
            )
            return Response({"dry_run": True, **plan})
        summary, job = await audited(
            services,
            admin,
            "keys.rotate-kek",
            {"confirm": True},
            lambda: services.key_admin.rotate_kek(admin.user),
            outcome=lambda r: (f"job {r[1].id}", {}),
        )
        return job_response(summary, job)

    @post("/rotate-dek", status_code=200, guards=[admin_writer])
    async def rotate_dek(
        self, request: Request[Any, Any, Any], services: Services, admin: RequestContext
    ) -> Response[dict[str, Any]]:
        body = await parse_body(request, RotateDek)
        check_identity("tenant", body.tenant)
        check_identity("user", body.user)
        if body.user is not None and body.tenant is None:
            raise ApiError(400, "invalid_params", "--user needs --tenant")
        params = {"tenant": body.tenant, "user": body.user, "confirm": body.confirm}
        if not body.confirm:
            plan = await audited(
                services,
                admin,
                "keys.rotate-dek",
                params,
                lambda: services.key_admin.plan_rotate_dek(body.tenant, body.user),
                outcome=lambda p: ("dry_run", {"data_keys": p["data_keys_to_rotate"]}),
            )
            return Response({"dry_run": True, **plan})
        job = await audited(
            services,
            admin,
            "keys.rotate-dek",
            params,
            lambda: services.key_admin.rotate_dek(body.tenant, body.user, admin.user),
            outcome=lambda j: (f"job {j.id}", {}),
        )
        return job_response({"tenant": body.tenant, "user": body.user}, job)

    @post("/retire-kek", status_code=200, guards=[admin_writer])
    async def retire_kek(
        self, request: Request[Any, Any, Any], services: Services, admin: RequestContext
    ) -> dict[str, Any]:
        body = await parse_body(request, RetireKek)
        return await audited(
            services,
            admin,
            "keys.retire-kek",
            {"version": body.version, "confirm": body.confirm},
            lambda: services.key_admin.retire_kek(body.version, confirm=body.confirm),
            outcome=lambda p: ("removed" if p.get("removed") else "dry_run", {}),
        )

    @post("/destroy", status_code=200, guards=[admin_writer])
    async def destroy(
        self, request: Request[Any, Any, Any], services: Services, admin: RequestContext
    ) -> Response[dict[str, Any]]:
        """Crypto-shred a user, a tenant or the months before a date (then purge what they held)."""
        body = await parse_body(request, DestroyKeys)
        check_identity("tenant", body.tenant)
        check_identity("user", body.user)
        scope = body.scope()
        params = {**scope.public(), "confirm": body.confirm, "compact": body.compact}
        plan = await audited(
            services,
            admin,
            "keys.destroy" + ("" if body.confirm else ".dry-run"),
            params,
            lambda: services.purger.plan(scope),
            outcome=lambda p: ("dry_run" if not body.confirm else "planned", p.counts.public()),
        )
        if not body.confirm:
            return Response({"dry_run": True, **plan.public()})
        job = await services.jobs.submit(
            PURGE, {**plan.scope.public(), "compact": body.compact, "actor": admin.user}, admin.user
        )
        await services.audit.append(admin, "keys.destroy", params, f"job {job.id}")
        return job_response(plan.public(), job)
