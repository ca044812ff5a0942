"""Purges leave nothing readable anywhere; holds block them; retention runs from the CronJob's command."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from minio.versioningconfig import ENABLED, VersioningConfig

from tests.residency.support import (
    ADMIN_TOKEN,
    admin_config,
    cli,
    cli_json,
    data_dir,
    execute,
    query,
    raw_bytes,
)
from tests.support.client import ChatKitClient, text_input
from tests.support.server import ROOT
from tests.uploads.support import MotoS3, s3_config, upload_direct

MARK = f"PURGE-MARKER-{os.urandom(4).hex()}"


def _everything_in(moto: MotoS3, bucket: str) -> tuple[int, bytes]:
    s3 = moto.client()
    versions = list(s3.list_objects(bucket, recursive=True, include_version=True))
    blob = b""
    for v in versions:
        if v.is_delete_marker:
            continue
        response = s3.get_object(bucket, v.object_name, version_id=v.version_id)
        blob += response.read()
        response.close()
        response.release_conn()
    return len(versions), blob


def test_purge_of_a_user_leaves_no_row_no_object_version_and_no_marker_byte(
    make_server, moto: MotoS3
) -> None:
    bucket = "purge-test"
    moto.client().make_bucket(bucket)
    moto.client().set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    config = {**admin_config(), **s3_config(moto, bucket)}
    config["blobs"]["s3"]["create_bucket"] = False
    server = make_server(config)
    alice, bob = ChatKitClient(server.url, user="alice"), ChatKitClient(server.url, user="bob")
    attached = upload_direct(alice, "a.txt", f"{MARK} attached\n".encode() * 30, "text/plain").json()
    loose = upload_direct(alice, "b.txt", f"{MARK} never attached\n".encode() * 30, "text/plain").json()
    events = alice.stream("threads.create", {"input": text_input(f"{MARK} first", [attached["id"]])})
    thread_id = next(e for e in events if e.type == "thread.created").thread.id
    alice.send(thread_id, f"{MARK} second")
    # A second version of the object (versioned bucket): an attachment re-uploaded is refused, so
    # write one more version directly, as a backup tool or an old release might have left behind.
    s3 = moto.client()
    [key] = [
        o.object_name
        for o in s3.list_objects(bucket, recursive=True)
        if attached["id"] in o.object_name and not o.object_name.endswith(".preview")
    ]
    import io

    s3.put_object(bucket, key, io.BytesIO(b"stale version"), 13)
    bob_thread, _ = bob.create_thread("bob stays")

    dry = cli_json(server, "purge", "--tenant", "acme", "--user", "alice")
    assert dry["dry_run"] is True and dry["threads"] == 1 and dry["attachments"] == 2
    assert dry["object_versions"] >= 3 and dry["data_keys"] == 1
    assert alice.call("threads.list", {})["data"], "a dry run changes nothing"
    done = cli_json(server, "purge", "--tenant", "acme", "--user", "alice", "--confirm", "--compact")
    assert done["state"] == "done" and done["result"]["keys_destroyed"] == 1 and done["result"]["compacted"]
    assert alice.call("threads.list", {})["data"] == []
    assert [t["id"] for t in bob.call("threads.list", {})["data"]] == [bob_thread]
    _, objects = _everything_in(moto, bucket)
    assert not [
        o
        for o in s3.list_objects(bucket, recursive=True, include_version=True)
        if attached["id"] in o.object_name or loose["id"] in o.object_name
    ]
    assert MARK.encode() not in objects
    server.stop()
    for table in ("threads", "items", "attachments", "blob_objects", "usage", "feedback"):
        assert query(server, f"SELECT count(*) FROM {table} WHERE user_id = 'alice'") == [(0,)], table
    assert MARK.encode() not in raw_bytes(data_dir(server))


def test_holds_block_purges_and_retention_skips_what_they_cover(make_server) -> None:
    server = make_server(
        admin_config(retention={"interval_seconds": 0, "policies": {"*": {"thread_max_age_days": 30}}})
    )
    alice, bob = ChatKitClient(server.url, user="alice"), ChatKitClient(server.url, user="bob")
    old_alice, _ = alice.create_thread("old alice thread")
    old_bob, _ = bob.create_thread("old bob thread")
    fresh_bob, _ = bob.create_thread("fresh bob thread")
    server.stop()
    long_ago = datetime.now(UTC) - timedelta(days=90)
    execute(server, "UPDATE threads SET updated_at = ? WHERE id IN (?, ?)", [long_ago, old_alice, old_bob])
    server.start()

    hold = cli_json(
        server,
        "holds",
        "create",
        "--tenant",
        "acme",
        "--user",
        "alice",
        "--case",
        "LIT-1",
        "--reason",
        "pending suit",
    )
    refused = cli(server, "purge", "--tenant", "acme", "--user", "alice", "--confirm")
    assert refused.returncode == 2 and hold["id"] in refused.stderr and "LIT-1" in refused.stderr
    refused_thread = cli(server, "purge", "--thread", old_alice)
    assert refused_thread.returncode == 2 and hold["id"] in refused_thread.stderr
    tenant_wide = cli(server, "purge", "--tenant", "acme")
    assert tenant_wide.returncode == 2 and "legal_hold" in tenant_wide.stderr

    # Retention, run exactly as the chart's CronJob runs it (args from values.yaml, env like the pod).
    values = yaml.safe_load((ROOT / "helm" / "chatkit-onprem" / "values.yaml").read_text())
    args = values["retention"]["cronjob"]["args"]
    assert args[:3] == ["admin", "retention", "run"], args
    token = Path(server.workdir) / "cron-token"
    token.write_text(ADMIN_TOKEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ONPREM_")}
    env.update(
        CHATKIT_ONPREM_ADMIN_URL=server.url, CHATKIT_ONPREM_ADMIN_TOKEN=ADMIN_TOKEN, PYTHONPATH=str(ROOT)
    )
    import subprocess
    import sys

    ran = subprocess.run(
        [sys.executable, "-m", "chatkit_onprem", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    threads_alice = [t["id"] for t in alice.call("threads.list", {})["data"]]
    threads_bob = [t["id"] for t in bob.call("threads.list", {})["data"]]
    assert threads_alice == [old_alice], "held: retention skipped it"
    assert threads_bob == [fresh_bob], "not held and too old: gone"
    audit = cli_json(server, "audit", "list")
    assert any(e["verb"] == "retention.run" for e in audit)

    cli(server, "holds", "release", hold["id"], check=True)
    released = cli_json(server, "retention", "run")
    assert released["state"] == "done"
    assert alice.call("threads.list", {})["data"] == []


def test_audit_chain_detects_edits_deletions_and_reordering(make_server) -> None:
    server = make_server(admin_config())
    alice = ChatKitClient(server.url, user="alice")
    alice.create_thread("audited")
    for n in range(3):
        cli(server, "holds", "create", "--tenant", "acme", "--case", f"C{n}", "--reason", "r", check=True)
    verified = cli_json(server, "audit", "verify")
    assert verified["ok"] and verified["entries"] >= 3
    head = verified["head_hash"]
    exported = cli(server, "audit", "export", check=True).stdout.splitlines()
    assert (len(exported) >= verified["entries"] and head in exported[-1]) or head in "".join(exported)
    server.stop()

    execute(server, "UPDATE audit_log SET outcome = 'harmless' WHERE seq = 2")
    server.start()
    broken = cli(server, "--json", "audit", "verify")
    assert broken.returncode == 1 and '"first_broken_seq": 2' in broken.stdout
    server.stop()

    execute(
        server, "UPDATE audit_log SET outcome = (SELECT outcome FROM audit_log WHERE seq = 3) WHERE seq = 2"
    )
    execute(server, "DELETE FROM audit_log WHERE seq = 2")
    server.start()
    deleted = cli_json_any(server, "audit", "verify")
    assert deleted["ok"] is False and deleted["first_broken_seq"] == 2 and "missing" in deleted["problem"]
    server.stop()

    execute(server, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    server.start()
    reordered = cli_json_any(server, "audit", "verify")
    assert reordered["ok"] is False and reordered["first_broken_seq"] == 2


def cli_json_any(server, *args: str):  # type: ignore[no-untyped-def]
    import json

    result = cli(server, "--json", *args)
    return json.loads(result.stdout)


def test_cli_bad_input_gets_a_clear_message_and_a_stable_exit_code(make_server, tmp_path) -> None:
    server = make_server(admin_config())
    ChatKitClient(server.url, user="alice").create_thread("hi")
    cases = {
        ("purge",): (1, "a purge needs a scope"),
        ("purge", "--tenant", "acme", "--user", "nobody"): (2, "no data is stored for user nobody"),
        ("holds", "create", "--tenant", "nowhere", "--case", "c", "--reason", "r"): (
            2,
            "no data is stored for tenant nowhere",
        ),
        ("purge", "--older-than", "ninety days"): (2, "expected a number and d, h or w"),
        ("keys", "destroy", "--user", "alice"): (1, "say whose keys"),
        ("jobs", "show", "job_missing"): (2, "no job job_missing"),
        ("holds", "release", "hold_missing"): (2, "no hold hold_missing"),
        ("keys", "frobnicate"): (1, "No such command"),
    }
    for args, (code, text) in cases.items():
        result = cli(server, *args)
        assert result.returncode == code and text in result.stderr, (args, result.returncode, result.stderr)
    token = tmp_path / "wrong"
    token.write_text("wrong-token-wrong-token-wrong")
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ONPREM_")}
    env["PYTHONPATH"] = str(ROOT)
    base = [sys.executable, "-m", "chatkit_onprem", "admin", "--token-file", str(token)]
    wrong = subprocess.run(
        [*base, "--url", server.url, "keys", "status"], env=env, capture_output=True, text=True
    )
    assert wrong.returncode == 2 and "401" in wrong.stderr and "Traceback" not in wrong.stderr
    down = subprocess.run(
        [*base, "--url", "http://127.0.0.1:9", "keys", "status"], env=env, capture_output=True, text=True
    )
    assert (
        down.returncode == 3 and "cannot reach the server" in down.stderr and "Traceback" not in down.stderr
    )
