"""Auth configuration: what production refuses, and the shipped OIDC example against the in-test IdP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chatkit_onprem.config import ConfigError, Settings, load_settings
from tests.auth.conftest import as_caller
from tests.auth.idp import ADMIN_TOKEN, AUDIENCE, ISSUER, KEYRING, SIGNING_SEED, TestIdP, oidc_config
from tests.support.server import ROOT, ServerProcess

MakeServer = Callable[..., ServerProcess]


def problems(config: dict[str, Any]) -> list[str]:
    return Settings(**config).production_problems()


def test_production_refuses_the_development_identity(idp: TestIdP) -> None:
    config = oidc_config(idp)
    config["auth"]["methods"] = ["development"]
    assert any("auth.methods: 'development'" in p for p in problems(config))
    assert problems(oidc_config(idp)) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"server": {"cors_origins": ["*"]}}, "server.cors_origins"),
        ({"auth": {"oidc": {"jwks_url": "http://sso.corp.internal/certs"}}}, "auth.oidc.jwks_url"),
        (
            {"auth": {"methods": ["trusted_headers"], "trusted_headers": {"trusted_sources": ["0.0.0.0/0"]}}},
            "trusts every address",
        ),
    ],
)
def test_production_refuses_unsafe_auth(idp: TestIdP, change: dict[str, Any], message: str) -> None:
    from tests.support.server import deep_merge

    assert any(message in p for p in problems(deep_merge(oidc_config(idp), change)))


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"methods": ["oidc"], "oidc": {"algorithms": ["HS256"]}}, "asymmetric algorithms only"),
        ({"methods": ["oidc"], "oidc": {"algorithms": ["none"]}}, "asymmetric algorithms only"),
        ({"methods": ["oidc"], "oidc": {"issuer": "x", "audience": "y"}}, "jwks_url or jwks_file"),
        ({"methods": ["oidc"], "oidc": {"jwks_url": "https://x/certs"}}, "oidc.issuer"),
        ({"methods": ["trusted_headers"]}, "trusted_sources is empty"),
        ({"methods": ["development", "oidc"]}, "cannot be combined"),
        ({"methods": []}, "at least one"),
        ({"mode": "development"}, "unknown key"),
    ],
)
def test_invalid_auth_sections_name_the_problem(tmp_path: Path, auth: dict[str, Any], message: str) -> None:
    file = tmp_path / "c.yaml"
    file.write_text(yaml.safe_dump({"auth": auth}))
    with pytest.raises(ConfigError) as raised:
        load_settings(file)
    assert message in str(raised.value)


def test_the_oidc_example_runs_in_production_against_the_idp(
    make_server: MakeServer, idp: TestIdP, tmp_path: Path
) -> None:
    example = yaml.safe_load((ROOT / "config/examples/oidc.yaml").read_text())
    assert example["mode"] == "production"
    admin_file = tmp_path / "admin-token"
    admin_file.write_text(ADMIN_TOKEN)
    keyring_file = tmp_path / "kek-keyring.json"
    keyring_file.write_text(KEYRING)
    signing_file = tmp_path / "export-signing-key"
    signing_file.write_text(SIGNING_SEED)
    env = {
        "OIDC_ISSUER": ISSUER,
        "OIDC_AUDIENCE": AUDIENCE,
        "OIDC_JWKS_URL": idp.jwks_url,
        "PUBLIC_URL": "http://127.0.0.1:9",
        "ADMIN_TOKEN_FILE": str(admin_file),
        "KEK_KEYRING_FILE": str(keyring_file),
        "EXPORT_SIGNING_KEY_FILE": str(signing_file),
        "ERASURE_LEDGER": str(tmp_path / "ledger" / "erasure.jsonl"),
        "DATA_DIR": str(tmp_path / "data"),
    }
    server = make_server(example, env=env)
    alice = as_caller(server, idp.token("alice", "acme", ["chatkit-auditor"]))
    thread_id, _ = alice.create_thread("hello from the example")
    bob = as_caller(server, idp.token("bob", "acme"))
    assert bob.post("threads.get_by_id", {"thread_id": thread_id}).status_code == 404
    me = httpx.get(f"{server.url}/admin/v1/whoami", headers=alice.headers, timeout=10).json()
    assert me["roles"] == ["auditor", "user"] and me["tenant"] == "acme"
    assert alice.post("threads.list", {}, headers={"Authorization": "Bearer x.y.z"}).status_code == 401
