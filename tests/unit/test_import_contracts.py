"""The import direction the store split promised, checked on the real import graph:
the alert store imports neither the channel contract nor the audience, and only
``router.storage`` names a store implementation above the store itself."""

from __future__ import annotations

import grimp
import pytest

GRAPH = grimp.build_graph("router", "channels")


@pytest.mark.parametrize("imported", ["router.channel", "router.audience", "channels"])
def test_the_alert_store_does_not_import(imported: str) -> None:
    chain = GRAPH.find_shortest_chain(importer="router.store", imported=imported,
                                      as_packages=True)
    assert chain is None, " -> ".join(chain or ())


SHARING = ("router.store", "router.audience", "router.channel_state")
"""The stores that share one SQLite database (each SQLite implementation wraps it)."""


def test_only_the_factory_names_the_sqlite_implementations() -> None:
    importers = {m for m in GRAPH.find_modules_that_directly_import("router.store.sqlite")
                 | GRAPH.find_modules_that_directly_import("router.audience.sqlite")
                 | GRAPH.find_modules_that_directly_import("router.channel_state.sqlite")
                 if not m.startswith(SHARING)}
    assert importers == {"router.storage"}


def test_router_imports_no_adapter_and_no_mock_element() -> None:
    """Adapters and demo elements come through entry points; the service names none."""
    chain = GRAPH.find_shortest_chain(importer="router", imported="channels",
                                      as_packages=True)
    assert chain is None, " -> ".join(chain or ())


def test_the_audience_serves_its_subscription_routes() -> None:
    """The wallet subscription handlers live with the audience that owns who can be
    reached; the alert API only lists them in its route table and document."""
    from router.ingest import ENDPOINTS  # noqa: PLC0415

    owners = {(e.method, e.path): e.handler.__module__ for e in ENDPOINTS
              if e.path.startswith("/api/v1/wallet/subscriptions")}
    assert len(owners) == 3
    assert set(owners.values()) == {"router.audience.http"}
    assert GRAPH.find_shortest_chain(importer="router.audience", imported="router.ingest",
                                     as_packages=True) is None
