"""Everything a running server holds, built once at start-up and closed at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from chatkit_onprem.auth import ApiKeyStore, Authenticator
from chatkit_onprem.blobs import BlobBackend, blob_backend
from chatkit_onprem.blobs.base import BlobUnavailableError
from chatkit_onprem.chat.attachments import OnPremAttachmentStore
from chatkit_onprem.chat.previews import PreviewLinks, PreviewSigner
from chatkit_onprem.chat.protocol import ChatKitEndpoint, StreamRegistry
from chatkit_onprem.chat.server import OnPremChatKitServer
from chatkit_onprem.chat.thread_turns import ThreadTurns
from chatkit_onprem.config import Settings
from chatkit_onprem.crypto.blobs import BlobCipher
from chatkit_onprem.crypto.deks import DataKeys
from chatkit_onprem.crypto.envelope import EncryptingCodec
from chatkit_onprem.crypto.kek import check_kek, load_kek
from chatkit_onprem.crypto.legacy_keys import legacy_blob_keys
from chatkit_onprem.crypto.rotation import ENCRYPT_PLAINTEXT, ROTATE_DEK, ROTATE_KEK, KeyJobs
from chatkit_onprem.crypto.server_secrets import ServerSecrets
from chatkit_onprem.http.ratelimit import RateLimiter, StreamAdmission
from chatkit_onprem.llm.provider import AliasModelProvider
from chatkit_onprem.llm.usage import UsageRecorder
from chatkit_onprem.logging import get_logger
from chatkit_onprem.readiness import DependencyMonitor
from chatkit_onprem.residency.audit import AuditLog
from chatkit_onprem.residency.exports import EXPORT, Exporter, load_signing_key
from chatkit_onprem.residency.jobs import JobRunner
from chatkit_onprem.residency.keys import KeyAdmin
from chatkit_onprem.residency.ledger import ErasureLedger
from chatkit_onprem.residency.purge import PURGE, Purger
from chatkit_onprem.residency.retention import RETENTION, Retention
from chatkit_onprem.store import Database, DuckDBStore, apply_migrations, open_database
from chatkit_onprem.store.api_keys import ApiKeyRows
from chatkit_onprem.store.blob_objects import BlobObjects
from chatkit_onprem.store.data_keys import DataKeyRows
from chatkit_onprem.store.holds import HoldRows
from chatkit_onprem.store.jobs import JobRows
from chatkit_onprem.store.ledger import Erasure, LedgerRows
from chatkit_onprem.store.rates import RateRows
from chatkit_onprem.store.reencrypt import plaintext_left_sync
from chatkit_onprem.store.thread_leases import ThreadLeases
from chatkit_onprem.store.usage import UsageRows

log = get_logger(__name__)

#: With PostgreSQL other processes and replicas revoke keys and rotate data keys: how long a
#: cached copy is trusted. A revoked API key stops working everywhere within this; a key
#: job waits this long before it relies on every process using a new data key.
SHARED_CACHE_SECONDS = {"api_keys": 0.5, "data_keys": 10.0}


@dataclass
class Services:
    settings: Settings
    db: Database
    store: DuckDBStore
    blobs: BlobBackend
    attachments: OnPremAttachmentStore
    server: OnPremChatKitServer
    endpoint: ChatKitEndpoint
    thread_leases: ThreadLeases | None
    streams: StreamRegistry
    authenticator: Authenticator
    api_keys: ApiKeyStore
    limiter: RateLimiter
    admission: StreamAdmission
    dependencies: DependencyMonitor
    data_keys: DataKeys
    ledger: ErasureLedger
    jobs: JobRunner
    job_rows: JobRows
    key_admin: KeyAdmin
    purger: Purger
    audit: AuditLog
    holds: HoldRows
    exporter: Exporter
    retention: Retention
    _drain: asyncio.Future[int] | None = field(default=None, init=False)
    _ledger_merge: asyncio.Task[None] | None = field(default=None, init=False)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = open_database(settings)
        try:
            apply_migrations(db)
            blobs = blob_backend(settings)
            kek = load_kek(settings)
            check_kek(kek)
            ledger = ErasureLedger(settings.resolve(settings.crypto.erasure_ledger), LedgerRows(db), blobs)
            ledger.load()
            data_keys = DataKeys(
                kek,
                DataKeyRows(db),
                cache_size=settings.crypto.dek_cache_size,
                cache_ttl_seconds=SHARED_CACHE_SECONDS["data_keys"] if db.dialect == "postgres" else None,
                erased=ledger.erased,
            )
            links = PreviewLinks(
                PreviewSigner(
                    ServerSecrets(kek, db).get_sync("preview-url-signing"),  # same secret every start
                    settings.blobs.previews.ttl_seconds,
                )
            )
            # Payloads are sealed under data keys; preview links are re-signed on every read.
            store = DuckDBStore(
                db,
                codec=EncryptingCodec(data_keys),
                max_page_size=settings.store.max_page_size,
                read_hook=links,
            )
            cipher = BlobCipher(data_keys, legacy_blob_keys(settings))
            attachments = OnPremAttachmentStore(
                store, blobs, objects=BlobObjects(db), links=links, settings=settings.blobs, cipher=cipher
            )
            job_rows = JobRows(db)
            if db.dialect == "duckdb":
                job_rows.release_all_sync()  # one process owns the file: every lease left is stale
            runner = JobRunner(job_rows, lease_seconds=settings.server.job_lease_seconds)
            secrets = ServerSecrets(kek, db)
            key_rows = DataKeyRows(db)
            key_jobs = KeyJobs(
                db,
                data_keys,
                key_rows,
                secrets,
                attachments,
                batch_rows=settings.crypto.rotation_batch_rows,
                duty_cycle=settings.crypto.rotation_duty_cycle,
            )
            purger = Purger(db, store, blobs, data_keys, ledger)
            runner.register(ROTATE_KEK, key_jobs.rotate_kek)
            runner.register(ROTATE_DEK, key_jobs.rotate_dek)
            runner.register(ENCRYPT_PLAINTEXT, key_jobs.encrypt_plaintext)
            runner.register(PURGE, purger.run)
            exporter = Exporter(
                db,
                store.codec,
                blobs,
                cipher,
                load_signing_key(
                    settings.exports.signing_key.get_secret_value() if settings.exports.signing_key else None,
                    settings.resolve(Path("keys/export-signing.pem")),
                ),
                settings.resolve(Path("tmp/exports")),
                keep_hours=settings.exports.keep_hours,
                duty_cycle=settings.exports.duty_cycle,
            )
            runner.register(EXPORT, exporter.run)
            retention = Retention(settings.retention, db, purger)
            runner.register(RETENTION, retention.run)
            server = OnPremChatKitServer(
                store,
                attachments,
                AliasModelProvider(settings.llm),
                settings.chat,
                llm=settings.llm,
                usage=UsageRecorder(UsageRows(db)),
            )
            streams = StreamRegistry()
        except BaseException:
            db.close()
            raise
        shared = db.dialect == "postgres"  # other processes and replicas change what we cache
        api_keys = ApiKeyStore(
            ApiKeyRows(db),
            last_used_write_seconds=settings.auth.api_keys.last_used_write_seconds,
            cache_seconds=SHARED_CACHE_SECONDS["api_keys"] if shared else None,
        )
        authenticator = Authenticator(settings, api_keys)
        # One turn per thread across processes too (in memory alone with one process).
        leases = ThreadLeases(db) if shared else None
        return cls(
            settings=settings,
            db=db,
            store=store,
            blobs=blobs,
            attachments=attachments,
            server=server,
            endpoint=ChatKitEndpoint(
                server, attachments, streams, ThreadTurns(settings.chat.busy_wait_seconds, leases)
            ),
            thread_leases=leases,
            streams=streams,
            authenticator=authenticator,
            api_keys=api_keys,
            limiter=RateLimiter(settings.rate_limits, shared=RateRows(db) if shared else None),
            admission=StreamAdmission(settings.server.max_streams),
            dependencies=DependencyMonitor(
                blobs=blobs,
                upstreams=server.provider.upstreams,
                keys=authenticator.keys,
                interval=settings.server.dependency_check_seconds,
            ),
            data_keys=data_keys,
            ledger=ledger,
            jobs=runner,
            job_rows=job_rows,
            key_admin=KeyAdmin(db, data_keys, key_rows, secrets, job_rows, runner),
            purger=purger,
            audit=AuditLog(db),
            holds=HoldRows(db),
            exporter=exporter,
            retention=retention,
        )

    async def start_background(self, *, run_jobs: bool) -> None:
        """Jobs: resume what a previous process left, re-apply erasures a restored backup undid,
        encrypt what an earlier release wrote in plaintext. ``run_jobs`` False (a server whose
        jobs a ``chatkit-onprem jobs`` process runs): queue them, do not run them."""
        try:
            self.ledger.reapply += await self.ledger.merge_object_copy()
        except BlobUnavailableError as exc:
            log.warning(
                "erasure ledger: the object store's copy could not be read; retrying in the background",
                error=str(exc)[:200],
            )
            self._ledger_merge = asyncio.create_task(self._merge_ledger_copy_when_reachable())
        await self._reapply(self.ledger.reapply)
        self.ledger.reapply = []
        if await self.job_rows.active_of_kind(ENCRYPT_PLAINTEXT) is None and await self.db.read(
            plaintext_left_sync
        ):
            await self.jobs.submit(ENCRYPT_PLAINTEXT, {}, "start-up")
        if run_jobs:
            self.jobs.start()
        self.retention.start(self.jobs, self.job_rows)
        self.exporter.start(self.job_rows)

    async def _reapply(self, erasures: list[Erasure]) -> None:
        """Queue a purge for each erasure a restored backup undid (keys destroyed again, data gone)."""
        for erasure in erasures:
            scope = {"scope": erasure.scope, "tenant": erasure.tenant, "user": erasure.user}
            if erasure.scope == "before":
                scope = {
                    "scope": "before",
                    "tenant": None if erasure.tenant == "*" else erasure.tenant,
                    "before_month": erasure.before_month,
                }
            params = {**scope, "actor": "erasure-ledger", "reapply_erasure_id": erasure.id}
            await self.jobs.submit(PURGE, params, "erasure-ledger")

    async def _merge_ledger_copy_when_reachable(self) -> None:
        while True:
            await asyncio.sleep(self.settings.server.dependency_check_seconds)
            try:
                missing = await self.ledger.merge_object_copy()
            except BlobUnavailableError:
                continue
            await self._reapply(missing)
            log.info("erasure ledger: the object store's copy merged", reapplied=len(missing))
            return

    def begin_shutdown(self) -> None:
        """On SIGTERM: stop taking streams, give running ones the grace period, then cancel them."""
        if self._drain is None:
            grace = self.settings.server.shutdown_grace_seconds
            log.info("draining streams", in_flight=len(self.streams), grace_seconds=grace)
            self._drain = asyncio.ensure_future(self.streams.drain(grace))

    async def shutdown(self) -> None:
        """Lifespan end: drain (if the signal hook did not already), persist, checkpoint, close."""
        self.begin_shutdown()
        assert self._drain is not None
        cancelled = await self._drain
        if self._ledger_merge is not None:
            self._ledger_merge.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ledger_merge
        await self.retention.stop()
        await self.exporter.stop()
        if self.thread_leases is not None:
            await self.thread_leases.close()
        await self.jobs.stop()
        await self.server.wait_for_persistence()
        await self.server.provider.aclose()  # upstream connection pools
        await self.authenticator.close()  # pending API-key 'last used' writes, JWKS client
        await asyncio.to_thread(self.db.close)
        log.info("shutdown complete", streams_cancelled=cancelled)
