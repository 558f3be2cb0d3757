"""``GET /api/v1/events``: every active alert's state, live, for the crisis dashboard.

Stage: ingest (HTTP). One stream shows the whole picture, so a wall screen holds one
connection instead of one per alert (``/alerts/{id}/events`` would need 200 streams
for 200 alerts, beyond ``max_event_streams_per_key``). It is a ``text/event-stream``:

- ``event: alert`` -- an active alert (lifecycle ``accepted`` or ``pending_approval``)
  the caller may read, whenever its lifecycle or any delivery changes (the first batch
  is every active alert): the status fields with ``deliveries`` (without ``history``),
  plus ``headline``, ``event``, ``severity``, ``urgency`` and ``areas`` (polygons as
  ``[lat, lon]`` lists, circles as ``{center, radius_km}``) of its first info, read
  once per alert from the stored CAP (a stored CAP never changes), and ``source``:
  whether it came from another authority's feed (``via: feed`` and the feed's name)
  or was posted (``via: api``), from its audit entry;
- ``event: ended`` -- an alert that left the active set (cancelled, superseded,
  rejected, ...) with its status fields, so the screen can drop it;
- ``event: overview`` -- totals per lifecycle (``accepted``, ``pending_approval``),
  the number shown (at most ``LIMIT`` of each), each channel's circuit breaker
  (``closed``, ``half-open``, ``open``), and each channel's network element as its
  adapter last reported it (``health``: ``ok``, ``detail``, ``facts`` such as a CBC's
  identifiers on air or an SMSC's binds, ``checked_at``; read in the background every
  ``router.ingest.health_watch.EVERY_S`` while a stream is open), and the store's
  delivery ``backlog`` per channel (``pending``, ``waiting_for_channel``, ``sending``,
  ``standby`` and ``oldest_age_s``, as the ``/metrics`` backlog gauges last read it),
  whenever any of it changes.

A delivery change is recorded through the record stage, which wakes the stream at
once (``ProgressHub.watch_all``); what it does not see (a submission held for
approval, a decision, another node's deliveries) the stream finds by re-reading the
active alerts every ``POLL_S``. Each read compares a fingerprint of the stored records
and builds the status answer only for alerts that changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from router.audit.chain import AuditEntry, AuditKind
from router.cap import read_stored
from router.ingest.access import readable_authorities
from router.ingest.context import CONTEXT, IngestContext
from router.ingest.handlers import alert_out
from router.ingest.streams import principal_of
from router.observability.metrics import BACKLOG_STATES
from router.store import AlertRecord, AlertState
from router.trust import Role

ACTIVE = (AlertState.ACCEPTED, AlertState.PENDING_APPROVAL)
LIMIT = 500
SOURCE_ENTRIES = 10
"""Entries read from the start of an alert's trail to find its ``alert.submitted``."""
POLL_S = 0.5
KEEPALIVE_S = 15.0
MAX_STREAM_S = 2 * 3600.0
BREAKER = {0.0: "closed", 1.0: "half-open", 2.0: "open"}


def _fingerprint(record: AlertRecord) -> str:
    return json.dumps([record.state.value, [
        (d.channel, d.state.value, d.attempts, str(d.updated_at), str(d.next_attempt_at))
        for d in record.deliveries]])


async def _first_info(ctx: IngestContext, alert_id: str) -> dict[str, Any]:
    """What the map and the headline need, from the CAP as stored."""
    raw = await ctx.store.raw_cap(alert_id)
    alert = read_stored(raw) if raw is not None else None
    if alert is None or not alert.infos:
        return {"headline": None, "event": None, "severity": None, "urgency": None,
                "areas": []}
    info = alert.infos[0]
    return {"headline": info.headline, "event": info.event, "severity": info.severity.value,
            "urgency": info.urgency.value, "areas": [
                {"desc": area.area_desc,
                 "polygons": [[list(point) for point in polygon] for polygon in area.polygons],
                 "circles": [{"center": list(circle.center), "radius_km": circle.radius_km}
                             for circle in area.circles]}
                for area in alert.infos[0].areas]}


def _source_of(ctx: IngestContext, entry: AuditEntry) -> dict[str, str | None]:
    who = entry.principal
    feed = None
    if who.via == "feed":
        labels = {feed.url: feed.label for feed in ctx.settings.feeds}
        feed = labels.get(who.actor or "", who.actor)
    return {"via": who.via, "feed": feed, "authority": who.authority}


async def _sources(ctx: IngestContext, records: list[AlertRecord]
                   ) -> dict[str, dict[str, str | None]]:
    """Who brought each alert in: ``via`` (``api``, or ``feed`` for an alert taken from
    another authority's feed, ``router.feeds``), with the ``feed``'s name and the
    ``authority`` it was taken in for. The store keeps that in the alert's
    ``alert.submitted`` audit entry, appended in the transaction that stored it, which
    is the first entry about the alert: one read of the trail by subject (indexed,
    ``audit_log_subject``) per alert, the few entries it starts with. Not found (a pruned
    trail): ``via`` None."""
    found: dict[str, dict[str, str | None]] = {}
    for record in records:
        page = await ctx.store.audit_page(subject=record.id, limit=SOURCE_ENTRIES)
        entry = next((e for e in page.items if e.kind == AuditKind.ALERT_SUBMITTED.value),
                     None)
        found[record.id] = (_source_of(ctx, entry) if entry is not None else
                            {"via": None, "feed": None, "authority": record.authority})
    return found


def _breakers(ctx: IngestContext) -> dict[str, str]:
    """Each channel's breaker as the metrics read it (``closed`` before any is made)."""
    states = dict.fromkeys(ctx.channels, "closed")
    for metric in ctx.recorder.metrics.breaker_state.collect():
        for sample in metric.samples:
            channel = sample.labels.get("channel")
            if channel:
                states[channel] = BREAKER.get(sample.value, str(sample.value))
    return states


def _backlog(ctx: IngestContext) -> dict[str, dict[str, int]]:
    """The store's open deliveries per channel and state, and the oldest one's wait in
    whole seconds (``oldest_age_s``), as the backlog gauges last read them (every
    ``store_backlog_interval_s``, whichever node; ``router.record.backlog``)."""
    metrics = ctx.recorder.metrics
    backlog: dict[str, dict[str, int]] = {
        channel: dict.fromkeys((*BACKLOG_STATES, "oldest_age_s"), 0)
        for channel in ctx.channels}
    for metric in metrics.store_deliveries.collect():
        for sample in metric.samples:
            channel, state = sample.labels.get("channel"), sample.labels.get("state")
            if channel and state in BACKLOG_STATES:
                backlog.setdefault(channel, dict.fromkeys(
                    (*BACKLOG_STATES, "oldest_age_s"), 0))[state] = int(sample.value)
    for metric in metrics.store_oldest_pending_age.collect():
        for sample in metric.samples:
            channel = sample.labels.get("channel")
            if channel in backlog:
                backlog[channel]["oldest_age_s"] = round(sample.value)
    return backlog


async def all_events(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    header = request.headers.get("Authorization")
    principal = await ctx.auth.authenticate(header)
    ctx.auth.require(principal, Role.READ)
    authorities = readable_authorities(ctx.auth.policy(principal))
    with ctx.event_streams.hold(principal_of(header), ctx.settings.max_event_streams_per_key):
        return await _stream(request, ctx, authorities)


async def _stream(request: web.Request, ctx: IngestContext,
                  authorities: frozenset[str] | None) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    last_write = time.monotonic()
    number = 0

    async def send(event: str, data: dict[str, Any]) -> None:
        nonlocal number, last_write
        number += 1
        await response.write(f"id: {number}\nevent: {event}\ndata: {json.dumps(data)}\n\n"
                             .encode())
        last_write = time.monotonic()

    def closed() -> bool:
        transport = request.transport
        return transport is None or transport.is_closing() or ctx.draining

    await response.write(b"retry: 2000\n\n")
    seen: dict[str, str] = {}
    infos: dict[str, dict[str, Any]] = {}
    said: dict[str, Any] = {}
    ends_at = time.monotonic() + MAX_STREAM_S
    with ctx.recorder.progress.watch_all() as changed:
        while time.monotonic() < ends_at and not closed():
            changed.clear()
            current: dict[str, str] = {}
            totals: dict[str, int] = {}
            for state in ACTIVE:
                page = await ctx.store.list(state=state, limit=LIMIT, authorities=authorities)
                totals[state.value] = page.total
                sources = await _sources(ctx, [r for r in page.items if r.id not in infos])
                for record in page.items:
                    current[record.id] = fingerprint = _fingerprint(record)
                    if seen.get(record.id) == fingerprint:
                        continue
                    if record.id not in infos:
                        infos[record.id] = {**await _first_info(ctx, record.id),
                                            "source": sources[record.id]}
                    data = (await alert_out(ctx, record)).model_dump(
                        mode="json", exclude={"deliveries": {"__all__": {"history"}}})
                    await send("alert", {**data, **infos[record.id]})
            for gone in seen.keys() - current.keys():
                infos.pop(gone, None)
                left = await ctx.store.get(gone)
                ended = {"id": gone} if left is None else (await alert_out(
                    ctx, left)).model_dump(mode="json", include={
                        "id", "state", "lifecycle", "cancelled_by", "superseded_by"})
                await send("ended", ended)
            seen = current
            overview = {"totals": totals, "shown": len(current), "limit": LIMIT,
                        "channels": _breakers(ctx), "health": ctx.health.current(ctx.channels),
                        "backlog": _backlog(ctx)}
            if overview != said:
                said = overview
                await send("overview", overview)
            poll_at = time.monotonic() + POLL_S
            while not changed.is_set() and not closed() and time.monotonic() < poll_at:
                if time.monotonic() - last_write > KEEPALIVE_S:
                    await response.write(b": keep-alive\n\n")
                    last_write = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(poll_at - time.monotonic()):
                        await changed.wait()
    return response
