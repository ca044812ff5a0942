"""Attachments: records in the Store, encrypted bytes in a blob backend, both scoped to the caller.

Both ChatKit upload strategies end in ``upload``:

* two-phase: ``attachments.create`` returns an ``upload_descriptor`` pointing at
  ``POST /files/{id}``; the client then sends the bytes there;
* direct: ``POST /files`` (multipart) creates the record and stores the bytes.

An upload is checked (size, the user's quota, type sniffed from the content),
encrypted as it streams under the owner's data key (``crypto.blobs``) and written to the backend as one
object; only then is the record marked uploaded. Bookkeeping lives in the
``blob_objects`` table: a ``pending`` row reserves quota before any byte is
stored and names what to clean up if the upload never completes.

Image previews are thumbnails stored next to the object (``<key>.preview``,
encrypted too) and linked by signed, expiring URLs (``chat.previews``), which
the store's read hook (``PreviewLinks``) re-signs whenever items or attachments are read.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import mimetypes
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
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
)

from chatkit_onprem.blobs import (
    BlobBackend,
    BlobNotFoundError,
    BlobTooLargeError,
    BlobUnavailableError,
    object_key,
    one_chunk,
)
from chatkit_onprem.chat.content import (
    IMAGE_TYPES,
    SNIFF_BYTES,
    NotAnImageError,
    safe_name,
    sniff,
    thumbnail,
)
from chatkit_onprem.chat.previews import PreviewLinks
from chatkit_onprem.config import BlobSettings
from chatkit_onprem.context import RequestContext
from chatkit_onprem.crypto.blobs import BlobCipher, IntegrityError
from chatkit_onprem.crypto.deks import KeyUnavailableError, SubjectKeys
from chatkit_onprem.errors import ApiError
from chatkit_onprem.ids import new_id
from chatkit_onprem.logging import get_logger
from chatkit_onprem.store.blob_objects import BlobObjects, QuotaExceededError, UploadInProgressError
from chatkit_onprem.store.chatkit_store import DuckDBStore

log = get_logger(__name__)

__all__ = ["OnPremAttachmentStore", "safe_name"]

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
        objects: BlobObjects,
        links: PreviewLinks,
        settings: BlobSettings,
        cipher: BlobCipher,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.objects = objects
        self.links = links
        self.settings = settings
        self.max_file_bytes = settings.max_file_bytes
        self.cipher = cipher
        self._sweeper: asyncio.Task[None] | None = None

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return new_id("attachment")

    # --- records --------------------------------------------------------
    def preview_url(self, attachment_id: str, context: RequestContext) -> str:
        return self.links.url(attachment_id, context)

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
        """Reserve quota with a ``pending`` row; return the byte cap for this upload."""
        try:
            return await self.objects.reserve(
                attachment_id,
                context,
                quota=self.settings.user_quota_bytes,
                per_file=self.max_file_bytes,
                key_ref="pending",
            )
        except UploadInProgressError:
            raise ApiError(
                409, "upload_in_progress", f"attachment {attachment_id} is already uploading"
            ) from None
        except QuotaExceededError as exc:
            raise ApiError(
                413,
                "quota_exceeded",
                f"your stored files use {exc.used} of your {exc.quota} byte quota; "
                "delete some to upload more",
            ) from None

    async def usage(self, context: RequestContext) -> int:
        return await self.objects.used_bytes(context)

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
                    await self.objects.forget([attachment_id], context)
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
        encryptor = await self.cipher.encryptor(context.tenant, context.user, record.id, "blob")

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
            sealed = await self.cipher.seal(context.tenant, context.user, record.id, "preview", preview)
            stored.append(key + ".preview")
            await self.blobs.put(key + ".preview", one_chunk(sealed), max_bytes=len(sealed))
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
        )
        if not await self.objects.settle(record.id, size, preview is not None, encryptor.key_ref):
            # Deleted meanwhile: the caller's clean-up removes what was written; no record comes back.
            raise ApiError(409, "attachment_deleted", f"attachment {record.id} was deleted during its upload")
        await self.store.save_attachment(updated, context)
        return updated

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
    async def _open(
        self, key: str, tenant: str, user: str, attachment_id: str, purpose: str
    ) -> AsyncIterator[bytes]:
        """Fetch the object to a local spool and authenticate all of it, then stream the plaintext.

        Nothing is sent to the client until the whole object has verified, so a tampered or
        truncated object becomes an error response, never a 200 with partial plaintext. The
        spool holds ciphertext only. An object whose data key was destroyed reads as deleted.
        """
        try:
            opener = await self.cipher.fetch(
                self.blobs.get(key), tenant, user, attachment_id, purpose, verify=True
            )
        except BaseException as exc:
            if isinstance(exc, BlobNotFoundError):
                raise NotFoundError(f"attachment {attachment_id} not found") from None
            if isinstance(exc, BlobUnavailableError):
                raise _unavailable(exc) from None
            if isinstance(exc, KeyUnavailableError):
                if exc.shredded:
                    raise NotFoundError(f"attachment {attachment_id} not found") from None
                log.error("a data key is unavailable", attachment_id=attachment_id, error=str(exc))
                raise ApiError(
                    503, "key_unavailable", f"the key of stored file {attachment_id} is unavailable: {exc}"
                ) from None
            if isinstance(exc, IntegrityError):
                log.error(
                    "stored object failed its integrity check", attachment_id=attachment_id, error=str(exc)
                )
                raise ApiError(
                    502,
                    "integrity_check_failed",
                    f"the stored file {attachment_id} failed its integrity check and was not sent",
                ) from None
            raise
        return opener.stream()

    async def download(
        self, attachment_id: str, context: RequestContext
    ) -> tuple[Attachment, AsyncIterator[bytes]]:
        record = await self.store.load_attachment(attachment_id, context)
        if not (record.metadata or {}).get("uploaded"):
            raise NotFoundError(f"attachment {attachment_id} has no content yet")
        key = object_key(context, attachment_id)
        return record, await self._open(key, context.tenant, context.user, attachment_id, "blob")

    async def preview(self, attachment_id: str, expires: int, sig: str) -> bytes:
        """The thumbnail behind a signed link; the signature stands in for the caller's auth."""
        owner = await self.objects.owner_of(attachment_id)
        if owner is None or not owner.has_preview:
            raise NotFoundError(f"no preview for attachment {attachment_id}")
        tenant, user = owner.tenant, owner.user
        problem = self.links.signer.verify(tenant, user, attachment_id, expires, sig)
        if problem == "expired":
            raise ApiError(403, "preview_link_expired", "this preview link has expired; reload the thread")
        if problem:
            raise ApiError(403, "invalid_preview_link", "this preview link is not valid")
        owner_ctx = system_context(tenant, user)
        key = object_key(owner_ctx, attachment_id) + ".preview"
        body = await self._open(key, tenant, user, attachment_id, "preview")
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

    # --- re-encryption (key jobs) ---------------------------------------------
    async def reencrypt(
        self,
        attachment_id: str,
        tenant: str,
        user: str,
        has_preview: bool,
        keys: SubjectKeys | None,
        record: Callable[[str], Awaitable[bool]],
    ) -> str | None:
        """Rewrite an object (and its preview) under ``keys`` (None: the owner's current month),
        then drop the object's older versions. Returns the new key reference, or None when the
        object is gone or its key was destroyed (nothing left to protect).

        ``record(key reference)`` writes the new reference (``store.blob_objects.set_key_ref_sync``:
        the key job commits its progress in the same transaction) and says whether the object
        is still stored. If it was deleted meanwhile, what this wrote is removed: a deleted (or
        purged) file never comes back."""
        context = system_context(tenant, user)
        key_ref = None
        for suffix, purpose in (("", "blob"), (".preview", "preview")):
            if purpose == "preview" and not has_preview:
                continue
            key = object_key(context, attachment_id) + suffix
            try:
                opener = await self.cipher.fetch(self.blobs.get(key), tenant, user, attachment_id, purpose)
            except (BlobNotFoundError, KeyUnavailableError):
                return None
            try:
                if keys is None:
                    encryptor = await self.cipher.encryptor(tenant, user, attachment_id, purpose)
                else:
                    encryptor = self.cipher.encryptor_with(keys, attachment_id, purpose)
                sealed = bytearray()
                for block in await anyio.to_thread.run_sync(_all_chunks, opener):
                    sealed += encryptor.update(block)
                sealed += encryptor.finalize()
            finally:
                opener.close()
            await self.blobs.put(key, one_chunk(bytes(sealed)), max_bytes=len(sealed))
            await self.blobs.prune_versions(key)
            key_ref = encryptor.key_ref
        if key_ref is not None and not await record(key_ref):
            await self._remove_objects(attachment_id, context)
            return None
        return key_ref

    # --- deletion -------------------------------------------------------
    async def _delete_objects(self, attachment_id: str, context: RequestContext) -> None:
        """Every version of the object and its preview; the row is marked ``deleting`` first, so a
        key job rewriting the object meanwhile removes what it wrote (``store.blob_objects``)."""
        await self.objects.mark_deleting([attachment_id], context)
        await self._remove_objects(attachment_id, context)

    async def _remove_objects(self, attachment_id: str, context: RequestContext) -> None:
        key = object_key(context, attachment_id)
        await self.blobs.delete(key)
        await self.blobs.delete(key + ".preview")

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        await self.store.load_attachment(attachment_id, context)  # 404 unless it is the caller's
        try:
            await self._delete_objects(attachment_id, context)
        except BlobUnavailableError as exc:
            raise _unavailable(exc) from None  # the record stays, so the delete can be retried
        await self.objects.forget([attachment_id], context)

    async def delete_blobs(self, attachment_ids: list[str], context: RequestContext) -> None:
        """After a thread's records are gone: remove their objects.

        If the store is down the bookkeeping rows stay, now without an attachment
        record, and the orphan sweep removes the objects once the store is back.
        """
        done: list[str] = []
        for attachment_id in attachment_ids:
            try:
                await self._delete_objects(attachment_id, context)
                done.append(attachment_id)
            except BlobUnavailableError as exc:
                log.warning(
                    "object delete deferred to the orphan sweep", attachment_id=attachment_id, error=str(exc)
                )
        await self.objects.forget(done, context)

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

        orphans = await self.objects.orphans(cutoff)
        collected: set[str] = set()
        for orphan in orphans:
            context = system_context(orphan.tenant, orphan.user)
            try:
                await self._delete_objects(orphan.attachment_id, context)
            except BlobUnavailableError as exc:
                log.warning("orphan sweep paused: object store unavailable", error=str(exc))
                break
            await self.objects.forget([orphan.attachment_id], context)
            if orphan.has_record:
                await self.store.delete_attachment(orphan.attachment_id, context)
            collected.add(orphan.attachment_id)
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


def _all_chunks(opener: Any) -> list[bytes]:
    return list(opener.chunks())
