"""From the certificates in ``KeyInfo`` to "trusted at time t", or why not.

Stage: trust. Path building and checking is the ``cryptography`` package's X.509
verifier (RFC 5280 path validation, bounded depth), judged at an explicit
instant — the alert's ``<sent>`` by default — rather than the wall clock, so an
archived alert signed with a since-expired certificate still verifies, and a
certificate issued after ``<sent>`` does not. End-entity extensions are not held
to Web-PKI rules (a CAP signing certificate is no TLS server certificate), but
a key usage, when present, must allow signing.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    VerificationError,
)

from router.trust.store import TrustStore
from router.trust.verdict import Problem

MAX_CHAIN_DEPTH = 8
CERTIFICATE_CACHE = 256


@dataclass(frozen=True)
class Trusted:
    path: tuple[x509.Certificate, ...]
    """Leaf first, ending at the trust anchor or the pinned certificate."""


@functools.lru_cache(maxsize=CERTIFICATE_CACHE)
def _load(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def decode(certificates: Sequence[bytes]) -> tuple[list[x509.Certificate], Problem | None]:
    """The KeyInfo certificates as objects. An authority signs every alert with the same
    few certificates, and a certificate object caches what it has parsed (extensions,
    key), so objects are kept by DER: checking a known signer's path costs about a
    fifth of checking a new one's."""
    try:
        return [_load(der) for der in certificates], None
    except ValueError as exc:
        return [], Problem("signature.malformed", f"a KeyInfo certificate cannot be read: {exc}")


def _der(name: x509.Name) -> bytes:
    """Names compared by their DER (hashing ``x509.Name`` objects is slow)."""
    return name.public_bytes()


def leaf_of(certs: Sequence[x509.Certificate]) -> x509.Certificate:
    """The certificate that issued none of the others (the first such; KeyInfo has no order)."""
    if len(certs) == 1:
        return certs[0]
    issuers = [(_der(c.issuer), c) for c in certs]
    issued_none = [c for c in certs
                   if not any(o is not c and issuer == _der(c.subject) for issuer, o in issuers)]
    return issued_none[0] if issued_none else certs[0]


def loop_problem(certs: Sequence[x509.Certificate]) -> Problem | None:
    """Issuer links among the KeyInfo certificates that come back round (A→B→A)."""
    if len(certs) < 2:
        return None
    by_subject = {_der(c.subject): c for c in certs}
    current: x509.Certificate | None = leaf_of(certs)
    seen: set[bytes] = set()
    while current is not None and current.issuer != current.subject:
        subject = _der(current.subject)
        if subject in seen:
            return Problem("signature.chain-loop",
                           "the KeyInfo certificates issue each other in a loop "
                           f"(through {current.subject.rfc4514_string()})")
        seen.add(subject)
        current = by_subject.get(_der(current.issuer))
    return None


def validity_problem(cert: x509.Certificate, at: datetime, what: str) -> Problem | None:
    if at < cert.not_valid_before_utc:
        return Problem("signature.certificate-not-yet-valid",
                       f"the signing certificate is valid from "
                       f"{cert.not_valid_before_utc.isoformat()}, after {what} {at.isoformat()}")
    if at > cert.not_valid_after_utc:
        return Problem("signature.certificate-expired",
                       f"the signing certificate expired "
                       f"{cert.not_valid_after_utc.isoformat()}, before {what} {at.isoformat()}")
    return None


def _signing_key_usage(cert: x509.Certificate) -> bool:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(usage.digital_signature or usage.content_commitment)


def trust_path(leaf: x509.Certificate, intermediates: Sequence[x509.Certificate],
               store: TrustStore, at: datetime) -> tuple[Trusted | None, Problem | None]:
    """Pinned leaf, else a path to an anchor, valid at ``at``."""
    pinned = store.pinned_certificate(leaf)
    if pinned is not None:
        return Trusted((pinned,)), None
    if not _signing_key_usage(leaf):
        return None, Problem("signature.untrusted-chain",
                             "the signing certificate's key usage does not allow signatures")
    anchors = store.anchor_store
    if anchors is None:
        return None, Problem("signature.untrusted-chain",
                             "the signing certificate is neither pinned in the trust store "
                             "nor issued under a CA in it (the store holds no CA)")
    verifier = (PolicyBuilder().store(anchors).time(at)
                .max_chain_depth(MAX_CHAIN_DEPTH)
                .extension_policies(ee_policy=ExtensionPolicy.permit_all(),
                                    ca_policy=ExtensionPolicy.webpki_defaults_ca())
                .build_client_verifier())
    try:
        verified = verifier.verify(leaf, list(intermediates))
    except VerificationError as exc:
        return None, Problem("signature.untrusted-chain",
                             f"no path from the signing certificate "
                             f"({leaf.subject.rfc4514_string()}) to a CA in the trust store "
                             f"at {at.isoformat()}: {exc}")
    return Trusted(tuple(verified.chain)), None
