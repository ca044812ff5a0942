"""Everything a running server holds, built once at start-up and closed at shutdown."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from chatkit_onprem.auth import ApiKeyStore, Authenticator
from chatkit_onprem.blobs import BlobBackend, blob_backend
from chatkit_onprem.chat.attachments import OnPremAttachmentStore, PreviewRefreshingStore
from chatkit_onprem.chat.protocol import ChatKitEndpoint, StreamRegistry
from chatkit_onprem.chat.server import OnPremChatKitServer
from chatkit_onprem.config import ConfigError, Settings
from chatkit_onprem.crypto import load_key_provider
from chatkit_onprem.http.ratelimit import RateLimiter, StreamAdmission
from chatkit_onprem.llm.provider import AliasModelProvider
from chatkit_onprem.llm.usage import UsageRecorder
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store import Database, DuckDBStore, apply_migrations

log = get_logger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    store: DuckDBStore
    blobs: BlobBackend
    attachments: OnPremAttachmentStore
    server: OnPremChatKitServer
    endpoint: ChatKitEndpoint
    streams: StreamRegistry
    authenticator: Authenticator
    api_keys: ApiKeyStore
    limiter: RateLimiter
    admission: StreamAdmission
    _drain: asyncio.Future[int] | None = field(default=None, init=False)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        if settings.store.backend != "duckdb":
            raise ConfigError(["store.backend: 'postgres' is not available in this build yet"])
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(
            settings.store_path,
            memory_limit=settings.store.memory_limit,
            threads=settings.store.threads,
            reader_threads=settings.store.reader_threads,
            write_batch_max=settings.store.write_batch_max,
        )
        try:
            apply_migrations(db)
            store = PreviewRefreshingStore(db, max_page_size=settings.store.max_page_size)
            blobs = blob_backend(settings)
            keys = load_key_provider(
                settings.blobs.encryption.key.get_secret_value() if settings.blobs.encryption.key else None,
                settings.blobs.encryption.key_id,
                settings.resolve(Path("keys/blob.key")),
            )
            attachments = OnPremAttachmentStore(store, blobs, settings=settings.blobs, keys=keys)
            store.attachments = attachments  # preview links are re-signed on every read
            server = OnPremChatKitServer(
                store,
                attachments,
                AliasModelProvider(settings.llm),
                settings.chat,
                llm=settings.llm,
                usage=UsageRecorder(db),
            )
            streams = StreamRegistry()
        except BaseException:
            db.close()
            raise
        api_keys = ApiKeyStore(db, last_used_write_seconds=settings.auth.api_keys.last_used_write_seconds)
        return cls(
            settings=settings,
            db=db,
            store=store,
            blobs=blobs,
            attachments=attachments,
            server=server,
            endpoint=ChatKitEndpoint(server, attachments, streams),
            streams=streams,
            authenticator=Authenticator(settings, api_keys),
            api_keys=api_keys,
            limiter=RateLimiter(settings.rate_limits),
            admission=StreamAdmission(settings.server.max_streams),
        )

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
        await self.server.wait_for_persistence()
        await self.server.provider.aclose()  # upstream connection pools
        await self.authenticator.close()  # pending API-key 'last used' writes, JWKS client
        await asyncio.to_thread(self.db.close)
        log.info("shutdown complete", streams_cancelled=cancelled)
