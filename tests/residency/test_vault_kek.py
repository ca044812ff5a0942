"""A Vault / OpenBao transit key as the KEK, against a fake transit engine over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.residency.fake_vault import FakeVault
from tests.residency.support import admin_config, cli_json
from tests.support.client import ChatKitClient

pytestmark = pytest.mark.backends("duckdb", "postgres")


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    fake = FakeVault().start()
    yield fake
    fake.stop()


def _config(vault: FakeVault, token: str) -> dict[str, object]:
    kek = {"provider": "vault", "vault": {"address": vault.address, "token": token}}
    return admin_config(crypto={"kek": kek})


def test_vault_wraps_the_data_keys_and_rotates(make_server, vault: FakeVault) -> None:
    server = make_server(_config(vault, vault.token))
    alice = ChatKitClient(server.url)
    thread_id, _ = alice.create_thread("wrapped by vault")
    status = cli_json(server, "keys", "status")
    assert status["kek"]["provider"] == "vault" and status["kek"]["primary"] == "vault:1"
    assert {v["version"] for v in status["kek"]["versions"]} == {"vault:1"}

    rotated = cli_json(server, "keys", "rotate-kek", "--confirm")
    assert rotated["state"] == "done" and rotated["result"]["kek_primary"] == "vault:2", rotated
    assert ("rotate", False) in vault.calls
    status = cli_json(server, "keys", "status")
    [under] = [d for d in status["data_keys"] if d["state"] == "active"]
    assert under["kek_version"] == "vault:2"
    # Every wrap bound its subject as associated data (a wrapped key moved to another user fails).
    assert vault.calls and all(with_aad for op, with_aad in vault.calls if op in ("encrypt", "decrypt"))
    server.stop()
    server.start()  # unwraps through Vault again
    assert "wrapped by vault" in str(alice.call("items.list", {"thread_id": thread_id}))


def test_a_wrong_vault_token_refuses_to_start(make_server, vault: FakeVault) -> None:
    server = make_server(_config(vault, "not-the-token"), start=False)
    with pytest.raises(RuntimeError, match="Vault transit key transit/keys/chatkit-onprem"):
        server.start(timeout=20)
