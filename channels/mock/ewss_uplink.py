"""A sandbox EWSS "alert message centre" to point the ``galileo_ewss`` channel at:
takes CAMF messages, decodes them with Tocsin's own decoder, recognises repeats by
idempotency key, takes faults, and shows what a receiver would display.

HTTP API (the control part is the same on every mock network element):

- ``POST /camf``               ``{"idempotency_key", "camf_hex" | "camf_base64",
                               "metadata"}`` (16 bytes: 122 bits + 6 zero bits);
                               201 ``{"id", "duplicate": false, "shown"}``, 200 for a
                               repeat, 400 for bits that are not valid CAMF
- ``HEAD /camf``               reachability
- ``GET /_mock/received``      every message with its bits, metadata and ``shown``:
                               hazard, severity, guidance texts, ellipse ...
- ``DELETE /_mock/received``   forget them
- ``PUT /_mock/faults``        ``{"mode": "fail"|"slow"|"drop"|"none", "status",
                               "delay_s", "count"}``
- ``GET /_mock/health``        200
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from channels.galileo_ewss import camf
from channels.galileo_ewss.display import receiver_view
from channels.mock.faults import FaultInjector, add_control_routes, health


@dataclass
class Submitted:
    idempotency_key: str
    camf_hex: str
    metadata: dict[str, Any]
    shown: dict[str, Any]
    received_at: float
    count: int = 1


@dataclass
class CentreState:
    faults: FaultInjector = field(default_factory=FaultInjector.healthy)
    by_key: dict[str, Submitted] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


STATE = web.AppKey("mock.ewss_uplink", CentreState)


def _bits(body: dict[str, Any]) -> bytes:
    """The 16 wire bytes from ``camf_hex`` or ``camf_base64``; ValueError otherwise."""
    if isinstance(body.get("camf_hex"), str):
        return bytes.fromhex(body["camf_hex"])
    if isinstance(body.get("camf_base64"), str):
        try:
            return base64.b64decode(body["camf_base64"], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"camf_base64: {exc}") from exc
    raise ValueError("give the message as camf_hex or camf_base64")


def _error(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    injected = await state.faults.apply(request)
    if injected is not None:
        return injected
    try:
        body = json.loads(await request.read())
        if not isinstance(body, dict):
            return _error("the body is a JSON object")
        message = camf.decode(_bits(body))
    except (ValueError, camf.CamfError) as exc:
        return _error(str(exc))
    key = request.headers.get("Idempotency-Key") or str(body.get("idempotency_key") or "")
    if not key:
        return _error("Idempotency-Key required")
    if key in state.by_key:
        state.by_key[key].count += 1
        return web.json_response({"id": key, "duplicate": True}, status=200)
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    shown = receiver_view(message)
    state.by_key[key] = Submitted(key, camf.encode(message).hex(), metadata, shown, time.time())
    state.order.append(key)
    return web.json_response({"id": key, "duplicate": False, "shown": shown}, status=201)


async def received(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response([
        {"idempotency_key": item.idempotency_key, "count": item.count,
         "received_at": item.received_at, "camf_hex": item.camf_hex,
         "metadata": item.metadata, "shown": item.shown}
        for item in (state.by_key[key] for key in state.order)])


async def forget(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.by_key.clear()
    state.order.clear()
    return web.json_response({"ok": True})


def create_uplink() -> web.Application:
    app = web.Application()
    app[STATE] = CentreState()
    app.router.add_post("/camf", submit)
    app.router.add_route("HEAD", "/camf", health)
    app.router.add_get("/_mock/received", received)
    app.router.add_delete("/_mock/received", forget)
    add_control_routes(app, lambda element: element[STATE].faults)
    return app
