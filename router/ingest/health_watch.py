"""Each channel's network element, as its adapter reports it, for the crisis dashboard.

Stage: ingest. ``Channel.health()`` may cost a network call (a CBC's API, an SMSC bind
wait, a push service probe), so the dashboard's stream never waits for it: ``current``
answers the last reading at once and starts the next one in the background when the
last is older than ``EVERY_S``. Readings happen only while someone watches (one open
``GET /api/v1/events`` stream is enough), at most one at a time, each channel bounded by
``TIMEOUT_S``. A check that raises or times out reads as down, with what went wrong.

Texts are passed through ``redact`` first: a URL's user and password never reach a
screen, even where a deployment wrote them into a channel's URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from router.channel import Channel, Health

EVERY_S = 10.0
TIMEOUT_S = 5.0
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def redact(value: Any) -> Any:
    """``value`` with ``user:password@`` taken out of every URL in its strings."""
    if isinstance(value, str):
        return _USERINFO.sub("", value)
    if isinstance(value, Mapping):
        return {str(key): redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


class HealthWatch:
    def __init__(self, every_s: float = EVERY_S, timeout_s: float = TIMEOUT_S) -> None:
        self.every_s = every_s
        self.timeout_s = timeout_s
        self.latest: dict[str, dict[str, Any]] = {}
        self._read_at = -math.inf
        self._task: asyncio.Task[None] | None = None

    def current(self, channels: Mapping[str, Channel]) -> dict[str, dict[str, Any]]:
        """The last reading (``{}`` before the first), starting a new one when due."""
        now = time.monotonic()
        if now - self._read_at >= self.every_s and (self._task is None or self._task.done()):
            self._read_at = now
            self._task = asyncio.create_task(self._read(dict(channels)),
                                             name="tocsin-channel-health")
        return self.latest

    async def wait(self) -> None:
        """Until the reading in progress, if any, is in (tests, and a clean shutdown)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _read(self, channels: dict[str, Channel]) -> None:
        readings = await asyncio.gather(*(self._one(channel) for channel in channels.values()))
        self.latest = dict(zip(channels, readings, strict=True))

    async def _one(self, channel: Channel) -> dict[str, Any]:
        checked_at = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            async with asyncio.timeout(self.timeout_s):
                health = await channel.health()
        except TimeoutError:
            health = Health(False, f"no answer to the health check within {self.timeout_s:g} s")
        except Exception as exc:  # an adapter's fault reads as down, never ends the stream
            health = Health(False, f"health check failed: {type(exc).__name__}: {exc}")
        return {"ok": health.ok, "detail": redact(health.detail),
                "facts": redact(dict(health.facts)), "checked_at": checked_at}
