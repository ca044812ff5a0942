"""Uploads against a real S3 protocol server (moto over HTTP): both strategies, checks, previews, deletes."""

from __future__ import annotations

import base64
import io
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from chatkit_onprem.chat.previews import PreviewSigner
from chatkit_onprem.crypto.legacy_keys import StaticKeyProvider
from tests.support.client import ChatKitClient, errors, text_input
from tests.support.server import ServerProcess
from tests.uploads.support import (
    MotoS3,
    all_versions,
    create_two_phase,
    object_names,
    pdf_bytes,
    png_bytes,
    s3_config,
    upload_direct,
    upload_two_phase,
)

BUCKET = "uploads-main"
KEY = os.urandom(32)
MAX_FILE = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def server(moto: MotoS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    s3 = moto.client()
    s3.make_bucket(BUCKET)
    from minio.versioningconfig import ENABLED, VersioningConfig

    s3.set_bucket_versioning(BUCKET, VersioningConfig(ENABLED))
    config = s3_config(
        moto,
        BUCKET,
        max_file_bytes=MAX_FILE,
        encryption={"key": base64.b64encode(KEY).decode()},
        orphan_sweep_interval_seconds=0,
    )
    config["blobs"]["s3"]["create_bucket"] = False  # the bucket must exist: start-up only checks it
    proc = ServerProcess(tmp_path_factory.mktemp("s3srv"), config).start()
    yield proc
    proc.stop()
    assert proc.egress() == []


@pytest.fixture
def alice(server: ServerProcess) -> ChatKitClient:
    return ChatKitClient(server.url, user="alice", tenant="acme")


@pytest.fixture
def bob(server: ServerProcess) -> ChatKitClient:
    return ChatKitClient(server.url, user="bob", tenant="acme")


def signer() -> PreviewSigner:
    """A signer with the old blob-key-derived key: the server no longer accepts it."""
    return PreviewSigner(StaticKeyProvider(KEY).derive("preview-url-signing"), 3600)


def keys_of(moto: MotoS3, attachment_id: str) -> list[str]:
    return [n for n in object_names(moto.client(), BUCKET) if attachment_id in n]


def test_direct_upload_is_encrypted_in_the_bucket_and_downloads_intact(
    alice: ChatKitClient, moto: MotoS3
) -> None:
    data = pdf_bytes(300_000)
    response = upload_direct(alice, "report.pdf", data, "application/pdf")
    assert response.status_code == 200, response.text
    attachment = response.json()
    assert attachment["type"] == "file" and attachment["mime_type"] == "application/pdf"
    assert "metadata" not in attachment and "upload_descriptor" not in attachment

    [key] = keys_of(moto, attachment["id"])
    assert "acme" not in key and "alice" not in key  # identities are hashed out of object keys
    stored = moto.client().get_object(BUCKET, key).read()
    assert stored.startswith(b"CKO2") and data[:64] not in stored and len(stored) > len(data)

    got = alice.http.get(f"/files/{attachment['id']}")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith('attachment; filename="report.pdf"')


def test_two_phase_upload_then_attach_to_a_message(alice: ChatKitClient, moto: MotoS3) -> None:
    data = b"name,amount\nwidget,3\n" * 100
    created, response = upload_two_phase(alice, "numbers.csv", data, "text/csv")
    assert created["upload_descriptor"]["method"] == "POST"
    assert response.status_code == 200, response.text
    uploaded = response.json()
    assert uploaded["id"] == created["id"] and uploaded["mime_type"] == "text/csv"
    assert "upload_descriptor" not in uploaded
    assert alice.http.get(f"/files/{created['id']}").content == data

    events = alice.stream("threads.create", {"input": text_input("see file", [created["id"]])})
    assert not errors(events)
    thread = next(e for e in events if e.type == "thread.created").thread
    full = alice.call("threads.get_by_id", {"thread_id": thread.id})
    [message] = [i for i in full["items"]["data"] if i["type"] == "user_message"]
    assert [a["id"] for a in message["attachments"]] == [created["id"]]
    # A second upload to the same id is refused; the bytes stay as they were.
    again = alice.http.post(f"/files/{created['id']}", files={"file": ("x.csv", b"a,b\n", "text/csv")})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_uploaded"


def test_image_preview_is_a_signed_absolute_link_regenerated_on_read(
    alice: ChatKitClient, bob: ChatKitClient, server: ServerProcess
) -> None:
    response = upload_direct(alice, "photo.png", png_bytes(), "image/png")
    assert response.status_code == 200, response.text
    image = response.json()
    assert image["type"] == "image"
    url = image["preview_url"]
    assert url.startswith(f"{server.url}/files/{image['id']}/preview?exp=")

    # No auth headers at all, as a browser <img> would fetch it.
    preview = httpx.get(url)
    assert preview.status_code == 200, preview.text
    assert preview.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(preview.content)) as thumb:
        assert max(thumb.size) <= 256 and thumb.size[0] > thumb.size[1]

    # Re-signed whenever items are read: a thread read gives a link with a fresh expiry.
    events = alice.stream("threads.create", {"input": text_input("look", [image["id"]])})
    thread_id = next(e for e in events if e.type == "thread.created").thread.id
    [echo] = [e.item for e in events if e.type == "thread.item.done" and e.item.type == "user_message"]
    assert str(echo.attachments[0].preview_url).startswith(f"{server.url}/files/{image['id']}/preview?")
    items = alice.call("items.list", {"thread_id": thread_id})["data"]
    link = next(i for i in items if i["type"] == "user_message")["attachments"][0]["preview_url"]
    expires = int(httpx.URL(link).params["exp"])
    assert expires >= time.time() + 3600 - 5
    assert httpx.get(link).status_code == 200

    # Tampered signature, changed expiry, expired link, a link signed for another user.
    base = f"{server.url}/files/{image['id']}/preview"
    sig = httpx.URL(link).params["sig"]
    bad = httpx.get(base, params={"exp": expires, "sig": sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")})
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "invalid_preview_link"
    assert httpx.get(base, params={"exp": expires + 300, "sig": sig}).status_code == 403
    # Links signed with another key (the signing key is a server secret wrapped by the KEK).
    forged = httpx.get(signer().url(server.url, "acme", "alice", image["id"]))
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "invalid_preview_link"

    # The full image is for its owner only.
    assert alice.http.get(f"/files/{image['id']}").content == png_bytes()
    assert bob.http.get(f"/files/{image['id']}").status_code == 404


def test_other_users_cannot_touch_an_attachment(alice: ChatKitClient, bob: ChatKitClient) -> None:
    created = create_two_phase(alice, "a.txt", 5, "text/plain")
    stolen = bob.http.post(
        f"/files/{created['id']}", content=b"hello", headers={"content-type": "text/plain"}
    )
    assert stolen.status_code == 404
    assert bob.post("attachments.delete", {"attachment_id": created["id"]}).status_code == 404
    ok = alice.http.post(f"/files/{created['id']}", content=b"hello", headers={"content-type": "text/plain"})
    assert ok.status_code == 200, ok.text
    other_tenant = alice.as_user("alice", "other-co")
    assert other_tenant.http.get(f"/files/{created['id']}").status_code == 404


def test_size_limit_and_nothing_stored(alice: ChatKitClient, moto: MotoS3) -> None:
    too_big = alice.post(
        "attachments.create", {"name": "big.pdf", "size": MAX_FILE + 1, "mime_type": "application/pdf"}
    )
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "file_too_large"
    before = object_names(moto.client(), BUCKET)
    # The declared size lies: the stream is cut at the limit.
    created = create_two_phase(alice, "big.txt", 10, "text/plain")
    response = alice.http.post(
        f"/files/{created['id']}", content=b"a" * (MAX_FILE + 1), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 413, response.text
    direct = upload_direct(alice, "big.pdf", pdf_bytes(MAX_FILE + 10))
    assert direct.status_code == 413 and direct.json()["error"]["code"] in (
        "file_too_large",
        "body_too_large",
    )
    assert object_names(moto.client(), BUCKET) == before
    # The record is still there, waiting for bytes that fit.
    fits = alice.http.post(
        f"/files/{created['id']}", content=b"small", headers={"content-type": "text/plain"}
    )
    assert fits.status_code == 200, fits.text


def test_types_come_from_content_not_declarations(alice: ChatKitClient) -> None:
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(range(256)) * 20
    refused = upload_direct(alice, "report.pdf", exe, "application/pdf")
    assert refused.status_code == 415, refused.text
    assert refused.json()["error"]["code"] == "unsupported_file_type"
    assert "image/png" in refused.json()["error"]["details"]["allowed_types"]

    # Declared an image (two-phase), but the bytes are a PDF.
    created = create_two_phase(alice, "cat.png", 5000, "image/png")
    liar = alice.http.post(
        f"/files/{created['id']}", content=pdf_bytes(), headers={"content-type": "image/png"}
    )
    assert liar.status_code == 415, liar.text

    # Declared text, really a PNG: stored and labelled as the image it is.
    relabelled = upload_direct(alice, "notes.txt", png_bytes(40, 30), "text/plain")
    assert relabelled.status_code == 200, relabelled.text
    assert relabelled.json()["type"] == "image" and relabelled.json()["mime_type"] == "image/png"

    text = upload_direct(
        alice, "README", "plain text, naïve café\n".encode() * 50, "application/octet-stream"
    )
    assert text.status_code == 200 and text.json()["mime_type"] == "text/plain"
    binary = upload_direct(alice, "blob.bin", os.urandom(5000))
    assert binary.status_code == 415


def test_file_names_are_made_safe(alice: ChatKitClient) -> None:
    response = upload_direct(alice, "../../etc/pass\u202ewd\x00<script>.txt", b"hello\n", "text/plain")
    assert response.status_code == 200, response.text
    name = response.json()["name"]
    assert "/" not in name and "\u202e" not in name and "<" not in name and "\x00" not in name
    assert name.endswith(".txt")


def test_delete_removes_every_version_and_delete_marker(alice: ChatKitClient, moto: MotoS3) -> None:
    s3 = moto.client()
    response = upload_direct(alice, "photo.png", png_bytes(seed=7), "image/png")
    attachment_id = response.json()["id"]
    keys = keys_of(moto, attachment_id)
    assert len(keys) == 2 and any(k.endswith(".preview") for k in keys)  # the object and its thumbnail
    # Make history: an extra version and a delete marker on the main key (as a versioned bucket keeps).
    main = next(k for k in keys if not k.endswith(".preview"))
    s3.put_object(BUCKET, main, io.BytesIO(b"older"), 5)
    s3.remove_object(BUCKET, main)  # no version id: adds a delete marker
    assert len([v for v in all_versions(s3, BUCKET) if attachment_id in v[0]]) >= 4

    assert alice.call("attachments.delete", {"attachment_id": attachment_id}) == {}
    assert [v for v in all_versions(s3, BUCKET) if attachment_id in v[0]] == []
    assert alice.http.get(f"/files/{attachment_id}").status_code == 404


def test_thread_delete_removes_its_objects_with_all_versions(alice: ChatKitClient, moto: MotoS3) -> None:
    s3 = moto.client()
    ids = [
        upload_direct(alice, f"f{i}.png", png_bytes(50, 40, seed=i), "image/png").json()["id"]
        for i in range(2)
    ]
    events = alice.stream("threads.create", {"input": text_input("two", ids)})
    thread_id = next(e for e in events if e.type == "thread.created").thread.id
    assert all(keys_of(moto, i) for i in ids)
    assert alice.call("threads.delete", {"thread_id": thread_id}) == {}
    assert [v for v in all_versions(s3, BUCKET) if any(i in v[0] for i in ids)] == []


def test_tampered_object_fails_closed(alice: ChatKitClient, moto: MotoS3) -> None:
    s3 = moto.client()
    data = pdf_bytes(400_000)  # several 64 KiB chunks
    attachment_id = upload_direct(alice, "t.pdf", data, "application/pdf").json()["id"]
    [key] = keys_of(moto, attachment_id)
    stored = bytearray(s3.get_object(BUCKET, key).read())

    def with_object(body: bytes) -> httpx.Response:
        s3.put_object(BUCKET, key, io.BytesIO(body), len(body))
        return alice.http.get(f"/files/{attachment_id}")

    flipped = bytearray(stored)
    flipped[len(flipped) - 1000] ^= 1  # inside the last chunk: earlier chunks verify fine
    for body in (bytes(flipped), bytes(stored[: len(stored) - 2000]), bytes(stored[:200_000])):
        response = with_object(body)
        assert response.status_code == 502, response.status_code
        assert response.json()["error"]["code"] == "integrity_check_failed"
        assert data[:1000] not in response.content
    # Another user's object copied over this key does not decrypt either (AAD binds the owner).
    other = upload_direct(alice.as_user("carol"), "c.pdf", data, "application/pdf").json()["id"]
    [other_key] = keys_of(moto, other)
    assert with_object(s3.get_object(BUCKET, other_key).read()).status_code == 502
    assert with_object(bytes(stored)).content == data  # the genuine object still reads


def test_upload_cut_midway_leaves_nothing(alice: ChatKitClient, moto: MotoS3, server: ServerProcess) -> None:
    created = create_two_phase(alice, "cut.txt", 1_000_000, "text/plain")
    before = object_names(moto.client(), BUCKET)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            (
                f"POST /files/{created['id']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "X-Dev-User: alice\r\nX-Dev-Tenant: acme\r\nContent-Type: text/plain\r\n"
                "Content-Length: 1000000\r\n\r\n"
            ).encode()
            + b"x" * 300_000
        )
        time.sleep(0.3)
    time.sleep(0.5)
    assert object_names(moto.client(), BUCKET) == before
    record = alice.http.post(
        f"/files/{created['id']}", content=b"complete\n", headers={"content-type": "text/plain"}
    )
    assert record.status_code == 200, record.text  # not marked uploaded, no reservation left behind
    assert alice.http.get(f"/files/{created['id']}").content == b"complete\n"


def test_not_uploaded_attachment_cannot_be_sent(alice: ChatKitClient) -> None:
    created = create_two_phase(alice, "later.txt", 5, "text/plain")
    response = alice.post("threads.create", {"input": text_input("x", [created["id"]])})
    assert response.status_code == 200
    assert any("no content yet" in e.message for e in errors(_events(response.text)))


def _events(body: str) -> list[Any]:
    from tests.support.client import parse_sse

    return parse_sse(body)


def test_key_and_secrets_stay_out_of_logs(server: ServerProcess) -> None:
    log = server.log()
    assert base64.b64encode(KEY).decode() not in log and "test-secret-key" not in log
