"""What an upload really is: types by content sniffing, safe names, thumbnails.

The declared MIME type (``attachments.create`` or a multipart header) is a
client's claim; only the bytes decide what we store and how we label it.
"""

from __future__ import annotations

import io
import re
import unicodedata

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError

SNIFF_BYTES = 8192
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
MAX_IMAGE_PIXELS = 50_000_000  # refuse decompression bombs before decoding

_TEXT_BY_SUFFIX = {
    "csv": "text/csv",
    "md": "text/markdown",
    "markdown": "text/markdown",
    "json": "application/json",
}
_UNSAFE = re.compile(r"[^\w.\- ()\[\]]+", re.UNICODE)


class NotAnImageError(ValueError):
    """Sniffed as an image, but it does not decode (or is far too large to)."""


def safe_name(name: str) -> str:
    """A display name with no path, control characters, bidi tricks or shell surprises."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    return (name or "file")[:200]


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sniffed window is fine.
        if exc.start < len(head) - 4:
            return False
        text = head[: exc.start].decode("utf-8")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return controls == 0


def sniff(head: bytes, name: str) -> str | None:
    """The MIME type the content shows, or None when it is nothing we recognise.

    Binary formats come from their magic numbers; UTF-8 text with no control
    characters is text, its flavour (CSV, Markdown, JSON) taken from the name.
    """
    guessed = filetype.guess_mime(head) if head else None
    if guessed:
        return str(guessed)
    if _is_text(head):
        suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        return _TEXT_BY_SUFFIX.get(suffix, "text/plain")
    return None


def thumbnail(data: bytes, max_side: int) -> bytes:
    """A small WebP of the image (EXIF rotation applied); raises ``NotAnImageError``."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise NotAnImageError(f"image is too large to preview ({image.width}x{image.height})")
            image.seek(0)
            frame = ImageOps.exif_transpose(image)
            frame.thumbnail((max_side, max_side))
            if frame.mode not in ("RGB", "RGBA"):
                frame = frame.convert("RGBA" if "transparency" in frame.info or "A" in frame.mode else "RGB")
            out = io.BytesIO()
            frame.save(out, "WEBP", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImageError(f"image could not be decoded: {exc}") from None
