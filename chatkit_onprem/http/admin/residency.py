"""``/admin/v1``: exports, purges, legal holds, retention and the audit chain."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Stream
from pydantic import Field, field_validator

from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError
from chatkit_onprem.http.admin.audited import audited
from chatkit_onprem.http.admin.common import ADMIN_BODY_CAP, Body, check_identity, parse_body
from chatkit_onprem.http.admin.guards import admin_reader, admin_writer
from chatkit_onprem.http.admin.keys import job_response
from chatkit_onprem.ids import new_id
from chatkit_onprem.residency.audit import public_row
from chatkit_onprem.residency.exports import EXPORT, MANIFEST, public_pem
from chatkit_onprem.residency.purge import PURGE, HeldError
from chatkit_onprem.residency.retention import RETENTION
from chatkit_onprem.services import Services
from chatkit_onprem.store.holds import Hold, active_holds_sync
from chatkit_onprem.store.jobs import JobRecord
from chatkit_onprem.store.purge import PurgeScope

_AGE = re.compile(r"^(\d{1,5})([dhw])$")
_CHUNK = 256 * 1024


def parse_age(text: str) -> timedelta:
    match = _AGE.match(text)
    if match is None:
        raise ApiError(
            400, "invalid_params", f"older_than {text!r}: expected a number and d, h or w (e.g. 90d)"
        )
    number, unit = int(match.group(1)), match.group(2)
    return {"d": timedelta(days=number), "h": timedelta(hours=number), "w": timedelta(weeks=number)}[unit]


class Subject(Body):
    tenant: str | None = Field(None, max_length=256)
    user: str | None = Field(None, max_length=256)
    thread_id: str | None = Field(None, max_length=128)

    def check(self) -> None:
        check_identity("tenant", self.tenant)
        check_identity("user", self.user)
        if self.user is not None and self.tenant is None:
            raise ApiError(400, "invalid_params", "--user needs --tenant")
        if self.thread_id is not None and (self.user is not None):
            raise ApiError(400, "invalid_params", "give --thread alone, or --user with --tenant, or --tenant")


class PurgeRequest(Subject):
    older_than: str | None = Field(None, max_length=16, description="e.g. 90d: threads inactive that long.")
    confirm: bool = False
    compact: bool = False

    def scope(self) -> PurgeScope:
        self.check()
        if self.older_than is not None:
            if self.user is not None or self.thread_id is not None:
                raise ApiError(400, "invalid_params", "--older-than takes an optional --tenant only")
            cutoff = datetime.now(UTC) - parse_age(self.older_than)
            return PurgeScope("older_than", tenant=self.tenant, older_than=cutoff)
        if self.thread_id is not None:
            return PurgeScope("thread", thread_id=self.thread_id)
        if self.tenant is None:
            raise ApiError(
                400,
                "invalid_params",
                "a purge needs a scope: --user U --tenant T, --tenant T, --thread ID or --older-than 90d",
            )
        if self.user is not None:
            return PurgeScope("user", tenant=self.tenant, user=self.user)
        return PurgeScope("tenant", tenant=self.tenant)


class HoldRequest(Subject):
    case: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


class ExportRequest(Subject):
    since: datetime | None = None
    until: datetime | None = None

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class RetentionRun(Body):
    dry_run: bool = False


class ResidencyController(Controller):
    path = "/admin/v1"
    guards = [admin_reader]
    request_max_body_size = ADMIN_BODY_CAP

    # --- purge -------------------------------------------------------------------
    @post("/purge", status_code=200, guards=[admin_writer])
    async def purge(
        self, request: Request[Any, Any, Any], services: Services, admin: RequestContext
    ) -> Response[dict[str, Any]]:
        body = await parse_body(request, PurgeRequest)
        scope = body.scope()
        params = {**scope.public(), "confirm": body.confirm, "compact": body.compact}
        plan = await audited(
            services,
            admin,
            "purge" if body.confirm else "purge.dry-run",
            params,
            lambda: services.purger.plan(scope),
            outcome=lambda p: ("planned" if body.confirm else "dry_run", p.counts.public()),
        )
        if not body.confirm:
            return Response({"dry_run": True, **plan.public()})
        job = await services.jobs.submit(
            PURGE, {**plan.scope.public(), "compact": body.compact, "actor": admin.user}, admin.user
        )
        await services.audit.append(admin, "purge", params, f"job {job.id}")
        return job_response(plan.public(), job)

    # --- holds -------------------------------------------------------------------
    @post("/holds", status_code=201, guards=[admin_writer])
    async def create_hold(
        self, request: Request[Any, Any, Any], services: Services, admin: RequestContext
    ) -> Response[dict[str, Any]]:
        body = await parse_body(request, HoldRequest)
        body.check()
        scope = PurgeScope("thread", thread_id=body.thread_id) if body.thread_id else None
        tenant = body.tenant
        if scope is not None:
            tenant = (await services.purger.resolve(scope)).tenant
        elif tenant is None:
            raise ApiError(400, "invalid_params", "a hold needs --tenant (with --user), or --thread")
        else:
            subject = PurgeScope("user" if body.user else "tenant", tenant=tenant, user=body.user)
            await services.purger.resolve(subject)
        assert tenant is not None
        hold = Hold(
            id=new_id("hold"),
            tenant=tenant,
            user=body.user,
            thread_id=body.thread_id,
            case=body.case,
            reason=body.reason,
            created_at=datetime.now(UTC),
            created_by=admin.user,
            released_at=None,
            released_by=None,
        )
        params = {"tenant": tenant, "user": body.user, "thread_id": body.thread_id, "case": body.case}
        created = await audited(
            services,
            admin,
            "holds.create",
            params,
            lambda: services.holds.create(hold),
            outcome=lambda h: (f"created {h.id}", {}),
        )
        return Response(created.public(), status_code=201)

    @get("/holds")
    async def list_holds(
        self, services: Services, include_released: bool = False, tenant: str | None = None
    ) -> dict[str, Any]:
        holds = await services.holds.list(include_released=include_released, tenant=tenant)
        return {"data": [h.public() for h in holds]}

    @post("/holds/{hold_id:str}/release", status_code=200, guards=[admin_writer])
    async def release_hold(self, hold_id: str, services: Services, admin: RequestContext) -> dict[str, Any]:
        async def release() -> Hold:
            hold = await services.holds.release(hold_id, admin.user)
            if hold is None:
                raise ApiError(404, "not_found", f"no hold {hold_id}")
            return hold

        hold = await audited(services, admin, "holds.release", {"hold_id": hold_id}, release)
        return hold.public()

    # --- retention ---------------------------------------------------------------
    @get("/retention")
    async def retention_plan(self, services: Services) -> dict[str, Any]:
        return await services.retention.plan()

    @post("/retention/run", status_code=200, guards=[admin_writer])
    async def retention_run(
        self, request: Request[Any, Any, Any], services: Services, admin: RequestContext
    ) -> Response[dict[str, Any]]:
        body = await parse_body(request, RetentionRun)
        if body.dry_run:
            plan = await audited(
                services,
                admin,
                "retention.run.dry-run",
                {},
                services.retention.plan,
                outcome=lambda p: ("dry_run", {"tenants": len(p["tenants"])}),
            )
            return Response({"dry_run": True, **plan})
        running = await services.job_rows.active_of_kind(RETENTION)
        if running is not None:
            job = running
        else:
            job = await services.jobs.submit(RETENTION, {"at": datetime.now(UTC).isoformat()}, admin.user)
        await services.audit.append(admin, "retention.run", {}, f"job {job.id}")
        return job_response({}, job)

    # --- audit -------------------------------------------------------------------
    @get("/audit")
    async def audit_list(
        self,
        services: Services,
        since: datetime | None = None,
        actor: str | None = None,
        after: int = 0,
        limit: int = 200,
    ) -> dict[str, Any]:
        rows = await services.audit.rows.page(
            after_seq=after, limit=max(1, min(limit, 5000)), since=since, actor=actor
        )
        return {"data": [public_row(r) for r in rows], "after": rows[-1].seq if rows else None}

    @get("/audit/verify")
    async def audit_verify(self, services: Services, admin: RequestContext) -> dict[str, Any]:
        result = await services.audit.verify()
        await services.audit.append(
            admin, "audit.verify", {}, "ok" if result.ok else "broken", {"entries": result.entries}
        )
        return result.public()

    @get("/audit/export")
    async def audit_export(self, services: Services) -> Stream:
        async def lines() -> AsyncIterator[bytes]:
            after = 0
            while page := await services.audit.rows.page(after_seq=after, limit=5000):
                yield b"".join(json.dumps(public_row(r), sort_keys=True).encode() + b"\n" for r in page)
                after = page[-1].seq

        return Stream(lines(), media_type="application/x-ndjson", headers={"Cache-Control": "no-store"})

    # --- exports -------------------------------------------------------------------
    @get("/exports/public-key", media_type="application/x-pem-file")
    async def export_public_key(self, services: Services) -> str:
        return public_pem(services.exporter.key)

    @post("/exports", status_code=202, guards=[admin_writer])
    async def create_export(
        self, request: Request[Any, Any, Any], services: Services, admin: RequestContext
    ) -> Response[dict[str, Any]]:
        body = await parse_body(request, ExportRequest)
        body.check()
        if body.thread_id is not None:
            scope = await services.purger.resolve(PurgeScope("thread", thread_id=body.thread_id))
            tenant = scope.tenant
        elif body.tenant is None:
            raise ApiError(
                400, "invalid_params", "an export needs --user U --tenant T, --tenant T or --thread ID"
            )
        else:
            tenant = body.tenant
            await services.purger.resolve(
                PurgeScope("user" if body.user else "tenant", tenant=tenant, user=body.user)
            )
        params = {
            "tenant": tenant,
            "user": body.user,
            "thread_id": body.thread_id,
            "since": body.since.isoformat() if body.since else None,
            "until": body.until.isoformat() if body.until else None,
        }
        job = await services.jobs.submit(EXPORT, params, admin.user)
        await services.audit.append(admin, "export", params, f"job {job.id}")
        return job_response({}, job)

    @get("/exports/{export_id:str}")
    async def export_manifest(self, export_id: str, services: Services) -> Response[bytes]:
        job = await self._bundle(export_id, services)
        chunks = await services.exporter.open_file(job.id, job.params, MANIFEST)
        return Response(b"".join([chunk async for chunk in chunks]), media_type="application/json")

    @get("/exports/{export_id:str}/files/{path:path}")
    async def export_file(
        self, export_id: str, path: str, request: Request[Any, Any, Any], services: Services
    ) -> Stream:
        """One file of a bundle, streamed; ``Range: bytes=N-`` resumes an interrupted download."""
        job = await self._bundle(export_id, services)
        path = path.lstrip("/")
        sizes: dict[str, int] = (job.result or {})["files"]
        if path not in sizes:
            raise ApiError(404, "not_found", f"no file {path} in export {export_id}")
        size = sizes[path]
        start = 0
        status = 200
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store"}
        match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("range", ""))
        if match:
            start = int(match.group(1))
            if start > size:
                raise ApiError(416, "range_not_satisfiable", f"{path} has {size} bytes")
            status = 206
            headers["Content-Range"] = f"bytes {start}-{max(size - 1, start)}/{size}"
        headers["Content-Length"] = str(size - start)
        body = await services.exporter.open_file(job.id, job.params, path, start)
        return Stream(body, media_type="application/octet-stream", status_code=status, headers=headers)

    async def _bundle(self, export_id: str, services: Services) -> JobRecord:
        job = await services.job_rows.get(export_id)
        if job is None or job.kind != EXPORT:
            raise ApiError(404, "not_found", f"no export {export_id}")
        if job.state != "done":
            raise ApiError(409, "export_not_ready", f"export {export_id} is {job.state}; wait for its job")
        if not (job.result or {}).get("files"):
            raise ApiError(
                410,
                "export_gone",
                f"export {export_id} expired (kept exports.keep_hours after it finished); run a new one",
            )
        return job


__all__ = ["HeldError", "ResidencyController", "active_holds_sync"]
