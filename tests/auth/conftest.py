"""Fixtures: the in-test IdP and one production-mode server per module that trusts it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.auth.idp import TestIdP, oidc_config
from tests.support.client import ChatKitClient
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def idp() -> Iterator[TestIdP]:
    provider = TestIdP()
    yield provider
    provider.close()


@pytest.fixture(scope="module")
def prod_server(tmp_path_factory: pytest.TempPathFactory, idp: TestIdP) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("prod"), oidc_config(idp)).start()
    yield proc
    proc.stop()
    assert proc.egress() == [], f"server tried to leave loopback: {proc.egress()}"


def as_caller(server: ServerProcess, token: str) -> ChatKitClient:
    """A ChatKit client that authenticates with ``token`` (the dev headers it also sends are ignored)."""
    return ChatKitClient(server.url, "ignored", "ignored", Authorization=f"Bearer {token}")
