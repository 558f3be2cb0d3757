"""Rate limits on the HTTP API: 429 with ``Retry-After`` before a handler runs.

Stage: ingest (HTTP middleware; buckets from ``router.ingest.rate_limit``).

- **Writes per principal** (``write_rate_limit``): every POST, PUT, PATCH and DELETE
  made with a valid API key, keyed by that key. A request without a valid key is not
  counted here; the handler answers it 401. The default (10 a second, bursts of 600)
  lets an authority post hundreds of alerts in minutes during a storm and still
  stops a runaway client; benchmarks that post thousands switch it off (``per_s: 0``).
- **The public wallet subscription routes per client address**
  (``subscription_rate_limit``; ``POST``/``PUT``/``DELETE /api/v1/wallet/
  subscriptions``, which take no key): 1 a second, bursts of 60. An IPv6 client is
  keyed by its /64, which one host usually holds whole. Phones behind one carrier
  NAT share an address, so the burst is generous; the address is the one the
  connection comes from (behind a reverse proxy, limit there as well).
"""

from __future__ import annotations

import ipaddress

from aiohttp import web
from aiohttp.typedefs import Handler

from router.audience.http import SUBSCRIPTIONS_PATH
from router.http.problems import ProblemError
from router.ingest.context import CONTEXT
from router.ingest.rate_limit import RateLimiter, retry_after
from router.settings import Settings, hash_api_key

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Throttle:
    """The two limiters of one app, built from its settings."""

    def __init__(self, settings: Settings) -> None:
        writes, subscriptions = settings.write_rate_limit, settings.subscription_rate_limit
        self.writes = RateLimiter(writes.per_s, writes.burst,
                                  max_keys=settings.rate_limit_max_keys)
        self.subscriptions = RateLimiter(subscriptions.per_s, subscriptions.burst,
                                         max_keys=settings.rate_limit_max_keys)


THROTTLE = web.AppKey("tocsin.throttle", Throttle)


def client_key(remote: str | None) -> str:
    """The address a client is counted by: IPv4 as is, IPv6 by its /64."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return remote or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


async def _principal(request: web.Request) -> str | None:
    """The key hash of a valid API key on the request, else None."""
    header = request.headers.get("Authorization")
    try:
        await request.app[CONTEXT].auth.authenticate(header)
    except ProblemError:
        return None
    return hash_api_key((header or "").partition(" ")[2].strip())


def _limited(wait_s: float, what: str) -> ProblemError:
    return ProblemError(429, "rate-limited", "Too many requests",
                        f"{what}; retry after {retry_after(wait_s)} s",
                        headers={"Retry-After": retry_after(wait_s)})


@web.middleware
async def rate_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in WRITE_METHODS:
        throttle = request.app[THROTTLE]
        if request.path.startswith(SUBSCRIPTIONS_PATH):
            wait = throttle.subscriptions.wait_s(client_key(request.remote))
            if wait:
                raise _limited(wait, "too many subscription calls from this address")
        elif throttle.writes.enabled and (principal := await _principal(request)) is not None:
            wait = throttle.writes.wait_s(principal)
            if wait:
                raise _limited(wait, "too many writes with this API key")
    return await handler(request)
