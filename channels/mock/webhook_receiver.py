"""A webhook receiver to point the ``webhook`` channel at: checks signatures,
records what arrived, recognises repeats by ``Idempotency-Key``, and takes faults.

HTTP API (the same on every mock network element):

- ``POST /hook``               the webhook endpoint (401 on a bad signature)
- ``GET /_mock/received``      everything received, with per-key counts
- ``DELETE /_mock/received``   forget it
- ``PUT /_mock/faults``        ``{"mode": "fail"|"slow"|"drop"|"none", "status", "delay_s",
                               "count"}``
- ``GET /_mock/health``        200
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from channels.mock.faults import FaultInjector, add_control_routes, health


@dataclass
class Received:
    idempotency_key: str
    body: dict[str, Any]
    received_at: float  # Unix time of the first arrival, for hand-off latency
    count: int = 1


@dataclass
class ReceiverState:
    secret: bytes
    faults: FaultInjector = field(default_factory=FaultInjector.healthy)
    by_key: dict[str, Received] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


STATE = web.AppKey("mock.webhook", ReceiverState)


def _valid_signature(secret: bytes, request_headers: Any, body: bytes) -> bool:
    timestamp = request_headers.get("X-Tocsin-Timestamp", "")
    given = request_headers.get("X-Tocsin-Signature", "")
    expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)


async def hook(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = await request.read()
    if not _valid_signature(state.secret, request.headers, body):
        return web.json_response({"error": "bad signature"}, status=401)
    injected = await state.faults.apply(request)
    if injected is not None:
        return injected
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        return web.json_response({"error": "Idempotency-Key required"}, status=400)
    if key in state.by_key:
        state.by_key[key].count += 1
        return web.json_response({"id": key, "duplicate": True}, status=200)
    state.by_key[key] = Received(key, json.loads(body), time.time())
    state.order.append(key)
    return web.json_response({"id": key, "duplicate": False}, status=201)


async def received(request: web.Request) -> web.Response:
    state = request.app[STATE]
    brief = request.query.get("brief") == "1"  # without bodies, for large runs
    return web.json_response([
        {"idempotency_key": key, "count": item.count, "received_at": item.received_at,
         **({} if brief else {"body": item.body})}
        for key, item in ((key, state.by_key[key]) for key in state.order)])


async def forget(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.by_key.clear()
    state.order.clear()
    return web.json_response({"ok": True})


def create_receiver(secret: str) -> web.Application:
    app = web.Application()
    app[STATE] = ReceiverState(secret.encode())
    app.router.add_post("/hook", hook)
    app.router.add_route("HEAD", "/hook", health)
    app.router.add_get("/_mock/received", received)
    app.router.add_delete("/_mock/received", forget)
    add_control_routes(app, lambda element: element[STATE].faults)
    return app
