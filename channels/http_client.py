"""The one aiohttp session an HTTP-speaking adapter keeps between ``start`` and ``close``.

Every HTTP adapter (webhook, cell broadcast's ECBE transport, the EWSS uplink, the
wallet's push sender) opens one session when the channel starts and closes it at
shutdown; a send before ``start`` (or after ``close``) is a transient failure the
dispatcher retries, not a crash.
"""

from __future__ import annotations

import aiohttp

from router.channel import FailureReason, TransientError


class HttpClient:
    def __init__(self, what: str, timeout_s: float, *, connections: int | None = None) -> None:
        self.what = what  # for the error: "the webhook channel", "the EWSS uplink"
        self.timeout_s = timeout_s
        self.connections = connections  # None: aiohttp's default pool size
        self._session: aiohttp.ClientSession | None = None

    @property
    def started(self) -> bool:
        return self._session is not None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The open session; ``TransientError(UNAVAILABLE)`` when not started."""
        if self._session is None:
            raise TransientError(f"{self.what} is not started", FailureReason.UNAVAILABLE)
        return self._session

    async def start(self) -> None:
        connector = (aiohttp.TCPConnector(limit=self.connections)
                     if self.connections is not None else None)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout_s))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
