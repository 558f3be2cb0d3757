"""The phone's side, as a reference a wallet team can follow: open a push, check it,
and decide locally whether to show it.

Stage: channel adapter (pure; used by the mock push service and the tests, never
by the sending path). In order, a message is refused when:

1. it does not decrypt with the subscription's keys (``decrypt``);
2. its JWS is not ES256 by a key in the trusted JWKS, or not of our type (``signature``);
3. it was signed more than ``skew_s`` in the future, or long ago (``stale``);
4. its ``expires`` has passed (``expired``);
5. its CAP key (sender, identifier, sent) was opened before (``replay``): a
   captured message sent again shows nothing twice.

A tickle is opened the same way and then replaced by the document fetched from
its ``fetch`` URL, which must pass the same checks and carry the same CAP key.
Then the geofence: the position never leaves the phone; the document's area is
tested here. Inside a polygon or circle (plus ``margin_km``) means shown;
an alert with no shapes (geocodes only) is shown everywhere, erring towards warning.
A Cancel withdraws the alerts it references; an Update replaces them.

Assets (``check_asset``): a phone plays an audio or video file only when its bytes
have the SHA-256 the signed document gives; an asset without one is not played.
A document with ``speech_pending`` may be fetched again from its ``fetch`` URL
later for the spoken audio (it must pass the same checks).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import KeySet
from shapely import Point
from shapely import Polygon as ShapelyPolygon

from channels.eudi_wallet import jws
from channels.eudi_wallet.webpush import decrypt

EARTH_RADIUS_KM = 6371.0088
Fetch = Callable[[str], Awaitable[bytes]]


class RefusedError(Exception):
    """The phone refuses a message; ``reason`` is one word from the list above."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def inside(area: dict[str, Any], position: tuple[float, float], margin_km: float = 0.0) -> bool:
    """Whether ``position`` (lat, lon) is in the document's area."""
    polygons = area.get("polygons") or []
    circles = area.get("circles") or []
    if not polygons and not circles:
        return True
    lat, lon = position
    margin_deg = margin_km / 111.0
    for points in polygons:
        shape = ShapelyPolygon([(p[1], p[0]) for p in points])
        if shape.distance(Point(lon, lat)) <= margin_deg:
            return True
    return any(_distance_km((c["center"][0], c["center"][1]), position)
               <= c["radius_km"] + margin_km for c in circles)


def check_asset(asset: dict[str, Any], body: bytes) -> None:
    """Refuse (``asset``) a fetched file unless it has the document's SHA-256."""
    expected = asset.get("sha256")
    if not expected:
        raise RefusedError("asset", f"{asset.get('url')} has no SHA-256 to check it by")
    if hashlib.sha256(body).hexdigest() != str(expected).lower():
        raise RefusedError("asset", f"{asset.get('url')} does not match its SHA-256")


def key_of(document: dict[str, Any]) -> str:
    return f"{document.get('sender')},{document.get('cap_identifier')},{document.get('sent')}"


@dataclass
class Device:
    """One test phone: its subscription keys, its (private) position, its inbox."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    position: tuple[float, float]
    margin_km: float = 0.0
    skew_s: float = 300.0
    max_age: timedelta = timedelta(days=7)
    seen: set[str] = field(default_factory=set)
    inbox: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Alerts on screen, by the CAP key text ``sender,identifier,sent(UTC)``."""

    def open(self, body: bytes, trusted: KeySet, now: datetime) -> dict[str, Any]:
        try:
            token = decrypt(body, self.private_key, self.auth)
        except Exception as exc:  # http_ece raises several unrelated types
            raise RefusedError("decrypt", type(exc).__name__) from exc
        try:
            document = jws.verify(token, trusted)
        except jws.SignatureError as exc:
            raise RefusedError("signature", str(exc)) from exc
        self._check_times(document, now)
        return document

    def _check_times(self, document: dict[str, Any], now: datetime) -> None:
        signed = datetime.fromtimestamp(float(document.get("iat", 0)), UTC)
        if signed > now + timedelta(seconds=self.skew_s) or signed < now - self.max_age:
            raise RefusedError("stale", f"signed at {signed.isoformat()}")
        expires = document.get("expires")
        if expires and datetime.fromisoformat(expires) <= now:
            raise RefusedError("expired", f"expired at {expires}")

    async def receive(self, body: bytes, trusted: KeySet, now: datetime,
                      fetch: Fetch) -> tuple[bool, dict[str, Any]]:
        """Open, check and file one message; (shown, document). Raises ``RefusedError``."""
        document = self.open(body, trusted, now)
        if document.get("typ") == "tickle":
            document = await self._fetch_full(document, trusted, now, fetch)
        elif document.get("typ") != "alert":
            raise RefusedError("signature", f"unknown document type {document.get('typ')!r}")
        key = self._canonical_key(document)
        if key in self.seen:
            raise RefusedError("replay", f"{key} was received before")
        self.seen.add(key)
        for referenced in document.get("references") or ():  # an Update replaces,
            self.inbox.pop(_canonical_reference(str(referenced)), None)  # a Cancel withdraws
        if document.get("msg_type") == "Cancel":
            return False, document
        shown = inside(document.get("area") or {}, self.position, self.margin_km)
        if shown:
            self.inbox[key] = document
        return shown, document

    async def _fetch_full(self, tickle: dict[str, Any], trusted: KeySet, now: datetime,
                          fetch: Fetch) -> dict[str, Any]:
        if "area" in tickle and not inside(tickle["area"], self.position, self.margin_km):
            return {**tickle, "typ": "alert"}  # outside: the phone need not fetch at all
        try:
            token = await fetch(str(tickle["fetch"]))
            document = jws.verify(token, trusted)
        except jws.SignatureError as exc:
            raise RefusedError("signature", f"fetched document: {exc}") from exc
        except Exception as exc:  # network or HTTP failure while fetching
            raise RefusedError("fetch", f"{type(exc).__name__}: {exc}") from exc
        if key_of(document) != key_of(tickle) or document.get("typ") != "alert":
            raise RefusedError("signature", "the fetched document is not the one announced")
        self._check_times(document, now)
        return document

    @staticmethod
    def _canonical_key(document: dict[str, Any]) -> str:
        sent = datetime.fromisoformat(str(document.get("sent")))
        return (f"{document.get('sender')},{document.get('cap_identifier')},"
                f"{sent.astimezone(UTC).isoformat(timespec='seconds')}")


def _canonical_reference(text: str) -> str:
    """A document reference (``sender,identifier,sent`` with the authority's offset) as
    the inbox key: the same instant in UTC, so offsets never hide a match."""
    if text.count(",") < 2:
        return text
    sender, identifier, sent = text.rsplit(",", 2)
    try:
        moment = datetime.fromisoformat(sent)
    except ValueError:
        return text
    return f"{sender},{identifier},{moment.astimezone(UTC).isoformat(timespec='seconds')}"
