"""The chart's default production config runs: a real server started from the rendered
ConfigMap and Secret files, an API key made with the admin CLI the way NOTES.txt says,
and a ChatKit request authenticated with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from tests.packaging.chart import config_map, render, secret_data, server_container
from tests.support.server import ServerProcess


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

        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "chatkit_onprem",
                "admin",
                "api-keys",
                "create",
                "--tenant",
                "acme",
                "--name",
                "web-app",
                "--url",
                server.url,
                "--token-file",
                str(mount / "admin-token"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
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
