"""What ``router.feeds.index.read_index`` takes from a feed document, and what it refuses."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from router.cap import XmlLimits
from router.feeds.index import read_index
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
    assert refused.finding.code == "feed.format"
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
