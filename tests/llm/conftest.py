"""Fixtures for model-upstream tests: a fake OpenAI-compatible upstream, a forward proxy, a CA."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.llm.certs import Pki, make_pki
from tests.llm.fakes import FakeUpstream, ForwardProxy


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake  # type: ignore[misc]
    fake.stop()


@pytest.fixture
def make_proxy() -> Iterator[Callable[..., ForwardProxy]]:
    started: list[ForwardProxy] = []

    def make(**kwargs: Any) -> ForwardProxy:
        proxy = ForwardProxy(**kwargs)
        proxy.start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def llm_config(
    upstreams: dict[str, dict[str, Any]],
    aliases: dict[str, dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """A server config whose ``llm`` section names these upstreams and aliases."""
    fast = {"timeouts": {"connect": 2, "read": 5, "total": 20}, "max_retries": 0}
    return {
        "llm": {
            "upstreams": {name: {**fast, **spec} for name, spec in upstreams.items()},
            "aliases": aliases,
            **extra,
        }
    }


def upstream_dir(tmp_path: Path) -> Path:
    return tmp_path
