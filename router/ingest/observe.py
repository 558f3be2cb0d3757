"""Watching the service: ``GET /metrics`` and live delivery progress over SSE.

Stage: ingest (HTTP). ``/metrics`` is unauthenticated, like ``/healthz``: it is
for Prometheus on the operations network and carries only bounded labels (no
alert ids, no senders, no text). Keep it off the public listener with the
reverse proxy, as for any exporter.

``GET /api/v1/alerts/{id}/events`` is a ``text/event-stream``:

- ``event: delivery`` -- one per delivery whenever its state, attempts, error or
  schedule changes (the same fields as in the status, without ``history``);
  the first batch is the current state of every delivery;
- ``event: alert`` -- the alert's state (``router.store.outcome``: delivering,
  delivered, partially_delivered, failed, expired, ...), ``lifecycle`` and
  ``counts`` per delivery state, whenever they change, the first time included;
- ``event: done`` -- the alert's outcome is settled (every delivery final, or
  covered by a fallback that delivered), with the same fields; the stream then
  ends. It also ends when the service drains, and after ``MAX_STREAM_S``; a
  client reconnects to continue (the first batch repeats the current state, so
  nothing is missed).

The stream is driven by the record stage's wake-ups and re-reads the store on
each (and every ``POLL_S`` without one, which covers deliveries another node
makes), so what it shows is always what the status endpoint would show.

Idle streams cost little: a stream used to re-read the store and rebuild the
alert's status every second whether or not anything had changed, so 500 idle
streams were 500 store reads and status renders a second (most of a core,
``bench/hostile_requests.py``). Local changes arrive as wake-ups at once, so the
fallback read is needed only for another node's deliveries and is every
``POLL_S`` (15 s); between reads a stream only checks, every ``TICK_S``, that its
client is still connected (aiohttp does not cancel a handler whose client went
away), which frees its slot in ``router.ingest.streams`` promptly. Each API key
holds at most ``max_event_streams_per_key`` streams (429 ``sse.too-many-streams``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from router.ingest.access import readable_record
from router.ingest.context import CONTEXT
from router.ingest.handlers import alert_out
from router.ingest.schemas import AlertOut
from router.ingest.streams import principal_of
from router.store import AlertRecord

POLL_S = 15.0
TICK_S = 1.0
KEEPALIVE_S = 15.0
MAX_STREAM_S = 2 * 3600.0


async def metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[CONTEXT].recorder.metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


class _Stream:
    """One SSE response: numbered events, a keep-alive comment when quiet."""

    def __init__(self, request: web.Request, response: web.StreamResponse,
                 draining: Callable[[], bool]) -> None:
        self.request = request
        self.draining = draining
        self.response = response
        self.last_id = 0
        self.last_write = time.monotonic()

    @property
    def closed(self) -> bool:
        """The client went away (aiohttp drops the transport when the connection is
        lost), or the service is draining: either way the stream ends."""
        transport = self.request.transport
        return transport is None or transport.is_closing() or self.draining()

    async def send(self, event: str, data: dict[str, Any]) -> None:
        self.last_id += 1
        await self.write(f"id: {self.last_id}\nevent: {event}\ndata: {json.dumps(data)}\n\n")

    async def write(self, text: str) -> None:
        await self.response.write(text.encode())
        self.last_write = time.monotonic()

    async def wait(self, changed: asyncio.Event) -> None:
        """Until something is recorded for the alert, the poll interval passes or the
        client goes away; a comment line every ``KEEPALIVE_S`` keeps proxies from
        closing a quiet stream. Each tick costs a clock read, not a store read."""
        poll_at = time.monotonic() + POLL_S
        while not changed.is_set() and not self.closed and time.monotonic() < poll_at:
            if time.monotonic() - self.last_write > KEEPALIVE_S:
                await self.write(": keep-alive\n\n")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await changed.wait()


def _changes(alert: AlertOut, seen: dict[str, str]) -> list[dict[str, Any]]:
    """Deliveries whose visible state differs from what this stream sent last."""
    changed = []
    for delivery in alert.deliveries:
        data = delivery.model_dump(mode="json", exclude={"history"})
        fingerprint = json.dumps(data, sort_keys=True)
        if seen.get(delivery.channel) != fingerprint:
            seen[delivery.channel] = fingerprint
            changed.append(data)
    return changed


def _summary(alert: AlertOut) -> dict[str, Any]:
    return {"id": alert.id, "state": alert.state, "lifecycle": alert.lifecycle,
            "settled": alert.settled, "counts": alert.counts}


async def alert_events(request: web.Request) -> web.StreamResponse:
    ctx, _principal, record = await readable_record(request)
    with ctx.event_streams.hold(principal_of(request.headers.get("Authorization")),
                                ctx.settings.max_event_streams_per_key):
        return await _stream_events(request, record.id, record)


async def _stream_events(request: web.Request, alert_id: str,
                         record: AlertRecord | None) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    stream = _Stream(request, response, lambda: ctx.draining)
    await stream.write("retry: 2000\n\n")
    seen: dict[str, str] = {}
    said: dict[str, Any] = {}
    ends_at = time.monotonic() + MAX_STREAM_S
    with ctx.recorder.progress.watch(alert_id) as changed:
        while record is not None and time.monotonic() < ends_at and not stream.closed:
            changed.clear()
            alert = await alert_out(ctx, record)
            for data in _changes(alert, seen):
                await stream.send("delivery", data)
            summary = _summary(alert)
            if summary != said:
                said = summary
                await stream.send("alert", summary)
            if alert.settled:
                await stream.send("done", summary)
                break
            await stream.wait(changed)
            if stream.closed:
                break
            record = await ctx.store.get(alert_id)
    return response
