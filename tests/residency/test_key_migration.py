"""Upgrading a data directory written by the release before encryption (tests/fixtures/wave1-data.tar.gz,
made by scripts/make_wave1_fixture.py): everything is encrypted while serving, nothing is lost."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from tests.residency.support import admin_config, data_dir, query, raw_bytes, wait_jobs_idle
from tests.support.client import ChatKitClient
from tests.support.server import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "wave1-data.tar.gz"


def test_a_wave1_data_directory_is_encrypted_in_place_with_nothing_lost(make_server) -> None:
    server = make_server(admin_config(), start=False)
    folder = data_dir(server)
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(folder, filter="data")
    written = json.loads((folder / "written.json").read_text())
    markers = written["markers"]
    before = raw_bytes(folder)
    assert markers["alice"].encode() in before and markers["bob"].encode() in before, (
        "the fixture is plaintext"
    )
    [(version,)] = query(server, "SELECT max(version) FROM schema_migrations")
    assert version == 4

    server.start()
    # Readable while (and after) the migration job runs.
    clients = {user: ChatKitClient(server.url, user=user) for user in ("alice", "bob")}
    for thread_id, info in written["threads"].items():
        items = clients[info["user"]].call("items.list", {"thread_id": thread_id, "limit": 100})["data"]
        assert [i["id"] for i in items] == info["items"]
        assert markers[info["user"]] in json.dumps(items)
    jobs = wait_jobs_idle(server)
    [migration] = [j for j in jobs if j["kind"] == "keys.encrypt_plaintext"]
    assert migration["state"] == "done", migration
    assert migration["result"]["objects_reencrypted"] == len(written["attachments"])
    for thread_id, info in written["threads"].items():
        items = clients[info["user"]].call("items.list", {"thread_id": thread_id, "limit": 100})["data"]
        assert [i["id"] for i in items] == info["items"], "nothing lost"
    for attachment_id, info in written["attachments"].items():
        body = clients[info["user"]].http.get(f"/files/{attachment_id}")
        assert body.status_code == 200 and markers["file"].encode() in body.content
    server.stop()

    for table in ("threads", "items", "attachments"):
        assert query(server, f"SELECT count(*) FROM {table} WHERE key_id IS NULL") == [(0,)], table
    assert query(server, "SELECT count(*) FROM blob_objects WHERE key_id NOT LIKE 'dek:%'") == [(0,)]
    after = b"".join(
        p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "written.json"
    )
    for marker in markers.values():
        assert marker.encode() not in after, marker
    for blob in Path(folder, "blobs").rglob("atc_*"):
        assert blob.read_bytes().startswith(b"CKO2")
