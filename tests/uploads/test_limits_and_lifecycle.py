"""Quota, orphan collection, data: previews (S3), and the local-folder backend."""

from __future__ import annotations

import base64
import os
import stat
import time
from pathlib import Path

import httpx

from tests.support.client import ChatKitClient, text_input
from tests.uploads.support import (
    MotoS3,
    all_versions,
    object_names,
    pdf_bytes,
    png_bytes,
    s3_config,
    upload_direct,
    upload_two_phase,
)


def test_per_user_quota(make_server, moto: MotoS3) -> None:
    server = make_server(
        s3_config(
            moto, "quota", max_file_bytes=600_000, user_quota_bytes=1_000_000, orphan_sweep_interval_seconds=0
        )
    )
    alice, bob = ChatKitClient(server.url), ChatKitClient(server.url, user="bob")
    first = upload_direct(alice, "a.pdf", pdf_bytes(450_000), "application/pdf")
    assert first.status_code == 200, first.text
    second = upload_direct(alice, "b.pdf", pdf_bytes(450_000), "application/pdf")
    assert second.status_code == 200, second.text
    third = upload_direct(alice, "c.pdf", pdf_bytes(200_000), "application/pdf")
    assert third.status_code == 413 and third.json()["error"]["code"] == "quota_exceeded", third.text
    assert "quota" in third.json()["error"]["message"]
    # Another user's quota is their own.
    assert upload_direct(bob, "c.pdf", pdf_bytes(200_000), "application/pdf").status_code == 200
    # Deleting frees space.
    assert alice.call("attachments.delete", {"attachment_id": first.json()["id"]}) == {}
    # An unversioned bucket (created by the server): the object is gone too.
    assert [n for n in object_names(moto.client(), "quota") if first.json()["id"] in n] == []
    assert upload_direct(alice, "c.pdf", pdf_bytes(200_000), "application/pdf").status_code == 200


def test_orphan_uploads_are_collected(make_server, moto: MotoS3) -> None:
    bucket = "orphans"
    server = make_server(s3_config(moto, bucket, orphan_max_age_seconds=2, orphan_sweep_interval_seconds=1))
    alice = ChatKitClient(server.url)
    orphan = upload_direct(alice, "o.png", png_bytes(seed=3), "image/png").json()["id"]
    never_sent = alice.call("attachments.create", {"name": "n.txt", "size": 3, "mime_type": "text/plain"})[
        "id"
    ]
    kept = upload_direct(alice, "k.txt", b"keep me\n", "text/plain").json()["id"]
    events = alice.stream("threads.create", {"input": text_input("keep", [kept])})
    assert events
    s3 = moto.client()
    assert any(orphan in n for n in object_names(s3, bucket))

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(orphan in n for n in object_names(s3, bucket)):
        time.sleep(0.5)
    time.sleep(1.5)  # let the sweep finish the record deletes of the same pass
    assert [v for v in all_versions(s3, bucket) if orphan in v[0]] == []
    assert alice.http.get(f"/files/{orphan}").status_code == 404
    assert alice.post("attachments.delete", {"attachment_id": never_sent}).status_code == 404  # record gone
    assert alice.http.get(f"/files/{kept}").content == b"keep me\n"  # attached to a message: kept
    assert "orphan uploads collected" in server.log()


def test_data_url_previews(make_server, moto: MotoS3) -> None:
    server = make_server(s3_config(moto, "dataurl", previews={"mode": "data_url", "max_side_pixels": 64}))
    alice = ChatKitClient(server.url)
    image = upload_direct(alice, "p.png", png_bytes(), "image/png").json()
    assert image["preview_url"].startswith("data:image/webp;base64,")
    thumb = base64.b64decode(image["preview_url"].split(",", 1)[1])
    assert thumb[:4] == b"RIFF" and len(thumb) < 20_000
    events = alice.stream("threads.create", {"input": text_input("img", [image["id"]])})
    thread_id = next(e for e in events if e.type == "thread.created").thread.id
    items = alice.call("items.list", {"thread_id": thread_id})["data"]
    assert (
        next(i for i in items if i["type"] == "user_message")["attachments"][0]["preview_url"]
        == image["preview_url"]
    )


def test_local_backend_encrypts_and_fails_closed(make_server) -> None:
    server = make_server({"blobs": {"backend": "local", "max_file_bytes": 1_000_000}})
    alice = ChatKitClient(server.url)
    data = pdf_bytes(200_000)
    direct = upload_direct(alice, "d.pdf", data, "application/pdf").json()
    _, two_phase = upload_two_phase(alice, "t.png", png_bytes(), "image/png")
    assert two_phase.status_code == 200, two_phase.text
    image = two_phase.json()
    assert httpx.get(image["preview_url"]).status_code == 200

    data_dir = Path(server.config["data_dir"])
    key_file = data_dir / "keys" / "kek-keyring.json"  # the development KEK keyring
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    [path] = [p for p in (data_dir / "blobs").rglob(direct["id"])]
    on_disk = path.read_bytes()
    assert on_disk.startswith(b"CKO2") and data[:100] not in on_disk
    assert alice.http.get(f"/files/{direct['id']}").content == data

    path.write_bytes(on_disk[:-1] + bytes([on_disk[-1] ^ 0x80]))
    tampered = alice.http.get(f"/files/{direct['id']}")
    assert tampered.status_code == 502 and tampered.json()["error"]["code"] == "integrity_check_failed"
    assert alice.call("attachments.delete", {"attachment_id": direct["id"]}) == {}
    assert not path.exists()
    assert [p for p in (data_dir / "blobs").rglob("*") if p.is_file() and direct["id"] in p.name] == []


def test_generated_key_survives_restart(make_server) -> None:
    server = make_server({"blobs": {"backend": "local"}})
    alice = ChatKitClient(server.url)
    attachment = upload_direct(alice, "r.txt", b"still readable\n", "text/plain").json()
    server.stop()
    server.start()
    assert alice.http.get(f"/files/{attachment['id']}").content == b"still readable\n"
    assert os.environ.get("CHATKIT_ONPREM_BLOBS__ENCRYPTION__KEY") is None
    assert not (Path(server.config["data_dir"]) / "keys" / "blob.key").exists()  # no legacy key made
