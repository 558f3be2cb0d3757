"""Stores for tests, made the way the service makes them (``router.storage.open_stores``).

Tests are typed against the protocols (``AlertStore``, ``AudienceStore``), never an
implementation: a second store (PostgreSQL) runs the same tests by giving another URL.
``TOCSIN_TEST_STORE`` picks it; unset, each test gets its own SQLite file.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from router.storage import Stores, open_stores


def store_url(directory: Path, name: str = "s.sqlite3") -> str:
    """The store URL a test in ``directory`` uses: ``TOCSIN_TEST_STORE`` or a SQLite file."""
    return os.environ.get("TOCSIN_TEST_STORE") or f"sqlite:///{directory / name}"


@asynccontextmanager
async def opened_stores(directory: Path, name: str = "s.sqlite3", *,
                        max_batch: int = 256) -> AsyncIterator[Stores]:
    """Open the stores of one test; closed (every write finished) when it ends."""
    stores = open_stores(store_url(directory, name), directory, max_batch=max_batch)
    await stores.open()
    try:
        yield stores
    finally:
        await stores.close()
