"""What Tocsin accepts of an XML-DSig ``<Signature>`` before any cryptography runs.

Stage: trust. A CAP signature is enveloped and covers the whole ``<alert>``; every
other shape is refused here, each with its own finding, before the verifier
resolves a reference or runs a transform:

- exactly one ``<Reference>``, with ``URI=""`` (the document). ``#id`` would sign
  some other element (``signature.reference-not-alert``: the root of signature
  wrapping attacks); anything else points outside the document
  (``signature.reference-external``) and is never fetched;
- transforms: enveloped-signature and canonicalisation only (inclusive or
  exclusive, 1.0 or 1.1); XSLT, XPath, base64 and the rest are refused
  (``signature.transform-refused``);
- at most ``MAX_CERTIFICATES`` certificates in ``KeyInfo`` (``signature.keyinfo-too-large``);
- algorithms: RSA or ECDSA with SHA-256/384/512 and SHA-256/384/512 digests.
  SHA-1 (and HMAC, DSA, MD5) is ``signature.algorithm-refused`` — untrusted, not
  invalid: Tocsin declines to rely on it, which is not proof of forgery — unless
  the profile opts in with ``signature_legacy: {allow_sha1: true}``.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from dataclasses import dataclass

from lxml import etree

from router.trust.verdict import Problem

DS = "http://www.w3.org/2000/09/xmldsig#"
DS_SIGNATURE = f"{{{DS}}}Signature"
MAX_CERTIFICATES = 8

ENVELOPED = DS + "enveloped-signature"
C14N = frozenset({
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
})
_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
STRONG_SIGNATURES = frozenset({
    _MORE + "rsa-sha256", _MORE + "rsa-sha384", _MORE + "rsa-sha512",
    _MORE + "ecdsa-sha256", _MORE + "ecdsa-sha384", _MORE + "ecdsa-sha512",
})
SHA1_SIGNATURES = frozenset({DS + "rsa-sha1", _MORE + "ecdsa-sha1"})
STRONG_DIGESTS = frozenset({
    "http://www.w3.org/2001/04/xmlenc#sha256", _MORE + "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
})
SHA1_DIGESTS = frozenset({DS + "sha1"})


@dataclass(frozen=True)
class Shape:
    """The parts of an accepted signature the later steps need."""

    certificates: tuple[bytes, ...]
    """DER of every ``X509Certificate`` in ``KeyInfo``, in document order."""
    has_key_value: bool


def _ds(element: etree._Element, path: str) -> list[etree._Element]:
    """Children along ``ds:``-prefixed ``path`` (Clark names: no namespace map to compile)."""
    return element.findall(path.replace("ds:", "{" + DS + "}"))


def signatures(root: etree._Element) -> list[etree._Element]:
    """The enveloped signatures: ``<Signature>`` children of the root ``<alert>``."""
    return [child for child in root if child.tag == DS_SIGNATURE]


def _reference_problem(signed_info: etree._Element) -> Problem | None:
    references = _ds(signed_info, "ds:Reference")
    if len(references) != 1:
        return Problem("signature.reference-count",
                       f"{len(references)} <Reference> elements; a CAP signature has exactly "
                       "one, over the whole alert")
    uri = references[0].get("URI")
    if uri == "":
        return None
    if uri is not None and uri.startswith("#"):
        return Problem("signature.reference-not-alert",
                       f"the signature covers {uri!r}, not the whole alert (Reference URI must "
                       "be \"\"); the alert's content is not what was signed")
    return Problem("signature.reference-external",
                   f"Reference URI {uri!r} points outside the document; Tocsin never "
                   "dereferences it")


def _transform_problem(signed_info: etree._Element) -> Problem | None:
    for transform in _ds(signed_info, "ds:Reference/ds:Transforms/ds:Transform"):
        algorithm = transform.get("Algorithm") or ""
        if algorithm != ENVELOPED and algorithm not in C14N:
            return Problem("signature.transform-refused",
                           f"transform {algorithm!r} is refused: only enveloped-signature and "
                           "canonicalisation are accepted")
    for method in _ds(signed_info, "ds:CanonicalizationMethod"):
        if (method.get("Algorithm") or "") not in C14N:
            return Problem("signature.transform-refused",
                           f"canonicalisation {method.get('Algorithm')!r} is not c14n")
    return None


def algorithm_problem(signed_info: etree._Element, *, allow_sha1: bool) -> Problem | None:
    signing = {m.get("Algorithm") or "" for m in _ds(signed_info, "ds:SignatureMethod")}
    digests = {m.get("Algorithm") or "" for m in _ds(signed_info, "ds:Reference/ds:DigestMethod")}
    ok_signing = STRONG_SIGNATURES | (SHA1_SIGNATURES if allow_sha1 else frozenset())
    ok_digests = STRONG_DIGESTS | (SHA1_DIGESTS if allow_sha1 else frozenset())
    refused = sorted((signing - ok_signing) | (digests - ok_digests))
    if not refused:
        return None
    hint = (" (the profile may allow SHA-1 for a legacy feed: signature_legacy.allow_sha1)"
            if set(refused) <= SHA1_SIGNATURES | SHA1_DIGESTS else "")
    return Problem("signature.algorithm-refused",
                   f"refused algorithm {', '.join(refused)}: Tocsin accepts RSA or ECDSA with "
                   f"SHA-256 or stronger{hint}")


def _certificates(signature: etree._Element) -> tuple[tuple[bytes, ...], Problem | None]:
    elements = _ds(signature, "ds:KeyInfo/ds:X509Data/ds:X509Certificate")
    if len(elements) > MAX_CERTIFICATES:
        return (), Problem("signature.keyinfo-too-large",
                           f"KeyInfo holds {len(elements)} certificates; at most "
                           f"{MAX_CERTIFICATES} are read")
    try:
        return tuple(b64decode("".join((e.text or "").split()), validate=True)
                     for e in elements), None
    except (binascii.Error, ValueError):
        return (), Problem("signature.malformed", "an X509Certificate is not base64")


def read_shape(signature: etree._Element) -> tuple[Shape | None, Problem | None]:
    """The signature's accepted shape, or the first structural reason to refuse it."""
    signed_info = next(iter(_ds(signature, "ds:SignedInfo")), None)
    if signed_info is None or not _ds(signature, "ds:SignatureValue"):
        return None, Problem("signature.malformed",
                             "the <Signature> lacks <SignedInfo> or <SignatureValue>")
    problem = _reference_problem(signed_info) or _transform_problem(signed_info)
    if problem is not None:
        return None, problem
    certificates, problem = _certificates(signature)
    if problem is not None:
        return None, problem
    return Shape(certificates, bool(_ds(signature, "ds:KeyInfo/ds:KeyValue"))), None


def signed_info(signature: etree._Element) -> etree._Element:
    """The ``<SignedInfo>`` of a signature ``read_shape`` accepted."""
    return _ds(signature, "ds:SignedInfo")[0]
