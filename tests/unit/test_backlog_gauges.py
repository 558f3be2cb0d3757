"""The store backlog gauges (issue 18): set from one read, bounded labels, refreshed on a
timer, and a failed read keeps the last values without stopping the refresh."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import cast

from router.errors import StoreUnavailableError
from router.observability.metrics import BACKLOG_STATES, Metrics
from router.record import BacklogGauges
from router.store import ChannelBacklog, DeliveryState, Store, StoreBacklog
from router.store.backlog import BACKLOG_STATES as STORE_STATES

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
BACKLOG = StoreBacklog({
    "webhook": ChannelBacklog({DeliveryState.PENDING: 12_905, DeliveryState.SENDING: 41},
                              NOW - timedelta(seconds=300)),
    "retired-a": ChannelBacklog({DeliveryState.PENDING: 2}, NOW - timedelta(seconds=50)),
    "retired-b": ChannelBacklog({DeliveryState.PENDING: 3}, NOW - timedelta(seconds=70)),
})


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


class FlakyStore:
    """Answers with ``BACKLOG``, failing the reads listed in ``failing``; notes the
    webhook's pending gauge as each read starts (what the previous reads left)."""

    def __init__(self, failing: set[int], metrics: Metrics | None = None) -> None:
        self.reads = 0
        self.failing = failing
        self.metrics = metrics
        self.seen: list[float | None] = []

    async def delivery_backlog(self) -> StoreBacklog:
        self.reads += 1
        if self.metrics is not None:
            self.seen.append(value(self.metrics, "tocsin_store_deliveries",
                                   channel="webhook", state="pending"))
        if self.reads in self.failing:
            raise StoreUnavailableError("the store is busy")
        if self.reads == 3:
            raise ValueError("a row the read did not expect")
        return BACKLOG if self.reads < 4 else StoreBacklog({})


def test_metric_states_are_the_stores_open_states() -> None:
    assert tuple(s.value for s in STORE_STATES) == BACKLOG_STATES


def test_every_channel_and_state_is_exported_from_start_up() -> None:
    metrics = Metrics(["webhook", "file"], process=False)
    for state in BACKLOG_STATES:
        assert value(metrics, "tocsin_store_deliveries", channel="file", state=state) == 0
    assert value(metrics, "tocsin_store_oldest_pending_age_seconds", channel="file") == 0


def test_show_sets_counts_ages_and_bounds_the_channel_label() -> None:
    metrics = Metrics(["webhook", "file"], process=False)
    gauges = BacklogGauges(cast("Store", FlakyStore(set())), metrics)
    gauges.show(BACKLOG, NOW)
    assert value(metrics, "tocsin_store_deliveries", channel="webhook",
                 state="pending") == 12_905
    assert value(metrics, "tocsin_store_deliveries", channel="webhook", state="sending") == 41
    assert value(metrics, "tocsin_store_oldest_pending_age_seconds", channel="webhook") == 300
    # channels outside the configuration: one "other" series, summed, the oldest of them
    assert value(metrics, "tocsin_store_deliveries", channel="other", state="pending") == 5
    assert value(metrics, "tocsin_store_oldest_pending_age_seconds", channel="other") == 70
    assert value(metrics, "tocsin_store_deliveries", channel="retired-a",
                 state="pending") is None
    # drained: every series it set goes back to zero
    gauges.show(StoreBacklog({}), NOW)
    for channel in ("webhook", "other"):
        assert value(metrics, "tocsin_store_deliveries", channel=channel,
                     state="pending") == 0
        assert value(metrics, "tocsin_store_oldest_pending_age_seconds", channel=channel) == 0


async def test_a_failed_read_keeps_the_last_values_and_the_loop_goes_on() -> None:
    metrics = Metrics(["webhook"], process=False)
    store = FlakyStore({2}, metrics)
    gauges = BacklogGauges(cast("Store", store), metrics, interval_s=0.01)
    running = gauges.running(None)
    await anext(running)
    for _ in range(200):  # bounded: 2 s at most
        if store.reads >= 5:
            break
        await asyncio.sleep(0.01)
    assert store.reads >= 5, "the refresh stopped after a failed read"
    # read 1 set the values; read 2 (unavailable) and read 3 (a fault) kept them;
    # read 4 found the store drained
    assert store.seen[:5] == [0, 12_905, 12_905, 12_905, 0]
    await anext(running, None)  # stops the task
    assert gauges._task is not None
    assert gauges._task.done()
