"""Data-subject exports: what the API shows round-trips into a signed bundle that verifies offline."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from tests.residency.support import admin_config, admin_http, cli
from tests.support.client import ChatKitClient
from tests.uploads.support import png_bytes, upload_direct

pytestmark = pytest.mark.backends("duckdb", "postgres")


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def test_export_round_trips_what_the_api_shows_and_verifies_offline(make_server, tmp_path) -> None:
    server = make_server(admin_config())
    alice, bob = ChatKitClient(server.url, user="alice"), ChatKitClient(server.url, user="bob")
    text = upload_direct(alice, "report.txt", b"quarterly numbers\n" * 100, "text/plain").json()
    image = upload_direct(alice, "chart.png", png_bytes(), "image/png").json()
    threads = []
    for n in range(3):
        thread_id, _ = alice.create_thread(f"alice thread {n} show me a widget")
        alice.send(thread_id, f"more for {n}")
        threads.append(thread_id)
    alice.stream(
        "threads.add_user_message",
        {
            "thread_id": threads[0],
            "input": {
                "content": [{"type": "input_text", "text": "with files"}],
                "attachments": [text["id"], image["id"]],
                "inference_options": {},
            },
        },
    )
    bob_thread, _ = bob.create_thread("bob is not in alice's export")

    bundle = tmp_path / "bundle"
    made = cli(server, "export", "--tenant", "acme", "--user", "alice", "--out", str(bundle), check=True)
    assert "verified" in made.stdout

    api_threads = alice.call("threads.list", {"limit": 100})["data"]
    exported_threads = _jsonl(bundle / "threads.jsonl")
    assert {t["id"] for t in exported_threads} == {t["id"] for t in api_threads} == set(threads)
    for row in exported_threads:
        shown = next(t for t in api_threads if t["id"] == row["id"])
        assert row["thread"]["title"] == shown["title"]
    exported_items = _jsonl(bundle / "items.jsonl")
    for thread_id in threads:
        api_items = alice.call("items.list", {"thread_id": thread_id, "limit": 100, "order": "asc"})["data"]
        mine = [r["item"] for r in exported_items if r["thread_id"] == thread_id]
        assert [i["id"] for i in mine] == [i["id"] for i in api_items]
        assert json.dumps([i.get("content") for i in mine]) == json.dumps(
            [i.get("content") for i in api_items]
        )
    assert bob_thread not in (bundle / "threads.jsonl").read_text()
    # Every file, decrypted, byte for byte.
    for upload in (text, image):
        [path] = list((bundle / "files" / upload["id"]).iterdir())
        assert path.read_bytes() == alice.http.get(f"/files/{upload['id']}").content
    # Parquet copies hold the same rows.
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM '{bundle / 'items.parquet'}'").fetchone()[0] == len(
        exported_items
    )
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["subject"] == {"tenant": "acme", "user": "alice"} and manifest["counts"]["threads"] == 3
    assert manifest["counts"]["files"] == 2 and "audit.jsonl" in manifest["files"]

    # Offline: only the public key is needed (the server is stopped).
    public = tmp_path / "export.pub"
    public.write_text(cli(server, "export", "public-key", check=True).stdout)
    server.stop()
    ok = cli(server.url, "export", "verify", str(bundle), "--public-key", str(public))
    assert ok.returncode == 0 and "bundle verified" in ok.stdout

    changed = tmp_path / "changed"
    shutil.copytree(bundle, changed)
    data = bytearray((changed / "items.jsonl").read_bytes())
    data[10] ^= 0x01
    (changed / "items.jsonl").write_bytes(bytes(data))
    bad = cli(server.url, "export", "verify", str(changed), "--public-key", str(public))
    assert bad.returncode == 1 and "items.jsonl: SHA-256 does not match" in bad.stderr

    removed = tmp_path / "removed"
    shutil.copytree(bundle, removed)
    [victim] = list((removed / "files" / text["id"]).iterdir())
    victim.unlink()
    gone = cli(server.url, "export", "verify", str(removed), "--public-key", str(public))
    assert gone.returncode == 1 and f"files/{text['id']}/report.txt: missing" in gone.stderr

    forged = tmp_path / "forged"
    shutil.copytree(bundle, forged)
    manifest["counts"]["threads"] = 0
    (forged / "manifest.json").write_text(json.dumps(manifest))
    not_ours = cli(server.url, "export", "verify", str(forged), "--public-key", str(public))
    assert not_ours.returncode == 1 and "signature does not match" in not_ours.stderr
    nothing = cli(server.url, "export", "verify", str(tmp_path), "--public-key", str(public))
    assert nothing.returncode == 1 and "is not an export bundle" in nothing.stderr


def test_an_interrupted_download_resumes(make_server, tmp_path) -> None:
    server = make_server(admin_config())
    alice = ChatKitClient(server.url, user="alice")
    upload = upload_direct(alice, "big.txt", b"0123456789abcdef" * 20000, "text/plain").json()
    alice.create_thread("one thread")
    bundle = tmp_path / "bundle"
    first = cli(
        server, "--json", "export", "--tenant", "acme", "--user", "alice", "--out", str(bundle), check=True
    )
    export_id = json.loads(first.stdout)["export_id"]
    [path] = list((bundle / "files" / upload["id"]).iterdir())
    whole = path.read_bytes()
    # Simulate a download cut at half: a partial file, the finished one gone.
    path.with_name(path.name + ".part").write_bytes(whole[: len(whole) // 2])
    path.unlink()
    (bundle / "items.jsonl").unlink()
    again = cli(server, "export", "--resume", export_id, "--out", str(bundle), check=True)
    assert "verified" in again.stdout
    assert path.read_bytes() == whole


def test_a_kept_bundle_is_encrypted_in_the_blob_store_and_expires(make_server, tmp_path) -> None:
    """Any replica can serve a bundle (it is in the blob store, not one pod's disk); nobody who
    reads the store sees its contents; after ``exports.keep_hours`` it is gone for good."""
    server = make_server(admin_config(exports={"keep_hours": 0.0005}))  # 1.8 s
    alice = ChatKitClient(server.url, user="alice")
    alice.create_thread("a very particular sentence about otters")
    bundle = tmp_path / "bundle"
    made = cli(server, "--json", "export", "--tenant", "acme", "--user", "alice", "--out", str(bundle))
    assert made.returncode == 0, made.stderr
    export_id = json.loads(made.stdout)["export_id"]
    assert "otters" in (bundle / "items.jsonl").read_text()
    data = Path(server.config["data_dir"])
    kept = list((data / "blobs" / "x" / export_id).iterdir())
    assert len(kept) == len(json.loads((bundle / "manifest.json").read_text())["files"]) + 2
    assert not any(b"otters" in f.read_bytes() or b'"format"' in f.read_bytes() for f in kept)
    assert not any((data / "tmp" / "exports").iterdir())  # the staging copy is removed

    time.sleep(2)
    server.stop()
    server.start()  # the expiry sweep runs at start, then every ten minutes
    with admin_http(server) as http:
        deadline = time.monotonic() + 10
        while (gone := http.get(f"/exports/{export_id}")).status_code != 410 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert gone.status_code == 410 and gone.json()["error"]["code"] == "export_gone"
        assert http.get(f"/exports/{export_id}/files/items.jsonl").status_code == 410
    assert not (data / "blobs" / "x" / export_id).exists() or not any(
        (data / "blobs" / "x" / export_id).iterdir()
    )
    again = cli(server, "export", "--resume", export_id, "--out", str(tmp_path / "late"))
    assert again.returncode == 2 and "expired" in again.stderr  # refused by the server


def test_an_item_shaped_unlike_the_first_twenty_thousand_still_exports(make_server, tmp_path) -> None:
    """Regression: the Parquet copies were typed from a sample of the first 20,480 lines, so an
    export whose later item had another shape (a widget after plain messages) failed at the
    Parquet step ("unknown key"). The stored record is now one JSON column."""
    import asyncio
    from datetime import UTC, datetime

    from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadMetadata, WidgetItem
    from chatkit.widgets import Card, Text

    from chatkit_onprem.config import load_settings
    from chatkit_onprem.context import RequestContext
    from chatkit_onprem.services import Services

    server = make_server(admin_config(), start=False)
    services = Services.build(load_settings(server.config_path, check_production=False))
    context = RequestContext(tenant="acme", user="alice")
    thread_id = "thr_long"

    async def fill() -> None:
        now = datetime.now(UTC)
        await services.store.save_thread(ThreadMetadata(id=thread_id, created_at=now, title="long"), context)
        for start in range(0, 20_500, 500):
            await services.store.save_items(
                thread_id,
                [
                    AssistantMessageItem(
                        id=f"msg_{n:05d}",
                        thread_id=thread_id,
                        created_at=now,
                        content=[AssistantMessageContent(text=f"answer {n}")],
                    )
                    for n in range(start, start + 500)
                ],
                context,
            )
        card = Card(children=[Text(value="the late widget")])
        await services.store.save_items(
            thread_id, [WidgetItem(id="wid_late", thread_id=thread_id, created_at=now, widget=card)], context
        )

    try:
        asyncio.run(fill())
    finally:
        services.db.close()
    server.start()
    bundle = tmp_path / "bundle"
    made = cli(server, "export", "--tenant", "acme", "--user", "alice", "--out", str(bundle))
    assert made.returncode == 0, made.stderr
    con = duckdb.connect()
    parquet = bundle / "items.parquet"
    assert con.execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0] == 20_501
    [(widget,)] = con.execute(f"SELECT item FROM '{parquet}' WHERE id = 'wid_late'").fetchall()
    assert json.loads(widget)["widget"]["children"][0]["value"] == "the late widget"
