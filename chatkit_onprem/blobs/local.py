"""Blobs in a local folder: the embedded default, and the single-node option."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import anyio

from chatkit_onprem.blobs.base import BlobNotFoundError, BlobTooLargeError

CHUNK = 256 * 1024


class LocalBlobBackend:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / ".incoming").mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("object key escapes the blob folder")
        return path

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int) -> int:
        final = self._path(key)
        partial = self.root / ".incoming" / f"{secrets.token_hex(8)}.part"
        size = 0
        try:
            async with await anyio.open_file(partial, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLargeError(max_bytes)
                    await out.write(chunk)
                await out.flush()
                await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
            await anyio.to_thread.run_sync(lambda: final.parent.mkdir(parents=True, exist_ok=True))
            await anyio.to_thread.run_sync(os.replace, partial, final)  # atomic: all or nothing
        finally:
            await anyio.to_thread.run_sync(lambda: partial.unlink(missing_ok=True))
        return size

    async def get(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await anyio.open_file(path, "rb")
        except FileNotFoundError:
            raise BlobNotFoundError(key) from None
        async with handle:
            while chunk := await handle.read(CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def versions(self, key: str) -> int:
        path = self._path(key)
        return 1 if await anyio.to_thread.run_sync(path.exists) else 0

    async def keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix.rpartition("/")[0]) if "/" in prefix else self.root  # walk only there

        def walk() -> list[str]:
            if not folder.is_dir():
                return []
            found = (p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())
            return sorted(k for k in found if k.startswith(prefix) and not k.startswith(".incoming/"))

        return await anyio.to_thread.run_sync(walk)

    async def prune_versions(self, key: str) -> int:
        return 0  # a file replaced in place keeps no older version

    async def check(self) -> None:
        probe = self.root / ".incoming" / ".ready"
        await anyio.to_thread.run_sync(probe.write_bytes, b"ok")

    async def start(self) -> None:
        await self.check()
