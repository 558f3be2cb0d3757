"""What a wallet subscription must be before it is stored: checks with no I/O.

Stage: the audience layer (pure; the wallet subscription routes call it). Everything here was once
stored unchecked and broke a later fan-out or let the route be misused:

- ``keys.p256dh`` must be a point on P-256 in uncompressed form (RFC 8291 §3.1):
  65 bytes starting with 0x04 is not enough, a point off the curve makes every
  later encryption to it fail;
- ``keys.auth`` must be 16 bytes (RFC 8291 §3.2);
- the endpoint must be an ``https`` URL with no ``user:password@`` and a plain DNS
  host name, on a host *and port* a known push service uses: an entry of
  ``wallet_push_hosts`` is an fnmatch pattern of the host, optionally ``:port``
  (443 when none is given), so ``fcm.googleapis.com:6379`` is refused. In demo mode
  a loopback host (``127.0.0.1``, ``localhost``, ``::1``) is allowed on any port and
  over ``http``, for the mock push service;
- a language is a BCP 47 tag in shape (``nl``, ``en-GB``, ``sr-Latn-RS``), at most
  35 characters (RFC 5646 §4.4.1's buffer size).
"""

from __future__ import annotations

import base64
import binascii
import re
from fnmatch import fnmatchcase
from typing import Annotated
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import StringConstraints

LanguageTag = Annotated[str, StringConstraints(
    max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,7}$")]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_DNS_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
HTTPS_PORT = 443


def _b64url(text: str) -> bytes:
    stripped = text.strip().rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("keys are not base64url") from exc


def check_keys(p256dh: str, auth: str) -> None:
    """ValueError unless ``p256dh`` is an uncompressed P-256 point and ``auth`` 16 bytes."""
    point, secret = _b64url(p256dh), _b64url(auth)
    if len(point) != 65 or point[0] != 4:
        raise ValueError("keys.p256dh must be an uncompressed P-256 point (65 bytes)")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise ValueError("keys.p256dh is not a point on the P-256 curve") from exc
    if len(secret) != 16:
        raise ValueError("keys.auth must be 16 bytes")


def _allowed(host: str, port: int, entries: list[str]) -> bool:
    for entry in entries:
        pattern, _, wanted = (entry.lower().rpartition(":") if ":" in entry
                              else (entry.lower(), "", ""))
        if fnmatchcase(host, pattern) and port == (int(wanted) if wanted else HTTPS_PORT):
            return True
    return False


def check_endpoint(endpoint: str, push_hosts: list[str], *, demo: bool) -> None:
    """ValueError saying what is wrong unless Tocsin may POST to ``endpoint``."""
    parts = urlsplit(endpoint)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("the endpoint's port is not a number from 0 to 65535") from exc
    if parts.username is not None or parts.password is not None:
        raise ValueError("the endpoint must not carry user:password")
    host = (parts.hostname or "").lower()
    if demo and host in LOOPBACK and parts.scheme in {"http", "https"}:
        return
    if parts.scheme != "https":
        raise ValueError("the endpoint must be an https URL")
    if not _DNS_NAME.match(host):
        raise ValueError(f"{host!r} is not a DNS host name")
    if not _allowed(host, port or HTTPS_PORT, push_hosts):
        raise ValueError(f"{host}:{port or HTTPS_PORT} is not a push service this Tocsin "
                         "sends to (settings: wallet_push_hosts, host patterns with an "
                         "optional :port, 443 by default)")
