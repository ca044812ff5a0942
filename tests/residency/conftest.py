"""Fixtures for key and residency tests: a moto S3 server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.uploads.support import MotoS3


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    server = MotoS3().start()
    yield server
    server.stop()
