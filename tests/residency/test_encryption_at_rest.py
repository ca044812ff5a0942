"""Everything people wrote is encrypted at rest, and bad ciphertext or keys fail closed.

Real server over HTTP, a real DuckDB file, uploads in a versioned moto S3 bucket.
"""

from __future__ import annotations

import base64
import json
import os

import httpx
from minio.versioningconfig import ENABLED, VersioningConfig

from tests.residency.support import admin_config, data_dir, execute, query, raw_bytes
from tests.support.client import ChatKitClient, text_input
from tests.uploads.support import MotoS3, png_bytes, s3_config, upload_direct

MARKERS = [f"PLAINTEXT-MARKER-{n}-{os.urandom(3).hex()}" for n in range(6)]


def _bucket_versions(moto: MotoS3, bucket: str) -> list[bytes]:
    s3 = moto.client()
    out = []
    for version in s3.list_objects(bucket, recursive=True, include_version=True):
        if version.is_delete_marker:
            continue
        response = s3.get_object(bucket, version.object_name, version_id=version.version_id)
        try:
            out.append(response.read())
        finally:
            response.close()
            response.release_conn()
    return out


def test_no_plaintext_in_the_data_directory_or_any_object_version(make_server, moto: MotoS3) -> None:
    bucket = "at-rest"
    moto.client().make_bucket(bucket)
    moto.client().set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    config = {**admin_config(), **s3_config(moto, bucket)}
    config["blobs"]["s3"]["create_bucket"] = False
    server = make_server(config)
    alice = ChatKitClient(server.url)

    # Writes: messages, a text file and an image, a widget answer, feedback.
    upload = upload_direct(alice, "notes.txt", f"{MARKERS[0]}\n".encode() * 50, "text/plain").json()
    image = upload_direct(alice, "pic.png", png_bytes(), "image/png").json()
    events = alice.stream(
        "threads.create", {"input": text_input(f"{MARKERS[1]} show me a widget", [upload["id"], image["id"]])}
    )
    thread_id = next(e for e in events if e.type == "thread.created").thread.id
    alice.send(thread_id, f"{MARKERS[2]} and more")
    # Updates: a title set by the user; deletes: a second thread with its own marker.
    alice.call("threads.update", {"thread_id": thread_id, "title": f"{MARKERS[3]} title"})
    gone, _ = alice.create_thread(f"{MARKERS[4]} soon deleted")
    alice.call("threads.delete", {"thread_id": gone})
    items = alice.call("items.list", {"thread_id": thread_id, "limit": 50})["data"]
    assistant = next(i for i in items if i["type"] == "assistant_message")
    alice.call("items.feedback", {"thread_id": thread_id, "item_ids": [assistant["id"]], "kind": "positive"})

    # The API still shows everything to its owner.
    shown = json.dumps(alice.call("threads.get_by_id", {"thread_id": thread_id}))
    assert MARKERS[1] in shown and MARKERS[2] in shown and MARKERS[3] in shown
    assert f"{MARKERS[0]}".encode() in alice.http.get(f"/files/{upload['id']}").content

    server.stop()  # checkpoint: the WAL is folded into the file
    on_disk = raw_bytes(data_dir(server))
    in_bucket = b"".join(_bucket_versions(moto, bucket))
    assert in_bucket, "objects were written"
    for marker in MARKERS[:5]:
        assert marker.encode() not in on_disk, f"{marker} in the data directory"
        assert marker.encode() not in in_bucket, f"{marker} in the bucket"
    png_signature = png_bytes()[:64]
    assert png_signature not in in_bucket
    # Routing columns stay plain, content does not: every row carries its key reference.
    for table in ("threads", "items", "attachments"):
        [(plain,)] = query(server, f"SELECT count(*) FROM {table} WHERE key_id IS NULL")
        assert plain == 0, table


def test_tampered_moved_and_unkeyed_ciphertext_fails_closed(make_server) -> None:
    server = make_server(admin_config())
    alice, bob = ChatKitClient(server.url, user="alice"), ChatKitClient(server.url, user="bob")
    a_thread, _ = alice.create_thread(f"{MARKERS[5]} alice's secret")
    b_thread, _ = bob.create_thread("bob's own words")
    server.stop()

    # One flipped bit in alice's first item.
    [(item_id, payload)] = query(
        server, "SELECT id, payload FROM items WHERE thread_id = ? ORDER BY seq LIMIT 1", [a_thread]
    )
    flipped = bytearray(payload)
    flipped[-3] ^= 0x01
    execute(
        server,
        "UPDATE items SET payload = ? WHERE thread_id = ? AND id = ?",
        [bytes(flipped), a_thread, item_id],
    )
    # Alice's second item's ciphertext copied onto bob's first item (same key month).
    [(_, alice_payload)] = query(
        server, "SELECT id, payload FROM items WHERE thread_id = ? ORDER BY seq DESC LIMIT 1", [a_thread]
    )
    execute(
        server,
        "UPDATE items SET payload = ? WHERE thread_id = ? AND id = (SELECT id FROM items WHERE thread_id = ?"
        " ORDER BY seq LIMIT 1)",
        [alice_payload, b_thread, b_thread],
    )
    server.start()

    tampered = alice.post("items.list", {"thread_id": a_thread})
    assert tampered.status_code == 502, tampered.text
    error = tampered.json()["error"]
    assert error["code"] == "integrity_check_failed" and item_id in error["message"]
    assert MARKERS[5] not in tampered.text
    moved = bob.post("items.list", {"thread_id": b_thread})
    assert moved.status_code == 502 and moved.json()["error"]["code"] == "integrity_check_failed"
    assert MARKERS[5] not in moved.text, "another owner's text is never shown"
    server.stop()

    # A wrong KEK (another keyring) cannot unwrap anything: the server refuses to start and says why.
    keyring = data_dir(server) / "keys" / "kek-keyring.json"
    original = keyring.read_text()
    keyring.write_text(
        json.dumps({"primary": "v1", "keys": {"v1": base64.b64encode(os.urandom(32)).decode()}})
    )
    try:
        server.start(timeout=20)
        raise AssertionError("the server started with a wrong KEK")
    except RuntimeError as exc:
        assert "cannot be unwrapped with KEK 'v1'" in str(exc)
    # The right keyring without the version the data keys are wrapped by: refused, naming it.
    keyring.write_text(
        json.dumps({"primary": "v9", "keys": {"v9": base64.b64encode(os.urandom(32)).decode()}})
    )
    try:
        server.start(timeout=20)
        raise AssertionError("the server started without the KEK version its keys need")
    except RuntimeError as exc:
        assert "KEK version 'v1'" in str(exc)
    keyring.write_text(original)
    server.start()
    assert [t["id"] for t in bob.call("threads.list", {})["data"]] == [b_thread]
    assert httpx.get(f"{server.url}/readyz").status_code == 200
