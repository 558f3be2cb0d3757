"""Shared builders for the wallet unit tests: keys, example deliveries, a test phone."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from channels.eudi_wallet.device import Device
from channels.eudi_wallet.keys import SigningKey, b64url, raw_public
from channels.eudi_wallet.webpush import Subscription
from router.cap import parse_cap
from router.channel import Delivery

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
INSIDE = (51.8825, 4.46)  # inside the Rotterdam-Zuid example polygon
OUTSIDE = (52.3676, 4.9041)  # Amsterdam


def signing_key() -> SigningKey:
    return SigningKey.from_private(ec.generate_private_key(ec.SECP256R1()))


def example(name: str = "nl-alert-fire.xml", *, expires_in: timedelta | None = None,
            identifier: str | None = None) -> Delivery:
    raw = (EXAMPLES / name).read_bytes()
    if expires_in is not None:
        expires = (datetime.now(UTC) + expires_in).replace(microsecond=0).isoformat()
        raw = raw.replace(b"<senderName>", f"<expires>{expires}</expires><senderName>".encode())
    if identifier is not None:
        raw = raw.replace(b"NL-VRR-2026-0042</identifier>", f"{identifier}</identifier>".encode())
    document = parse_cap(raw).document
    assert document is not None, name
    return Delivery(alert_id="01TEST", channel="eudi_wallet", idempotency_key="01TEST/w",
                    alert=document.alert, raw=raw)


def phone(position: tuple[float, float] = INSIDE) -> tuple[Device, Subscription]:
    key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    subscription = Subscription.from_json({"endpoint": "https://push.example/p/1", "keys": {
        "p256dh": b64url(raw_public(key)), "auth": b64url(auth)}})
    return Device(key, auth, position), subscription
