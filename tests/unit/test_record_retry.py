"""An outcome that happened on the network is stored even when the store was away for
a moment (a database restart): the record stage tries again rather than dropping it,
which would leave the delivery ``sending`` under this node's lease, to be sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from router.errors import StoreUnavailableError
from router.observability.metrics import Metrics
from router.record import Recorder
from router.record import recorder as recorder_module
from router.store import AlertStore, AttemptResult, DeliveryState, PlannedDelivery
from tests.stores import opened_stores
from tests.unit.test_dispatcher import accept

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite


class Flaky:
    """The store, unavailable for its first ``failures`` calls of ``record_attempt``."""

    def __init__(self, store: AlertStore, failures: int) -> None:
        self._store, self.failures = store, failures

    async def record_attempt(self, result: AttemptResult) -> DeliveryState:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("the store could not commit: server closed")
        return await self._store.record_attempt(result)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AlertStore]:
    async with opened_stores(tmp_path) as opened:
        yield opened.alerts


async def test_an_outcome_is_stored_once_the_store_is_back(
        store: AlertStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder_module, "RECORD_RETRY_S", (0.01,))
    alert_id = await accept(store, "AWAY", [PlannedDelivery("a", "r")])
    [claim] = await store.claim_due(datetime.now(UTC), 5)
    flaky = Flaky(store, failures=3)
    recorder = Recorder(flaky, Metrics(["a"], process=False))  # type: ignore[arg-type]
    now = datetime.now(UTC)
    state = await recorder.attempt(claim, AttemptResult(
        alert_id, "a", 1, now, now, "delivered", DeliveryState.DELIVERED))
    assert state is DeliveryState.DELIVERED
    assert flaky.failures == 0
    record = await store.get(alert_id)
    assert record is not None
    assert [(d.state, len(d.history)) for d in record.deliveries] == [
        (DeliveryState.DELIVERED, 1)]
