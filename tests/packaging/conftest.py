"""One custom-resource validator (a node process) for the whole test run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.packaging.custom_resources import CustomResourceValidator


@pytest.fixture(scope="session")
def custom_resources() -> Iterator[CustomResourceValidator]:
    """Fails (never skips) when node or the pinned npm packages are missing: see scripts/test-deps."""
    with CustomResourceValidator() as validator:
        yield validator
