"""XML-DSig verification of incoming CAP: each generated case gets its expected verdict.

The signed set is made at test time (tests/signing.py): a test CA and leaves valid
now, expired now but valid at <sent>, not yet valid at <sent>, and from an unknown
CA; alerts signed with them; tampered text, tampered value, a wrapping attack, SHA-1,
and the hostile shapes (a signature over another element, a reference outside the
document, XSLT, a looping chain, a 10,000-certificate KeyInfo).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from router.cap import XmlLimits
from router.cap.xmlsafe import parse_xml
from router.profiles import ProfileSet, load_profiles
from router.trust import (
    SignatureChecker,
    SignatureState,
    TrustStore,
    TrustStoreError,
    load_trust_store,
    read_alert,
)
from router.trust.verdict import SignatureVerdict
from tests.signing import (
    NOW,
    SENT_2020,
    SENT_EARLY,
    SENT_RECENT,
    Pki,
    alert_xml,
    make_ca,
    make_leaf,
    make_pki,
    sign,
    sign_sha1,
    tamper_text,
    tamper_value,
    wrap,
)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def profiles() -> ProfileSet:
    return load_profiles()


@pytest.fixture(scope="module")
def store(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> TrustStore:
    path = tmp_path_factory.mktemp("trust") / "ca.pem"
    path.write_bytes(pki.ca.pem)
    return load_trust_store(path)


def verdict_of(data: bytes, store: TrustStore, profiles: ProfileSet,
               profile: str = "nl-alert", **checker: object) -> tuple[SignatureVerdict, list[str]]:
    checked = read_alert(data, profiles, profile, SignatureChecker(store, **checker))  # type: ignore[arg-type]
    assert checked.signature is not None
    codes = [f.code for f in checked.outcome.findings if f.severity == "error"]
    return checked.signature, codes


CASES = [
    # id, how the alert is made, expected state, expected finding code (None: no error)
    ("rsa-now", lambda p: sign(alert_xml("S1", SENT_RECENT), p.now), "verified", None),
    ("ecdsa-now", lambda p: sign(alert_xml("S2", SENT_RECENT), p.ec, algorithm="ecdsa-sha256"),
     "verified", None),
    ("expired-now-valid-at-sent", lambda p: sign(alert_xml("S3", SENT_2020), p.expired),
     "verified", None),
    ("not-yet-valid-at-sent", lambda p: sign(alert_xml("S4", SENT_EARLY), p.later),
     "untrusted", "signature.certificate-not-yet-valid"),
    ("untrusted-ca", lambda p: sign(alert_xml("S5", SENT_RECENT), p.stranger),
     "untrusted", "signature.untrusted-chain"),
    ("tampered-text", lambda p: tamper_text(sign(alert_xml("S6", SENT_RECENT), p.now)),
     "invalid", "signature.digest-mismatch"),
    ("tampered-value", lambda p: tamper_value(sign(alert_xml("S7", SENT_RECENT), p.now)),
     "invalid", "signature.value-mismatch"),
    ("wrapping", lambda p: wrap(sign(alert_xml("S8", SENT_RECENT), p.now), "Forged: evacuate"),
     "invalid", "signature.digest-mismatch"),
    ("sha1", lambda p: sign_sha1(alert_xml("S9", SENT_RECENT), p.now),
     "untrusted", "signature.algorithm-refused"),
    ("unsigned", lambda _p: alert_xml("S10", SENT_RECENT), "unsigned", None),
    ("sent-in-future", lambda p: sign(alert_xml("S11", NOW + timedelta(hours=2)), p.now),
     "untrusted", "signature.sent-in-future"),
]


@pytest.mark.parametrize(("make", "state", "code"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_generated_case_gets_its_verdict(make, state, code, pki: Pki, store: TrustStore,  # type: ignore[no-untyped-def]
                                         profiles: ProfileSet) -> None:
    verdict, errors = verdict_of(make(pki), store, profiles)
    assert verdict.state == state, verdict.problem
    assert (verdict.problem.code if verdict.problem else None) == code
    assert errors == ([code] if code else [])


def test_verified_verdict_names_the_signer_and_judging_time(pki: Pki, store: TrustStore,
                                                            profiles: ProfileSet) -> None:
    verdict, _ = verdict_of(sign(alert_xml("V1", SENT_2020), pki.expired), store, profiles)
    assert verdict.signer is not None
    assert "CN=signer-2020" in verdict.signer
    assert verdict.certificate_sha256 == pki.expired.sha256
    assert verdict.judged_at == SENT_2020
    assert verdict.mode == "valid-at-sent"


def test_valid_now_mode_judges_at_receipt(pki: Pki, store: TrustStore,
                                          profiles: ProfileSet) -> None:
    verdict, _ = verdict_of(sign(alert_xml("V2", SENT_2020), pki.expired), store, profiles,
                            mode="valid-now")
    assert verdict.state == "untrusted"
    assert verdict.problem is not None
    assert verdict.problem.code == "signature.certificate-expired"


def test_invalid_is_an_error_whatever_the_profile(pki: Pki, store: TrustStore,
                                                  profiles: ProfileSet) -> None:
    tampered = tamper_text(sign(alert_xml("P1", SENT_RECENT), pki.now))
    for profile in ("cap12", "nl-alert", "ipaws-1.0"):
        _, errors = verdict_of(tampered, store, profiles, profile)
        assert "signature.digest-mismatch" in errors, profile


def test_profile_decides_what_untrusted_and_unsigned_mean(pki: Pki, store: TrustStore,
                                                          profiles: ProfileSet) -> None:
    stranger = sign(alert_xml("P2", SENT_RECENT), pki.stranger)
    checked = read_alert(stranger, profiles, "cap12", SignatureChecker(store))
    assert checked.outcome.ok
    assert [f.code for f in checked.outcome.findings if f.severity == "warning"
            and f.code.startswith("signature")] == ["signature.untrusted-chain"]
    unsigned = alert_xml("P3", SENT_RECENT)
    assert read_alert(unsigned, profiles, "nl-alert", SignatureChecker(store)).outcome.ok
    _, errors = verdict_of(unsigned, store, profiles, "ipaws-1.0")
    assert "signature.missing" in errors


def test_sha1_verifies_only_where_a_profile_allows_it(pki: Pki, store: TrustStore,
                                                      tmp_path: Path) -> None:
    (tmp_path / "legacy.yaml").write_text(
        "name: legacy\ntitle: L\nextends: nl-alert\nsignature_legacy: {allow_sha1: true}\n",
        encoding="utf-8")
    verdict, errors = verdict_of(sign_sha1(alert_xml("L1", SENT_RECENT), pki.now), store,
                                 load_profiles([tmp_path]), "legacy")
    assert verdict.state == "verified", verdict.problem
    assert errors == []


def test_pinned_leaf_is_trusted_without_its_ca(pki: Pki, tmp_path: Path,
                                               profiles: ProfileSet) -> None:
    (tmp_path / "pinned.pem").write_bytes(pki.stranger.pem)
    verdict, errors = verdict_of(sign(alert_xml("K1", SENT_RECENT), pki.stranger),
                                 load_trust_store(tmp_path), profiles)
    assert verdict.state == "verified"
    assert errors == []


def test_sender_binding_limits_what_a_certificate_signs_for(pki: Pki, tmp_path: Path,
                                                            profiles: ProfileSet) -> None:
    (tmp_path / "ca.pem").write_bytes(pki.ca.pem)
    with pytest.raises(TrustStoreError, match="not a certificate SHA-256"):
        load_trust_store(tmp_path, {"vr-rr": ["x"]})
    own = sign(alert_xml("B1", SENT_RECENT), pki.now)
    other = sign(alert_xml("B2", SENT_RECENT, sender="meldkamer@vrzeeland.example.nl"), pki.now)
    for bound_cert in (pki.now, pki.ca):  # the signer's own certificate, or its CA
        bound = load_trust_store(tmp_path, {bound_cert.sha256: ["*@vr-rr.example.nl"]})
        assert verdict_of(own, bound, profiles)[0].state == "verified"
        verdict, errors = verdict_of(other, bound, profiles)
        assert verdict.state == "untrusted"
        assert errors == ["signature.sender-not-bound"]


def test_no_trust_store_trusts_no_one(pki: Pki, profiles: ProfileSet) -> None:
    verdict, errors = verdict_of(sign(alert_xml("N1", SENT_RECENT), pki.now), TrustStore(),
                                 profiles)
    assert verdict.state == "untrusted"
    assert errors == ["signature.no-trust-store"]


def test_trust_store_problems_are_named(tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("not a certificate", encoding="utf-8")
    with pytest.raises(TrustStoreError, match=r"bad\.pem"):
        load_trust_store(tmp_path)
    with pytest.raises(TrustStoreError, match="does not exist"):
        load_trust_store(tmp_path / "missing")


# -- the model of a signed alert is built from what the verifier returned --------------

class _Substituting(SignatureChecker):
    """A checker whose verifier returns another tree than the document it was given."""

    def __init__(self, tree: etree._Element) -> None:
        super().__init__(TrustStore())
        self.tree = tree

    def check(self, data, root, legacy=None, now=None):  # type: ignore[no-untyped-def]
        verdict = super().check(data, root, legacy, now)
        return replace(verdict, state=SignatureState.VERIFIED, signed_tree=self.tree)


def test_model_comes_from_the_verified_tree(profiles: ProfileSet) -> None:
    received = alert_xml("T1", SENT_RECENT, headline="as received")
    verified_root, _ = parse_xml(alert_xml("T1", SENT_RECENT, headline="as signed"))
    assert verified_root is not None
    checked = read_alert(received, profiles, "cap12", _Substituting(verified_root))
    assert checked.outcome.document is not None
    assert checked.outcome.document.alert.infos[0].headline == "as signed"
    assert checked.outcome.document.signed


# -- hostile signatures: a specific finding each, never an exception ---------------------

def _edit(signed: bytes, pattern: str, replacement: str) -> bytes:
    text, count = re.subn(pattern, replacement, signed.decode(), count=1)
    assert count == 1, pattern
    return text.encode()


HOSTILE = [
    ("signature-over-another-element",
     lambda s: _edit(s, r'URI=""', 'URI="#info1"'), "signature.reference-not-alert"),
    ("reference-outside-the-document",
     lambda s: _edit(s, r'URI=""', 'URI="http://attacker.example/alert.xml"'),
     "signature.reference-external"),
    ("xslt-transform",
     lambda s: _edit(s, r'(<ds:Transforms>)',
                     r'\1<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116">'
                     r'<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" '
                     r'version="1.0"/></ds:Transform>'),
     "signature.transform-refused"),
    ("xpath-transform",
     lambda s: _edit(s, r'(<ds:Transforms>)',
                     r'\1<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116">'
                     r'<ds:XPath>1</ds:XPath></ds:Transform>'),
     "signature.transform-refused"),
    ("ten-thousand-certificates",
     lambda s: _edit(s, r'(<ds:X509Data>)',
                     r'\1' + "<ds:X509Certificate>AAAA</ds:X509Certificate>" * 10_000),
     "signature.keyinfo-too-large"),
    ("second-reference",
     lambda s: _edit(s, r'(</ds:Reference>)', r'\1<ds:Reference URI=""><ds:DigestMethod '
                     r'Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>'
                     r'AAAA</ds:DigestValue></ds:Reference>'),
     "signature.reference-count"),
]


@pytest.mark.parametrize(("edit", "code"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_signature_gets_its_finding(edit, code, pki: Pki, store: TrustStore,  # type: ignore[no-untyped-def]
                                            profiles: ProfileSet) -> None:
    data = edit(sign(alert_xml("H1", SENT_RECENT), pki.now))
    assert len(data) < XmlLimits().max_bytes
    for profile in ("cap12", "nl-alert"):
        verdict, errors = verdict_of(data, store, profiles, profile)
        assert verdict.state == "invalid"
        assert errors == [code]


def test_certificate_chain_that_loops(pki: Pki, store: TrustStore,
                                      profiles: ProfileSet) -> None:
    seed = make_ca("Loop B")
    loop_a = make_ca("Loop A", issuer=seed)
    loop_b = make_ca("Loop B", issuer=loop_a, subject_key=seed.key)
    leaf = make_leaf(loop_a, "looped", NOW - timedelta(days=1), NOW + timedelta(days=30))
    verdict, errors = verdict_of(sign(alert_xml("H2", SENT_RECENT), leaf, (loop_a, loop_b)),
                                 store, profiles)
    assert verdict.state == "invalid"
    assert errors == ["signature.chain-loop"]
