"""Blobs in an S3-compatible store (MinIO, SeaweedFS, Garage, Ceph RGW) through the ``minio`` client.

The client is synchronous; every call runs in a worker thread. An upload is
spooled (as ciphertext) to a temporary file first and sent with one PUT of
known length, so a client that disconnects midway leaves nothing in the bucket.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from urllib3.exceptions import HTTPError as Urllib3Error

from chatkit_onprem.blobs.base import BlobNotFoundError, BlobTooLargeError, BlobUnavailableError
from chatkit_onprem.config import S3BlobSettings
from chatkit_onprem.trust import client_ssl_context

CHUNK = 256 * 1024
SPOOL_IN_MEMORY = 1024 * 1024
# One PUT up to this size (S3 allows 5 GiB); larger goes multipart, which minio aborts on failure.
PART_SIZE = 512 * 1024 * 1024
_MISSING = {"NoSuchKey", "NoSuchVersion"}
_NO_VERSIONING = {"NotImplemented", "InvalidRequest", "InvalidArgument"}

T = TypeVar("T")


def _unavailable(exc: BaseException) -> BlobUnavailableError:
    """Why, for readiness and 503 bodies: the cause (refused, TLS, timeout), never credentials."""
    if isinstance(exc, S3Error):
        return BlobUnavailableError(
            f"object store refused the request: {exc.code} ({exc.message})",
            reason=f"object store refused the request ({exc.code})",
        )
    cause = getattr(exc, "reason", None) or exc
    detail = str(cause).split(": ", 1)[-1] if isinstance(cause, Exception) else str(cause)
    tls = isinstance(cause, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in detail
    return BlobUnavailableError(
        f"object store unreachable: {type(cause).__name__}: {detail}"[:240],
        reason="object store TLS verification failed" if tls else "object store unreachable",
    )


class S3BlobBackend:
    name = "s3"

    def __init__(self, settings: S3BlobSettings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(
                connect=settings.connect_timeout_seconds, read=settings.read_timeout_seconds
            ),
            maxsize=16,
            cert_reqs="CERT_REQUIRED",
            # The one trust rule (system store + SSL_CERT_FILE + blobs.s3.ca_bundle), never certifi.
            ssl_context=client_ssl_context(settings.ca_bundle) if settings.secure else None,
            retries=urllib3.Retry(
                total=settings.retries,
                backoff_factor=0.2,
                status_forcelist=[500, 502, 503, 504],
                allowed_methods=None,  # every method: PUTs of whole objects are idempotent
                raise_on_status=False,
            ),
        )
        self.client = Minio(
            settings.endpoint,
            access_key=settings.access_key.get_secret_value() if settings.access_key else None,
            secret_key=settings.secret_key.get_secret_value() if settings.secret_key else None,
            secure=settings.secure,
            region=settings.region,
            http_client=http,
        )
        if not settings.path_style:
            self.client.enable_virtual_style_endpoint()  # type: ignore[no-untyped-call]

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def run() -> T:
            return fn(*args, **kwargs)

        try:
            return await anyio.to_thread.run_sync(run)
        except S3Error as exc:
            if exc.code in _MISSING:
                raise BlobNotFoundError(exc.object_name or "") from None
            raise _unavailable(exc) from exc
        except (MinioException, Urllib3Error, OSError) as exc:
            raise _unavailable(exc) from exc
        except Exception as exc:
            # Whatever else the client raises on a strange answer (an HTML page from a load
            # balancer makes its XML parser raise ParseError): the store is not usable, and
            # the caller must see the one exception it handles, never a crash at start-up.
            raise BlobUnavailableError(
                f"object store answered something that is not S3: {type(exc).__name__}",
                reason="object store answer not understood",
            ) from exc

    # --- lifecycle ------------------------------------------------------
    async def start(self) -> None:
        """Check the bucket exists; create it when allowed."""
        if await self._call(self.client.bucket_exists, self.bucket):
            return
        if not self.settings.create_bucket:
            raise BlobUnavailableError(
                f"bucket {self.bucket!r} does not exist and blobs.s3.create_bucket is false",
                reason="bucket missing",
            )
        try:
            await self._call(self.client.make_bucket, self.bucket, self.settings.region)
        except BlobUnavailableError:
            if not await self._call(self.client.bucket_exists, self.bucket):  # lost a race: fine
                raise

    async def check(self) -> None:
        try:
            if not await self._call(self.client.bucket_exists, self.bucket):
                await self.start()  # creates it when allowed, else says why
        except BlobUnavailableError as exc:
            # For the operator (readiness details for admins): where it was trying to go.
            where = f"{'https' if self.settings.secure else 'http'}://{self.settings.endpoint}/{self.bucket}"
            raise BlobUnavailableError(f"{exc} ({where})", reason=exc.reason) from exc

    # --- objects --------------------------------------------------------
    async def put(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> int:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed below
        try:
            size = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLargeError(max_bytes)
                await anyio.to_thread.run_sync(spool.write, chunk)
            spool.seek(0)
            await self._call(
                self.client.put_object,
                self.bucket,
                key,
                spool,
                size,
                content_type="application/octet-stream",
                part_size=PART_SIZE,
            )
            return size
        finally:
            spool.close()

    async def get(self, key: str) -> AsyncIterator[bytes]:
        response = await self._call(self.client.get_object, self.bucket, key)
        try:
            while True:
                chunk = await self._call(response.read, CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def delete(self, key: str) -> None:
        """Remove every version and delete marker of ``key`` (plain delete when unversioned)."""

        def remove_all() -> int:
            removed = 0
            try:
                versions = list(self.client.list_objects(self.bucket, prefix=key, include_version=True))
            except S3Error as exc:
                if exc.code not in _NO_VERSIONING:
                    raise
                # Stores without versioning support (e.g. Garage): one plain delete is complete.
                self.client.remove_object(self.bucket, key)
                return 1
            for obj in versions:
                if obj.object_name != key:
                    continue  # a longer key sharing the prefix
                self.client.remove_object(self.bucket, key, version_id=obj.version_id)
                removed += 1
            return removed

        await self._call(remove_all)

    async def versions(self, key: str) -> int:
        def count() -> int:
            try:
                return sum(
                    1
                    for v in self.client.list_objects(self.bucket, prefix=key, include_version=True)
                    if v.object_name == key
                )
            except S3Error as exc:
                if exc.code not in _NO_VERSIONING:
                    raise
                try:
                    self.client.stat_object(self.bucket, key)
                    return 1
                except S3Error:
                    return 0

        return await self._call(count)

    async def keys(self, prefix: str) -> list[str]:
        def listing() -> list[str]:
            found = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            return sorted(str(o.object_name) for o in found if o.object_name and not o.is_delete_marker)

        return await self._call(listing)

    async def prune_versions(self, key: str) -> int:
        """Remove older versions and delete markers of ``key``, keeping the newest version."""

        def prune() -> int:
            try:
                versions = [
                    v
                    for v in self.client.list_objects(self.bucket, prefix=key, include_version=True)
                    if v.object_name == key
                ]
            except S3Error as exc:
                if exc.code in _NO_VERSIONING:
                    return 0
                raise
            keep = next(
                (v for v in versions if str(v.is_latest).lower() == "true" and not v.is_delete_marker), None
            )
            removed = 0
            for version in versions:
                if keep is not None and version.version_id == keep.version_id:
                    continue
                self.client.remove_object(self.bucket, key, version_id=version.version_id)
                removed += 1
            return removed

        return await self._call(prune)
