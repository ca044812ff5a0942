"""Attachments: records in the Store, encrypted bytes in a blob backend, both scoped to the caller.

Both ChatKit upload strategies end in ``upload``:

* two-phase: ``attachments.create`` returns an ``upload_descriptor`` pointing at
  ``POST /files/{id}``; the client then sends the bytes there;
* direct: ``POST /files`` (multipart) creates the record and stores the bytes.

An upload is checked (size, the user's quota, type sniffed from the content),
encrypted chunk by chunk (``crypto.stream``) and written to the backend as one
object; only then is the record marked uploaded. Bookkeeping lives in the
``blob_objects`` table: a ``pending`` row reserves quota before any byte is
stored and names what to clean up if the upload never completes.

Image previews are thumbnails stored next to the object (``<key>.preview``,
encrypted too) and linked by signed, expiring URLs (``chat.previews``), which
``PreviewRefreshingStore`` re-signs whenever items or attachments are read.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import mimetypes
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
    Page,
    ThreadItem,
    UserMessageItem,
)
from pydantic import AnyUrl

from chatkit_onprem.blobs import (
    BlobBackend,
    BlobNotFoundError,
    BlobTooLargeError,
    BlobUnavailableError,
    object_key,
)
from chatkit_onprem.chat.content import (
    IMAGE_TYPES,
    SNIFF_BYTES,
    NotAnImageError,
    safe_name,
    sniff,
    thumbnail,
)
from chatkit_onprem.chat.previews import PreviewSigner
from chatkit_onprem.config import BlobSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.crypto import IntegrityError, KeyProvider, StreamDecryptor, StreamEncryptor, binding
from chatkit_onprem.errors import ApiError
from chatkit_onprem.ids import new_id
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.chatkit_store import DuckDBStore
from chatkit_onprem.store.database import Cursor

log = get_logger(__name__)

__all__ = ["OnPremAttachmentStore", "PreviewRefreshingStore", "safe_name"]

_SPOOL_IN_MEMORY = 1024 * 1024
_PREVIEW_MAX_BYTES = 4 * 1024 * 1024

UNAVAILABLE_MESSAGE = (
    "the file store is unavailable, so uploads and downloads are paused; chat keeps working. "
    "Retry in a moment"
)


def _unavailable(exc: BaseException) -> ApiError:
    return ApiError(
        503, "object_store_unavailable", f"{UNAVAILABLE_MESSAGE} ({exc})", headers={"Retry-After": "10"}
    )


def system_context(tenant: str, user: str) -> RequestContext:
    """The owner's scope, for housekeeping that runs outside any request."""
    return RequestContext(tenant=tenant, user=user, roles=frozenset({"system"}), auth_method="system")


class OnPremAttachmentStore(AttachmentStore[RequestContext]):
    def __init__(
        self,
        store: DuckDBStore,
        blobs: BlobBackend,
        *,
        settings: BlobSettings,
        keys: KeyProvider,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.settings = settings
        self.max_file_bytes = settings.max_file_bytes
        self.keys = keys
        self.signer = PreviewSigner(keys.derive("preview-url-signing"), settings.previews.ttl_seconds)
        self._sweeper: asyncio.Task[None] | None = None

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return new_id("attachment")

    # --- records --------------------------------------------------------
    def preview_url(self, attachment_id: str, context: RequestContext) -> str:
        return self.signer.url(context.public_base_url, context.tenant, context.user, attachment_id)

    def _record(
        self,
        attachment_id: str,
        name: str,
        mime_type: str,
        context: RequestContext,
        *,
        previous: Attachment | None = None,
        preview_url: str | None = None,
        **meta: Any,
    ) -> Attachment:
        common: dict[str, Any] = {
            "id": attachment_id,
            "name": safe_name(name),
            "mime_type": mime_type,
            "thread_id": previous.thread_id if previous else None,
            "metadata": {**((previous.metadata or {}) if previous else {"uploaded": False}), **meta},
        }
        if mime_type.startswith("image/"):
            url = preview_url or self.preview_url(attachment_id, context)
            return ImageAttachment(preview_url=url, **common)  # type: ignore[arg-type]
        return FileAttachment(**common)

    def refresh(self, attachment: Attachment, context: RequestContext) -> Attachment:
        """Re-sign an image's preview link (``data:`` URLs are left as they are)."""
        if isinstance(attachment, ImageAttachment) and not str(attachment.preview_url).startswith("data:"):
            url = AnyUrl(self.preview_url(attachment.id, context))  # model_copy does not validate
            return attachment.model_copy(update={"preview_url": url})
        return attachment

    def refresh_item(self, item: ThreadItem, context: RequestContext) -> ThreadItem:
        if isinstance(item, UserMessageItem) and item.attachments:
            fresh = [self.refresh(a, context) for a in item.attachments]
            return item.model_copy(update={"attachments": fresh})
        return item

    def _check_declared(self, size: int) -> None:
        # Only the size is checked here: the declared type is a claim; the bytes are sniffed on upload.
        if size > self.max_file_bytes:
            raise ApiError(413, "file_too_large", f"files are limited to {self.max_file_bytes} bytes")

    def _type_error(self, mime_type: str | None) -> ApiError:
        return ApiError(
            415,
            "unsupported_file_type",
            f"files of type {mime_type or 'unknown'} are not accepted",
            details={"allowed_types": self.settings.allowed_types},
        )

    # --- two-phase ------------------------------------------------------
    async def create_attachment(self, input: AttachmentCreateParams, context: RequestContext) -> Attachment:
        self._check_declared(input.size)
        attachment_id = self.generate_attachment_id(input.mime_type, context)
        record = self._record(attachment_id, input.name, input.mime_type, context, declared_size=input.size)
        record.upload_descriptor = AttachmentUploadDescriptor(
            url=f"{context.public_base_url}/files/{attachment_id}",  # type: ignore[arg-type]
            method="POST",
        )
        return record  # the library saves the record

    # --- bookkeeping ----------------------------------------------------
    async def _reserve(self, attachment_id: str, context: RequestContext) -> int:
        """Insert the ``pending`` row, reserving quota; return the byte cap for this upload."""
        quota, per_file = self.settings.user_quota_bytes, self.max_file_bytes
        key_id = self.keys.current()[0]

        def write(cur: Cursor) -> int:
            if cur.execute("SELECT 1 FROM blob_objects WHERE attachment_id = ?", [attachment_id]).fetchone():
                raise ApiError(409, "upload_in_progress", f"attachment {attachment_id} is already uploading")
            row = cur.execute(
                "SELECT coalesce(sum(size), 0) FROM blob_objects WHERE tenant = ? AND user_id = ?",
                [context.tenant, context.user],
            ).fetchone()
            used = int(row[0]) if row else 0
            cap = min(per_file, quota - used)
            if cap <= 0:
                raise ApiError(
                    413,
                    "quota_exceeded",
                    f"your stored files use {used} of your {quota} byte quota; delete some to upload more",
                )
            cur.execute(
                "INSERT INTO blob_objects VALUES (?, ?, ?, 'pending', ?, false, ?, now())",
                [attachment_id, context.tenant, context.user, cap, key_id],
            )
            return cap

        return await self.store.db.write(write)

    async def _settle(self, attachment_id: str, size: int, has_preview: bool) -> None:
        def write(cur: Cursor) -> None:
            cur.execute(
                "UPDATE blob_objects SET state = 'stored', size = ?, has_preview = ? WHERE attachment_id = ?",
                [size, has_preview, attachment_id],
            )

        await self.store.db.write(write)

    async def _forget(self, attachment_ids: list[str], context: RequestContext) -> None:
        def write(cur: Cursor) -> None:
            for attachment_id in attachment_ids:
                cur.execute(
                    "DELETE FROM blob_objects WHERE attachment_id = ? AND tenant = ? AND user_id = ?",
                    [attachment_id, context.tenant, context.user],
                )

        await self.store.db.write(write)

    async def owner_of(self, attachment_id: str) -> tuple[str, str, bool] | None:
        """(tenant, user, has preview) of a stored object, for checking a signed link."""

        def query(cur: Cursor) -> Any:
            return cur.execute(
                "SELECT tenant, user_id, has_preview FROM blob_objects"
                " WHERE attachment_id = ? AND state = 'stored'",
                [attachment_id],
            ).fetchone()

        row = await self.store.db.read(query)
        return (str(row[0]), str(row[1]), bool(row[2])) if row else None

    async def usage(self, context: RequestContext) -> int:
        def query(cur: Cursor) -> Any:
            return cur.execute(
                "SELECT coalesce(sum(size), 0) FROM blob_objects WHERE tenant = ? AND user_id = ?",
                [context.tenant, context.user],
            ).fetchone()

        row = await self.store.db.read(query)
        return int(row[0]) if row else 0

    # --- bytes in -------------------------------------------------------
    async def upload(
        self, attachment_id: str, chunks: AsyncIterable[bytes], context: RequestContext
    ) -> Attachment:
        record = await self.store.load_attachment(attachment_id, context)  # 404 unless the caller's
        if (record.metadata or {}).get("uploaded"):
            raise ApiError(409, "already_uploaded", f"attachment {attachment_id} already has its bytes")
        cap = await self._reserve(attachment_id, context)
        key = object_key(context, attachment_id)
        stored: list[str] = []
        try:
            updated = await self._store_bytes(record, chunks, cap, key, stored, context)
        except BaseException as exc:
            # Nothing half-visible: remove whatever reached the backend and the reservation.
            with anyio.CancelScope(shield=True):
                for written in stored:
                    with contextlib.suppress(Exception):
                        await self.blobs.delete(written)
                with contextlib.suppress(Exception):
                    await self._forget([attachment_id], context)
            if isinstance(exc, BlobUnavailableError):
                raise _unavailable(exc) from None
            if isinstance(exc, BlobTooLargeError):
                raise self._too_large(cap) from None
            raise
        return updated

    def _too_large(self, cap: int) -> ApiError:
        if cap < self.max_file_bytes:
            return ApiError(
                413, "quota_exceeded", f"this file does not fit in the {cap} bytes left of your quota"
            )
        return ApiError(413, "file_too_large", f"files are limited to {self.max_file_bytes} bytes")

    async def _store_bytes(
        self,
        record: Attachment,
        chunks: AsyncIterable[bytes],
        cap: int,
        key: str,
        stored: list[str],
        context: RequestContext,
    ) -> Attachment:
        stream = aiter(chunks)
        head = bytearray()
        async for chunk in stream:
            head += chunk
            if len(head) >= SNIFF_BYTES:
                break
        if len(head) > cap:
            raise BlobTooLargeError(cap)
        mime = sniff(bytes(head[:SNIFF_BYTES]), record.name)
        if mime is None or mime not in self.settings.allowed_types:
            raise self._type_error(mime)
        if isinstance(record, ImageAttachment) and mime not in IMAGE_TYPES:
            raise ApiError(
                415, "unsupported_file_type", f"declared as an image, but the content is {mime or 'unknown'}"
            )
        is_image = mime in IMAGE_TYPES
        image = bytearray() if is_image else None
        size = 0
        encryptor = StreamEncryptor(
            self.keys,
            binding(context.tenant, context.user, record.id, "blob"),
            self.settings.encryption.chunk_bytes,
        )

        async def ciphertext() -> AsyncIterator[bytes]:
            nonlocal size

            async def plaintext() -> AsyncIterator[bytes]:
                yield bytes(head)
                async for chunk in stream:
                    yield chunk

            async for chunk in plaintext():
                size += len(chunk)
                if size > cap:
                    raise BlobTooLargeError(cap)
                if image is not None:
                    image.extend(chunk)
                if out := encryptor.update(chunk):
                    yield out
            yield encryptor.finalize()

        stored.append(key)
        await self.blobs.put(key, ciphertext(), max_bytes=cap + cap // 8 + 64 * 1024)
        preview: bytes | None = None
        if image is not None:
            try:
                preview = await anyio.to_thread.run_sync(
                    thumbnail, bytes(image), self.settings.previews.max_side_pixels
                )
            except NotAnImageError as exc:
                raise ApiError(415, "invalid_image", str(exc)) from None
            sealed = self._seal(preview, context, record.id, "preview")
            stored.append(key + ".preview")
            await self.blobs.put(key + ".preview", _once(sealed), max_bytes=len(sealed))
        preview_url = None
        if preview is not None and self.settings.previews.mode == "data_url":
            preview_url = "data:image/webp;base64," + base64.b64encode(preview).decode()
        updated = self._record(
            record.id,
            record.name,
            mime,
            context,
            previous=record,
            preview_url=preview_url,
            uploaded=True,
            size=size,
            key_id=encryptor.key_id,
        )
        await self._settle(record.id, size, preview is not None)
        await self.store.save_attachment(updated, context)
        return updated

    def _seal(self, data: bytes, context: RequestContext, attachment_id: str, purpose: str) -> bytes:
        enc = StreamEncryptor(self.keys, binding(context.tenant, context.user, attachment_id, purpose))
        return enc.update(data) + enc.finalize()

    async def create_direct(
        self, name: str, mime_type: str | None, chunks: AsyncIterable[bytes], context: RequestContext
    ) -> Attachment:
        mime = (mime_type or "").split(";")[0].strip() or mimetypes.guess_type(name)[0]
        record = self._record(self.generate_attachment_id(mime or "", context), name, mime or "", context)
        if isinstance(record, ImageAttachment):
            # Direct uploads are typed by their content alone: a wrong header must not pin "image".
            record = FileAttachment(**record.model_dump(exclude={"type", "preview_url"}))
        await self.store.save_attachment(record, context)
        try:
            return await self.upload(record.id, chunks, context)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.store.delete_attachment(record.id, context)
            raise

    # --- bytes out ------------------------------------------------------
    async def _verified(self, key: str, bound: bytes) -> tuple[Any, str]:
        """Fetch ciphertext to a local spool while authenticating every chunk.

        Nothing is sent to the client until the whole object has verified, so a
        tampered or truncated object becomes an error response, never a 200
        with partial plaintext. The spool holds ciphertext only.
        """
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - caller closes
        try:
            check = StreamDecryptor(self.keys, bound)
            async for chunk in self.blobs.get(key):
                check.update(chunk)
                await anyio.to_thread.run_sync(spool.write, chunk)
            check.finalize()
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool, check.key_id

    async def _open(self, key: str, bound: bytes, attachment_id: str) -> AsyncIterator[bytes]:
        try:
            spool, _ = await self._verified(key, bound)
        except BlobNotFoundError:
            raise NotFoundError(f"attachment {attachment_id} not found") from None
        except BlobUnavailableError as exc:
            raise _unavailable(exc) from None
        except IntegrityError as exc:
            log.error("stored object failed its integrity check", attachment_id=attachment_id, error=str(exc))
            raise ApiError(
                502,
                "integrity_check_failed",
                f"the stored file {attachment_id} failed its integrity check and was not sent",
            ) from None

        async def body() -> AsyncIterator[bytes]:
            try:
                dec = StreamDecryptor(self.keys, bound)
                while block := await anyio.to_thread.run_sync(spool.read, 256 * 1024):
                    if out := dec.update(block):
                        yield out
                yield dec.finalize()
            finally:
                spool.close()

        return body()

    async def download(
        self, attachment_id: str, context: RequestContext
    ) -> tuple[Attachment, AsyncIterator[bytes]]:
        record = await self.store.load_attachment(attachment_id, context)
        if not (record.metadata or {}).get("uploaded"):
            raise NotFoundError(f"attachment {attachment_id} has no content yet")
        bound = binding(context.tenant, context.user, attachment_id, "blob")
        return record, await self._open(object_key(context, attachment_id), bound, attachment_id)

    async def preview(self, attachment_id: str, expires: int, sig: str) -> bytes:
        """The thumbnail behind a signed link; the signature stands in for the caller's auth."""
        owner = await self.owner_of(attachment_id)
        if owner is None or not owner[2]:
            raise NotFoundError(f"no preview for attachment {attachment_id}")
        tenant, user, _ = owner
        problem = self.signer.verify(tenant, user, attachment_id, expires, sig)
        if problem == "expired":
            raise ApiError(403, "preview_link_expired", "this preview link has expired; reload the thread")
        if problem:
            raise ApiError(403, "invalid_preview_link", "this preview link is not valid")
        owner_ctx = system_context(tenant, user)
        key = object_key(owner_ctx, attachment_id) + ".preview"
        bound = binding(tenant, user, attachment_id, "preview")
        body = await self._open(key, bound, attachment_id)
        return b"".join([chunk async for chunk in body])

    async def read_bytes(self, attachment_id: str, context: RequestContext, max_bytes: int) -> bytes:
        """The attachment's decrypted bytes, for the caller only (e.g. to show a model).

        Raises ``NotFoundError`` (not the caller's, or no bytes yet), ``ApiError``
        413 above ``max_bytes``, 503 when the store is down, 502 when tampered.
        """
        record, body = await self.download(attachment_id, context)
        size = int((record.metadata or {}).get("size", 0))
        if size > max_bytes:
            with contextlib.suppress(Exception):
                await body.aclose()  # type: ignore[attr-defined]
            raise ApiError(
                413, "file_too_large", f"attachment {attachment_id} is larger than {max_bytes} bytes"
            )
        out = bytearray()
        async for chunk in body:
            out += chunk
        return bytes(out)

    # --- deletion -------------------------------------------------------
    async def _delete_objects(self, attachment_id: str, context: RequestContext) -> None:
        key = object_key(context, attachment_id)
        await self.blobs.delete(key)
        await self.blobs.delete(key + ".preview")

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        await self.store.load_attachment(attachment_id, context)  # 404 unless it is the caller's
        try:
            await self._delete_objects(attachment_id, context)
        except BlobUnavailableError as exc:
            raise _unavailable(exc) from None  # the record stays, so the delete can be retried
        await self._forget([attachment_id], context)

    async def delete_blobs(self, attachments: list[Attachment], context: RequestContext) -> None:
        """After a thread's records are gone: remove their objects.

        If the store is down the bookkeeping rows stay, now without an attachment
        record, and the orphan sweep removes the objects once the store is back.
        """
        done: list[str] = []
        for attachment in attachments:
            try:
                await self._delete_objects(attachment.id, context)
                done.append(attachment.id)
            except BlobUnavailableError as exc:
                log.warning(
                    "object delete deferred to the orphan sweep", attachment_id=attachment.id, error=str(exc)
                )
        await self._forget(done, context)

    # --- orphans --------------------------------------------------------
    async def collect_orphans(self, older_than: timedelta | None = None) -> int:
        """Delete uploads never attached to a message (and leftovers of failed ones); return how many.

        Candidates, all older than ``older_than`` (default: ``blobs.orphan_max_age_seconds``):
        attachment records with no thread; object rows whose record is gone
        (thread deleted while the store was down) or that never left ``pending``.
        """
        age = (
            older_than if older_than is not None else timedelta(seconds=self.settings.orphan_max_age_seconds)
        )
        cutoff = datetime.now(UTC) - age

        def query(cur: Cursor) -> list[Any]:
            return cur.execute(
                "SELECT id, tenant, user_id, 'record' FROM attachments"
                " WHERE thread_id IS NULL AND created_at < ?"
                " UNION ALL"
                " SELECT b.attachment_id, b.tenant, b.user_id, 'object' FROM blob_objects b"
                " LEFT JOIN attachments a ON a.id = b.attachment_id"
                " WHERE a.id IS NULL AND b.created_at < ?",
                [cutoff, cutoff],
            ).fetchall()

        rows = await self.store.db.read(query)
        collected: set[str] = set()
        for attachment_id, tenant, user, kind in rows:
            context = system_context(str(tenant), str(user))
            try:
                await self._delete_objects(str(attachment_id), context)
            except BlobUnavailableError as exc:
                log.warning("orphan sweep paused: object store unavailable", error=str(exc))
                break
            await self._forget([str(attachment_id)], context)
            if kind == "record":
                await self.store.delete_attachment(str(attachment_id), context)
            collected.add(str(attachment_id))
        if collected:
            log.info("orphan uploads collected", count=len(collected))
        return len(collected)

    async def start(self) -> None:
        """Prepare the backend (bucket) and start the orphan sweep; a down store only warns."""
        try:
            await self.blobs.start()
        except BlobUnavailableError as exc:
            log.warning("object store not ready at start-up; uploads answer 503 until it is", error=str(exc))
        interval = self.settings.orphan_sweep_interval_seconds
        if interval > 0 and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(interval), name="orphan-sweep")

    async def _sweep_forever(self, interval: int) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.collect_orphans()
            except Exception:
                log.exception("orphan sweep failed")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class PreviewRefreshingStore(DuckDBStore):
    """The Store, with image preview links re-signed on every read.

    Why here: every path by which the library hands attachments to a client
    (``threads.get_by_id``, ``items.list``, the user-message item echoed in a
    stream, ``attachments.create``) reads them through ``load_thread_items``,
    ``load_item`` or ``load_attachment`` with the caller's context, so signing
    at this seam gives each reader a fresh, unexpired link. Stored payloads keep
    whatever link they had; it is never trusted, only replaced.
    """

    attachments: OnPremAttachmentStore | None = None

    def _fresh_item(self, item: ThreadItem, context: RequestContext) -> ThreadItem:
        return self.attachments.refresh_item(item, context) if self.attachments else item

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        attachment = await super().load_attachment(attachment_id, context)
        return self.attachments.refresh(attachment, context) if self.attachments else attachment

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        return self._fresh_item(await super().load_item(thread_id, item_id, context), context)

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        page = await super().load_thread_items(thread_id, after, limit, order, context)
        page.data = [self._fresh_item(item, context) for item in page.data]
        return page
