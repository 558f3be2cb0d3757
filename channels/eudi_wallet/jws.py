"""Compact JWS (RFC 7515) with ES256 over the alert documents, and their verification.

Stage: channel adapter. JOSE library: ``joserfc`` (typed, maintained, implements
RFC 7515/7517/7518 without a JWT-only bias; ``PyJWT`` is shaped around JWT
claims and ``jwcrypto`` has no type hints). The payload is canonical JSON
(sorted keys, no spaces, UTF-8) so the same document always signs the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from channels.eudi_wallet.keys import SigningKey

MEDIA_TYPE = "wallet-alert+jws"
"""The JWS ``typ``: a device refuses tokens of any other type (no confusion with,
say, a VAPID JWT signed by a key it also knows)."""


class SignatureError(ValueError):
    """The token is malformed, of another type, or not signed by a trusted key."""


def canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def sign(document: Mapping[str, Any], key: SigningKey) -> str:
    header = {"alg": "ES256", "kid": key.kid, "typ": MEDIA_TYPE}
    return jws.serialize_compact(header, canonical(document), key.jwk)


def key_set(jwks: Mapping[str, Any]) -> KeySet:
    """A verification key set from a JWKS document; only ES256 signing keys are kept."""
    keys = [ECKey.import_key(dict(entry)) for entry in jwks.get("keys", ())
            if entry.get("kty") == "EC" and entry.get("use", "sig") == "sig"
            and entry.get("alg", "ES256") == "ES256"]
    return KeySet(keys)  # type: ignore[arg-type]  # KeySet takes any list of keys


def verify(token: str | bytes, trusted: KeySet) -> dict[str, Any]:
    """The document inside ``token`` if a key in ``trusted`` signed it with ES256."""
    try:
        compact = jws.deserialize_compact(token, trusted, algorithms=["ES256"])
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"not a valid signed alert: {exc}") from exc
    if compact.headers().get("typ") != MEDIA_TYPE:
        raise SignatureError(f"JWS type {compact.headers().get('typ')!r} is not {MEDIA_TYPE}")
    try:
        document = json.loads(compact.payload)
    except ValueError as exc:
        raise SignatureError("the signed payload is not JSON") from exc
    if not isinstance(document, dict):
        raise SignatureError("the signed payload is not a JSON object")
    return document
