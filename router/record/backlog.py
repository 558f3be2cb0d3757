"""The store's delivery backlog as gauges, refreshed on a timer rather than per scrape.

Stage: record (the one place outcomes become metrics). Every few seconds (the
``store_backlog_interval_s`` setting, 5 s by default) one cheap grouped read of the
store (``AlertStore.delivery_backlog``) sets ``tocsin_store_deliveries{channel,state}``
and ``tocsin_store_oldest_pending_age_seconds{channel}``. On a timer, not in the
``/metrics`` handler: scrapes from several Prometheus servers (or a curious operator)
then cost nothing, and a slow store cannot make a scrape time out.

The figures are the whole store's, so every node sharing a store reports the same
backlog: chart and alert on ``max by (channel)``, not ``sum``. A read that fails (the
store closed, busy or unreachable) is logged and leaves the last values in place; the
loop goes on, and the gauges catch up at the next read that works.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import structlog

from router.errors import StoreUnavailableError
from router.observability.metrics import BACKLOG_STATES, Metrics
from router.store import Store, StoreBacklog

log = structlog.get_logger("tocsin.backlog")


class BacklogGauges:
    def __init__(self, store: Store, metrics: Metrics, interval_s: float = 5.0) -> None:
        self.store = store
        self.metrics = metrics
        self.interval_s = interval_s
        self._seen: set[str] = set(metrics.channels)
        """Channel labels set at least once: each is set again (to 0) when it empties."""
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> StoreBacklog:
        """Read the backlog once and set the gauges; raises if the read fails."""
        backlog = await self.store.delivery_backlog()
        self.show(backlog, datetime.now(UTC))
        return backlog

    def show(self, backlog: StoreBacklog, now: datetime) -> None:
        """Set every series from ``backlog``: a channel outside the configuration counts
        as ``other`` (summed, and the oldest of them); a channel with nothing open is 0."""
        counts: dict[tuple[str, str], int] = {}
        ages: dict[str, float] = {}
        for name, channel in backlog.channels.items():
            label = self.metrics.channel(name)
            for delivery_state, count in channel.counts.items():
                key = (label, delivery_state.value)
                counts[key] = counts.get(key, 0) + count
            ages[label] = max(ages.get(label, 0.0), channel.oldest_age_s(now))
        self._seen |= set(ages)
        for label in self._seen:
            for state in BACKLOG_STATES:
                self.metrics.store_deliveries.labels(label, state).set(
                    counts.get((label, state), 0))
            self.metrics.store_oldest_pending_age.labels(label).set(ages.get(label, 0.0))

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except StoreUnavailableError as exc:  # closed, full or unreachable
                log.warning("backlog.read_failed", error=str(exc),
                            detail="store backlog gauges keep their last values")
            except Exception:  # a fault of the read itself: say so, keep going
                log.exception("backlog.read_failed",
                              detail="store backlog gauges keep their last values")
            await asyncio.sleep(self.interval_s)

    async def running(self, _app: object) -> AsyncIterator[None]:
        """An aiohttp ``cleanup_ctx``: refreshes while the service runs (append it after
        the one that opens the store, so it stops before the store closes)."""
        self._task = asyncio.create_task(self._run(), name="tocsin-backlog-gauges")
        yield
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

