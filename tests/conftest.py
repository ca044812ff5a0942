"""Shared fixtures: a real server over HTTP, a ChatKit client, and egress guards for both processes.

Store backends: a test module (or a test) marked ``pytest.mark.backends("duckdb", "postgres")`` runs
every test that uses ``server`` or ``make_server`` once per backend (PostgreSQL: a
throwaway cluster started once per session, a fresh database per server). Unmarked
modules run on DuckDB, the embedded default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.client import ChatKitClient
from tests.support.egress_guard import egress_guard  # noqa: F401 - autouse: the test process stays on loopback
from tests.support.postgres import PostgresCluster
from tests.support.server import ServerProcess, deep_merge


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run the module's server tests on these backends")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        names = list(marker.args) if marker else ["duckdb"]
        metafunc.parametrize("store_backend", names, scope="module")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def store_config(store_backend: str, request: pytest.FixtureRequest) -> Callable[[], dict[str, Any]]:
    """Config for a new server on this module's backend (a fresh PostgreSQL database each call)."""

    def make() -> dict[str, Any]:
        if store_backend != "postgres":
            return {}
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        return {"store": {"backend": "postgres", "postgres": {"dsn": cluster.create_database()}}}

    return make


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, store_config: Callable[[], dict[str, Any]]
) -> Iterator[ServerProcess]:
    """One server per test module, on embedded defaults (scripted model, no delay)."""
    proc = ServerProcess(tmp_path_factory.mktemp("server"), store_config()).start()
    yield proc
    proc.stop()
    assert proc.egress() == [], f"server tried to leave loopback: {proc.egress()}"


@pytest.fixture
def client(server: ServerProcess) -> ChatKitClient:
    return ChatKitClient(server.url)


@pytest.fixture
def make_server(
    tmp_path: Path, store_config: Callable[[], dict[str, Any]]
) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with custom config for one test; each is stopped and egress-checked."""
    started: list[ServerProcess] = []

    def make(
        config: dict[str, Any] | None = None,
        *,
        name: str = "srv",
        start: bool = True,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        merged = deep_merge(store_config(), config or {})
        proc = ServerProcess(tmp_path / f"{name}{len(started)}", merged, env)
        started.append(proc)
        return proc.start() if start else proc

    yield make
    for proc in started:
        proc.stop()
    leaks = [line for proc in started for line in proc.egress()]
    assert leaks == [], f"server tried to leave loopback: {leaks}"
