"""The object store goes down and comes back: uploads 503 with a clear message, chat keeps working."""

from __future__ import annotations

import time

import httpx

from tests.support.client import ChatKitClient, errors
from tests.uploads.support import MotoS3, png_bytes, s3_config, upload_direct, upload_two_phase

# Optional dependencies are checked in the background at this interval (chatkit_onprem.readiness).
FAST_CHECKS = {"server": {"dependency_check_seconds": 0.3}}


def wait_blobs(url: str, prefix: str, timeout: float = 15) -> httpx.Response:
    """/readyz once its blobs check starts with ``prefix``; the pod stays ready (200) throughout."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{url}/readyz", timeout=10)
        if response.json()["checks"]["blobs"].startswith(prefix) or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_store_down_and_back(make_server, moto: MotoS3) -> None:
    server = make_server({**s3_config(moto, "down-and-back", orphan_sweep_interval_seconds=0), **FAST_CHECKS})
    alice = ChatKitClient(server.url)
    kept = upload_direct(alice, "kept.png", png_bytes(), "image/png").json()
    created = alice.call("attachments.create", {"name": "n.txt", "size": 5, "mime_type": "text/plain"})

    moto.stop()
    try:
        ready = wait_blobs(server.url, "failing")
        assert ready.status_code == 200  # chat keeps working: the pod stays in the Service
        assert ready.json()["checks"]["blobs"] == "failing: object store unreachable"
        assert ready.json()["checks"]["store"] == "ok"

        for response in (
            upload_direct(alice, "a.txt", b"hello\n", "text/plain"),
            alice.http.post(
                f"/files/{created['id']}", content=b"hello", headers={"content-type": "text/plain"}
            ),
            alice.http.get(f"/files/{kept['id']}"),
        ):
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["code"] == "object_store_unavailable"
            assert "chat keeps working" in error["message"]
            assert response.headers["retry-after"] == "10"

        # Chat does not depend on the object store.
        thread_id, events = alice.create_thread("hello while the store is down")
        assert not errors(events)
        assert alice.call("threads.get_by_id", {"thread_id": thread_id})["id"] == thread_id
        # Deleting an attachment needs the store: refused with 503, the record kept for a retry.
        assert alice.post("attachments.delete", {"attachment_id": kept["id"]}).status_code == 503
    finally:
        moto.start()  # same port: the server's endpoint works again

    assert wait_blobs(server.url, "ok").json()["checks"]["blobs"] == "ok"
    assert alice.http.get(f"/files/{kept['id']}").content == png_bytes()
    retried = alice.http.post(
        f"/files/{created['id']}", content=b"hello", headers={"content-type": "text/plain"}
    )
    assert retried.status_code == 200, retried.text  # the failed attempt left no reservation behind
    _, fresh = upload_two_phase(alice, "after.txt", b"back again\n", "text/plain")
    assert fresh.status_code == 200, fresh.text


def test_server_starts_with_the_store_down_and_creates_the_bucket_later(make_server) -> None:
    s3 = MotoS3().start()
    s3.stop()  # its port is known, nothing listens there yet
    server = make_server({**s3_config(s3, "late-bucket", orphan_sweep_interval_seconds=0), **FAST_CHECKS})
    try:
        # Started and ready although the object store is down: only uploads are degraded.
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["blobs"] == "failing: object store unreachable"
        assert "object store not ready at start-up" in server.log()
        s3.start()
        assert wait_blobs(server.url, "ok").json()["checks"]["blobs"] == "ok"
        assert s3.client().bucket_exists("late-bucket")  # created by the background check
        alice = ChatKitClient(server.url)
        assert upload_direct(alice, "a.txt", b"hello\n", "text/plain").status_code == 200
    finally:
        server.stop()
        s3.stop()


def test_thread_deleted_while_the_store_is_down_is_cleaned_up_when_it_is_back(
    make_server, moto: MotoS3
) -> None:
    bucket = "deferred-delete"
    server = make_server(s3_config(moto, bucket, orphan_max_age_seconds=1, orphan_sweep_interval_seconds=1))
    alice = ChatKitClient(server.url)
    attachment_id = upload_direct(alice, "p.png", png_bytes(seed=5), "image/png").json()["id"]
    thread_id, _ = alice.create_thread("placeholder")
    events = alice.stream(
        "threads.add_user_message",
        {
            "thread_id": thread_id,
            "input": {
                "content": [{"type": "input_text", "text": "pic"}],
                "attachments": [attachment_id],
                "inference_options": {},
            },
        },
    )
    assert not errors(events)
    s3 = moto.client()
    assert any(attachment_id in o.object_name for o in s3.list_objects(bucket, recursive=True))

    moto.stop()
    try:
        # The thread goes at once; its objects cannot, and are left to the sweep.
        assert alice.call("threads.delete", {"thread_id": thread_id}) == {}
        time.sleep(2.5)  # sweeps run meanwhile and pause on the unavailable store
        assert "orphan sweep paused" in server.log()
    finally:
        moto.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        names = [o.object_name for o in s3.list_objects(bucket, recursive=True, include_version=True)]
        if not any(attachment_id in n for n in names):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"objects of the deleted thread are still in the bucket: {names}")
