"""The approval window: held alerts nobody approved in time become ``expired_unapproved``.

Stage: ingest (a background task of ``tocsin serve``). The window's end is stored with
each held alert, so the sweep needs no memory of its own: after a restart the first
sweep expires whatever fell due while the service was down. An approval arriving
after the window closed is refused by the store itself, whether or not the sweep has
run yet, so the sweep's interval only decides how soon the state reads as expired.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog

from router.errors import StoreUnavailableError
from router.store import Store

log = structlog.get_logger("tocsin.approval")


class ApprovalSweeper:
    def __init__(self, store: Store, interval_s: float) -> None:
        self.store = store
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> list[str]:
        expired = await self.store.expire_unapproved()
        for alert_id in expired:
            log.warning("approval.expired", alert_id=alert_id,
                        detail="not approved within the approval window; never delivered")
        return expired

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except StoreUnavailableError:  # closed or full: the next sweep tries again
                log.warning("approval.sweep_failed", detail="store unavailable")
            await asyncio.sleep(self.interval_s)

    async def running(self, _app: object) -> AsyncIterator[None]:
        """An aiohttp ``cleanup_ctx``: sweeps while the service runs."""
        self._task = asyncio.create_task(self._run(), name="tocsin-approval-sweeper")
        yield
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
