"""Where attachment bytes live: a local folder (default) or an S3-compatible store."""

from chatkit_onprem.blobs.base import BlobBackend, BlobNotFoundError, BlobTooLargeError, object_key
from chatkit_onprem.blobs.local import LocalBlobBackend

__all__ = ["BlobBackend", "BlobNotFoundError", "BlobTooLargeError", "LocalBlobBackend", "object_key"]
