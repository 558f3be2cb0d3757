"""The console's form -> CAP encoder and its sessions, on their own."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from router.cap import parse_cap
from router.console.cap_form import CAP_NS, FormError, alert_from_form, cancel_of
from router.console.sessions import Sessions

# what XML 1.0 can carry: no control characters but tab/newline, no surrogates
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
                   | st.sampled_from("\t\n<>&\"'"), min_size=1, max_size=200)
NS = {"c": CAP_NS}


def form(**fields: str) -> dict[str, str]:
    return {"sender": "meldkamer@vr-zeeland.example.nl", "urgency": "Immediate",
            "severity": "Severe", "certainty": "Likely", "area_desc": "Zeeland",
            "event_en-GB": "Flood", "headline_en-GB": "Flood", **fields}


@given(XML_TEXT)
def test_any_operator_text_arrives_as_that_text(text: str) -> None:
    parsed = etree.fromstring(alert_from_form(form(**{"headline_nl-NL": text,
                                                      "description_nl-NL": text})))
    if not text.strip():
        assert parsed.xpath("c:info/c:language/text()", namespaces=NS) == ["en-GB"]
        return
    assert parsed.xpath("c:info[1]/c:headline/text()", namespaces=NS) == [text.strip()]
    assert parsed.xpath("c:info[1]/c:description/text()", namespaces=NS) == [text.strip()]
    assert not parsed.xpath("//*[local-name()='script' or local-name()='img']")


def test_sent_is_utc_as_cap_writes_it() -> None:
    sent = etree.fromstring(alert_from_form(form())).findtext(f"{{{CAP_NS}}}sent")
    assert sent is not None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-00:00", sent)


def test_a_field_that_is_not_text_is_refused() -> None:
    with pytest.raises(FormError, match="sender"):
        alert_from_form({**form(), "sender": ["a", "b"]})


def test_cancel_references_the_original_and_keeps_its_texts() -> None:
    original = alert_from_form(form())
    parsed = etree.fromstring(original)
    cancel = etree.fromstring(cancel_of(original))
    key = ",".join(parsed.findtext(f"{{{CAP_NS}}}{tag}") or ""
                   for tag in ("sender", "identifier", "sent"))
    assert cancel.findtext(f"{{{CAP_NS}}}msgType") == "Cancel"
    assert cancel.findtext(f"{{{CAP_NS}}}references") == key
    assert cancel.xpath("c:info/c:headline/text()", namespaces=NS) == ["Flood"]


def test_an_update_references_the_original_and_carries_the_new_texts() -> None:
    original = alert_from_form(form())
    parsed = etree.fromstring(original)
    update = etree.fromstring(alert_from_form({**form(), "headline_en-GB": "Flood, worse"},
                                              updates=original))
    key = ",".join(parsed.findtext(f"{{{CAP_NS}}}{tag}") or ""
                   for tag in ("sender", "identifier", "sent"))
    assert update.findtext(f"{{{CAP_NS}}}msgType") == "Update"
    assert update.findtext(f"{{{CAP_NS}}}references") == key
    assert update.findtext(f"{{{CAP_NS}}}identifier") != parsed.findtext(
        f"{{{CAP_NS}}}identifier")
    assert update.xpath("c:info/c:headline/text()", namespaces=NS) == ["Flood, worse"]
    # CAP 1.2's order: <references> after <scope>, before the infos
    names = [etree.QName(child).localname for child in update]
    assert names.index("scope") < names.index("references") < names.index("info")
    assert parse_cap(alert_from_form(form(), updates=original)).ok


def test_geocodes_are_written_one_a_line_and_a_line_without_a_pair_is_named() -> None:
    written = etree.fromstring(alert_from_form(
        {**form(), "geocodes": "CBS=GM0687\n\n  SAME = 006113 \n"}))
    pairs = [(g.findtext(f"{{{CAP_NS}}}valueName"), g.findtext(f"{{{CAP_NS}}}value"))
             for g in written.iter(f"{{{CAP_NS}}}geocode")]
    languages = len(written.findall(f"{{{CAP_NS}}}info"))
    assert pairs == [("CBS", "GM0687"), ("SAME", "006113")] * languages
    assert parse_cap(alert_from_form({**form(), "geocodes": "CBS=GM0687"})).ok
    with pytest.raises(FormError, match="geocode line 2"):
        alert_from_form({**form(), "geocodes": "CBS=GM0687\nGM0599"})


def test_sessions_refuse_a_forged_token_and_stay_bounded() -> None:
    sessions = Sessions(limit=2)
    token, session = sessions.open("key-1")
    assert sessions.find(token) is session
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches("forged")
    assert not session.csrf_matches(None)
    sessions.open("key-2")
    sessions.open("key-3")  # the oldest is dropped
    assert sessions.find(token) is None
    expired = Sessions(idle_s=-1)
    old, _ = expired.open("key")
    assert expired.find(old) is None


def test_a_circle_field_becomes_the_area_circle() -> None:
    """The map's circle (centre and radius in km) is written as CAP writes it, beside the
    polygon, and reads back as that circle."""
    document = alert_from_form(form(circle="  51.5,3.8   12.5 ",
                                    polygon="51.6,3.5 51.6,4.0 51.3,4.0 51.6,3.5"))
    parsed = etree.fromstring(document)
    assert parsed.xpath("c:info/c:area/c:circle/text()", namespaces=NS) == ["51.5,3.8 12.5"]
    read = parse_cap(document).document
    assert read is not None
    [circle] = read.alert.infos[0].areas[0].circles
    assert (circle.center, circle.radius_km) == ((51.5, 3.8), 12.5)
    empty = etree.fromstring(alert_from_form(form(circle="")))
    assert not empty.xpath("//c:circle", namespaces=NS)
