"""A Web Push service with test phones behind it, to point the ``eudi_wallet`` channel at.

As a push service (RFC 8030) it checks what a real one checks: the VAPID JWT
(RFC 8292: ES256 by the key in ``k``, ``aud`` = this origin, ``exp`` within 24 h,
``sub`` a contact; ``k`` equal to the key the subscription was made with), the
``TTL``, ``Urgency`` and ``Topic`` headers, ``Content-Encoding: aes128gcm`` and the
4096-byte limit; unknown subscriptions get 404, unsubscribed ones 410. As the
phones behind it, it does what a wallet would (``channels.eudi_wallet.device``):
decrypts with the phone's private key, verifies the JWS against Tocsin's JWKS,
fetches the full document for a tickle, refuses replays and expired alerts, and
shows the alert only if the phone's test position is inside the area.

HTTP API (the same control routes as every mock network element):

- ``POST /push/{phone}``          the push resource of one subscription
- ``POST /_mock/phones``          ``{"positions": [[lat, lon], ...], "application_server_key"}``
                                  -> each phone's id and W3C ``PushSubscription``
- ``DELETE /_mock/phones/{phone}`` the phone unsubscribes: later pushes get 410
- ``GET /_mock/phones/{phone}``   what the phone shows now (its inbox)
- ``PUT /_mock/trust``            ``{"jwks_url": ...}`` or ``{"jwks": {...}}``: keys phones trust
- ``PUT /_mock/mode``             ``{"open": false}``: accept pushes without opening them (bench)
- ``GET /_mock/received``         one record per push: phone, outcome (``shown``, ``outside``,
                                  ``withdrawn``, ``refused``), reason, headers, document summary;
                                  ``?brief=1`` omits documents; ``GET /_mock/summary`` counts them
- ``DELETE /_mock/received``      forget them
- ``PUT /_mock/faults``, ``GET /_mock/health``
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import KeySet
from py_vapid.jwt import decode as decode_vapid  # type: ignore[import-untyped]  # untyped
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from channels.eudi_wallet import jws
from channels.eudi_wallet.device import Device, RefusedError
from channels.eudi_wallet.keys import b64url, b64url_decode, generate_demo_keys, pem, raw_public
from channels.mock.faults import FaultInjector, add_control_routes

log = structlog.get_logger("tocsin.mock.push_service")
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_URGENCIES = {"very-low", "low", "normal", "high"}
MAX_BODY = 4096


@dataclass
class Phone:
    device: Device
    application_server_key: str | None
    gone: bool = False


@dataclass
class PushServiceState:
    trust_file: Path | None = None
    jwks_url: str | None = None
    trusted: KeySet | None = None
    open_messages: bool = True
    faults: FaultInjector = field(default_factory=FaultInjector.healthy)
    phones: dict[str, Phone] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    session: aiohttp.ClientSession | None = None


STATE = web.AppKey("mock.push_service", PushServiceState)


class PhonesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    positions: list[tuple[float, float]] = Field(min_length=1, max_length=20_000)
    application_server_key: str | None = None
    margin_km: float = Field(default=0.0, ge=0, le=10)


class TrustIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jwks_url: str | None = None
    jwks: dict[str, Any] | None = None


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _vapid_claims(request: web.Request) -> tuple[dict[str, Any], str] | str:
    """(claims, k) of a VAPID authorisation whose JWT verifies with ``k``, else why not."""
    scheme, _, params = request.headers.get("Authorization", "").partition(" ")
    parts = dict(item.split("=", 1) for item in params.split(",") if "=" in item)
    if scheme.lower() != "vapid" or "t" not in parts or "k" not in parts:
        return "no 'vapid t=...,k=...' authorisation"
    try:
        claims: dict[str, Any] = decode_vapid(parts["t"], parts["k"])
    except Exception:  # py_vapid raises InvalidSignature or decoding errors
        return "VAPID JWT signature does not verify with k"
    return claims, parts["k"]


def check_vapid(request: web.Request, phone: Phone) -> str | None:
    """None if the VAPID authorisation is right for this push, else why not."""
    verified = _vapid_claims(request)
    if isinstance(verified, str):
        return verified
    claims, key = verified
    now = time.time()
    problems = [
        (claims.get("aud") != _origin(request), f"aud is not {_origin(request)}"),
        (not now < float(claims.get("exp", 0)) <= now + 24 * 3600,
         "exp is not within the next 24 hours"),
        (not str(claims.get("sub", "")).startswith(("mailto:", "https:")),
         "sub is not a mailto: or https: contact"),
        (bool(phone.application_server_key) and key.rstrip("=")
         != (phone.application_server_key or "").rstrip("="),
         "k is not the key this subscription was made with"),
    ]
    return next((why for failed, why in problems if failed), None)


def check_headers(request: web.Request) -> str | None:
    ttl = request.headers.get("TTL", "")
    if not ttl.isdigit():
        return "TTL header missing or not a number"
    if request.headers.get("Urgency", "normal") not in _URGENCIES:
        return "Urgency must be very-low, low, normal or high"
    topic = request.headers.get("Topic")
    if topic is not None and not _TOPIC.match(topic):
        return "Topic must be at most 32 base64url characters"
    if request.headers.get("Content-Encoding") != "aes128gcm":
        return "Content-Encoding must be aes128gcm"
    return None


async def _trusted(state: PushServiceState) -> KeySet:
    if state.trusted is None:
        if state.jwks_url and state.session is not None:
            async with state.session.get(state.jwks_url) as response:
                state.trusted = jws.key_set(json.loads(await response.read()))
        elif state.trust_file is not None and state.trust_file.exists():
            state.trusted = jws.key_set(json.loads(state.trust_file.read_text("utf-8")))
        else:
            state.trusted = KeySet([])
    return state.trusted


async def _fetch(state: PushServiceState, url: str) -> bytes:
    if state.session is None:
        raise RuntimeError("no HTTP session")
    async with state.session.get(url) as response:
        response.raise_for_status()
        return await response.read()


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    variants = document.get("variants") or []
    return {"cap_identifier": document.get("cap_identifier"),
            "msg_type": document.get("msg_type"), "typ": document.get("typ"),
            "headline": variants[0].get("headline") if variants else None,
            "languages": [v.get("lang") for v in variants]}


async def _open(state: PushServiceState, phone: Phone, body: bytes) -> dict[str, Any]:
    """What the phone makes of one message, as a record for ``/_mock/received``."""
    try:
        shown, document = await phone.device.receive(
            body, await _trusted(state), datetime.now(UTC),
            lambda url: _fetch(state, url))
    except RefusedError as refused:
        return {"outcome": "refused", "reason": refused.reason, "detail": str(refused)}
    outcome = ("withdrawn" if document.get("msg_type") == "Cancel"
               else "shown" if shown else "outside")
    return {"outcome": outcome, "reason": None, **_summary(document), "document": document}


def _refusal(request: web.Request, state: PushServiceState) -> web.Response | None:
    """The error a push service gives this request, or None to accept it."""
    phone = state.phones.get(request.match_info["phone"])
    if phone is None or phone.gone:
        return web.json_response({"error": "no such subscription" if phone is None
                                  else "unsubscribed"}, status=404 if phone is None else 410)
    if not state.open_messages:
        return None
    checks = ((400, check_headers(request)), (401, check_vapid(request, phone)),
              (413, "payload too large" if (request.content_length or 0) > MAX_BODY else None))
    status, problem = next(((s, p) for s, p in checks if p is not None), (0, None))
    return None if problem is None else web.json_response({"error": problem}, status=status)


async def push(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    refusal = await state.faults.apply(request) or _refusal(request, state)
    if refusal is not None:
        return refusal
    phone = state.phones[request.match_info["phone"]]
    body = await request.read()
    record = {"phone": request.match_info["phone"], "received_at": time.time(),
              "ttl": int(request.headers.get("TTL", "0")),
              "urgency": request.headers.get("Urgency", "normal"),
              "topic": request.headers.get("Topic"), "bytes": len(body)}
    if state.open_messages:
        record.update(await _open(state, phone, body))
    state.received.append(record)
    return web.Response(status=201, headers={"Location": f"/messages/{os.urandom(8).hex()}"})


async def add_phones(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        given = PhonesIn.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    created = []
    for lat, lon in given.positions:
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        phone_id = os.urandom(9).hex()
        state.phones[phone_id] = Phone(Device(key, auth, (lat, lon), given.margin_km),
                                       given.application_server_key)
        created.append({"id": phone_id, "position": [lat, lon], "subscription": {
            "endpoint": f"{_origin(request)}/push/{phone_id}", "expirationTime": None,
            "keys": {"p256dh": b64url(raw_public(key)), "auth": b64url(auth)}}})
    return web.json_response(created, status=201)


async def remove_phone(request: web.Request) -> web.Response:
    phone = request.app[STATE].phones.get(request.match_info["phone"])
    if phone is None:
        return web.json_response({"error": "no such phone"}, status=404)
    phone.gone = True
    return web.json_response({"ok": True})


async def inbox(request: web.Request) -> web.Response:
    phone = request.app[STATE].phones.get(request.match_info["phone"])
    if phone is None:
        return web.json_response({"error": "no such phone"}, status=404)
    return web.json_response([_summary(doc) for doc in phone.device.inbox.values()])


async def trust(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        given = TrustIn.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    state.jwks_url = given.jwks_url
    state.trusted = jws.key_set(given.jwks) if given.jwks is not None else None
    return web.json_response({"ok": True})


async def mode(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await request.json()
    state.open_messages = bool(body.get("open", True))
    return web.json_response({"open": state.open_messages})


async def received(request: web.Request) -> web.Response:
    brief = request.query.get("brief") == "1"
    records = request.app[STATE].received
    return web.json_response([{k: v for k, v in r.items() if k != "document"} if brief else r
                              for r in records])


async def summary(request: web.Request) -> web.Response:
    counts: dict[str, int] = {}
    for record in request.app[STATE].received:
        name = record.get("outcome", "accepted")
        if record.get("reason"):
            name += f":{record['reason']}"
        counts[name] = counts.get(name, 0) + 1
    return web.json_response({"pushes": len(request.app[STATE].received), "outcomes": counts})


async def forget(request: web.Request) -> web.Response:
    request.app[STATE].received.clear()
    return web.json_response({"ok": True})


DEMO_PHONES = (("inside the Rotterdam-Zuid example area", 51.8825, 4.4600),
               ("Rotterdam centre, north of that area", 51.9225, 4.4792),
               ("Amsterdam", 52.3676, 4.9041))


def _demo_phones(base_url: str, directory: Path) -> list[dict[str, Any]]:
    """Three test phones for demo mode: their keys (for the mock, in ``phones.json``)
    and their PushSubscriptions (for the channel's ``devices``)."""
    phones, subscriptions = [], []
    for number, (label, lat, lon) in enumerate(DEMO_PHONES, start=1):
        key, auth = ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
        phone_id = f"demo-{number}"
        phones.append({"id": phone_id, "label": label, "position": [lat, lon],
                       "key": pem(key).decode("ascii"), "auth": b64url(auth)})
        subscriptions.append({"endpoint": f"{base_url}/push/{phone_id}",
                              "keys": {"p256dh": b64url(raw_public(key)), "auth": b64url(auth)}})
    path = directory / "phones.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(phones, handle)
    return subscriptions


def _load_demo_phones(state: PushServiceState, path: Path) -> None:
    if not path.exists():
        return
    for phone in json.loads(path.read_text(encoding="utf-8")):
        key = serialization.load_pem_private_key(phone["key"].encode("ascii"), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            device = Device(key, b64url_decode(phone["auth"]), tuple(phone["position"]))
            state.phones[phone["id"]] = Phone(device, None)


def demo_wallet_config(base_url: str, data_dir: Path) -> dict[str, Any]:
    """The ``eudi_wallet`` channel for demo mode: throw-away keys and three test phones
    written under ``data_dir/wallet-demo`` (logged: a real deployment configures key
    files and never gets keys made for it), the JWKS beside them for the phones."""
    directory = data_dir / "wallet-demo"
    keys = generate_demo_keys(directory)
    log.warning("wallet.demo_keys_generated", directory=str(directory),
                detail="demo mode: ephemeral signing and VAPID keys and three test phones; "
                       "see GET /_mock/received on the push service")
    return {"type": "eudi_wallet", "signing_key_file": str(keys.signing_key_file),
            "vapid_key_file": str(keys.vapid_key_file),
            "vapid_subject": "mailto:demo@tocsin.example", "issuer": "tocsin-demo",
            "health_url": f"{base_url}/_mock/health",
            "devices": _demo_phones(base_url, directory),
            "journal": str(directory / "journal.jsonl")}


def create_push_service(demo_dir: Path | None = None) -> web.Application:
    """The app; ``demo_dir`` holds the JWKS and the phones demo mode made, if any."""
    app = web.Application(client_max_size=4 << 20)  # control calls carry many phones
    state = PushServiceState(trust_file=demo_dir / "jwks.json" if demo_dir else None)
    if demo_dir is not None:
        _load_demo_phones(state, demo_dir / "phones.json")
    app[STATE] = state

    async def session(_app: web.Application) -> Any:
        state.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        yield
        await state.session.close()

    app.cleanup_ctx.append(session)
    app.router.add_post("/push/{phone}", push)
    app.router.add_post("/_mock/phones", add_phones)
    app.router.add_get("/_mock/phones/{phone}", inbox)
    app.router.add_delete("/_mock/phones/{phone}", remove_phone)
    app.router.add_put("/_mock/trust", trust)
    app.router.add_put("/_mock/mode", mode)
    app.router.add_get("/_mock/received", received)
    app.router.add_get("/_mock/summary", summary)
    app.router.add_delete("/_mock/received", forget)
    add_control_routes(app, lambda element: element[STATE].faults)
    return app
