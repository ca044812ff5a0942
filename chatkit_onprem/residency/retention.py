"""Retention: per-tenant maximum ages for threads (since last activity) and uploads.

Applied by a scheduler in the server (``retention.interval_seconds``) and by
``admin retention run`` (the chart's CronJob calls exactly that). Each run is a job
(``residency.retention``) and is audited; legal holds always win: held threads and
uploads are skipped and counted, never deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from chatkit_onprem.config import RetentionSettings
from chatkit_onprem.logging import get_logger
from chatkit_onprem.residency.jobs import JobContext, JobRunner, Progress
from chatkit_onprem.residency.purge import Purger
from chatkit_onprem.store import purge as sql
from chatkit_onprem.store.database import Cursor, Database
from chatkit_onprem.store.jobs import JobRows
from chatkit_onprem.store.purge import PurgeScope

log = get_logger(__name__)

RETENTION = "residency.retention"
_BATCH = 200


class Retention:
    def __init__(self, settings: RetentionSettings, db: Database, purger: Purger) -> None:
        self.settings = settings
        self.db = db
        self.purger = purger
        self._scheduler: asyncio.Task[None] | None = None

    def _cutoffs(self, tenant: str, now: datetime) -> tuple[datetime | None, datetime | None]:
        policy = self.settings.policy_for(tenant)
        if policy is None:
            return None, None
        threads = now - timedelta(days=policy.thread_max_age_days) if policy.thread_max_age_days else None
        uploads = now - timedelta(days=policy.upload_max_age_days) if policy.upload_max_age_days else None
        return threads, uploads

    async def plan(self) -> dict[str, Any]:
        """What a run would delete now, per tenant (the dry run)."""
        now = datetime.now(UTC)
        tenants = await self.db.read(sql.tenants_with_data)
        out: list[dict[str, Any]] = []
        for tenant in tenants:
            threads_cut, uploads_cut = self._cutoffs(tenant, now)
            if threads_cut is None and uploads_cut is None:
                continue
            entry: dict[str, Any] = {"tenant": tenant}
            if threads_cut is not None:
                scope = PurgeScope("older_than", tenant=tenant, older_than=threads_cut)
                counts, _ = await self.db.read(partial(sql.preview, scope=scope, exclude_held=True))
                entry.update({"threads_older_than": threads_cut.isoformat(), **counts.public()})
            if uploads_cut is not None:
                entry["uploads_older_than"] = uploads_cut.isoformat()
                entry["old_uploads"] = await self.db.read(
                    partial(sql.count_old_uploads, tenant=tenant, cutoff=uploads_cut)
                )
            out.append(entry)
        return {"policies": {k: v.model_dump() for k, v in self.settings.policies.items()}, "tenants": out}

    async def run(self, ctx: JobContext) -> dict[str, Any]:
        """Tenant by tenant; the tenant in progress and its counts so far are in the cursor,
        committed with each batch, so a resumed run neither loses nor repeats a count."""
        now = datetime.fromisoformat(ctx.params["at"])
        state: dict[str, Any] = dict(ctx.cursor or {"done_tenants": [], "results": []})
        tenants = await self.db.read(sql.tenants_with_data)
        resumed = (state.get("current") or {}).get("tenant")
        if resumed is not None and resumed not in tenants:
            tenants.insert(0, resumed)  # its last batch took its last thread: its counts still go in
        for tenant in tenants:
            if tenant in state["done_tenants"]:
                continue
            threads_cut, uploads_cut = self._cutoffs(tenant, now)
            current = state.get("current") or {}
            result: dict[str, Any] = (
                dict(current)
                if current.get("tenant") == tenant
                else {"tenant": tenant, "threads": 0, "items": 0, "uploads": 0}
            )

            def saved(result: dict[str, Any] = result) -> dict[str, Any]:
                return {**state, "current": result}

            def uploads_counted(_removed: int, records: int, result: dict[str, Any] = result) -> Progress:
                result["uploads"] += records
                return Progress(records, saved())

            if threads_cut is not None:
                scope = PurgeScope("older_than", tenant=tenant, older_than=threads_cut)
                counts, _ = await self.db.read(partial(sql.preview, scope=scope, exclude_held=True))
                result["skipped_held_threads"] = counts.skipped_held_threads
                while batch := await self.db.read(partial(sql.next_threads, scope=scope, limit=_BATCH)):
                    ids = [t[0] for t in batch]

                    def delete(
                        cur: Cursor,
                        ids: list[str] = ids,
                        result: dict[str, Any] = result,
                        scope: PurgeScope = scope,
                    ) -> tuple[list[tuple[str, str, str]], Progress]:
                        deleted, attachments = sql.delete_threads(
                            cur, thread_ids=ids, scope=scope, dialect=self.db.dialect
                        )
                        result["threads"] += deleted.threads
                        result["skipped_held_threads"] += deleted.skipped_held_threads
                        result["items"] += deleted.items
                        result["uploads"] += len(attachments)
                        return attachments, Progress(len(ids), saved())

                    attachments = await ctx.commit(delete)
                    for thread_id in ids:
                        self.purger.store.owners.forget(thread_id)
                    await self.purger.delete_objects(ctx, attachments, _uncounted)
            if uploads_cut is not None:
                while batch := await self.db.read(
                    partial(sql.old_uploads, tenant=tenant, cutoff=uploads_cut, limit=_BATCH)
                ):
                    await self.purger.delete_objects(ctx, batch, uploads_counted, honour_holds=True)
            if threads_cut is not None or uploads_cut is not None:
                state["results"].append(result)
            state["done_tenants"].append(tenant)
            state.pop("current", None)
            await ctx.report(cursor=state)
        return {"at": ctx.params["at"], "tenants": state["results"]}

    # --- scheduler ------------------------------------------------------------
    def start(self, runner: JobRunner, jobs: JobRows) -> None:
        if self.settings.interval_seconds > 0 and self.settings.policies and self._scheduler is None:
            self._scheduler = asyncio.get_running_loop().create_task(
                self._every(runner, jobs), name="retention"
            )

    async def _every(self, runner: JobRunner, jobs: JobRows) -> None:
        while True:
            await asyncio.sleep(self.settings.interval_seconds)
            try:
                if await jobs.active_of_kind(RETENTION) is None:
                    await runner.submit(
                        RETENTION, {"at": datetime.now(UTC).isoformat()}, "retention-scheduler"
                    )
            except Exception:
                log.exception("scheduling a retention run failed")

    async def stop(self) -> None:
        task, self._scheduler = self._scheduler, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _uncounted(_removed: int, _records: int) -> Progress:
    """Objects of deleted threads: their records were counted with the threads."""
    return Progress()
