"""A full disk: writes are refused with 507 ``storage_full`` (or an SSE error with that code),
reads keep working, and writes resume once space returns. Runs on a small tmpfs."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.hardening.conftest import sse_events
from tests.support.client import ChatKitClient, assistant_text, errors, text_input
from tests.support.server import ServerProcess

MakeServer = Callable[..., ServerProcess]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(path: Path) -> None:
    """Write until the disk is full, down to the last byte (unbuffered: nothing left to flush)."""
    with open(path, "wb", buffering=0) as out:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)


def _storage_full(response_json: dict[str, object]) -> None:
    error = response_json["error"]
    assert isinstance(error, dict) and error["code"] == "storage_full", error
    assert "/" not in str(error["message"]), "no paths in the message"


def test_a_full_disk_is_named_reads_work_and_writes_resume(make_server: MakeServer, small_disk: Path) -> None:
    server = make_server({"data_dir": str(small_disk / "data")})
    client = ChatKitClient(server.url)
    thread_id, _ = client.create_thread("written before the disk filled")
    filler = small_disk / "filler"
    _fill(filler)

    # The last partly used page of the WAL may still take a small write or two.
    for attempt in range(50):
        renamed = client.post("threads.update", {"thread_id": thread_id, "title": f"title {attempt} " * 50})
        if renamed.status_code != 200:
            break
    assert renamed.status_code == 507, renamed.text[:300]
    _storage_full(renamed.json())

    upload = client.http.post("/files", files={"file": ("notes.txt", b"some text " * 1000, "text/plain")})
    assert upload.status_code == 507, upload.text[:300]
    _storage_full(upload.json())

    turn = client.post("threads.add_user_message", {"thread_id": thread_id, "input": text_input("hello?")})
    assert turn.status_code == 200
    failed = [e for e in sse_events(turn.text) if e["type"] == "error"]
    assert failed and failed[0]["error_code"] == "storage_full", turn.text[:500]
    assert "storage is full" in failed[0]["message"]

    # Reads keep working while the disk is full.
    assert [t["id"] for t in client.call("threads.list", {"limit": 10})["data"]] == [thread_id]
    items = client.call("items.list", {"thread_id": thread_id, "limit": 10})["data"]
    assert [i["type"] for i in items] == ["assistant_message", "user_message"]

    filler.unlink()
    assert (
        client.call("threads.update", {"thread_id": thread_id, "title": "new title"})["title"] == "new title"
    )
    events = client.send(thread_id, "and now?")
    assert errors(events) == [] and "and now?" in assistant_text(events)
    upload = client.http.post("/files", files={"file": ("notes.txt", b"some text " * 1000, "text/plain")})
    assert upload.status_code == 200, upload.text[:300]
