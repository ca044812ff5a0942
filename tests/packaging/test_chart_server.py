"""The chart's default production config runs: a real server started from the rendered
ConfigMap and Secret files, an API key made with the admin CLI the way NOTES.txt says,
a ChatKit request authenticated with it, and the README's KEK rotation for a keyring Secret."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.packaging.chart import config_map, render, secret_data, server_container
from tests.support.client import ChatKitClient
from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def admin(*args: str, url: str, token_file: Path) -> subprocess.CompletedProcess[str]:
    """The admin CLI as an operator runs it in the pod (kubectl exec)."""
    connection = ["--url", url, "--token-file", str(token_file)]
    return subprocess.run(
        [sys.executable, "-m", "chatkit_onprem", "admin", *args, *connection],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def update_mounted_secret(path: Path, document: dict[str, Any]) -> None:
    """Replace a mounted Secret's file atomically, as kubelet does (a new file swapped in)."""
    staged = path.with_name(f"..{path.name}.new")
    staged.write_text(json.dumps(document))
    os.replace(staged, path)


def test_default_chart_config_serves_in_production(tmp_path: Path) -> None:
    mount = tmp_path / "secrets"
    mount.mkdir()
    docs = render(
        {
            "config": {"server": {"public_url": "https://chat.example.internal"}},
            "secrets": {"mountPath": str(mount)},
        }
    )
    for key, value in secret_data(docs).items():
        (mount / key).write_text(value)
    config = yaml.safe_load(config_map(docs)["data"]["config.yaml"])
    assert config["mode"] == "production"
    env = {
        e["name"]: e["value"] for e in server_container(docs)["env"] if e["name"] != "CHATKIT_ONPREM_CONFIG"
    }
    # Only the data volume moves: /data here is a temporary folder.
    env["CHATKIT_ONPREM_DATA_DIR"] = str(tmp_path / "data")
    server = ServerProcess(tmp_path / "srv", config=config, env=env).start()
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        anonymous = httpx.post(f"{server.url}/chatkit", json={"type": "threads.list", "params": {}})
        assert anonymous.status_code == 401

        created = admin(
            "api-keys", "create", "--tenant", "acme", "--name", "web-app",
            url=server.url, token_file=mount / "admin-token",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        assert token.startswith("cko_")
        listed = httpx.post(
            f"{server.url}/chatkit",
            json={"type": "threads.list", "params": {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert listed.status_code == 200, listed.text
        assert listed.json()["data"] == []
    finally:
        server.stop()
    assert server.egress() == []


def test_kek_rotation_through_the_mounted_keyring_secret(tmp_path: Path) -> None:
    """The chart README's procedure: add a version to the Secret and make it primary, let the
    mount update, rotate-kek, retire v1, remove v1 from the Secret; no restart in between."""
    mount = tmp_path / "secrets"
    mount.mkdir()
    docs = render(
        {
            "config": {"server": {"public_url": "https://chat.example.internal"}},
            "secrets": {"mountPath": str(mount)},
        }
    )
    for key, value in secret_data(docs).items():
        (mount / key).write_text(value)
    keyring_file = mount / "kek-keyring"
    config = yaml.safe_load(config_map(docs)["data"]["config.yaml"])
    env = {
        e["name"]: e["value"] for e in server_container(docs)["env"] if e["name"] != "CHATKIT_ONPREM_CONFIG"
    }
    assert env["CHATKIT_ONPREM_CRYPTO__KEK__KEYRING_PATH"] == str(keyring_file)
    env["CHATKIT_ONPREM_DATA_DIR"] = str(tmp_path / "data")
    server = ServerProcess(tmp_path / "srv", config=config, env=env).start()
    token_file = mount / "admin-token"
    try:

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return admin(*args, url=server.url, token_file=token_file)

        def kek_status() -> dict[str, Any]:
            status = run("keys", "status", "--json")
            assert status.returncode == 0, status.stderr
            kek: dict[str, Any] = json.loads(status.stdout)["kek"]
            return kek

        created = run("api-keys", "create", "--tenant", "acme", "--name", "web-app")
        assert created.returncode == 0, created.stderr
        api_key = created.stdout.strip().splitlines()[-1]
        chat = ChatKitClient(server.url, Authorization=f"Bearer {api_key}")
        thread_id, _ = chat.create_thread("wrapped under v1")
        before = kek_status()
        assert before["primary"] == "v1"
        assert [v["version"] for v in before["versions"]] == ["v1"]
        assert before["versions"][0]["data_keys"] >= 1

        # 1. Add v2 to the Secret and make it the primary; kubelet updates the mounted file.
        keyring = json.loads(keyring_file.read_text())
        keyring["keys"]["v2"] = base64.b64encode(os.urandom(32)).decode()
        keyring["primary"] = "v2"
        update_mounted_secret(keyring_file, keyring)
        # v1 still wraps the data keys: retiring it now is refused.
        early = run("keys", "retire-kek", "v1", "--confirm")
        assert early.returncode != 0
        assert "still wraps" in early.stderr + early.stdout
        # 2. Re-wrap every data key under v2, read from the re-read file (no restart).
        rotated = run("keys", "rotate-kek", "--confirm")
        assert rotated.returncode == 0, rotated.stderr
        after = kek_status()
        assert after["primary"] == "v2"
        in_use = {v["version"]: v["data_keys"] + v["server_secrets"] for v in after["versions"]}
        assert in_use["v1"] == 0 and in_use["v2"] >= 1
        # 3. Retire v1: the server cannot edit the Secret, so it says to remove v1 from it.
        retired = run("keys", "retire-kek", "v1", "--confirm", "--json")
        assert retired.returncode == 0, retired.stderr
        answer = json.loads(retired.stdout)
        assert answer["in_use"] is False and "remove it from the keyring file" in answer["note"]
        # 4. Remove v1 from the Secret: everything stays readable.
        del keyring["keys"]["v1"]
        update_mounted_secret(keyring_file, keyring)
        final = kek_status()
        assert [v["version"] for v in final["versions"]] == ["v2"] and not final["missing_versions"]
        items = chat.call("items.list", {"thread_id": thread_id})
        assert "wrapped under v1" in json.dumps(items)
    finally:
        server.stop()
    assert server.egress() == []
