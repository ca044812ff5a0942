"""Configuration: file + env + secret files, strict keys, production refusals, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chatkit_onprem.config import ConfigError, Settings, load_settings
from tests.support.server import ROOT, ServerProcess

STRONG = "x" * 32


def _write(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CHATKIT_ONPREM_"):
            monkeypatch.delenv(name)


def test_the_shipped_default_file_is_exactly_the_defaults() -> None:
    from_file = load_settings(ROOT / "config" / "chatkit-onprem.yaml")
    assert from_file.model_dump(mode="json") == Settings().model_dump(mode="json")


def test_unknown_keys_name_their_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, {"server": {"prot": 1}, "stroe": {}}))
    assert "server.prot: unknown key" in str(info.value) and "stroe: unknown key" in str(info.value)
    monkeypatch.setenv("CHATKIT_ONPREM_STORE__MEMORY_LIMT", "1GB")
    with pytest.raises(ConfigError, match=r"store\.memory_limt: unknown key"):
        load_settings(_write(tmp_path, {}))


def test_environment_beats_the_file_and_is_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, {"server": {"port": 9000, "cors_origins": ["https://a"]}})
    monkeypatch.setenv("CHATKIT_ONPREM_SERVER__PORT", "9100")
    monkeypatch.setenv("CHATKIT_ONPREM_SERVER__CORS_ORIGINS", "[https://b, https://c]")
    settings = load_settings(path)
    assert settings.server.port == 9100
    assert settings.server.cors_origins == ["https://b", "https://c"]


def test_admin_cli_variables_are_not_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATKIT_ONPREM_ADMIN_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CHATKIT_ONPREM_ADMIN_TOKEN", STRONG)
    assert load_settings(_write(tmp_path, {})).server.port == 8000


def test_variable_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT_FROM_ENV", "7070")
    text = "server:\n  port: ${PORT_FROM_ENV}\n  host: ${HOST_UNSET:-0.0.0.0}\n"
    settings = load_settings(_write(tmp_path, text))
    assert settings.server.port == 7070 and settings.server.host == "0.0.0.0"
    with pytest.raises(ConfigError, match=r"server.public_url: environment variable NOPE_URL is not set"):
        load_settings(_write(tmp_path, "server:\n  public_url: ${NOPE_URL}\n"))


def test_secrets_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "token"
    secret.write_text(STRONG + "\n")
    settings = load_settings(_write(tmp_path, {"auth": {"admin_token_file": str(secret)}}))
    assert settings.auth.admin_token is not None
    assert settings.auth.admin_token.get_secret_value() == STRONG
    monkeypatch.setenv("CHATKIT_ONPREM_AUTH__ADMIN_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="cannot read secret file"):
        load_settings(_write(tmp_path, {}))


def test_relative_paths_live_under_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(
        _write(tmp_path, {"data_dir": str(tmp_path / "state"), "store": {"path": "db/x.duckdb"}})
    )
    assert settings.store_path == tmp_path / "state" / "db" / "x.duckdb"
    assert settings.local_blob_path == tmp_path / "state" / "blobs"


def test_production_refuses_unsafe_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, {"mode": "production", "logging": {"log_content": True}}))
    text = str(info.value)
    assert "development" in text  # the development identity is refused
    for key in ("auth.admin_token", "logging.log_content", "server.public_url"):
        assert f"{key}:" in text


def test_config_check_prints_the_effective_config_with_secrets_redacted(tmp_path: Path) -> None:
    path = _write(tmp_path, {"auth": {"admin_token": STRONG}, "server": {"port": 9123}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ONPREM_")}
    done = subprocess.run(
        [sys.executable, "-m", "chatkit_onprem", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert STRONG not in done.stdout + done.stderr
    effective = yaml.safe_load(done.stdout)
    assert effective["server"]["port"] == 9123 and effective["auth"]["admin_token"] == "**********"

    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatkit_onprem",
            "config",
            "check",
            "--config",
            str(_write(tmp_path, {"sever": {}})),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 2 and "sever: unknown key" in bad.stderr


def test_the_server_refuses_to_start_with_an_unsafe_production_config(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, {"mode": "production"})
    with pytest.raises(RuntimeError, match=r"invalid configuration(.|\n)*development"):
        server.start(timeout=20)


def test_a_server_that_leaves_its_jobs_to_another_process_needs_postgres(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"server\.run_jobs: must be true with store\.backend 'duckdb'"):
        Settings(data_dir=tmp_path, server={"run_jobs": False})
    settings = Settings(
        data_dir=tmp_path,
        server={"run_jobs": False},
        store={"backend": "postgres", "postgres": {"dsn": "postgresql://db/chatkit"}},
    )
    assert settings.server.run_jobs is False


def test_the_jobs_command_refuses_duckdb(tmp_path: Path) -> None:
    config = _write(tmp_path, {"data_dir": str(tmp_path / "data")})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ONPREM_")}
    result = subprocess.run(
        [sys.executable, "-m", "chatkit_onprem", "jobs", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "needs store.backend 'postgres'" in result.stderr
    assert not (tmp_path / "data").exists(), "refused before opening anything"
