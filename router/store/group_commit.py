"""The queue both store writers take their jobs from (group commit).

Stage: the store layer. The SQLite writer and each PostgreSQL node's writer run one
thread that takes whatever jobs are queued, up to ``max_batch``, as one transaction,
and answers each caller on its event loop once the commit returned. Only the
transaction differs between them; the queue, the batching and the answering are here.
"""

from __future__ import annotations

import asyncio
import queue
from typing import Any

STOP = object()
"""Put on the queue to end the writer after the jobs before it."""


def next_batch(jobs: queue.SimpleQueue[Any], max_batch: int) -> tuple[list[Any], bool]:
    """Wait for one job, then take what else is queued, up to ``max_batch``; and whether
    ``STOP`` was met (the writer ends after this batch)."""
    batch: list[Any] = []
    item = jobs.get()
    while True:
        if item is STOP:
            return batch, True
        batch.append(item)
        if len(batch) >= max_batch:
            return batch, False
        try:
            item = jobs.get_nowait()
        except queue.Empty:
            return batch, False


def settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    """Answer one caller (on its loop: ``loop.call_soon_threadsafe(settle, ...)``)."""
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
