"""API keys end to end: the admin CLI creates/lists/revokes them through the running server's admin API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import as_caller
from tests.auth.idp import ADMIN_TOKEN, TestIdP
from tests.support.server import ROOT, ServerProcess


def cli(
    server: ServerProcess, tmp_path: Path, *args: str, token: str = ADMIN_TOKEN
) -> subprocess.CompletedProcess[str]:
    token_file = tmp_path / "admin-token"
    token_file.write_text(token + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ONPREM_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "chatkit_onprem",
            "admin",
            "api-keys",
            *args,
            "--url",
            server.url,
            "--token-file",
            str(token_file),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )


def test_create_use_list_revoke(prod_server: ServerProcess, idp: TestIdP, tmp_path: Path) -> None:
    made = cli(prod_server, tmp_path, "create", "--tenant", "acme", "--name", "reporting", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    token = key["token"]
    assert token.startswith("cko_") and key["tenant"] == "acme" and key["roles"] == ["user"]
    assert key["user"] == "svc:reporting"

    service = as_caller(prod_server, token)
    thread_id, _ = service.create_thread("from a service")
    alice = as_caller(prod_server, idp.token("svc:reporting", "globex"))
    assert alice.post("threads.get_by_id", {"thread_id": thread_id}).status_code == 404, "bound to its tenant"

    listed = cli(prod_server, tmp_path, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = {k["id"]: k for k in json.loads(listed.stdout)}
    assert key["id"] in entries
    assert token not in listed.stdout and token.split("_", 2)[2] not in listed.stdout, "secrets never listed"
    deadline = time.monotonic() + 5
    while entries[key["id"]]["last_used_at"] is None and time.monotonic() < deadline:
        time.sleep(0.2)
        entries = {k["id"]: k for k in json.loads(cli(prod_server, tmp_path, "list", "--json").stdout)}
    assert entries[key["id"]]["last_used_at"] is not None, "last use is recorded"

    revoked = cli(prod_server, tmp_path, "revoke", key["id"])
    assert revoked.returncode == 0, revoked.stderr
    after = service.post("threads.list", {})
    assert after.status_code == 401 and "revoked" in after.json()["error"]["message"]
    assert key["id"] not in cli(prod_server, tmp_path, "list").stdout
    assert key["id"] in cli(prod_server, tmp_path, "list", "--all").stdout
    log = prod_server.log()
    assert "api key created" in log and "api key revoked" in log
    assert token.split("_", 2)[2] not in log, "the secret never reaches the log"


def test_wrong_secret_and_malformed_keys(prod_server: ServerProcess, tmp_path: Path) -> None:
    made = json.loads(
        cli(prod_server, tmp_path, "create", "--tenant", "acme", "--name", "k2", "--json").stdout
    )
    key_id, secret = made["token"][4:].split("_", 1)
    wrong = f"cko_{key_id}_{'A' * len(secret)}"
    unknown = f"cko_{'0' * 20}_{secret}"
    for token, message in ((wrong, "not valid"), (unknown, "not valid"), ("cko_short", "malformed")):
        response = as_caller(prod_server, token).post("threads.list", {})
        assert response.status_code == 401, response.text
        assert message in response.json()["error"]["message"]
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_cli_reports_a_wrong_admin_token(prod_server: ServerProcess, tmp_path: Path) -> None:
    result = cli(prod_server, tmp_path, "list", token="not-the-admin-token-at-all-xx")
    assert result.returncode == 2, "refused by the server"
    assert "refused (401" in result.stderr and "Traceback" not in result.stderr


def test_cli_reports_an_unreachable_server(tmp_path: Path) -> None:
    gone = ServerProcess(tmp_path / "never-started")
    result = cli(gone, tmp_path, "list")
    assert result.returncode == 3 and "cannot reach the server" in result.stderr


@pytest.mark.parametrize(
    ("roles", "read", "write"),
    [(["auditor"], 200, 403), (["admin"], 200, 201), ([], 403, 403), (None, 401, 401)],
)
def test_admin_api_roles(
    prod_server: ServerProcess, idp: TestIdP, roles: list[str] | None, read: int, write: int
) -> None:
    headers = {} if roles is None else {"Authorization": f"Bearer {idp.token('ops', 'acme', roles)}"}
    url = f"{prod_server.url}/admin/v1/api-keys"
    assert httpx.get(url, headers=headers, timeout=10).status_code == read
    body = {"tenant": "acme", "name": "by-role"}
    response = httpx.post(url, json=body, headers=headers, timeout=10)
    assert response.status_code == write, response.text
    if write == 403:
        assert response.json()["error"]["code"] == "forbidden"
    if write == 201:
        assert response.json()["created_by"] == "ops"
        assert response.headers["cache-control"] == "no-store"


def test_admin_api_rejects_bad_bodies(prod_server: ServerProcess) -> None:
    url = f"{prod_server.url}/admin/v1/api-keys"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for body in (
        {"tenant": "acme"},
        {"tenant": "acme", "name": "x", "roles": ["root"]},
        {"tenant": " a", "name": "x"},
    ):
        response = httpx.post(url, json=body, headers=headers, timeout=10)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == "invalid_params"
    big = httpx.post(url, content=b"x" * (128 * 1024), headers=headers, timeout=10)
    assert big.status_code == 413
    missing = httpx.post(f"{url}/{'0' * 20}/revoke", headers=headers, timeout=10)
    assert missing.status_code == 404
