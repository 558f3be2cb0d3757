"""A sandbox SMSC: the ``smpp34`` library's SMPP 3.4 server, with a control API.

The SMPP side (binds, PDU codec, windowing, enquire_link, timers) is entirely the
``smpp34`` server (a Rust/tokio implementation Tocsin did not write); this module
only answers its events the way an SMSC would -- accept a ``submit_sm`` with a
message id and send a delivery receipt -- and records what arrived, so tests and
demo mode can see it.

Run it as a process (what the integration tests and the benchmark do):

    python -m channels.mock.smsc --smpp-port 2775 --control-port 8095 [--record FILE]

Control API (HTTP, like every mock network element):

- ``GET /_mock/received``     every accepted submit_sm (``?brief=1``: without bodies),
                              each with ``decoded``: its text and concatenation header
- ``GET /_mock/phones``       what each phone shows: the texts decoded, concatenated
                              parts joined (``channels.mock.sms_display``)
- ``GET /_mock/stats``        counters: binds, accepted, rejected per status, receipts
- ``DELETE /_mock/received``  forget them
- ``PUT /_mock/faults``       ``{"mode": "throttle"|"queue_full"|"reject"|"drop"|"none",
                              "count": N, "after": N, "status": 0x0B, "receipt": STATE}``:
  ``throttle`` answers ESME_RTHROTTLED (0x58), ``queue_full`` ESME_RMSGQFUL (0x14),
  ``reject`` the given status, each for the next ``count`` submits (null: all);
  ``drop`` ends every bound session (server-side unbind) after ``after`` more accepted
  submits -- the responses already sent stay valid, later submits on that session are
  never answered; ``receipt`` chooses the receipts' final state (``DELIVRD``,
  ``EXPIRED``, ``UNDELIV``) or ``none``.
- ``POST /_mock/receipts/release``  send every held receipt now (``{"released": N}``)
- ``GET /_mock/health``       200

With ``"hold_receipts": true`` in the faults the SMSC keeps each delivery receipt
instead of sending it, as a real SMSC stores receipts while no receiver is bound (or
the handset is slow); a release delivers them to whichever sessions are bound *then*
-- after the ESME restarted, that is its new binds, not the ones that submitted.

With ``--record FILE`` every accepted submit is appended to FILE (one JSON line,
flushed before the answer goes out), so a test that kills the process can still count
what it accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import smpp34
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from channels.mock import ports
from channels.mock.sms_display import phone_messages, read_part

RECEIPT_STATES = {"DELIVRD": 2, "EXPIRED": 3, "UNDELIV": 5, "REJECTD": 8}
ESME_RTHROTTLED = 0x58  # SMPP 3.4 command_status values (the spec's numbers)
ESME_RMSGQFUL = 0x14
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427


class SmscFaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["none", "throttle", "queue_full", "reject", "drop"] = "none"
    count: int | None = Field(default=None, ge=1)
    after: int = Field(default=0, ge=0)
    status: int = Field(default=0x0B, ge=1)
    receipt: Literal["DELIVRD", "EXPIRED", "UNDELIV", "REJECTD", "none"] = "DELIVRD"
    hold_receipts: bool = False


@dataclass
class SmscState:
    faults: SmscFaults = field(default_factory=SmscFaults)
    hits: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    sessions: dict[str, smpp34.Esme] = field(default_factory=dict)
    record: IO[str] | None = None
    ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(secrets.randbits(40)))
    """Message ids count on from a random start, not from 1: a real SMSC's ids are
    unique across its restarts and nodes, and Tocsin files receipts by (channel, id) in
    a store that several nodes -- each with a sandbox SMSC in demo mode -- share."""
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    held: list[tuple[str, str, str, str]] = field(default_factory=list)
    """Receipts kept back: (handset, sender, message id, final state)."""

    def next_message_id(self) -> str:
        """The id of the next accepted submit_sm (hex, at most 10 characters)."""
        return f"{next(self.ids):010x}"


STATE = web.AppKey("mock.smsc", SmscState)


def _fault_status(state: SmscState) -> int | None:
    """The error status to answer this submit with, or None to accept it."""
    faults = state.faults
    if faults.mode not in {"throttle", "queue_full", "reject"}:
        return None
    if faults.count is not None and state.hits >= faults.count:
        state.faults = SmscFaults(receipt=faults.receipt)
        return None
    state.hits += 1
    return {"throttle": ESME_RTHROTTLED, "queue_full": ESME_RMSGQFUL}.get(faults.mode,
                                                                       faults.status)


def _note(state: SmscState, event: smpp34.SubmitSmEvent, message_id: str) -> None:
    item = {"message_id": message_id, "session": event.session_id,
            "source_addr": event.source_addr, "source_addr_ton": event.source_addr_ton,
            "source_addr_npi": event.source_addr_npi,
            "destination_addr": event.destination_addr, "dest_addr_ton": event.dest_addr_ton,
            "dest_addr_npi": event.dest_addr_npi,
            "esm_class": event.esm_class, "data_coding": event.data_coding,
            "registered_delivery": event.registered_delivery,
            "short_message": event.short_message.hex(),
            "decoded": read_part(event.short_message, event.esm_class, event.data_coding),
            "at": time.time()}
    state.received.append(item)
    if state.record is not None:
        state.record.write(json.dumps(item) + "\n")
        state.record.flush()


async def _receipt(state: SmscState, event_session: str, destination: str, source: str,  # noqa: PLR0917
                   message_id: str, final: str) -> None:
    esme = state.sessions.get(event_session)
    if esme is None or not esme.can_receive:
        return
    await _deliver_receipt(state, esme, destination, source, message_id, final)


async def _deliver_receipt(state: SmscState, esme: smpp34.Esme, destination: str,  # noqa: PLR0917
                           source: str, message_id: str, final: str) -> None:
    stamp = time.strftime("%y%m%d%H%M", time.gmtime())
    text = (f"id:{message_id} sub:001 dlvrd:{'001' if final == 'DELIVRD' else '000'} "
            f"submit date:{stamp} done date:{stamp} stat:{final} err:000 text:")
    tlvs = [smpp34.Tlv(TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"),
            smpp34.Tlv(TLV_MESSAGE_STATE, bytes((RECEIPT_STATES[final],)))]
    with contextlib.suppress(Exception):  # the session may have ended meanwhile
        await esme.deliver_sm(source, text.encode(), source_addr=destination, esm_class=0x04,
                              tlvs=tlvs)
        state.stats["receipts"] += 1


async def _unbind(sessions: list[smpp34.Esme]) -> None:
    for esme in sessions:
        with contextlib.suppress(Exception):
            await esme.unbind()


def _on_submit(state: SmscState, event: smpp34.SubmitSmEvent) -> None:
    if event.session_id not in state.sessions:  # dropped: never answer, never record
        state.stats["ignored_after_drop"] += 1
        return
    status = _fault_status(state)
    if status is not None:
        event.reject(status)
        state.stats[f"rejected_0x{status:02x}"] += 1
        return
    message_id = state.next_message_id()
    _note(state, event, message_id)
    event.accept(message_id)
    state.stats["accepted"] += 1
    faults = state.faults
    if event.registered_delivery & 0x03 and faults.receipt != "none" and faults.hold_receipts:
        state.held.append((event.destination_addr, event.source_addr, message_id,
                           faults.receipt))
    elif event.registered_delivery & 0x03 and faults.receipt != "none":
        _spawn(state, _receipt(state, event.session_id, event.destination_addr,
                               event.source_addr, message_id, faults.receipt))
    if faults.mode == "drop":
        state.hits += 1
        if state.hits >= faults.after:
            state.faults = SmscFaults(receipt=faults.receipt)
            dropped = list(state.sessions.values())
            state.sessions.clear()  # from now on their submits go unanswered
            state.stats["dropped_sessions"] += len(dropped)
            _spawn(state, _unbind(dropped))


def _spawn(state: SmscState, coro: Any) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


async def serve_smpp(state: SmscState, host: str, port: int) -> None:
    """Answer the smpp34 server's events until cancelled."""
    server = smpp34.Server(host, port, system_id="TOCSIN-SANDBOX")
    await server.start()
    try:
        while True:
            event = await server.next()
            if isinstance(event, smpp34.Esme):
                state.sessions[event.session_id] = event
                state.stats["binds"] += 1
            elif isinstance(event, smpp34.SubmitSmEvent):
                _on_submit(state, event)
            elif isinstance(event, smpp34.Unbound):
                state.sessions.pop(event.session_id, None)
                state.stats["unbinds"] += 1
    finally:
        await server.stop()


async def _received(request: web.Request) -> web.Response:
    brief = request.query.get("brief") == "1"
    items = request.app[STATE].received
    return web.json_response([{k: v for k, v in item.items()
                               if k not in ("short_message", "decoded")}
                              for item in items] if brief else items)


async def _phones(request: web.Request) -> web.Response:
    return web.json_response(phone_messages(request.app[STATE].received))


async def _stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({**state.stats, "sessions": len(state.sessions),
                              "received": len(state.received)})


async def _forget(request: web.Request) -> web.Response:
    request.app[STATE].received.clear()
    return web.json_response({"ok": True})


async def _faults(request: web.Request) -> web.Response:
    try:
        spec = SmscFaults.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    state = request.app[STATE]
    state.faults, state.hits = spec, 0
    return web.json_response(spec.model_dump())


async def _release(request: web.Request) -> web.Response:
    """Send the held receipts, spread over the sessions bound now that can receive."""
    state = request.app[STATE]
    receivers = [esme for esme in state.sessions.values() if esme.can_receive]
    if not receivers:
        return web.json_response({"error": "no receiver is bound"}, status=409)
    held, state.held = state.held, []
    for n, (destination, source, message_id, final) in enumerate(held):
        await _deliver_receipt(state, receivers[n % len(receivers)], destination, source,
                               message_id, final)
    return web.json_response({"released": len(held)})


async def _health(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def create_smsc(host: str, smpp_port: int, record: Path | None = None) -> web.Application:
    """The control app; its start-up runs the SMPP server on ``smpp_port``."""
    app = web.Application()
    state = SmscState()
    app[STATE] = state

    async def smpp(_app: web.Application) -> AsyncIterator[None]:
        state.record = record.open("a", encoding="utf-8") if record else None
        task = asyncio.create_task(serve_smpp(state, host, smpp_port))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if state.record is not None:
            state.record.close()

    app.cleanup_ctx.append(smpp)
    app.router.add_get("/_mock/received", _received)
    app.router.add_get("/_mock/stats", _stats)
    app.router.add_get("/_mock/phones", _phones)
    app.router.add_delete("/_mock/received", _forget)
    app.router.add_put("/_mock/faults", _faults)
    app.router.add_post("/_mock/receipts/release", _release)
    app.router.add_get("/_mock/health", _health)
    return app


_DEMO_PORTS: dict[Path, int] = {}


def demo_channel_config(_base_url: str, data_dir: Path) -> dict[str, Any]:
    """Demo mode: the ``sms`` channel bound to the sandbox SMSC. The SMPP port is chosen
    here (the demo's control URL is HTTP) and ``demo_app`` starts the server on it."""
    port = _DEMO_PORTS.setdefault(data_dir, ports.take())
    return {"type": "sms", "port": port, "system_id": "tocsin-demo", "password": "demo",
            "binds": 2, "window": 10}


def demo_app(data_dir: Path) -> web.Application:
    return create_smsc("127.0.0.1", _DEMO_PORTS.setdefault(data_dir, ports.take()),
                       data_dir / "demo-smsc.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description="sandbox SMSC (smpp34 server)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smpp-port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--record", type=Path)
    args = parser.parse_args()
    web.run_app(create_smsc(args.host, args.smpp_port, args.record), host=args.host,
                port=args.control_port, print=None, access_log=None)


if __name__ == "__main__":
    main()
