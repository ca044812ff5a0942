"""Helpers for upload tests: a real S3 server (moto, over HTTP on loopback), files, uploads."""

from __future__ import annotations

import io
import random
from typing import Any

import httpx
from minio import Minio
from moto.server import ThreadedMotoServer
from PIL import Image

from tests.support.client import ChatKitClient

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"  # moto does not check signatures; any pair works


class MotoS3:
    """moto in server mode on 127.0.0.1; can be stopped and restarted on the same port.

    State lives in this (the test) process, so objects survive a stop/start.
    """

    def __init__(self) -> None:
        self.port = 0
        self._server: ThreadedMotoServer | None = None

    def start(self) -> MotoS3:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self.port = server.get_host_and_port()[1]
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            inner = self._server._server
            if inner is not None:
                inner.server_close()  # release the port so a restart can bind it again
            self._server = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> Minio:
        return Minio(self.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)


def s3_config(moto: MotoS3, bucket: str, **blobs: Any) -> dict[str, Any]:
    return {
        "blobs": {
            "backend": "s3",
            "s3": {
                "endpoint": f"http://{moto.endpoint}",
                "bucket": bucket,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "region": "us-east-1",
                "connect_timeout_seconds": 1,
                "read_timeout_seconds": 5,
                "retries": 0,
            },
            **blobs,
        }
    }


def png_bytes(width: int = 800, height: int = 600, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (rng.randrange(256), 40, 90))
    for _ in range(200):
        x, y = rng.randrange(width), rng.randrange(height)
        image.putpixel((x, y), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf_bytes(size: int = 5000) -> bytes:
    body = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"
    return body + b"%" + bytes(random.Random(size).randrange(32, 127) for _ in range(size)) + b"\n%%EOF\n"


def upload_direct(
    client: ChatKitClient, name: str, data: bytes, mime: str = "application/octet-stream"
) -> httpx.Response:
    return client.http.post("/files", files={"file": (name, data, mime)})


def create_two_phase(client: ChatKitClient, name: str, size: int, mime: str) -> dict[str, Any]:
    created: dict[str, Any] = client.call(
        "attachments.create", {"name": name, "size": size, "mime_type": mime}
    )
    return created


def upload_two_phase(
    client: ChatKitClient, name: str, data: bytes, mime: str
) -> tuple[dict[str, Any], httpx.Response]:
    created = create_two_phase(client, name, len(data), mime)
    descriptor = created["upload_descriptor"]
    assert descriptor["url"].startswith(client.base_url + "/files/"), descriptor
    response = client.http.request(
        descriptor["method"], descriptor["url"], files={"file": (name, data, mime)}
    )
    return created, response


def object_names(s3: Minio, bucket: str) -> list[str]:
    return sorted(o.object_name for o in s3.list_objects(bucket, recursive=True))


def all_versions(s3: Minio, bucket: str) -> list[tuple[str, str | None, bool]]:
    return sorted(
        (o.object_name, o.version_id, bool(o.is_delete_marker))
        for o in s3.list_objects(bucket, recursive=True, include_version=True)
    )
