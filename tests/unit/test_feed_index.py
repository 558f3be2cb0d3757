"""What ``router.feeds.index.read_index`` takes from a feed document, and what it refuses."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from router.cap import XmlLimits
from router.cap.xmlsafe import parse_xml
from router.feeds.index import Unwrapped, read_index, unwrap_document
from router.profiles import load_profiles
from router.trust import SignatureChecker, SignatureState, load_trust_store, read_alert
from tests.integration.conftest import make_alert

CORPUS = Path("/work/shared/cap-corpus/public")
LIMITS = XmlLimits()
BASE = "https://alerts.example.org/feeds/index.atom"


def _atom(entries: str) -> bytes:
    return (f'<feed xmlns="http://www.w3.org/2005/Atom"><id>x</id>{entries}</feed>').encode()


def test_atom_links_resolve_against_the_feed_url() -> None:
    index = read_index(_atom(
        '<entry><id>e1</id><updated>2026-01-01T00:00:00Z</updated>'
        '<link rel="alternate" type="text/html" href="/page/1"/>'
        '<link rel="related" type="application/cap+xml" href="cap/1.xml"/></entry>'), BASE,
        LIMITS)
    assert index.finding is None
    [item] = index.items
    assert item.url == "https://alerts.example.org/feeds/cap/1.xml"
    assert item.updated == "2026-01-01T00:00:00Z"


def test_inline_cap_in_atom_content_and_rss_items() -> None:
    alert = make_alert("INLINE-1").split(b"?>", 1)[1].decode()
    index = read_index(_atom(f'<entry><id>e</id><content type="application/cap+xml">{alert}'
                             "</content></entry>"), BASE, LIMITS)
    [item] = index.items
    assert item.inline is not None
    assert b"INLINE-1" in item.inline
    rss = (b'<rss version="2.0"><channel><item><guid>g1</guid>'
           b"<link>https://a.example/cap/2.xml</link></item></channel></rss>")
    [rss_item] = read_index(rss, BASE, LIMITS).items
    assert rss_item.url == "https://a.example/cap/2.xml"
    assert rss_item.entry == "g1"


def test_single_cap_document_is_its_own_item() -> None:
    data = make_alert("SINGLE-1")
    [item] = read_index(data, BASE, LIMITS).items
    assert item.inline == data  # the bytes as received, not re-serialised


def test_the_corpus_atom_index_is_read() -> None:
    index = read_index((CORPUS / "google__amber.atom").read_bytes(), BASE, LIMITS)
    assert index.finding is None
    assert index.items


def test_refusals_are_findings_not_partial_reads() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaa">]>'
            b'<feed xmlns="http://www.w3.org/2005/Atom">&a;</feed>')
    assert read_index(bomb, BASE, LIMITS).finding.code == "xml.dtd-forbidden"  # type: ignore[union-attr]
    container = (b'<alerts xmlns:c="urn:oasis:names:tc:emergency:cap:1.2">'
                 b"<c:alert/><c:alert/></alerts>")
    refused = read_index(container, BASE, LIMITS)
    assert refused.items == []
    assert refused.finding is not None
    assert refused.finding.code == "feed.several-alerts"
    html = read_index(b"<html><body>down</body></html>", BASE, LIMITS)
    assert html.finding is not None
    assert html.finding.code == "feed.format"


@given(st.binary(max_size=2000))
def test_any_bytes_give_items_or_a_finding(data: bytes) -> None:
    index = read_index(data, BASE, LIMITS)
    assert index.finding is not None or isinstance(index.items, list)


def test_a_misencoded_entry_is_refused_and_the_others_read() -> None:
    good = (b'<entry><id>ok</id><link type="application/cap+xml" href="/cap/ok.xml"/>'
            b"</entry>")
    bad = "<entry><id>bad</id><title>Météo</title>".encode("latin-1") + \
        b'<link type="application/cap+xml" href="/cap/bad.xml"/></entry>'
    data = b'<?xml version="1.0" encoding="UTF-8"?>' + _atom("")[:-len(b"</feed>")] + \
        bad + good + b"</feed>"
    index = read_index(data, BASE, LIMITS)
    assert index.finding is None
    assert [i.entry for i in index.items] == ["ok"]
    [(entry, finding)] = index.refused
    assert entry == "bad"
    assert finding.code == "xml.encoding"
    # bad bytes outside any entry still fail the feed as a whole
    whole = data.replace(b"<id>x</id>", "<id>x</id><title>é</title>".encode("latin-1"))
    assert read_index(whole, BASE, LIMITS).finding.code == "xml.encoding"  # type: ignore[union-attr]


EDXL = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"


def _cap_body(identifier: str) -> str:
    return make_alert(identifier).split(b"?>", 1)[1].decode()


def _edxl(*contents: str, prolog: bool = True) -> bytes:
    objects = "".join(
        f"<contentObject><xmlContent><embeddedXMLContent>{c}</embeddedXMLContent>"
        "</xmlContent></contentObject>" for c in contents)
    head = '<?xml version="1.0" encoding="UTF-8"?>' if prolog else ""
    return (f'{head}<EDXLDistribution xmlns="{EDXL}"><distributionID>D-1</distributionID>'
            "<senderID>sender@example.org</senderID>"
            "<dateTimeSent>2026-11-25T14:05:00+01:00</dateTimeSent>"
            "<distributionStatus>Actual</distributionStatus>"
            f"<distributionType>Report</distributionType>{objects}</EDXLDistribution>"
            ).encode()


def test_an_edxl_document_gives_each_embedded_alert_with_the_envelope() -> None:
    data = _edxl(_cap_body("EDXL-1"), "<other xmlns='urn:x'/>", _cap_body("EDXL-2"))
    index = read_index(data, BASE, LIMITS)
    assert index.finding is None
    assert [i.entry for i in index.items] == [f"{BASE}#contentObject[1]",
                                              f"{BASE}#contentObject[3]"]
    first, second = index.items
    assert first.envelope == data == second.envelope  # the envelope as received
    assert first.inline is not None
    assert second.inline is not None
    assert b"EDXL-1" in first.inline
    assert b"EDXL-2" not in first.inline
    assert b"EDXL-2" in second.inline
    assert first.key != second.key
    # each embedded alert is a CAP document of its own, read by the hardened parser
    for item in index.items:
        root, problem = parse_xml(item.inline or b"", LIMITS)
        assert problem is None
        assert root is not None
        assert root.tag == "{urn:oasis:names:tc:emergency:cap:1.2}alert"


def test_a_linked_edxl_document_is_unwrapped_and_a_cap_document_kept_as_is() -> None:
    data = _edxl(_cap_body("EDXL-3"), _cap_body("EDXL-4"))
    parts, finding = unwrap_document(data, LIMITS)
    assert finding is None
    assert [p.part for p in parts] == ["contentObject[1]", "contentObject[2]"]
    assert all(p.envelope == data for p in parts)
    plain = make_alert("PLAIN-1")
    assert unwrap_document(plain, LIMITS) == ([Unwrapped("", plain)], None)
    garbage = b"<alert"  # handed on: the submit path refuses it as a POST would be
    assert unwrap_document(garbage, LIMITS) == ([Unwrapped("", garbage)], None)


def test_an_edxl_envelope_inline_in_an_atom_entry() -> None:
    envelope = _edxl(_cap_body("EDXL-5"), prolog=False).decode()
    index = read_index(_atom(f"<entry><id>e9</id><content type='application/xml'>{envelope}"
                             "</content></entry>"), BASE, LIMITS)
    [item] = index.items
    assert item.entry == "e9#contentObject[1]"
    assert item.inline is not None
    assert b"EDXL-5" in item.inline
    assert item.envelope is not None
    assert item.envelope.count(b"EDXLDistribution") == 2


def test_an_envelope_without_cap_is_a_finding() -> None:
    index = read_index(_edxl("<other xmlns='urn:x'/>"), BASE, LIMITS)
    assert index.items == []
    assert index.finding is not None
    assert index.finding.code == "feed.edxl-no-cap"
    assert unwrap_document(_edxl(), LIMITS)[1].code == "feed.edxl-no-cap"  # type: ignore[union-attr]


def test_several_alerts_in_a_container_are_refused_whole() -> None:
    container = (f"<bundle><wrap>{_cap_body('MANY-1')}</wrap>{_cap_body('MANY-2')}"
                 "</bundle>").encode()
    index = read_index(container, BASE, LIMITS)
    assert index.items == []
    assert index.finding is not None
    assert index.finding.code == "feed.several-alerts"
    parts, finding = unwrap_document(container, LIMITS)
    assert parts == []
    assert finding is not None
    assert finding.code == "feed.several-alerts"
    # two alerts side by side in one Atom entry: that entry refused, the next one read
    index = read_index(_atom(
        f"<entry><id>two</id><content>{_cap_body('MANY-3')}{_cap_body('MANY-4')}</content>"
        f"</entry><entry><id>one</id><content>{_cap_body('ONE-1')}</content></entry>"),
        BASE, LIMITS)
    assert [i.entry for i in index.items] == ["one"]
    assert [(e, f.code) for e, f in index.refused] == [("two", "feed.several-alerts")]


def test_a_signature_over_cap_inside_edxl_verifies_under_exclusive_c14n(
        tmp_path: Path) -> None:
    from tests.signing import SENT_RECENT, alert_xml, make_pki, sign  # noqa: PLC0415

    pki = make_pki()
    (tmp_path / "ca.pem").write_bytes(pki.ca.pem)
    checker = SignatureChecker(load_trust_store(tmp_path / "ca.pem"))
    signed = sign(alert_xml("EDXL-SIG", SENT_RECENT), pki.now)
    body = signed.split(b"?>", 1)[1].decode()
    envelope = _edxl(f"\n  {body}\n").replace(  # another prefix in scope: no matter
        f'<EDXLDistribution xmlns="{EDXL}"'.encode(),
        f'<EDXLDistribution xmlns="{EDXL}" xmlns:x="urn:x"'.encode())
    [item] = read_index(envelope, BASE, LIMITS).items
    assert b'xmlns:x="urn:x"' in (item.inline or b"")
    assert item.inline is not None
    assert item.inline != signed
    checked = read_alert(item.inline, load_profiles(), "nl-alert", checker)
    assert checked.signature is not None
    assert checked.signature.state is SignatureState.VERIFIED
    tampered = item.inline.replace(b"<headline>", b"<headline>NOT ", 1)
    checked = read_alert(tampered, load_profiles(), "nl-alert", checker)
    assert checked.signature is not None
    assert checked.signature.state is not SignatureState.VERIFIED


def test_an_inclusive_c14n_signature_inside_edxl_breaks_on_extra_namespaces(
        tmp_path: Path) -> None:
    """What the README says of inclusive canonicalisation: the embedded alert carries
    the namespace prefixes the envelope declares, which that c14n signs over."""
    from lxml import etree  # noqa: PLC0415
    from signxml.algorithms import SignatureConstructionMethod  # noqa: PLC0415
    from signxml.signer import XMLSigner  # noqa: PLC0415

    from tests.signing import SENT_RECENT, alert_xml, make_pki  # noqa: PLC0415

    pki = make_pki()
    (tmp_path / "ca.pem").write_bytes(pki.ca.pem)
    checker = SignatureChecker(load_trust_store(tmp_path / "ca.pem"))
    signed_root = XMLSigner(method=SignatureConstructionMethod.enveloped,
                            signature_algorithm="rsa-sha256", digest_algorithm="sha256",
                            c14n_algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
                            ).sign(etree.fromstring(alert_xml("EDXL-INC", SENT_RECENT)),
                                   key=pki.now.key, cert=[pki.now.pem.decode()])
    body = etree.tostring(signed_root).decode()

    def verdict(envelope: bytes) -> SignatureState:
        [item] = read_index(envelope, BASE, LIMITS).items
        checked = read_alert(item.inline or b"", load_profiles(), "nl-alert", checker)
        assert checked.signature is not None
        return checked.signature.state

    plain = _edxl(body)
    assert verdict(plain) is SignatureState.VERIFIED  # nothing else in scope
    extra = plain.replace(f'<EDXLDistribution xmlns="{EDXL}"'.encode(),
                          f'<EDXLDistribution xmlns="{EDXL}" xmlns:x="urn:x"'.encode())
    assert verdict(extra) is not SignatureState.VERIFIED
