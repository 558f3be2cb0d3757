"""Wake-ups for live progress: who is watching which alert.

Stage: record. The recorder calls ``changed(alert_id)`` after each attempt or
fallback it stores; ``GET /api/v1/alerts/{id}/events`` waits on ``watch`` and then
reads the store, so the store stays the one source of truth and a missed wake-up
costs at most one poll interval. Watchers of an alert this node does not deliver
(another node claimed it) still see progress through that poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class ProgressHub:
    def __init__(self) -> None:
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._everything: set[asyncio.Event] = set()

    @contextmanager
    def watch(self, alert_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever something is recorded for ``alert_id``; the caller
        clears it before reading the store."""
        event = asyncio.Event()
        self._watchers.setdefault(alert_id, set()).add(event)
        try:
            yield event
        finally:
            watchers = self._watchers.get(alert_id, set())
            watchers.discard(event)
            if not watchers:
                self._watchers.pop(alert_id, None)

    @contextmanager
    def watch_all(self) -> Iterator[asyncio.Event]:
        """An event set whenever something is recorded for any alert (the crisis
        dashboard's stream, ``GET /api/v1/events``)."""
        event = asyncio.Event()
        self._everything.add(event)
        try:
            yield event
        finally:
            self._everything.discard(event)

    def changed(self, alert_id: str) -> None:
        for event in (*self._watchers.get(alert_id, ()), *self._everything):
            event.set()

    def __len__(self) -> int:
        """Alerts watched right now."""
        return len(self._watchers)
