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
the next run deletes again (``missing_ok``) and forgets. Nodes sharing a PostgreSQL
store each keep the audio they made in their own data directory, so the node that
prunes a row may not hold its file: each run therefore also sweeps this node's own
folders older than the retention period whose alert the store says is ``pruned``.
An alert without ``<expires>`` keeps its audio (``expires_at`` is NULL): CAP says such
an alert is in force until it is updated or cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from router.assets.media import SPEECH_PRUNED
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


def _old_folders(assets_dir: Path, before: datetime) -> list[Path]:
    """This node's alert folders last changed before ``before`` (candidates for the sweep)."""
    if not assets_dir.is_dir():
        return []
    cutoff = before.timestamp()
    return [p for p in assets_dir.iterdir() if p.is_dir() and p.stat().st_mtime < cutoff]


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
                break
            await asyncio.to_thread(_delete_files, self.assets_dir, records)
            deleted = await self.store.prune_assets(
                sorted({r.alert_id for r in records}), before)
            total += deleted
            log.info("assets.pruned", files=len(records), total=total)
            if len(records) < BATCH or deleted == 0:  # 0: nothing more this run can do
                break
        await self._sweep(before)
        return total

    async def _sweep(self, before: datetime) -> None:
        """Remove this node's folders of alerts another node pruned (see the module)."""
        for folder in await asyncio.to_thread(_old_folders, self.assets_dir, before):
            stored = await self.store.variants(folder.name)
            if stored is not None and stored.speech_state == SPEECH_PRUNED:
                await asyncio.to_thread(shutil.rmtree, folder, True)
                log.info("assets.swept", alert_id=folder.name)

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
