"""One Web Push message: RFC 8291 ``aes128gcm`` encryption and RFC 8292 VAPID.

Stage: channel adapter. The cryptography comes from the libraries the Web Push
ecosystem itself maintains (``http-ece`` for RFC 8188/8291, ``py-vapid`` for
RFC 8292; both are what ``pywebpush`` uses). ``pywebpush`` itself is not used:
it sends with ``requests`` (blocking) and re-signs a VAPID JWT for every message,
whereas the channel sends with aiohttp and signs one JWT per push service
origin every few hours. Both libraries only compute, so calling them from the
event loop blocks it no longer than the arithmetic takes (about 0.2 ms).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import http_ece  # type: ignore[import-untyped]  # no type hints shipped
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02  # type: ignore[import-untyped]

from channels.eudi_wallet.keys import b64url, b64url_decode, raw_public

RECORD_SIZE = 4096
"""RFC 8291 §4: a push service must accept a 4096-octet body; one record that size."""
HEADER_SIZE = 16 + 4 + 1 + 65  # salt, record size, key id length, sender public key
MAX_PLAINTEXT = RECORD_SIZE - HEADER_SIZE - 16 - 1  # minus the GCM tag and the delimiter
"""3993: the largest payload that fits one push message."""
JWT_LIFETIME_S = 12 * 3600
"""RFC 8292 §2 caps ``exp`` at 24 h; half that, renewed an hour before it ends."""


@dataclass(frozen=True)
class Subscription:
    """What a W3C ``PushSubscription`` carries, and nothing else."""

    endpoint: str
    p256dh: bytes
    auth: bytes

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Subscription:
        keys = data.get("keys") or {}
        return cls(str(data["endpoint"]), b64url_decode(str(keys["p256dh"])),
                   b64url_decode(str(keys["auth"])))

    def validate(self) -> None:
        """ValueError unless the endpoint is an http(s) URL without credentials and the
        keys are a point on P-256 and a 16-byte secret (RFC 8291 §3). Which hosts,
        ports and schemes a subscriber may name is the subscription route's decision;
        this is what sending needs, checked again before each push."""
        parts = urlsplit(self.endpoint)
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            raise ValueError("endpoint must be an https URL")
        if parts.username is not None or parts.password is not None:
            raise ValueError("endpoint must not carry user:password")
        _ = parts.port  # ValueError for a port that is not a number in range
        if len(self.auth) != 16:
            raise ValueError("keys.auth must be 16 bytes (base64url)")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), self.p256dh)
        except ValueError as exc:
            raise ValueError("keys.p256dh is not a P-256 public key") from exc

    @property
    def origin(self) -> str:
        parts = urlsplit(self.endpoint)
        default = {"https": 443, "http": 80}[parts.scheme]
        port = f":{parts.port}" if parts.port and parts.port != default else ""
        return f"{parts.scheme}://{parts.hostname}{port}"


def encrypt(plaintext: bytes, subscription: Subscription) -> bytes:
    """The ``aes128gcm`` body for one subscription: a fresh ECDH key and salt per
    message (RFC 8291 §3.1), so two bodies never share a key."""
    if len(plaintext) > MAX_PLAINTEXT:
        raise ValueError(f"{len(plaintext)} bytes is over the {MAX_PLAINTEXT}-byte push limit")
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(plaintext, salt=os.urandom(16), private_key=ephemeral,
                                   dh=subscription.p256dh, auth_secret=subscription.auth,
                                   rs=RECORD_SIZE,
                                   version="aes128gcm")
    return body


def decrypt(body: bytes, private_key: ec.EllipticCurvePrivateKey, auth: bytes) -> bytes:
    """What the phone does with a body (the mock push service and tests use it)."""
    plaintext: bytes = http_ece.decrypt(body, private_key=private_key, auth_secret=auth,
                                        version="aes128gcm")
    return plaintext


@dataclass
class VapidSigner:
    """``Authorization: vapid t=<JWT>,k=<key>`` per push service origin, cached."""

    key: ec.EllipticCurvePrivateKey
    subject: str
    _cache: dict[str, tuple[float, str]] = field(default_factory=dict)

    @property
    def public_key(self) -> str:
        """The ``applicationServerKey`` a device subscribes with."""
        return b64url(raw_public(self.key))

    def header(self, origin: str, now: float | None = None) -> str:
        moment = time.time() if now is None else now
        cached = self._cache.get(origin)
        if cached is not None and cached[0] - 3600 > moment:
            return cached[1]
        expires = int(moment) + JWT_LIFETIME_S
        signed: dict[str, str] = Vapid02(private_key=self.key).sign(
            {"aud": origin, "exp": expires, "sub": self.subject})
        self._cache[origin] = (expires, signed["Authorization"])
        return signed["Authorization"]
