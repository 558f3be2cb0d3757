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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from router.ingest.context import CONTEXT
from router.ingest.handlers import _alert_out, _authenticated, _not_found
from router.ingest.schemas import AlertOut

POLL_S = 1.0
KEEPALIVE_S = 15.0
MAX_STREAM_S = 2 * 3600.0


async def metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[CONTEXT].recorder.metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


class _Stream:
    """One SSE response: numbered events, a keep-alive comment when quiet."""

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        self.last_id = 0
        self.last_write = time.monotonic()

    async def send(self, event: str, data: dict[str, Any]) -> None:
        self.last_id += 1
        await self.write(f"id: {self.last_id}\nevent: {event}\ndata: {json.dumps(data)}\n\n")

    async def write(self, text: str) -> None:
        await self.response.write(text.encode())
        self.last_write = time.monotonic()

    async def wait(self, changed: asyncio.Event) -> None:
        """Until something is recorded for the alert, or the poll interval; a comment
        line every ``KEEPALIVE_S`` keeps proxies from closing a quiet stream."""
        if time.monotonic() - self.last_write > KEEPALIVE_S:
            await self.write(": keep-alive\n\n")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(POLL_S):
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
    ctx = _authenticated(request)
    alert_id = request.match_info["alert_id"]
    record = await ctx.store.get(alert_id)
    if record is None:
        raise _not_found(alert_id)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    stream = _Stream(response)
    await stream.write("retry: 2000\n\n")
    seen: dict[str, str] = {}
    said: dict[str, Any] = {}
    ends_at = time.monotonic() + MAX_STREAM_S
    with ctx.recorder.progress.watch(alert_id) as changed:
        while record is not None and time.monotonic() < ends_at and not ctx.draining:
            changed.clear()
            alert = _alert_out(record)
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
            record = await ctx.store.get(alert_id)
    return response
