"""Where attachment bytes live: a local folder (default) or an S3-compatible store.

Backends see ciphertext only: ``chat.attachments`` encrypts before ``put``.
"""

from chatkit_onprem.blobs.base import (
    BlobBackend,
    BlobNotFoundError,
    BlobTooLargeError,
    BlobUnavailableError,
    object_key,
    one_chunk,
)
from chatkit_onprem.blobs.local import LocalBlobBackend
from chatkit_onprem.config import Settings

__all__ = [
    "BlobBackend",
    "BlobNotFoundError",
    "BlobTooLargeError",
    "BlobUnavailableError",
    "LocalBlobBackend",
    "blob_backend",
    "object_key",
    "one_chunk",
]


def blob_backend(settings: Settings) -> BlobBackend:
    """The backend ``blobs.backend`` names."""
    if settings.blobs.backend == "s3":
        from chatkit_onprem.blobs.s3 import S3BlobBackend

        return S3BlobBackend(settings.blobs.s3)
    return LocalBlobBackend(settings.local_blob_path)
