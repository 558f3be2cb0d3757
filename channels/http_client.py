"""The one aiohttp session an HTTP-speaking adapter keeps between ``start`` and ``close``.

Every HTTP adapter (webhook, cell broadcast's ECBE transport, the EWSS uplink, the
wallet's push sender) opens one session when the channel starts and closes it at
shutdown; a send before ``start`` (or after ``close``) is a transient failure the
dispatcher retries, not a crash.

Redirects are never followed, by any adapter: a push endpoint or webhook URL passed
the allow-list as written, and a ``307`` from it would make Tocsin repeat the same
POST (the encrypted alert, the signed payload) to wherever ``Location`` points. The
session's middleware turns every 3xx answer into ``RedirectRefusedError`` (an
``aiohttp.ClientResponseError``, so an adapter that does not look for it treats it
as any other failed HTTP call) before aiohttp could follow it.
"""

from __future__ import annotations

import aiohttp

from router.channel import FailureReason, TransientError

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class RedirectRefusedError(aiohttp.ClientResponseError):
    """The server answered with a redirect; Tocsin did not follow it."""


async def refuse_redirects(request: aiohttp.ClientRequest,
                           handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
    """Client middleware: a 3xx answer ends the call here (see the module docstring)."""
    response = await handler(request)
    if response.status in REDIRECT_STATUSES:
        location = response.headers.get("Location", "")
        response.release()
        raise RedirectRefusedError(
            response.request_info, (), status=response.status,
            message=f"redirect to {location[:200]!r} not followed", headers=response.headers)
    return response


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
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            middlewares=(refuse_redirects,))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
