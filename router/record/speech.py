"""How far speech is behind, as gauges: ``tocsin_speech_backlog`` (alerts waiting for
their spoken variants) and ``tocsin_speech_oldest_pending_age_seconds``.

Stage: record (outcomes become metrics here). Speech is made after the 202 at low
priority, at most one alert per core at a time (``router.assets.speech``), so in a burst it falls
behind on purpose; these show by how much and whether it is catching up. Read from
the store on the delivery backlog's timer (``store_backlog_interval_s``), never per
scrape; the figures are the whole store's, so nodes sharing one report the same
(chart ``max``, not ``sum``). A failed read keeps the last values and is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import structlog

from router.errors import StoreUnavailableError
from router.observability.metrics import Metrics
from router.store import SpeechBacklog, Store

log = structlog.get_logger("tocsin.backlog")


class SpeechBacklogGauges:
    def __init__(self, store: Store, metrics: Metrics, interval_s: float = 5.0) -> None:
        self.store = store
        self.metrics = metrics
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> SpeechBacklog:
        """Read the speech backlog once and set both gauges; raises if the read fails."""
        backlog = await self.store.speech_backlog()
        self.metrics.speech_backlog.set(backlog.pending)
        self.metrics.speech_oldest_pending_age.set(backlog.oldest_age_s(datetime.now(UTC)))
        return backlog

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except StoreUnavailableError as exc:
                log.warning("speech_backlog.read_failed", error=str(exc),
                            detail="speech backlog gauges keep their last values")
            except Exception:  # a fault of the read itself: say so, keep going
                log.exception("speech_backlog.read_failed",
                              detail="speech backlog gauges keep their last values")
            await asyncio.sleep(self.interval_s)

    async def running(self, _app: object) -> AsyncIterator[None]:
        """An aiohttp ``cleanup_ctx`` (after the one that opens the store)."""
        self._task = asyncio.create_task(self._run(), name="tocsin-speech-backlog-gauges")
        yield
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
