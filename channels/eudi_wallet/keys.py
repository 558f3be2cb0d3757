"""P-256 keys for the wallet channel: the JWS signing key and the VAPID key.

Stage: channel adapter (imports nothing from Tocsin). Keys come from PEM files
named in configuration; a missing or unreadable file is a configuration error,
never a reason to make a new key: a silently generated signing key would
publish a JWKS no device trusts, and a new VAPID key orphans every
subscription (RFC 8292 binds a subscription to one application-server key).
Only ``generate_demo_keys`` makes keys, and its caller logs that it did.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2), as JOSE and Web Push write binary values."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of ``b64url``; accepts padded input too (browsers differ)."""
    stripped = text.strip().rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """An EC P-256 private key from a PEM file; ValueError says what is wrong."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ValueError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path} must hold an EC P-256 (secp256r1) key: ES256 and "
                         "VAPID use no other curve")
    return key


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """The EC P-256 public key in a PEM file holding a public or a private key: a key
    published for a rollover may be one whose private half is already destroyed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not a PEM public or private key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path} must hold an EC P-256 (secp256r1) key")
    return key


def raw_public(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed point (65 bytes): VAPID's ``k`` and a PushSubscription's p256dh."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(serialization.Encoding.X962,
                               serialization.PublicFormat.UncompressedPoint)


@dataclass(frozen=True)
class SigningKey:
    """The key alerts are signed with, and its public half as a JWK with a stable ``kid``
    (the RFC 7638 thumbprint, so the id changes exactly when the key does)."""

    jwk: ECKey

    @classmethod
    def from_private(cls, key: ec.EllipticCurvePrivateKey) -> SigningKey:
        return cls(ECKey.import_key(key))

    @classmethod
    def published_only(cls, key: ec.EllipticCurvePublicKey) -> SigningKey:
        """A key that is published in the JWKS but never signs (a rollover's other key)."""
        return cls(ECKey.import_key(key))

    @property
    def kid(self) -> str:
        return self.jwk.thumbprint()

    def public_jwk(self) -> dict[str, str]:
        """The JWKS entry: public parameters only, ``use``, ``alg`` and ``kid`` set."""
        fields = {k: str(v) for k, v in self.jwk.as_dict(private=False).items()}
        return {**fields, "use": "sig", "alg": "ES256", "kid": self.kid}


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write a PEM key readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem(key))


@dataclass(frozen=True)
class DemoKeys:
    signing_key_file: Path
    vapid_key_file: Path
    jwks_file: Path


def generate_demo_keys(directory: Path) -> DemoKeys:
    """Fresh signing and VAPID keys under ``directory`` (demo mode only; the caller logs
    it), with the public JWKS beside them for the mock push service to trust."""
    signing = ec.generate_private_key(ec.SECP256R1())
    vapid = ec.generate_private_key(ec.SECP256R1())
    keys = DemoKeys(directory / "signing-key.pem", directory / "vapid-key.pem",
                    directory / "jwks.json")
    write_private_key(keys.signing_key_file, signing)
    write_private_key(keys.vapid_key_file, vapid)
    jwks = {"keys": [SigningKey.from_private(signing).public_jwk()]}
    keys.jwks_file.write_text(json.dumps(jwks), encoding="utf-8")
    return keys
