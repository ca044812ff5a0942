"""Crypto-shredding: a destroyed user stays unreadable and purged even when an older backup is restored."""

from __future__ import annotations

import shutil

from tests.residency.support import (
    admin_config,
    assert_erasure_reapplied,
    cli,
    cli_json,
    data_dir,
    query,
    raw_bytes,
)
from tests.support.client import ChatKitClient, text_input
from tests.uploads.support import upload_direct


def test_destroyed_user_stays_gone_after_restoring_an_older_backup(make_server, tmp_path) -> None:
    ledger = tmp_path / "kept-apart" / "erasure.jsonl"  # outside the data directory, as documented
    server = make_server(admin_config(crypto={"erasure_ledger": str(ledger)}))
    alice, bob = ChatKitClient(server.url, user="alice"), ChatKitClient(server.url, user="bob")
    a_thread, _ = alice.create_thread("alice wrote this")
    upload = upload_direct(alice, "a.txt", b"alice's file\n" * 20, "text/plain").json()
    b_thread, _ = bob.create_thread("bob wrote this")
    server.stop()
    backup = tmp_path / "backup"
    shutil.copytree(data_dir(server), backup)  # a backup taken before the erasure
    server.start()

    dry = cli_json(server, "keys", "destroy", "--tenant", "acme", "--user", "alice")
    assert dry["dry_run"] is True and dry["data_keys"] == 1 and dry["threads"] == 1
    done = cli_json(server, "keys", "destroy", "--tenant", "acme", "--user", "alice", "--confirm")
    assert done["state"] == "done" and done["result"]["keys_destroyed"] == 1, done
    assert alice.call("threads.list", {})["data"] == []
    assert alice.http.get(f"/files/{upload['id']}").status_code == 404
    assert "alice" in ledger.read_text()
    server.stop()

    # Restore the whole data directory from the backup (the ledger, kept apart, is not restored).
    shutil.rmtree(data_dir(server))
    shutil.copytree(backup, data_dir(server))
    [(state,)] = query(server, "SELECT state FROM data_keys WHERE user_id = 'alice'")
    assert state == "active", "the backup holds alice's wrapped key again"
    server.start()
    # Unreadable at once (the ledger is consulted before any key is unwrapped), then purged by
    # re-applying the ledger, while bob is intact.
    assert_erasure_reapplied(
        server,
        alice,
        bob,
        erased_thread=a_thread,
        erased_upload=upload["id"],
        kept_thread=b_thread,
        kept_text="bob wrote this",
    )
    server.stop()
    assert query(server, "SELECT count(*) FROM threads WHERE user_id = 'alice'") == [(0,)]
    assert query(server, "SELECT state FROM data_keys WHERE user_id = 'alice'") == [("destroyed",)]
    assert b"alice wrote this" not in raw_bytes(data_dir(server))
    entries = [e for e in cli_ledger(server) if e]
    assert entries, "the restored database learned the erasure again"


def cli_ledger(server) -> list[tuple[str, ...]]:
    return query(server, "SELECT scope, tenant, user_id FROM erasure_ledger")


def test_a_hold_blocks_destroying_keys(make_server) -> None:
    server = make_server(admin_config())
    alice = ChatKitClient(server.url, user="alice")
    alice.create_thread("held words")
    held = cli_json(
        server,
        "holds",
        "create",
        "--tenant",
        "acme",
        "--user",
        "alice",
        "--case",
        "LIT-7",
        "--reason",
        "court order",
    )
    refused = cli(server, "keys", "destroy", "--tenant", "acme", "--user", "alice", "--confirm")
    assert refused.returncode == 2 and held["id"] in refused.stderr and "LIT-7" in refused.stderr
    assert len(alice.call("threads.list", {})["data"]) == 1


def test_an_erased_user_who_writes_again_gets_a_clear_refusal(make_server, tmp_path) -> None:
    """Their keys are destroyed for good: new content cannot be sealed for them. This used to
    answer "an internal error occurred" (an unmapped KeyUnavailableError from the sealer)."""
    server = make_server(admin_config())
    alice, bob = ChatKitClient(server.url, user="alice"), ChatKitClient(server.url, user="bob")
    alice.create_thread("before the erasure")
    cli_json(server, "keys", "destroy", "--tenant", "acme", "--user", "alice", "--confirm")

    events = alice.stream("threads.create", {"input": text_input("after the erasure")})
    errors = [e for e in events if e.type == "error"]
    assert errors and errors[0].code == "custom" and "was erased by an administrator" in errors[0].message, (
        events
    )
    assert not errors[0].allow_retry
    upload = upload_direct(alice, "late.txt", b"late words\n", "text/plain")
    assert upload.status_code == 403, upload.text
    assert upload.json()["error"]["code"] == "subject_erased"
    assert alice.call("threads.list", {})["data"] == [], "nothing half-written"
    bob.create_thread("bob is unaffected")  # asserts a thread.created event
    assert b"after the erasure" not in raw_bytes(data_dir(server))
    assert "internal_error" not in server.log()
