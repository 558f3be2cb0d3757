"""A signed CAP set made at test time: a test CA, leaves, and alerts signed with them.

Nothing here is a fixture file: every certificate and signature is generated when
the tests run (``cryptography`` for the PKI, signxml for the enveloped signatures),
so no key material is committed and no certificate expires under the test suite.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import SignatureConstructionMethod
from signxml.signer import XMLSigner

REPO = Path(__file__).resolve().parents[1]
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
DS = "http://www.w3.org/2000/09/xmldsig#"
NOW = datetime.now(UTC).replace(microsecond=0)
Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Identity:
    key: Key
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tocsin test PKI"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key(kind: str) -> Key:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_ca(common_name: str, issuer: Identity | None = None, *,
            subject_key: Key | None = None) -> Identity:
    """A CA valid 2019..2040 (self-signed unless ``issuer`` is given)."""
    key = subject_key or _key("rsa")
    signer = issuer.key if issuer else key
    builder = (x509.CertificateBuilder()
               .subject_name(_name(common_name))
               .issuer_name(issuer.cert.subject if issuer else _name(common_name))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(datetime(2019, 1, 1, tzinfo=UTC))
               .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                            False, False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False)
    return Identity(key, builder.sign(signer, hashes.SHA256()))


def make_leaf(ca: Identity, common_name: str, not_before: datetime, not_after: datetime,
              kind: str = "rsa") -> Identity:
    key = _key(kind)
    cert = (x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(ca.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False,
                                         False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return Identity(key, cert)


def alert_xml(identifier: str, sent: datetime, *, sender: str = "meldkamer@vr-rr.example.nl",
              headline: str | None = None) -> bytes:
    """The NL example alert with its CAP key (and optionally its headline) changed."""
    text = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_text(encoding="utf-8")
    text = text.replace("<identifier>NL-VRR-2026-0042</identifier>",
                        f"<identifier>{identifier}</identifier>")
    text = text.replace("<sent>2026-11-25T14:05:00+01:00</sent>",
                        f"<sent>{sent.isoformat(timespec='seconds')}</sent>")
    text = text.replace("<sender>meldkamer@vr-rr.example.nl</sender>", f"<sender>{sender}</sender>")
    if headline is not None:
        start = text.index("<headline>") + len("<headline>")
        text = text[:start] + headline + text[text.index("</headline>"):]
    return text.encode()


def sign(data: bytes, signer: Identity, chain: tuple[Identity, ...] = (), *,
         algorithm: str = "rsa-sha256") -> bytes:
    """An enveloped, exclusive-c14n signature over the whole alert, certificates in KeyInfo."""
    root = etree.fromstring(data)
    signed = XMLSigner(method=SignatureConstructionMethod.enveloped,
                       signature_algorithm=algorithm, digest_algorithm="sha256",
                       c14n_algorithm=EXC_C14N).sign(
        root, key=signer.key, cert=[signer.pem.decode()] + [c.pem.decode() for c in chain])
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


def _ds(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, namespaces={"ds": DS})
    assert found is not None, path
    return found


def sign_sha1(data: bytes, signer: Identity) -> bytes:
    """A genuine RSA-SHA1 signature (signxml refuses to make one, so it is made by hand)."""
    root = etree.fromstring(sign(data, signer))
    signature = _ds(root, "ds:Signature")
    root.remove(signature)
    digest = hashlib.sha1(etree.tostring(root, method="c14n", exclusive=True)).digest()  # noqa: S324
    root.append(signature)
    _ds(signature, "ds:SignedInfo/ds:SignatureMethod").set("Algorithm", DS + "rsa-sha1")
    _ds(signature, "ds:SignedInfo/ds:Reference/ds:DigestMethod").set("Algorithm", DS + "sha1")
    _ds(signature, "ds:SignedInfo/ds:Reference/ds:DigestValue").text = (
        base64.b64encode(digest).decode())
    signed_info = etree.tostring(_ds(signature, "ds:SignedInfo"), method="c14n", exclusive=True)
    assert isinstance(signer.key, rsa.RSAPrivateKey)
    value = signer.key.sign(signed_info, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    _ds(signature, "ds:SignatureValue").text = base64.b64encode(value).decode()
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def tamper_text(signed: bytes) -> bytes:
    """The signed alert with its headline changed after signing."""
    return signed.replace(b"<headline>", b"<headline>NOT ", 1)


def tamper_value(signed: bytes) -> bytes:
    """The signed alert with one byte of its SignatureValue changed (still base64)."""
    root = etree.fromstring(signed)
    value = _ds(root, "ds:Signature/ds:SignatureValue")
    raw = bytearray(base64.b64decode(value.text or ""))
    raw[10] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def wrap(signed: bytes, forged_headline: str) -> bytes:
    """Signature wrapping: an unsigned alert with the same key but other text in the
    signed alert's place, carrying the original signature, with the signed <alert>
    moved into that signature's <Object> (where a verifier that resolves the wrong
    node would still find it)."""
    original = etree.fromstring(signed)
    forged = etree.fromstring(signed)
    signature = _ds(forged, "ds:Signature")
    ns = forged.nsmap[None]
    headline = forged.find(f"{{{ns}}}info/{{{ns}}}headline")
    assert headline is not None
    headline.text = forged_headline
    holder = etree.SubElement(signature, f"{{{DS}}}Object")
    holder.append(copy.deepcopy(original))
    return bytes(etree.tostring(forged, xml_declaration=True, encoding="UTF-8"))


@dataclass(frozen=True)
class Pki:
    ca: Identity
    now: Identity
    """Valid now (and at an alert sent an hour ago)."""
    expired: Identity
    """Valid 2020-2021 only: expired now, valid for an alert sent in 2020."""
    later: Identity
    """Issued yesterday: not yet valid for an alert sent ten days ago."""
    stranger: Identity
    """Valid now, but issued by a CA that is not in the trust store."""
    ec: Identity
    """An ECDSA P-256 leaf valid now."""


def make_pki() -> Pki:
    ca = make_ca("Tocsin Test Root")
    other = make_ca("Unknown Root")
    return Pki(
        ca=ca,
        now=make_leaf(ca, "signer-now", NOW - timedelta(days=1), NOW + timedelta(days=365)),
        expired=make_leaf(ca, "signer-2020", datetime(2020, 1, 1, tzinfo=UTC),
                          datetime(2021, 1, 1, tzinfo=UTC)),
        later=make_leaf(ca, "signer-new", NOW - timedelta(days=1), NOW + timedelta(days=365)),
        stranger=make_leaf(other, "signer-unknown", NOW - timedelta(days=1),
                           NOW + timedelta(days=365)),
        ec=make_leaf(ca, "signer-ec", NOW - timedelta(days=1), NOW + timedelta(days=365), "ec"),
    )


SENT_RECENT = NOW - timedelta(hours=1)
SENT_2020 = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)
SENT_EARLY = NOW - timedelta(days=10)
