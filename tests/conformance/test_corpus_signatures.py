"""The corpus's ``signature`` column, checked by Tocsin's XML-DSig verifier.

``invalid`` files must fail under any processing and any trust store: they are
checked with no store, with the test CA, and with their own certificates pinned
(the most a store could trust), under the strict default and the legacy opt-ins.
``present`` files get the verdict Tocsin decided for each (see the README's
"Signatures in the public corpus"); the decision is the table below.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from router.cap.xmlsafe import parse_xml
from router.profiles import SignatureLegacy, load_profiles
from router.trust import SignatureChecker, TrustStore, read_alert
from tests.signing import make_ca

CORPUS = Path(__file__).resolve().parent / "cap-corpus"
ENTRIES: list[dict[str, Any]] = json.loads(
    (CORPUS / "manifest.json").read_text(encoding="utf-8"))["files"]
STRICT = SignatureLegacy()
LEGACY = SignatureLegacy(allow_sha1=True, strip_blank_text=True)

# file -> (state, code) with no trust store, strict processing; then with the file's own
# certificates pinned; then with those pinned and both legacy opt-ins.
PRESENT = {
    "google__canada_signed.cap": [("untrusted", "signature.multiple")] * 3,
    "google__earthquake-iso8859-1.cap": [
        ("untrusted", "signature.algorithm-refused"),
        ("untrusted", "signature.algorithm-refused"),
        ("invalid", "signature.value-mismatch")],
    "google__earthquake_signed.cap": [
        ("untrusted", "signature.algorithm-refused"),
        ("untrusted", "signature.algorithm-refused"),
        ("invalid", "signature.value-mismatch")],
    "oasiscap__google-PAAQ-4-mg5a94.xml": [("invalid", "signature.malformed")] * 3,
    "oasiscap__ipaws-5e6dd964023f1930ef638846.xml": [
        ("untrusted", "signature.no-trust-store"), ("verified", None), ("verified", None)],
    "oasiscap__ipaws-5e6dd9de023f1930ef6548d9.xml": [
        ("untrusted", "signature.no-trust-store"), ("verified", None), ("verified", None)],
    "oasiscap__ipaws-5e7e0fc5023f1930efcf3deb.xml": [
        ("untrusted", "signature.no-trust-store"), ("verified", None), ("verified", None)],
    "wmo-sc__valid.xml": [
        ("invalid", "signature.value-mismatch"), ("invalid", "signature.value-mismatch"),
        ("untrusted", "signature.certificate-not-yet-valid")],
}


def _own_certificates(data: bytes) -> tuple[x509.Certificate, ...]:
    certs = []
    for text in re.findall(rb"X509Certificate>([^<]+)<", data):
        try:
            certs.append(x509.load_der_x509_certificate(base64.b64decode(b"".join(text.split()))))
        except ValueError:
            continue
    return tuple(certs)


def _verdict(data: bytes, store: TrustStore, legacy: SignatureLegacy) -> tuple[str, str | None]:
    root, _ = parse_xml(data)
    assert root is not None
    verdict = SignatureChecker(store).check(data, root, legacy)
    return verdict.state.value, verdict.problem.code if verdict.problem else None


def _signed(kind: str) -> list[dict[str, Any]]:
    return [e for e in ENTRIES if e.get("signature") == kind]


def test_every_present_file_has_a_decided_verdict() -> None:
    assert {e["file"] for e in _signed("present")} == set(PRESENT)


@pytest.mark.parametrize("entry", _signed("invalid"), ids=lambda e: str(e["file"]))
def test_invalid_file_fails_whatever_the_trust_store(entry: dict[str, Any]) -> None:
    data = (CORPUS / entry["file"]).read_bytes()
    stores = [TrustStore(), TrustStore(anchors=(make_ca("Any Root").cert,)),
              TrustStore(pinned=_own_certificates(data))]
    for store in stores:
        for legacy in (STRICT, LEGACY):
            assert _verdict(data, store, legacy)[0] == "invalid", (store, legacy)
    profiles = load_profiles()
    for profile in ("cap12", "nl-alert"):
        checked = read_alert(data, profiles, profile, SignatureChecker(stores[2]))
        assert not checked.outcome.ok


@pytest.mark.parametrize("name", sorted(PRESENT))
def test_present_file_gets_the_decided_verdict(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    pinned = TrustStore(pinned=_own_certificates(data))
    got = [_verdict(data, TrustStore(), STRICT), _verdict(data, pinned, STRICT),
           _verdict(data, pinned, LEGACY)]
    assert got == PRESENT[name]


@pytest.mark.parametrize("entry", _signed("none"), ids=lambda e: str(e["file"]))
def test_unsigned_file_is_unsigned(entry: dict[str, Any]) -> None:
    data = (CORPUS / entry["file"]).read_bytes()
    root, _ = parse_xml(data)
    if root is None:
        pytest.skip("not XML this parser accepts (checked by test_corpus_manifest)")
    assert _verdict(data, TrustStore(), STRICT) == ("unsigned", None)
