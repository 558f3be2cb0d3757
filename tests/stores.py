"""Stores for tests, made the way the service makes them (``router.storage.open_stores``).

Tests are typed against the protocols (``AlertStore``, ``AudienceStore``), never an
implementation, so one test runs on SQLite and on PostgreSQL. A module that is part of
the store contract suite says ``pytestmark = pytest.mark.usefixtures("store_backend")``
(``tests/conftest.py``): each of its tests then runs once per store, and every store the
test opens is a fresh one -- a SQLite file in its directory, or a new database on the
session's throwaway PostgreSQL server (``tests.postgres``).

``TOCSIN_TEST_STORE=postgresql`` sends every test that opens stores here to PostgreSQL;
another value is used as the store URL itself.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from router.storage import Stores, open_stores
from tests.postgres import PostgresServer, start_postgres

BACKENDS = ("sqlite", "postgresql")
backend: str | None = None
"""The store the running test was parametrized with (``tests/conftest.py``)."""
_server: PostgresServer | None = None


def postgres_server() -> PostgresServer:
    """The session's PostgreSQL server, started at first use and removed at exit."""
    global _server  # noqa: PLW0603  (one server per test session)
    if _server is None:
        _server = start_postgres()
        atexit.register(_server.remove)
    return _server


def store_url(directory: Path, name: str = "s.sqlite3") -> str:
    """A fresh store's URL for a test in ``directory``."""
    chosen = backend or os.environ.get("TOCSIN_TEST_STORE") or "sqlite"
    if chosen == "postgresql":
        return postgres_server().create_database()
    if chosen != "sqlite":
        return chosen
    return f"sqlite:///{directory / name}"


@asynccontextmanager
async def opened_stores(directory: Path, name: str = "s.sqlite3", *,
                        max_batch: int = 256, url: str | None = None
                        ) -> AsyncIterator[Stores]:
    """Open the stores of one test (``url``: the same store again); closed (every write
    finished) when it ends."""
    stores = open_stores(url or store_url(directory, name), directory, max_batch=max_batch)
    await stores.open()
    try:
        yield stores
    finally:
        await stores.close()
