"""Data-subject exports: a signed bundle that verifies offline.

A bundle is a folder (format in docs/export-format.md):

    manifest.json      format and generator versions, subject, range, creation time, counts,
                       and the SHA-256 and size of every other file
    manifest.sig       Ed25519 signature over manifest.json's exact bytes (base64)
    threads.jsonl      one thread per line, as the API shows it, with its routing columns
    items.jsonl        one item per line
    attachments.jsonl  one attachment record per line
    audit.jsonl        the audit entries about the subject
    *.parquet          the same three tables as Parquet (for analysts)
    files/<attachment id>/<name>   each uploaded file, decrypted

The server writes it as a job (``residency.export``) into a staging folder: rows from
one read transaction (a consistent snapshot while writes go on), streamed to files page
by page (no bundle in memory), decrypted on the reader thread. The finished bundle is then
kept in the blob store, **encrypted** under the subject's data key like everything else
people wrote (so every replica can serve it, and erasing the subject shreds it too), and
removed after ``exports.keep_hours``. The CLI downloads the files (resumable: HTTP ranges)
and verifies them with the public key alone: ``admin export verify`` needs no server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import anyio
import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chatkit_onprem import __version__
from chatkit_onprem.blobs import BlobBackend, BlobNotFoundError, object_key
from chatkit_onprem.chat.attachments import system_context
from chatkit_onprem.chat.content import safe_name
from chatkit_onprem.crypto.blobs import BlobCipher
from chatkit_onprem.logging import get_logger
from chatkit_onprem.residency.audit import public_row
from chatkit_onprem.residency.duty_cycle import DutyCycle
from chatkit_onprem.residency.jobs import JobContext
from chatkit_onprem.store import export as sql
from chatkit_onprem.store.audit import AuditRows
from chatkit_onprem.store.codec import PayloadCodec, ShreddedError
from chatkit_onprem.store.database import Cursor, Database
from chatkit_onprem.store.jobs import JobRows

log = get_logger(__name__)

EXPORT = "residency.export"
FORMAT = "chatkit-onprem-export"
FORMAT_VERSION = 1
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
TABLES = ("threads", "items", "attachments")
#: Each JSON-lines file's columns as its Parquet twin types them. The stored record (thread,
#: item, attachment) is one JSON column: its shape differs by type (a widget, a workflow, a
#: message), and a schema inferred from a sample fails on a shape the sample did not hold.
PARQUET_COLUMNS: dict[str, dict[str, str]] = {
    "threads": {
        "id": "VARCHAR",
        "tenant": "VARCHAR",
        "user": "VARCHAR",
        "created_at": "TIMESTAMPTZ",
        "updated_at": "TIMESTAMPTZ",
        "status": "VARCHAR",
        "thread": "JSON",
    },
    "items": {
        "thread_id": "VARCHAR",
        "id": "VARCHAR",
        "type": "VARCHAR",
        "created_at": "TIMESTAMPTZ",
        "item": "JSON",
    },
    "attachments": {
        "id": "VARCHAR",
        "tenant": "VARCHAR",
        "user": "VARCHAR",
        "thread_id": "VARCHAR",
        "created_at": "TIMESTAMPTZ",
        "size": "BIGINT",
        "attachment": "JSON",
    },
}


# --- signing keys -------------------------------------------------------------------
def load_signing_key(configured: str | None, dev_path: Path) -> Ed25519PrivateKey:
    """The configured key (PEM, or base64 of the 32-byte seed), else a development key made once."""
    if configured is not None:
        return _parse_private(configured.strip())
    if dev_path.exists():
        return _parse_private(dev_path.read_text(encoding="utf-8"))
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    dev_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dev_path.parent, prefix=f".{dev_path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        os.chmod(tmp, 0o600)
        os.link(tmp, dev_path)  # atomic; another worker may have made it first: use theirs
    except FileExistsError:
        return _parse_private(dev_path.read_text(encoding="utf-8"))
    finally:
        Path(tmp).unlink(missing_ok=True)
    return key


def _parse_private(text: str) -> Ed25519PrivateKey:
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("exports.signing_key: not an Ed25519 private key")
        return key
    seed = base64.b64decode(text, validate=True)
    if len(seed) != 32:
        raise ValueError("exports.signing_key: base64 of a 32-byte Ed25519 seed expected")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


# --- writing ----------------------------------------------------------------------
class _HashingFile:
    """A file written once, hashed as it goes (the manifest needs every file's SHA-256).

    Lines are gathered into 1 MB blocks before they are written and hashed: per line, the
    two calls cost more than the line's own encoding."""

    BLOCK = 1 << 20

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._out: IO[bytes] = path.open("wb")
        self._hash = hashlib.sha256()
        self._pending = bytearray()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._pending += data
        self.size += len(data)
        if len(self._pending) >= self.BLOCK:
            self._drain()

    def _drain(self) -> None:
        self._out.write(self._pending)
        self._hash.update(self._pending)
        self._pending.clear()

    def close(self) -> tuple[str, int]:
        self._drain()
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        return self._hash.hexdigest(), self.size


def _iso(value: Any) -> str | None:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else None


@dataclass(slots=True)
class _Snapshot:
    threads: int = 0
    items: int = 0
    attachments: int = 0
    unreadable: int = 0
    files: list[tuple[str, str, str, str, bool]] | None = None  # (attachment id, tenant, user, name, preview)


class Exporter:
    def __init__(
        self,
        db: Database,
        codec: PayloadCodec,
        blobs: BlobBackend,
        cipher: BlobCipher,
        signing_key: Ed25519PrivateKey,
        staging: Path,
        *,
        keep_hours: float = 24.0,
        duty_cycle: float = 1.0,
    ) -> None:
        self.db = db
        self.duty_cycle = duty_cycle
        self.codec = codec
        self.blobs = blobs
        self.cipher = cipher
        self.key = signing_key
        self.staging = staging
        self.keep_hours = keep_hours
        self._sweeper: asyncio.Task[None] | None = None

    def folder(self, job_id: str) -> Path:
        return self.staging / job_id

    @staticmethod
    def object_key(job_id: str, path: str) -> str:
        """Where a bundle file is kept: names from the bundle never reach the object store."""
        return f"x/{job_id}/{hashlib.sha256(path.encode()).hexdigest()[:40]}"

    @staticmethod
    def key_subject(params: dict[str, Any]) -> tuple[str, str]:
        """Whose data key seals the bundle: the user's, or the tenant's ``*`` key (tenant and
        thread exports); a user or tenant erasure destroys it with the rest."""
        return str(params["tenant"]), str(params.get("user") or "*")

    async def run(self, ctx: JobContext) -> dict[str, Any]:
        params = ctx.params
        folder = self.folder(ctx.id)
        state: dict[str, Any] = dict(ctx.cursor or {"phase": "rows"})
        if state["phase"] in ("files", "parquet", "sign") and not folder.is_dir():
            state = {"phase": "rows"}  # resumed on another replica: its staging folder is elsewhere
        if state["phase"] == "rows":
            # A restart mid-snapshot starts the snapshot over (a new, equally consistent one).
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            snapshot, hashes = await self.db.read(lambda cur: self._write_rows(cur, params, folder))
            hashes.update(await self._write_audit(params, folder))
            state = {
                "phase": "files",
                "done_files": [],
                "hashes": hashes,
                "counts": {
                    "threads": snapshot.threads,
                    "items": snapshot.items,
                    "attachments": snapshot.attachments,
                    "unreadable_rows": snapshot.unreadable,
                },
                "files": snapshot.files,
            }
            await ctx.report(
                add=snapshot.threads + snapshot.items + snapshot.attachments, total=None, cursor=state
            )
        if state["phase"] == "files":
            done = set(state["done_files"])
            for attachment_id, tenant, user, name, _ in state["files"] or []:
                if attachment_id in done:
                    continue
                path = f"files/{attachment_id}/{safe_name(name) or 'file'}"
                digest = await self._write_file(folder / path, tenant, user, attachment_id)
                if digest is not None:
                    state["hashes"][path] = digest
                done.add(attachment_id)
                state["done_files"] = sorted(done)
                await ctx.report(add=1, cursor=state)
            state["counts"]["files"] = sum(1 for p in state["hashes"] if p.startswith("files/"))
            state["phase"] = "parquet"
            await ctx.report(cursor=state)
        if state["phase"] == "parquet":
            # Throttled, the conversion gets one core: the streams keep the others.
            threads = 1 if self.duty_cycle < 1 else None
            state["hashes"].update(
                await asyncio.to_thread(sql.jsonl_to_parquet, folder, PARQUET_COLUMNS, threads)
            )
            state["phase"] = "sign"
            await ctx.report(cursor=state)
        manifest = self._manifest(ctx, params, state)
        sizes = await self._keep(ctx.id, params, folder, [MANIFEST, SIGNATURE, *sorted(state["hashes"])])
        shutil.rmtree(folder, ignore_errors=True)
        return {
            "bundle": ctx.id,
            "counts": manifest["counts"],
            "manifest_sha256": manifest["sha256"],
            "files": sizes,
            "expires_at": (datetime.now(UTC) + timedelta(hours=self.keep_hours)).isoformat(),
        }

    async def _keep(
        self, job_id: str, params: dict[str, Any], folder: Path, paths: list[str]
    ) -> dict[str, int]:
        """Every bundle file, sealed under the subject's data key, into the blob store."""
        tenant, user = self.key_subject(params)
        sizes: dict[str, int] = {}
        for path in paths:
            encryptor = await self.cipher.encryptor(tenant, user, job_id, f"export:{path}")

            async def sealed(source: Path = folder / path, enc: Any = encryptor) -> AsyncIterator[bytes]:
                async with await anyio.open_file(source, "rb") as handle:
                    while block := await handle.read(256 * 1024):
                        if out := enc.update(block):
                            yield out
                yield enc.finalize()

            sizes[path] = (folder / path).stat().st_size
            await self.blobs.put(
                self.object_key(job_id, path), sealed(), max_bytes=sizes[path] * 2 + 1024 * 1024
            )
        return sizes

    # --- serving a kept bundle ---------------------------------------------------
    async def open_file(
        self, job_id: str, params: dict[str, Any], path: str, start: int = 0
    ) -> AsyncIterator[bytes]:
        """A bundle file's bytes from ``start`` on, authenticated whole before the first is sent."""
        tenant, user = self.key_subject(params)
        chunks = self.blobs.get(self.object_key(job_id, path))
        opener = await self.cipher.fetch(chunks, tenant, user, job_id, f"export:{path}", verify=True)
        return opener.stream(start)

    async def expire(self, jobs: JobRows) -> int:
        """Remove the kept bundles of exports older than ``keep_hours``; return how many."""
        cutoff = datetime.now(UTC) - timedelta(hours=self.keep_hours)
        removed = 0
        last = None
        while page := await jobs.finished_before(EXPORT, cutoff, after=last):
            last = page[-1]
            for job in page:
                result = job.result or {}
                if not result.get("files"):
                    continue
                for path in result["files"]:
                    await self.blobs.delete(self.object_key(job.id, path))
                await jobs.set_result(job.id, {**result, "files": {}, "expired": True})
                removed += 1
        if removed:
            log.info("expired export bundles removed", exports=removed)
        return removed

    def start(self, jobs: JobRows, interval: float = 600.0) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep(jobs, interval), name="export-expiry"
            )

    async def _sweep(self, jobs: JobRows, interval: float) -> None:
        while True:
            try:
                await self.expire(jobs)
            except Exception:
                log.exception("removing expired export bundles failed")
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        task, self._sweeper = self._sweeper, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _write_rows(
        self, cur: Cursor, params: dict[str, Any], folder: Path
    ) -> tuple[_Snapshot, dict[str, Any]]:
        """On one reader thread, inside one read transaction: the snapshot."""
        tenant, user, thread_id = params["tenant"], params.get("user"), params.get("thread_id")
        since = datetime.fromisoformat(params["since"]) if params.get("since") else None
        until = datetime.fromisoformat(params["until"]) if params.get("until") else None
        snap = _Snapshot(files=[])
        pacing = DutyCycle(self.duty_cycle)
        files = {name: _HashingFile(folder / f"{name}.jsonl") for name in TABLES}
        sql.begin_snapshot(cur, self.db.dialect)
        try:
            thread_ids: list[str] = []
            for row in sql.thread_rows(cur, tenant, user, thread_id, since, until):
                body = self._open(cur, "threads", row[0], row[1], row[2], row[6], row[7], snap)
                if body is None:
                    continue
                thread_ids.append(row[0])
                files["threads"].write(
                    _line(
                        {
                            "id": row[0],
                            "tenant": row[1],
                            "user": row[2],
                            "created_at": _iso(row[3]),
                            "updated_at": _iso(row[4]),
                            "status": row[5],
                        },
                        "thread",
                        body,
                    )
                )
                snap.threads += 1
                pacing.tick()
            for row in sql.item_rows(cur, thread_ids, since, until):
                body = self._open(cur, "items", f"{row[0]}/{row[1]}", row[2], row[3], row[6], row[7], snap)
                if body is None:
                    continue
                files["items"].write(
                    _line(
                        {"thread_id": row[0], "id": row[1], "type": row[4], "created_at": _iso(row[5])},
                        "item",
                        body,
                    )
                )
                snap.items += 1
                pacing.tick()
            scoped_threads = thread_ids if (thread_id is not None or since or until) else None
            for row in sql.attachment_rows(cur, tenant, user, scoped_threads):
                body = self._open(cur, "attachments", row[0], row[1], row[2], row[5], row[6], snap)
                if body is None:
                    continue
                files["attachments"].write(
                    _line(
                        {
                            "id": row[0],
                            "tenant": row[1],
                            "user": row[2],
                            "thread_id": row[3],
                            "created_at": _iso(row[4]),
                            "size": int(row[7]),
                        },
                        "attachment",
                        body,
                    )
                )
                snap.attachments += 1
                pacing.tick()
                if row[9]:
                    name = json.loads(body).get("name") or "file"
                    assert snap.files is not None
                    snap.files.append((row[0], row[1], row[2], name, bool(row[8])))
        finally:
            sql.end_snapshot(cur)
        hashes = {}
        for name, handle in files.items():
            digest, size = handle.close()
            hashes[f"{name}.jsonl"] = [digest, size]
        return snap, hashes

    def _open(
        self,
        cur: Cursor,
        table: str,
        row_id: str,
        tenant: str,
        user: str,
        month: Any,
        payload: Any,
        snap: _Snapshot,
    ) -> bytes | None:
        try:
            return self.codec.open(cur, table, row_id, tenant, user, month, bytes(payload))
        except ShreddedError:
            snap.unreadable += 1  # its key was destroyed: nothing left to export
            return None

    async def _write_audit(self, params: dict[str, Any], folder: Path) -> dict[str, Any]:
        rows = AuditRows(self.db)
        handle = _HashingFile(folder / "audit.jsonl")
        after = 0
        while page := await rows.page(
            after_seq=after, limit=5000, tenant=params["tenant"], user=params.get("user")
        ):
            for row in page:
                handle.write(json.dumps(public_row(row), sort_keys=True).encode() + b"\n")
            after = page[-1].seq
        digest, size = handle.close()
        return {"audit.jsonl": [digest, size]}

    async def _write_file(self, path: Path, tenant: str, user: str, attachment_id: str) -> list[Any] | None:
        key = object_key(system_context(tenant, user), attachment_id)
        try:
            opener = await self.cipher.fetch(self.blobs.get(key), tenant, user, attachment_id, "blob")
        except BlobNotFoundError:
            return None
        try:
            handle = _HashingFile(path)
            blocks = opener.chunks()
            while block := await anyio.to_thread.run_sync(next, blocks, b""):
                handle.write(block)
            digest, size = handle.close()
            return [digest, size]
        finally:
            opener.close()

    def _manifest(self, ctx: JobContext, params: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
        folder = self.folder(ctx.id)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "generator": f"chatkit-onprem {__version__}",
            "export_id": ctx.id,
            "subject": {
                k: params.get(k) for k in ("tenant", "user", "thread_id") if params.get(k) is not None
            },
            "range": {"since": params.get("since"), "until": params.get("until")},
            "created_at": datetime.now(UTC).isoformat(),
            "counts": state["counts"],
            "files": {path: {"sha256": h[0], "bytes": h[1]} for path, h in sorted(state["hashes"].items())},
            "signature": {
                "algorithm": "Ed25519",
                "signed_file": MANIFEST,
                "public_key_sha256": key_fingerprint(self.key.public_key()),
            },
        }
        data = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
        (folder / MANIFEST).write_bytes(data)
        (folder / SIGNATURE).write_text(base64.b64encode(self.key.sign(data)).decode() + "\n")
        return {**manifest, "sha256": hashlib.sha256(data).hexdigest()}


_COLUMNS = msgspec.json.Encoder(order="sorted")


def _line(columns: dict[str, Any], name: str, body: bytes) -> bytes:
    """``{...columns, "<name>": <payload JSON>}``: the stored JSON goes in as it is (no re-parse)."""
    return _COLUMNS.encode(columns)[:-1] + b',"' + name.encode() + b'":' + body + b"}\n"


# --- verifying (offline) -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BundleCheck:
    ok: bool
    problem: str | None
    manifest: dict[str, Any] | None


def verify_bundle(folder: Path, public_key_pem: bytes) -> BundleCheck:
    """Signature, then every file's size and SHA-256, then no file the manifest does not list."""
    try:
        public = serialization.load_pem_public_key(public_key_pem)
    except ValueError:
        return BundleCheck(False, "the public key file is not a PEM public key", None)
    if not isinstance(public, Ed25519PublicKey):
        return BundleCheck(False, "the public key is not an Ed25519 key", None)
    manifest_path, signature_path = folder / MANIFEST, folder / SIGNATURE
    if not manifest_path.is_file() or not signature_path.is_file():
        return BundleCheck(False, f"{folder} is not an export bundle (no {MANIFEST} and {SIGNATURE})", None)
    data = manifest_path.read_bytes()
    try:
        public.verify(base64.b64decode(signature_path.read_text().strip(), validate=True), data)
    except (InvalidSignature, ValueError):
        return BundleCheck(
            False, f"{MANIFEST}: the signature does not match (changed, or signed by another key)", None
        )
    try:
        manifest = json.loads(data)
    except ValueError:
        return BundleCheck(False, f"{MANIFEST}: not JSON", None)
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        return BundleCheck(False, f"{MANIFEST}: format is not {FORMAT} v{FORMAT_VERSION}", manifest)
    listed: dict[str, Any] = manifest.get("files", {})
    for relative, expected in sorted(listed.items()):
        path = folder / relative
        if ".." in Path(relative).parts or not path.is_file():
            return BundleCheck(False, f"{relative}: missing", manifest)
        if path.stat().st_size != expected["bytes"]:
            return BundleCheck(
                False, f"{relative}: size {path.stat().st_size}, manifest says {expected['bytes']}", manifest
            )
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(1024 * 1024):
                digest.update(block)
        if digest.hexdigest() != expected["sha256"]:
            return BundleCheck(False, f"{relative}: SHA-256 does not match the manifest", manifest)
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if (
            path.is_file()
            and relative not in listed
            and relative not in (MANIFEST, SIGNATURE)
            and not relative.endswith(".part")
        ):
            return BundleCheck(False, f"{relative}: not listed in the manifest", manifest)
    return BundleCheck(True, None, manifest)
