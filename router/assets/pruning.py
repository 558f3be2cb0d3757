"""Pruning: spoken audio is deleted once its alert has expired and the retention period
has passed, so the assets directory does not grow with every alert ever spoken.

Stage: assets (deletes files, calls the store). Each asset row carries its alert's
latest ``<expires>`` (``expires_at``, set by the speech worker). Every
``asset_prune_interval_s`` this task reads the rows that expired longer ago than
``asset_retention_days`` (7 by default; applied when pruning, so a changed setting
holds for audio made before it), a bounded batch at a time, deletes their files, and
then the rows; an alert left with no asset gets ``speech_state = pruned``, and its
asset routes answer 410 Gone (``asset.pruned``) rather than 404, so a client knows
the file is not late but gone.

Files first, rows second: a crash in between leaves rows whose files are gone, which
the next run deletes again (``missing_ok``) and forgets; never a file no row names.
An alert without ``<expires>`` keeps its audio (``expires_at`` is NULL): CAP says such
an alert is in force until it is updated or cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from router.errors import StoreUnavailableError
from router.store import AssetRecord, Store

log = structlog.get_logger("tocsin.assets")
BATCH = 500
"""Rows read and deleted per transaction: a long backlog of expired audio (a first run
after an upgrade) never holds the writer for long."""


def _delete_files(assets_dir: Path, records: list[AssetRecord]) -> None:
    for record in records:
        folder = assets_dir / record.alert_id
        (folder / record.name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty (another file) or already gone
            folder.rmdir()


class AssetPruner:
    def __init__(self, store: Store, assets_dir: Path, *,
                 retention: timedelta = timedelta(days=7), interval_s: float = 3600.0,
                 enabled: bool = True) -> None:
        self.store = store
        self.retention = retention
        self.assets_dir = assets_dir
        self.interval_s = interval_s
        self.enabled = enabled
        self._task: asyncio.Task[None] | None = None

    async def prune(self, now: datetime | None = None) -> int:
        """Delete every asset whose alert expired longer than the retention period before
        ``now``; returns how many."""
        before = (now or datetime.now(UTC)) - self.retention
        total = 0
        while True:
            records = await self.store.expired_assets(before, BATCH)
            if not records:
                return total
            await asyncio.to_thread(_delete_files, self.assets_dir, records)
            deleted = await self.store.prune_assets(
                sorted({r.alert_id for r in records}), before)
            total += deleted
            log.info("assets.pruned", files=len(records), total=total)
            if len(records) < BATCH or deleted == 0:  # 0: nothing more this run can do
                return total

    async def _run(self) -> None:
        while True:
            try:
                await self.prune()
            except StoreUnavailableError as exc:
                log.warning("assets.prune_failed", error=str(exc), detail="tried again later")
            except Exception:  # a fault of pruning itself: say so, keep going
                log.exception("assets.prune_failed")
            await asyncio.sleep(self.interval_s)

    async def running(self, _app: object) -> AsyncIterator[None]:
        """An aiohttp ``cleanup_ctx`` (after the one that opens the store)."""
        if self.enabled:
            self._task = asyncio.create_task(self._run(), name="tocsin-asset-pruning")
        yield
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
