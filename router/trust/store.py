"""The trust store: which certificates Tocsin believes, read once at start-up.

Stage: trust. ``--trust-store PATH`` (setting ``trust_store``) names a PEM file or a
directory of PEM files (``*.pem``, ``*.crt``, ``*.cer``). Each certificate found is
either a trust anchor — a CA certificate (``basicConstraints: CA:TRUE``): a signer
is trusted when its chain leads to it — or, when it is a leaf, a pinned signer:
that exact certificate (or its public key, for signatures that carry only a key)
is trusted, with no chain.

Sender bindings (setting ``trust_sender_bindings``: certificate SHA-256 → fnmatch
patterns of CAP ``<sender>``) limit what a certificate may sign for: the key is the
SHA-256 of a store certificate or of an authority's own signing certificate; when
any certificate on a signer's path (leaf to anchor) is bound, the alert's sender
must match one of its patterns. An authority's certificate then cannot vouch for another's alerts.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.verification import Store

PEM_SUFFIXES = (".pem", ".crt", ".cer")
SenderBindings = Mapping[str, list[str]]


class TrustStoreError(ValueError):
    """The trust store cannot be used; ``problems`` names every file at fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid trust store:\n  " + "\n  ".join(problems))
        self.problems = problems


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class TrustStore:
    anchors: tuple[x509.Certificate, ...] = ()
    pinned: tuple[x509.Certificate, ...] = ()
    bindings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""
    _pinned_by_sha256: dict[str, x509.Certificate] = field(init=False, repr=False,
                                                            compare=False)

    _anchor_store: Store | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pinned_by_sha256",
                           {fingerprint(p): p for p in self.pinned})
        object.__setattr__(self, "_anchor_store",
                           Store(list(self.anchors)) if self.anchors else None)

    @property
    def anchor_store(self) -> Store | None:
        """The anchors as the X.509 verifier takes them, built once."""
        return self._anchor_store

    def pinned_certificate(self, cert: x509.Certificate) -> x509.Certificate | None:
        return self._pinned_by_sha256.get(fingerprint(cert))

    def pinned_key(self, public_key_der: bytes) -> x509.Certificate | None:
        return next((p for p in self.pinned if spki(p) == public_key_der), None)

    def sender_allowed(self, path: Iterable[x509.Certificate], sender: str) -> bool:
        """True unless a certificate on the path is bound to senders that exclude ``sender``."""
        if not self.bindings:
            return True
        for cert in path:
            patterns = self.bindings.get(fingerprint(cert))
            if patterns is not None and not any(fnmatch.fnmatchcase(sender, p)
                                                for p in patterns):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.anchors and not self.pinned


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in PEM_SUFFIXES)
    return [path]


def _read(path: Path, problems: list[str]) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        problems.append(f"{path}: cannot be read: {exc.strerror}")
        return []
    except ValueError as exc:
        problems.append(f"{path}: not a PEM certificate file: {exc}")
        return []
    return certs


def _bindings(bindings: SenderBindings, problems: list[str]) -> dict[str, tuple[str, ...]]:
    """Keys are SHA-256 of a store certificate or of a signer's own (leaf) certificate."""
    out: dict[str, tuple[str, ...]] = {}
    for key, patterns in bindings.items():
        digest = key.lower().removeprefix("sha256:")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            problems.append(f"trust_sender_bindings: {key!r} is not a certificate SHA-256 "
                            "(64 hex digits)")
        out[digest] = tuple(patterns)
    return out


def load_trust_store(path: Path | None, bindings: SenderBindings | None = None) -> TrustStore:
    """Read every certificate under ``path``; report every unusable file at once."""
    if path is None:
        if bindings:
            raise TrustStoreError(["trust_sender_bindings given without a trust_store"])
        return TrustStore()
    problems: list[str] = []
    if not path.exists():
        raise TrustStoreError([f"{path}: does not exist"])
    certs = [cert for file in _files(path) for cert in _read(file, problems)]
    if not certs and not problems:
        problems.append(f"{path}: holds no PEM certificate")
    bound = _bindings(bindings or {}, problems)
    if problems:
        raise TrustStoreError(problems)
    return TrustStore(anchors=tuple(c for c in certs if is_ca(c)),
                      pinned=tuple(c for c in certs if not is_ca(c)),
                      bindings=bound, source=str(path))
