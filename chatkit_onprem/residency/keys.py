"""Key administration behind ``admin keys``: status, rotation plans, retiring KEK versions.

Every operation here is either a read (status, a dry run) or hands long work to the
job runner; nothing blocks the event loop on a KEK call (they run in threads).
"""

from __future__ import annotations

import asyncio
from typing import Any

from chatkit_onprem.crypto.deks import DataKeys
from chatkit_onprem.crypto.kek import KekError, KekRotationUnsupportedError, KeyringKek, VaultKek
from chatkit_onprem.crypto.rotation import ENCRYPT_PLAINTEXT, ROTATE_DEK, ROTATE_KEK
from chatkit_onprem.crypto.server_secrets import ServerSecrets
from chatkit_onprem.errors import ApiError
from chatkit_onprem.residency.jobs import JobRunner
from chatkit_onprem.residency.purge import PURGE
from chatkit_onprem.store import reencrypt
from chatkit_onprem.store.data_keys import DataKeyRows
from chatkit_onprem.store.database import Cursor, Database
from chatkit_onprem.store.jobs import JobRows

KEY_JOB_KINDS = (ROTATE_KEK, ROTATE_DEK, ENCRYPT_PLAINTEXT, PURGE)


class KeyAdmin:
    def __init__(
        self,
        db: Database,
        keys: DataKeys,
        rows: DataKeyRows,
        secrets: ServerSecrets,
        jobs: JobRows,
        runner: JobRunner,
    ) -> None:
        self.db = db
        self.keys = keys
        self.rows = rows
        self.secrets = secrets
        self.jobs = jobs
        self.runner = runner

    def can_create_kek_versions(self) -> bool:
        kek = self.keys.kek
        return isinstance(kek, VaultKek) or (isinstance(kek, KeyringKek) and kek.writable)

    async def status(self) -> dict[str, Any]:
        kek = self.keys.kek
        try:
            await asyncio.to_thread(kek.reload)
            kek_problem = None
        except KekError as exc:
            kek_problem = str(exc)
        summary = await self.rows.summary()
        in_use: dict[str, int] = {}
        for state, version, count in summary:
            if state == "active":
                in_use[version] = in_use.get(version, 0) + count
        secrets = await self.db.read(self.secrets.versions_in_use_sync)

        def key_states(cur: Cursor) -> list[tuple[str, str, int]]:
            return reencrypt.key_states(cur)

        rows: dict[str, dict[str, int]] = {}
        for table, state, count in await self.db.read(key_states):
            rows.setdefault(table, {})[state] = count
        jobs = [j.public() for j in await self.jobs.recent(limit=20) if j.kind in KEY_JOB_KINDS]
        return {
            "kek": {
                "provider": kek.kind,
                "source": kek.source,
                "primary": kek.primary(),
                "problem": kek_problem,
                "can_create_versions": self.can_create_kek_versions(),
                "versions": [
                    {
                        "version": v.version,
                        "primary": v.primary,
                        "data_keys": in_use.get(v.version, 0),
                        "server_secrets": int(v.version in secrets),
                    }
                    for v in kek.versions()
                ],
                "missing_versions": sorted(set(in_use) - {v.version for v in kek.versions()}),
            },
            "data_keys": [{"state": s, "kek_version": v, "count": n} for s, v, n in summary],
            "data_keys_cached": self.keys.cached,
            "rows": rows,
            "jobs": jobs,
        }

    async def plan_rotate_kek(self) -> dict[str, Any]:
        kek = self.keys.kek
        await asyncio.to_thread(kek.reload)
        primary = kek.primary()
        stale = await self.rows.count(where="kek_version <> ?", args=[primary])
        create = self.can_create_kek_versions()
        plan: dict[str, Any] = {
            "kek_primary": primary,
            "creates_version": create,
            "data_keys_to_rewrap": stale if not create else await self.rows.count(),
        }
        if not create and stale == 0:
            plan["note"] = (
                f"every data key is already wrapped by {primary}; to rotate, add a new version to the "
                f"{kek.source}, make it the primary, then run rotate-kek again"
            )
        return plan

    async def rotate_kek(self, actor: str) -> tuple[dict[str, Any], Any]:
        await self._no_running(ROTATE_KEK)
        created = None
        if self.can_create_kek_versions():
            try:
                created = await asyncio.to_thread(self.keys.kek.create_version)
            except KekRotationUnsupportedError as exc:
                raise ApiError(409, "kek_read_only", str(exc)) from None
            except KekError as exc:
                raise ApiError(502, "kek_unavailable", str(exc)) from None
        job = await self.runner.submit(ROTATE_KEK, {"created_version": created}, actor)
        return {"created_version": created, "kek_primary": self.keys.kek.primary()}, job

    async def plan_rotate_dek(self, tenant: str | None, user: str | None) -> dict[str, Any]:
        where, args = _scope(tenant, user)
        return {
            "tenant": tenant,
            "user": user,
            "data_keys_to_rotate": await self.rows.count(where=where, args=args),
        }

    async def rotate_dek(self, tenant: str | None, user: str | None, actor: str) -> Any:
        await self._no_running(ROTATE_DEK)
        return await self.runner.submit(ROTATE_DEK, {"tenant": tenant, "user": user}, actor)

    async def retire_kek(self, version: str, *, confirm: bool) -> dict[str, Any]:
        kek = self.keys.kek
        await asyncio.to_thread(kek.reload)
        if version == kek.primary():
            raise ApiError(
                409, "kek_in_use", f"KEK version {version} is the primary; make another version primary first"
            )
        if version not in {v.version for v in kek.versions()}:
            raise ApiError(404, "not_found", f"the {kek.source} has no version {version!r}")
        used = await self.rows.count(where="kek_version = ?", args=[version])
        secrets = await self.db.read(self.secrets.versions_in_use_sync)
        if used or version in secrets:
            raise ApiError(
                409,
                "kek_in_use",
                f"KEK version {version} still wraps {used} data keys"
                + (" and server secrets" if version in secrets else "")
                + "; run 'admin keys rotate-kek --confirm' and wait for its job first",
            )
        plan: dict[str, Any] = {"version": version, "in_use": False}
        if not isinstance(kek, KeyringKek) or not kek.writable:
            plan["note"] = f"nothing uses {version}: remove it from the {kek.source}"
            return plan
        if confirm:
            await asyncio.to_thread(kek.remove_version, version)
            plan["removed"] = True
        return plan

    async def _no_running(self, kind: str) -> None:
        running = await self.jobs.active_of_kind(kind)
        if running is not None:
            raise ApiError(409, "job_running", f"a {kind} job is already running: {running.id}")


def _scope(tenant: str | None, user: str | None) -> tuple[str, list[Any]]:
    where, args = [], []
    if tenant:
        where.append("tenant = ?")
        args.append(tenant)
    if user:
        where.append("user_id = ?")
        args.append(user)
    return " AND ".join(where), args
