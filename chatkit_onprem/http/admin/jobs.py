"""``/admin/v1/jobs``: follow and cancel long-running admin work."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post

from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError
from chatkit_onprem.http.admin.audited import audited
from chatkit_onprem.http.admin.guards import admin_reader, admin_writer
from chatkit_onprem.services import Services


class JobsController(Controller):
    path = "/admin/v1/jobs"
    guards = [admin_reader]

    @get("")
    async def list_jobs(self, services: Services, active: bool = False, limit: int = 50) -> dict[str, Any]:
        jobs = await services.job_rows.recent(active_only=active, limit=max(1, min(limit, 500)))
        return {"data": [j.public() for j in jobs]}

    @get("/{job_id:str}")
    async def show(self, job_id: str, services: Services) -> dict[str, Any]:
        job = await services.job_rows.get(job_id)
        if job is None:
            raise ApiError(404, "not_found", f"no job {job_id}")
        return job.public()

    @post("/{job_id:str}/cancel", status_code=200, guards=[admin_writer])
    async def cancel(self, job_id: str, services: Services, admin: RequestContext) -> dict[str, Any]:
        async def cancel() -> Any:
            job = await services.job_rows.request_cancel(job_id)
            if job is None:
                raise ApiError(404, "not_found", f"no job {job_id}")
            return job

        job = await audited(services, admin, "jobs.cancel", {"job_id": job_id}, cancel)
        return dict(job.public())
