"""A mock Cell Broadcast Centre speaking osmo-cbc's ECBE REST API, for tests,
demos and operators' integration tests.

It answers the way a real osmo-cbc 0.5.3 does (shared/specs/cell-broadcast.md
§5.3, §8): plain-text bodies with no JSON, 201 "Created" for a new message (or
200 with an empty body after the acknowledgement delay, as osmo-cbc without
peers), 409 "Could not allocate" for an identifier that is already active,
200 "OK" / 404 "Unknown message ID" for a kill, 400 with a sentence for a bad
request, 404 "Resource not found" for any other route, a non-numeric id read
as 0. It **decodes** every page it receives with an independent decoder
(``smspdudecoder`` for GSM 7-bit, UTF-16 for UCS-2, its own reading of the
DCS), never with the adapter's encoder, and shows what a handset would display.

HTTP API:

- ``POST /api/ecbe/v1/message``, ``DELETE /api/ecbe/v1/message/{id}``  the ECBE API
- ``GET /_mock/received``    every write and kill, decoded, in order of arrival
- ``GET /_mock/display``     the active messages as a handset shows them
- ``GET /_mock/phones``      what a phone set to each language shows, one list per
  language (``?language=nl&language=en`` chooses; default: every language heard)
- ``DELETE /_mock/received`` forget everything (active messages included)
- ``PUT /_mock/cbc``         the real server's behaviours (``CbcBehaviour``):
  ``peers: "none"`` (every call waits ``no_peer_wait_s``, 15 s by default, then
  answers 200 with an empty body), ``no_answer`` rules (the next N writes / kills with
  a given outcome are carried out -- ``applied`` -- or not, and never answered),
  ``hang_on_conflict`` / ``hang_on_unknown_kill`` (409 / 404 never answered),
  ``hang_s`` (how long an unanswered request is held before the connection closes),
  ``keys_messages_by: "identifier_and_serial"`` (a CBC holding several messages per
  identifier: a kill names the serial, ``?serial_nr=``), ``ack_delay_s`` / ``answer``
- ``PUT /_mock/faults``      the shared fault injection (fail / slow / drop)
- ``GET /_mock/health``      200

Every request to the ECBE API is in the log with ``answered`` (false when the client
got no answer), so a test counts the calls that reached the CBC per alert from the
mock's own record.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from smspdudecoder.codecs import GSM  # type: ignore[import-untyped]

from channels.mock.faults import FaultInjector, add_control_routes

API = "/api/ecbe/v1/message"
HANG_S = 120.0  # "no answer": longer than any client timeout, bounded all the same
_LANGUAGES = {0x00: "de", 0x01: "en", 0x02: "it", 0x03: "fr", 0x04: "es", 0x05: "nl",
              0x06: "sv", 0x07: "da", 0x08: "pt", 0x09: "fi", 0x0A: "no", 0x0B: "el",
              0x0C: "tr", 0x0D: "hu", 0x0E: "pl", 0x20: "cs", 0x21: "he", 0x22: "ar",
              0x23: "ru", 0x24: "is"}
_SCOPES = ("cell_wide_immediate", "plmn_wide", "lac_sac_tac_wide", "cell_wide")


class NoAnswer(BaseModel):
    """osmo-cbc's race (shared/specs/cell-broadcast.md §8.x): the main thread completes
    the operation before the HTTP thread waits for it, and the answer never comes."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["write", "kill"]
    outcome: Literal["created", "conflict", "killed", "unknown", "any"] = "any"
    """Which answer is lost: a write that creates / meets an active message (409), a kill
    that finds one / finds none (404); ``any`` for the next of that op."""
    applied: bool = True
    """Whether the operation is carried out all the same (the real server's "applied,
    no answer"); false: nothing changes ("not applied, no answer")."""
    count: int | None = Field(default=1, ge=1, description="requests affected; null = all")


class CbcBehaviour(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ack_delay_s: float = Field(default=0.0, ge=0, le=60)
    answer: str = Field(default="created", pattern="^(created|ok_empty)$")
    peers: Literal["connected", "none"] = "connected"
    """``none``: osmo-cbc with no peer configured -- every write and kill waits out its
    acknowledgement timer (``no_peer_wait_s``) and answers 200 with an empty body."""
    no_peer_wait_s: float = Field(default=15.0, ge=0, le=60)
    hang_on_conflict: bool = False
    hang_on_unknown_kill: bool = False
    no_answer: list[NoAnswer] = Field(default_factory=list)
    hang_s: float = Field(default=120.0, ge=0, le=600)
    """How long an unanswered request is held open before the connection is closed
    (longer than any client timeout, so the client gives up first)."""
    keys_messages_by: Literal["identifier", "identifier_and_serial"] = "identifier"


@dataclass
class CbcState:
    behaviour: CbcBehaviour = field(default_factory=CbcBehaviour)
    faults: FaultInjector = field(default_factory=FaultInjector.healthy)
    active: dict[Any, dict[str, Any]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)  # per no_answer rule

    def lose_answer(self, op: str, outcome: str) -> NoAnswer | None:
        """The first ``no_answer`` rule this request falls under (and count it)."""
        rules = self.behaviour.no_answer
        if len(self.hits) != len(rules):
            self.hits = [0] * len(rules)
        for index, rule in enumerate(rules):
            if rule.op != op or rule.outcome not in {"any", outcome}:
                continue
            if rule.count is not None and self.hits[index] >= rule.count:
                continue
            self.hits[index] += 1
            return rule
        return None

    def key(self, message_id: int, serial: int) -> Any:
        if self.behaviour.keys_messages_by == "identifier_and_serial":
            return (message_id, serial)
        return message_id


STATE = web.AppKey("mock.cbc", CbcState)


class BadRequestError(Exception):
    """A request osmo-cbc would refuse with 400 and a sentence."""


def _dcs_coding(dcs: int) -> tuple[str, str | None, bool]:
    """(alphabet, language, language prefix in the text) as TS 23.038 §5 reads ``dcs``."""
    group = dcs >> 4
    if group in {0, 2, 3}:
        return "gsm7", _LANGUAGES.get(dcs), False
    if dcs == 0x10:
        return "gsm7", None, True
    if dcs == 0x11:
        return "ucs2", None, True
    if group in {4, 5, 6, 7} or group == 9:
        charset = (dcs >> 2) & 0x03
        return ("gsm7", "8bit", "ucs2", "gsm7")[charset], None, False
    if group == 0xF:
        return ("8bit" if dcs & 0x04 else "gsm7"), None, False
    return "gsm7", None, False


def _strip_padding(text: str) -> str:
    return text.rstrip("\r")


def decode_page(dcs: int, page: bytes) -> dict[str, Any]:
    """What a handset reads from one 82-octet page."""
    alphabet, language, prefixed = _dcs_coding(dcs)
    if alphabet == "gsm7":
        text = GSM.decode(page.hex())
        if prefixed:
            language, text = text[:2], text[3:]
    elif alphabet == "ucs2":
        if prefixed:
            language, page = GSM.decode(page[:2].hex())[:2], page[2:]
        text = page[: len(page) & ~1].decode("utf-16-be", errors="replace")
    else:
        text = page.hex()
    return {"language": language, "alphabet": alphabet, "text": _strip_padding(text)}


def _int(data: dict[str, Any], key: str, low: int, high: int) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadRequestError(f"{key} must be an integer in {low}..{high}")
    return value


def _object(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        raise BadRequestError(f"{key} missing or not an object")
    return value


def _serial(message: dict[str, Any]) -> dict[str, Any]:
    serial = _object(message, "serial_nr")
    if "serial_nr_encoded" in serial:
        value = _int(serial, "serial_nr_encoded", 0, 65535)
        return {"geo_scope": _SCOPES[value >> 14], "msg_code": (value >> 4) & 0x3FF,
                "update_nr": value & 0xF, "encoded": value}
    decoded = _object(serial, "serial_nr_decoded")
    if decoded.get("geo_scope") not in _SCOPES:
        raise BadRequestError("geo_scope invalid")
    code = _int(decoded, "msg_code", 0, 1023)
    update = _int(decoded, "update_nr", 0, 15)
    scope = _SCOPES.index(decoded["geo_scope"])
    return {"geo_scope": decoded["geo_scope"], "msg_code": code, "update_nr": update,
            "encoded": scope << 14 | code << 4 | update}


def _pages(payload: dict[str, Any]) -> tuple[int, list[bytes]]:
    encoded = _object(payload, "payload_encoded")
    dcs = _int(encoded, "dcs", 0, 255)
    pages = encoded.get("pages")
    if not isinstance(pages, list) or not 1 <= len(pages) <= 15:
        raise BadRequestError("pages must be an array of 1..15 hex strings")
    try:
        raw = [bytes.fromhex(page) for page in pages]
    except (TypeError, ValueError) as exc:
        raise BadRequestError("pages must be hex strings") from exc
    if any(len(page) > 82 for page in raw):
        raise BadRequestError("a page is longer than 82 octets")
    return dcs, raw


def parse_write(body: Any) -> dict[str, Any]:
    """The request as osmo-cbc's ``rest_api.c`` reads it, decoded for display."""
    if not isinstance(body, dict) or not isinstance(body.get("cbe_name"), str):
        raise BadRequestError("cbe_name missing")
    if "repetition_period" not in body:
        raise BadRequestError("repetition_period missing")
    period = _int(body, "repetition_period", 0, 4095)
    broadcasts = _int(body, "num_of_bcast", 0, 65535) if "num_of_bcast" in body else 0
    if "scope_plmn" not in _object(body, "scope"):
        raise BadRequestError("only scope_plmn is supported")
    message = _object(body, "smscb_message")
    dcs, pages = _pages(_object(message, "payload"))
    decoded = [decode_page(dcs, page) for page in pages]
    return {"message_id": _int(message, "message_id", 0, 65535), "serial": _serial(message),
            "dcs": dcs, "category": body.get("category", "normal"),
            "repetition_period": period, "num_of_bcast": broadcasts,
            "pages": [page.hex().upper() for page in pages], "decoded_pages": decoded,
            "language": decoded[0]["language"], "alphabet": decoded[0]["alphabet"],
            "display": "".join(page["text"] for page in decoded)}


async def _hang(state: CbcState, request: web.Request) -> web.StreamResponse:
    """osmo-cbc's race: the HTTP thread never answers."""
    await asyncio.sleep(state.behaviour.hang_s)
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


async def _acknowledged(state: CbcState, created: str) -> web.Response:
    if state.behaviour.peers == "none":  # waits out T_WAIT_WRITE_ACK, then 200, no body
        await asyncio.sleep(state.behaviour.no_peer_wait_s)
        return web.Response(status=200)
    await asyncio.sleep(state.behaviour.ack_delay_s)  # waiting for the peers' ACKs
    if state.behaviour.answer == "ok_empty":
        return web.Response(status=200)
    return web.Response(status=201 if created else 200, text=created or "OK")


def _record(state: CbcState, **entry: Any) -> None:
    state.log.append({"at": time.time(), "answered": True, **entry})


async def write(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    injected = await state.faults.apply(request)
    if injected is not None:
        _record(state, op="write", outcome="fault", answered=injected.status != 499)
        return injected
    try:
        entry = parse_write(json.loads(await request.read()))
    except (BadRequestError, ValueError) as exc:
        _record(state, op="write", outcome="bad_request")
        return web.Response(status=400, text=str(exc))
    key = state.key(entry["message_id"], entry["serial"]["encoded"])
    outcome = "conflict" if key in state.active else "created"
    lost = state.lose_answer("write", outcome)
    if outcome == "conflict":
        silent = lost is not None or state.behaviour.hang_on_conflict
        _record(state, op="write", **entry, outcome="conflict", answered=not silent)
        return await _hang(state, request) if silent else web.Response(
            status=409, text="Could not allocate")
    applied = lost is None or lost.applied
    if applied:
        state.active[key] = entry
    _record(state, op="write", **entry, outcome="created" if applied else "not_applied",
            answered=lost is None)
    return await _hang(state, request) if lost is not None else await _acknowledged(
        state, "Created")


async def kill(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    injected = await state.faults.apply(request)
    text = request.match_info["message_id"]
    mid = int(text) if text.isdigit() else 0  # osmo-cbc reads "abc" as 0
    if injected is not None:
        _record(state, op="kill", outcome="fault", message_id=mid, serial=None,
                answered=injected.status != 499)
        return injected
    serial = request.query.get("serial_nr", "")
    if state.behaviour.keys_messages_by == "identifier_and_serial" and serial.isdigit():
        keys = [(mid, int(serial))]
    else:
        keys = [k for k in state.active if k == mid or (isinstance(k, tuple) and k[0] == mid)]
    found = [k for k in keys if k in state.active]
    lost = state.lose_answer("kill", "killed" if found else "unknown")
    applied = lost is None or lost.applied
    entries = [state.active.pop(k) if applied else state.active[k] for k in found]
    outcome = ("killed" if applied else "not_applied") if found else "unknown"
    silent = lost is not None or (not found and state.behaviour.hang_on_unknown_kill)
    _record(state, op="kill", outcome=outcome, message_id=mid,
            serial=entries[0]["serial"] if entries else None, answered=not silent)
    if silent:
        return await _hang(state, request)
    if not found:
        return web.Response(status=404, text="Unknown message ID")
    return await _acknowledged(state, "")


async def not_found(_request: web.Request) -> web.Response:
    return web.Response(status=404, text="Resource not found")


async def received(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].log)


async def display(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response([
        {"message_id": mid, "serial": entry["serial"], "dcs": entry["dcs"],
         "language": entry["language"], "pages": len(entry["pages"]),
         "text": entry["display"]} for mid, entry in sorted(
             ((e["message_id"], e) for e in state.active.values()),
             key=lambda pair: (pair[0], pair[1]["serial"]["encoded"]))])


ADDITIONAL_LANGUAGE_IDS = range(4383, 4396)
"""EU-Alert message identifiers for an additional language (ETSI TS 102 900 §5.1):
the primary-language identifiers (4370-4382) alert every phone; these only phones
whose language setting is the message's language (its DCS or text prefix)."""


def phone_view(active: list[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    """What a phone whose language setting is ``language`` displays, in identifier
    order: every primary-language message, and the additional-language ones in its
    language. A bilingual NL-Alert is one message and is shown as one."""
    shown = []
    for entry in active:
        extra = entry["message_id"] in ADDITIONAL_LANGUAGE_IDS
        if extra and (entry["language"] or "").lower() != language.lower():
            continue
        shown.append({"message_id": entry["message_id"],
                      "serial": entry["serial"]["encoded"], "language": entry["language"],
                      "alphabet": entry["alphabet"], "pages": len(entry["pages"]),
                      "text": entry["display"]})
    return shown


async def phones(request: web.Request) -> web.Response:
    state = request.app[STATE]
    active = sorted(state.active.values(),
                    key=lambda entry: (entry["message_id"], entry["serial"]["encoded"]))
    wanted = request.query.getall("language", []) or sorted(
        {entry["language"] for entry in active if entry["language"]})
    return web.json_response({language: phone_view(active, language) for language in wanted})


async def forget(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.active.clear()
    state.log.clear()
    return web.json_response({"ok": True})


async def behaviour(request: web.Request) -> web.Response:
    try:
        spec = CbcBehaviour.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    request.app[STATE].behaviour = spec
    request.app[STATE].hits = []
    return web.json_response(spec.model_dump())


def create_cbc(behaviour_: CbcBehaviour | None = None) -> web.Application:
    app = web.Application()
    app[STATE] = CbcState(behaviour_ or CbcBehaviour())
    app.router.add_post(API, write)
    app.router.add_delete(API + "/{message_id}", kill)
    app.router.add_get("/_mock/received", received)
    app.router.add_get("/_mock/display", display)
    app.router.add_get("/_mock/phones", phones)
    app.router.add_delete("/_mock/received", forget)
    app.router.add_put("/_mock/cbc", behaviour)
    add_control_routes(app, lambda element: element[STATE].faults)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
