"""The XML-DSig check of one alert: shape, cryptography, then trust.

Stage: trust. Order, each step only when the one before passed:

1. the root ``<alert>`` has no ``<Signature>``: ``unsigned``; more than one:
   ``untrusted`` (``signature.multiple``: Tocsin verifies one enveloped signature);
2. the signature's shape (``router.trust.shape``): else ``invalid``;
3. its algorithms: else ``untrusted`` (``signature.algorithm-refused``);
4. the KeyInfo certificates decode and do not loop: else ``invalid``;
5. the cryptography, by signxml, with the key of the signing certificate (or the
   bare ``KeyValue``): digest or value mismatch is ``invalid``;
6. trust: ``<sent>`` not in the future beyond the skew, a certificate at all, valid
   at the judging instant, pinned or chained to the store, bound to the sender:
   else ``untrusted``;
7. ``verified``.

signxml returns the signed content re-parsed from its canonical form: comments
and everything outside the reference are gone. That tree, never the document
as received, is what the model of a signed alert is built from.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput
from signxml.verifier import SignatureConfiguration, XMLVerifier

from router.profiles import SignatureLegacy
from router.trust import chain, shape
from router.trust.store import TrustStore, fingerprint
from router.trust.verdict import Problem, SignatureState, SignatureVerdict, TimeMode

DEFAULT_SKEW = timedelta(minutes=5)
# The allow-lists that matter are in router.trust.shape (checked first, per profile);
# signxml is told every public-key method so that a legacy opt-in reaches it.
_SIGNATURE_METHODS = frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC"))
_DIGESTS = frozenset(DigestAlgorithm)


_local = threading.local()


def _parser(*, strip_blank_text: bool) -> etree.XMLParser:
    """Hardened like ``router.cap.xmlsafe`` but keeping comments and PIs: c14n sees them.
    One per thread and setting: lxml parser objects must not be shared across threads."""
    name = "strip" if strip_blank_text else "keep"
    parser: etree.XMLParser | None = getattr(_local, name, None)
    if parser is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False, remove_blank_text=strip_blank_text)
        setattr(_local, name, parser)
    return parser


def _alert_text(root: etree._Element, name: str) -> str | None:
    """A top-level CAP field of any CAP version (1.0/1.1 are upgraded only later)."""
    suffix = "}" + name
    for child in root:
        if isinstance(child.tag, str) and child.tag.endswith(suffix):
            return (child.text or "").strip()
    return None


def _sent(root: etree._Element) -> datetime | None:
    try:
        sent = datetime.fromisoformat(_alert_text(root, "sent") or "")
    except ValueError:
        return None
    return sent if sent.tzinfo is not None else None


@dataclass(frozen=True)
class _Crypto:
    signed_tree: etree._Element
    signing_cert: x509.Certificate | None
    public_key_der: bytes


class SignatureChecker:
    """Checks signatures against one trust store; shared by every request (no state)."""

    def __init__(self, store: TrustStore, *, mode: TimeMode = "valid-at-sent",
                 skew: timedelta = DEFAULT_SKEW) -> None:
        self.store = store
        self.mode = mode
        self.skew = skew

    def check(self, data: bytes, root: etree._Element,
              legacy: SignatureLegacy | None = None,
              now: datetime | None = None) -> SignatureVerdict:
        """The verdict on the document ``data`` (already parsed safely as ``root``)."""
        now = now or datetime.now(UTC)
        legacy = legacy or SignatureLegacy()
        base = SignatureVerdict(SignatureState.UNSIGNED, checked_at=now, mode=self.mode)
        found = shape.signatures(root)
        if not found:
            return base
        if len(found) > 1:
            return self._untrusted(base, Problem(
                "signature.multiple", f"{len(found)} <Signature> elements; Tocsin verifies an "
                "alert that carries exactly one enveloped signature"))
        return self._check_one(data, root, found[0], legacy, base)

    def _check_one(self, data: bytes, root: etree._Element, signature: etree._Element,
                   legacy: SignatureLegacy, base: SignatureVerdict) -> SignatureVerdict:
        accepted, problem = shape.read_shape(signature)
        if accepted is None:
            return self._invalid(base, problem)
        problem = shape.algorithm_problem(shape.signed_info(signature),
                                          allow_sha1=legacy.allow_sha1)
        if problem is not None:
            return self._untrusted(base, problem)
        certs, problem = chain.decode(accepted.certificates)
        problem = problem or (chain.loop_problem(certs) if certs else None)
        if problem is not None:
            return self._invalid(base, problem)
        if not certs and not accepted.has_key_value:
            return self._invalid(base, Problem("signature.malformed",
                                               "KeyInfo holds neither a certificate nor a key"))
        sent = _sent(root)
        judged_at = sent if self.mode == "valid-at-sent" and sent else base.checked_at
        crypto, problem = self._crypto(data, certs, legacy, judged_at)
        if crypto is None:
            return self._invalid(replace(base, judged_at=judged_at), problem)
        return self._trust(root, certs, crypto, replace(base, judged_at=judged_at), sent)

    def _crypto(self, data: bytes, certs: list[x509.Certificate], legacy: SignatureLegacy,
                judged_at: datetime) -> tuple[_Crypto | None, Problem | None]:
        leaf = chain.leaf_of(certs) if certs else None
        # Crypto only here: time and trust are judged in _trust, each with its own finding.
        when = (max(leaf.not_valid_before_utc, min(judged_at, leaf.not_valid_after_utc))
                if leaf else judged_at)
        config = SignatureConfiguration(
            require_x509=leaf is not None, location="./", expect_references=1,
            signature_methods=_SIGNATURE_METHODS, digest_algorithms=_DIGESTS,
            verification_time=when)
        try:
            result = XMLVerifier().verify(
                data, x509_cert=leaf, expect_config=config,
                parser=_parser(strip_blank_text=legacy.strip_blank_text))
        except InvalidDigest as exc:
            return None, Problem("signature.digest-mismatch",
                                 f"the signed content was changed after signing: {exc}")
        except InvalidCertificate as exc:
            return None, Problem("signature.malformed", f"the certificate cannot be used: {exc}")
        except InvalidSignature as exc:
            return None, Problem("signature.value-mismatch",
                                 f"the signature value does not verify: {exc}")
        except (InvalidInput, etree.Error, ValueError, TypeError, KeyError) as exc:
            # Whatever a hostile <Signature> makes the verifier trip on is a refusal, not a 5xx.
            return None, Problem("signature.malformed",
                                 f"the signature cannot be checked: {str(exc)[:300]}")
        if isinstance(result, list) or result.signed_xml is None:
            return None, Problem("signature.malformed", "the signed content is not XML")
        return _Crypto(result.signed_xml, leaf, _der_key(result.signature_key)), None

    def _trust(self, root: etree._Element, certs: list[x509.Certificate], crypto: _Crypto,
               base: SignatureVerdict, sent: datetime | None) -> SignatureVerdict:
        leaf = crypto.signing_cert
        verdict = replace(base, signed_tree=crypto.signed_tree,
                          signer=leaf.subject.rfc4514_string() if leaf else None,
                          certificate_sha256=fingerprint(leaf) if leaf else None)
        problem = self._time_problem(sent, base.checked_at)
        if problem is None and leaf is None:
            pinned = self.store.pinned_key(crypto.public_key_der)
            if pinned is None:
                problem = Problem("signature.no-certificate",
                                  "the signature carries a bare key and no certificate, and the "
                                  "key is not pinned in the trust store")
            else:
                leaf, certs = pinned, [pinned]
                verdict = replace(verdict, signer=pinned.subject.rfc4514_string(),
                                  certificate_sha256=fingerprint(pinned))
        if problem is None and leaf is not None:
            problem = self._certificate_problem(leaf, certs, verdict, _alert_text(root, "sender"))
        if problem is not None:
            return self._untrusted(verdict, problem)
        return replace(verdict, state=SignatureState.VERIFIED)

    def _time_problem(self, sent: datetime | None, now: datetime) -> Problem | None:
        if sent is None:
            return Problem("signature.sent-unreadable",
                           "the alert's <sent> cannot be read, so its certificate cannot be "
                           "judged at that time")
        if sent > now + self.skew:
            return Problem("signature.sent-in-future",
                           f"<sent> {sent.isoformat()} is more than {self.skew} ahead of this "
                           "server's clock; a certificate cannot be judged at a time to come")
        if self.store.empty:
            return Problem("signature.no-trust-store",
                           "no trust store is configured (--trust-store / trust_store), so no "
                           "signer can be trusted")
        return None

    def _certificate_problem(self, leaf: x509.Certificate, certs: list[x509.Certificate],
                             verdict: SignatureVerdict, sender: str | None) -> Problem | None:
        at = verdict.judged_at or verdict.checked_at
        what = "<sent>" if self.mode == "valid-at-sent" else "receipt"
        problem = chain.validity_problem(leaf, at, what)
        if problem is not None:
            return problem
        trusted, problem = chain.trust_path(leaf, [c for c in certs if c is not leaf],
                                            self.store, at)
        if trusted is None:
            return problem
        if not self.store.sender_allowed(trusted.path, sender or ""):
            return Problem("signature.sender-not-bound",
                           f"the signing certificate may not sign for sender {sender!r} "
                           "(trust_sender_bindings)")
        return None

    @staticmethod
    def _invalid(base: SignatureVerdict, problem: Problem | None) -> SignatureVerdict:
        return replace(base, state=SignatureState.INVALID, problem=problem,
                       signed_tree=None)

    @staticmethod
    def _untrusted(base: SignatureVerdict, problem: Problem) -> SignatureVerdict:
        return replace(base, state=SignatureState.UNTRUSTED, problem=problem)


def _der_key(pem_or_raw: bytes) -> bytes:
    try:
        key = load_pem_public_key(pem_or_raw)
    except ValueError:
        return pem_or_raw
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
