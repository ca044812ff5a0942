"""Shared fixtures: a real server over HTTP, a ChatKit client, and egress guards for both processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.client import ChatKitClient
from tests.support.egress_guard import egress_guard  # noqa: F401 - autouse: the test process stays on loopback
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per test module, on embedded defaults (scripted model, no delay)."""
    proc = ServerProcess(tmp_path_factory.mktemp("server")).start()
    yield proc
    proc.stop()
    assert proc.egress() == [], f"server tried to leave loopback: {proc.egress()}"


@pytest.fixture
def client(server: ServerProcess) -> ChatKitClient:
    return ChatKitClient(server.url)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with custom config for one test; each is stopped and egress-checked."""
    started: list[ServerProcess] = []

    def make(
        config: dict[str, Any] | None = None,
        *,
        name: str = "srv",
        start: bool = True,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        proc = ServerProcess(tmp_path / f"{name}{len(started)}", config, env)
        started.append(proc)
        return proc.start() if start else proc

    yield make
    for proc in started:
        proc.stop()
    leaks = [line for proc in started for line in proc.egress()]
    assert leaks == [], f"server tried to leave loopback: {leaks}"
