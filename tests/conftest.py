"""Fixtures every test directory shares: the store a contract test runs on."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests import stores
from tests.postgres import binaries


@pytest.fixture(params=stores.BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once on SQLite and once on PostgreSQL (``tests.stores``). Without
    PostgreSQL installed the second run is skipped -- unless ``TOCSIN_REQUIRE_POSTGRES``
    is set (``make test`` sets it after installing it), when it fails."""
    chosen: str = request.param
    if chosen == "postgresql" and binaries() is None:
        if os.environ.get("TOCSIN_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (TOCSIN_REQUIRE_POSTGRES) but not installed")
        pytest.skip("PostgreSQL is not installed")
    stores.backend = chosen
    try:
        yield chosen
    finally:
        stores.backend = None
