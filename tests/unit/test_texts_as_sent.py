"""What people read is the authority's: times as written, one language per form."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from test_preview_is_broadcast import RecordingCbc
from wallet_support import example

from channels.cell_broadcast import CellBroadcastChannel
from channels.cell_broadcast.transport import ecbe_body
from channels.eudi_wallet.document import Utf8Budget, full_document
from channels.eudi_wallet.headers import topic
from channels.mock.cbc import parse_write
from channels.sms.adapter import SmsChannel
from channels.sms.encoding import decode_part
from router.assets import load_accessibility
from router.cap import parse_cap
from router.cap.model import Alert
from router.channel import Delivery, Receipt, Recipient
from router.render import AccessibilityConfig, Renderer, preview, short_findings

NOW = datetime.now(UTC)


def test_wallet_document_keeps_the_offsets_the_authority_wrote() -> None:
    delivery = example("nl-alert-fire-update.xml")
    doc = full_document(delivery, issuer="t", topic=topic(delivery.alert), now=NOW,
                        max_vertices=48, text_budget=Utf8Budget(8000))
    assert doc["sent"] == "2026-11-25T14:40:00+01:00"
    assert doc["references"] == [
        "meldkamer@vr-rr.example.nl,NL-VRR-2026-0042,2026-11-25T14:05:00+01:00"]


# -- item 1: a form in language L holds only text written in L ----------------------------

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "config" / "examples"
CONFIG = load_accessibility(REPO / "config" / "accessibility")


def alert_of(raw: bytes) -> Alert:
    document = parse_cap(raw).document
    assert document is not None
    return document.alert


def test_the_english_only_flood_alerts_dutch_form_has_no_english_in_it() -> None:
    alert = alert_of((EXAMPLES / "wallet-flood-accessible.xml").read_bytes())
    rendered = Renderer(CONFIG).render(alert)
    dutch = rendered.variant("nl")
    assert dutch is not None
    assert dutch.origin == "template"
    english_words = {w for info in alert.infos for area in info.areas
                     for w in area.area_desc.split()} | set(
        (alert.infos[0].sender_name or "").split())
    for dropped, text in rendered.forms("nl"):
        assert not english_words & set(text.replace(".", " ").replace(",", " ").split()), \
            (dropped, text)
    omitted = [f for f in rendered.findings if f.code == "render.language.slot-omitted"]
    assert any("'where'" in f.message for f in omitted)


# -- item 7: exercises say so, in every form of every language ----------------------------

def test_an_exercise_says_so_in_every_form_and_keeps_its_note_where_it_fits() -> None:
    raw = (EXAMPLES / "nl-alert-exercise.xml").read_bytes()
    alert = alert_of(raw)
    assert alert.status.value == "Exercise"
    assert alert.note
    rendered = Renderer(CONFIG).render(alert)
    markers = {"nl": "OEFENING", "en": "EXERCISE"}
    for variant in rendered.variants:
        marker = markers[variant.language[:2]]
        forms = rendered.forms(variant.language)
        assert forms
        for _dropped, text in forms:
            assert text.startswith(marker), text
        assert variant.full_text.startswith(marker)
        if variant.origin == "cap":
            assert alert.note.split(".")[0] in forms[0][1]  # the longest form keeps it
            assert forms[1][0] == ("note",)  # and it is the first to go
    assert "render.text.unexplained-caps" not in {f.code for f in rendered.findings}


# -- item 5: a Cancel in the person's language ---------------------------------------------

def _cancel(note: str | None) -> Alert:
    raw = (EXAMPLES / "nl-alert-fire-cancel.xml").read_text(encoding="utf-8")
    start, end = raw.index("  <note>"), raw.index("</note>") + len("</note>\n")
    return alert_of((raw[:start] + (f"  <note>{note}</note>\n" if note else "")
                     + raw[end:]).encode())


async def _cancel_texts(alert: Alert) -> dict[str, str]:
    """Recipient language -> the text the SMS channel's cancel sends them."""
    channel = SmsChannel("sms", {"system_id": "t", "password": "x"})
    rendered = Renderer(CONFIG).render(alert)
    sent: dict[str, str] = {}

    async def fan_out(_audience: object, texts: Any) -> None:
        for language in ("nl", "en"):
            parts = texts.parts_for(Recipient(language, "31600000000", language))
            sent[language] = "".join(decode_part(p)[1] for p in parts)

    channel._fan_out = fan_out  # type: ignore[method-assign]
    delivery = Delivery("01C", "sms", "01C/sms", alert, b"", variants=rendered,
                        audience=cast(Any, object()))
    await channel.cancel(delivery, Receipt("sms", "01A/sms", "01A/sms"))
    return sent


async def test_a_cancel_uses_its_own_note_for_everyone() -> None:
    note = "Brand onder controle; de waarschuwing is ingetrokken. Fire under control."
    sent = await _cancel_texts(_cancel(note))
    assert sent == {"nl": note, "en": note}


async def test_a_cancel_without_text_reaches_each_subscriber_in_their_language() -> None:
    sent = await _cancel_texts(_cancel(None))
    assert sent["nl"] == "De eerdere publieke waarschuwing is ingetrokken."
    assert sent["en"] == "The earlier public warning has been withdrawn."


# -- item 3: what costs pages, and the opt-in substitution table -------------------------

def _dutch_with_diacritics() -> tuple[Alert, bytes]:
    raw = (EXAMPLES / "nl-alert-fire.xml").read_text(encoding="utf-8")
    raw = raw[:raw.index("  <info>\n    <language>en-GB")] + "</alert>\n"
    raw = raw.replace("Er komt veel rook vrij.", "Er komt veel rook vrij, tot in België. "
                      "Blijf binnen tot vóór de avond. " * 6)
    raw = raw.replace("<senderName>", "<expires>2099-01-01T00:00:00+01:00</expires>"
                      "<senderName>")
    return alert_of(raw.encode()), raw.encode()


def _cb_forms(config: AccessibilityConfig, tmp: Path) -> tuple[dict[str, Any], str]:
    alert, raw = _dutch_with_diacritics()
    rendered = Renderer(config).render(alert)
    channel = CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9",
                                   "state_file": str(tmp / "l.json")}, transport=RecordingCbc())
    [row] = [r.as_dict() | {"notes": r.notes} for r in
             preview(rendered, {"cb": channel.capabilities}, {}, alert)]
    asyncio.run(channel.send(Delivery("01D", "cb", "01D/cb", alert, raw, variants=rendered)))
    channel.ledger.close()
    [message] = channel.transport.written  # type: ignore[attr-defined]
    return row, parse_write(ecbe_body(message, "t"))["display"]


def test_letters_that_force_ucs2_are_named_with_their_cost_in_pages(tmp_path: Path) -> None:
    row, sent = _cb_forms(CONFIG, tmp_path)
    [(_code, message)] = [n for n in row["notes"] if n[0] == "render.text.ucs2"]
    assert "ë" in message
    assert "ó" in message
    assert re.search(r"takes \d+ UCS-2 pages, \d+ in GSM-7 without them", message)
    assert f"sent: {row['segments']} {row['alphabet']} pages, without " in message
    assert row["text"] == sent


def test_the_opt_in_dutch_table_keeps_it_gsm7_and_what_is_sent_is_what_was_previewed(
        tmp_path: Path) -> None:
    tables = dict(CONFIG.gsm7_substitutions)
    tables["nl"] = tables["nl"].model_copy(update={"enabled": True})
    config = CONFIG.model_copy(update={"gsm7_substitutions": tables})
    row, sent = _cb_forms(config, tmp_path)
    assert row["alphabet"] == "GSM-7"
    assert "België" not in row["text"]
    assert "Belgie" in row["text"]
    assert any(code == "render.text.gsm7-substituted" and "ë→e" in message
               for code, message in row["notes"])
    assert row["text"] == sent
    (tmp_path / "off").mkdir()
    before, _ = _cb_forms(CONFIG, tmp_path / "off")
    assert row["dropped"] == []  # GSM-7: the description fits
    assert "nl-NL:impact" in before["dropped"]  # without: the description had to go


# -- item 2: the authority's own words reach cell broadcast in any language ------------------

def test_an_arabic_only_alert_broadcasts_the_authoritys_arabic_beside_the_templates(
        tmp_path: Path) -> None:
    raw = (EXAMPLES / "nl-alert-fire.xml").read_text(encoding="utf-8")
    raw = raw[:raw.index("  <info>\n    <language>en-GB")] + "</alert>\n"
    arabic = {"nl-NL": "ar", "Grote brand in Rotterdam-Zuid": "حريق كبير في روتردام",
              "Ga naar binnen. Sluit ramen en deuren. Zet mechanische ventilatie uit.":
              "ادخل إلى المبنى. أغلق النوافذ والأبواب.",
              "<senderName>": "<expires>2099-01-01T00:00:00+01:00</expires><senderName>"}
    for old, new in arabic.items():
        raw = raw.replace(old, new)
    alert = alert_of(raw.encode())
    rendered = Renderer(CONFIG).render(alert)
    assert rendered.authored == ("ar",)
    channel = CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9",
                                   "state_file": str(tmp_path / "l.json")},
                                   transport=RecordingCbc())
    [row] = preview(rendered, {"cb": channel.capabilities}, {}, alert)
    asyncio.run(channel.send(Delivery("01A", "cb", "01A/cb", alert, raw.encode(),
                                      variants=rendered)))
    channel.ledger.close()
    [message] = channel.transport.written  # type: ignore[attr-defined]
    shown = parse_write(ecbe_body(message, "t"))
    assert "حريق كبير في روتردام" in shown["display"]
    assert "ادخل إلى المبنى" in shown["display"]
    assert shown["alphabet"] == "ucs2"
    assert row.languages == ("nl", "en", "ar")
    assert row.fitted.text == shown["display"]
    assert "render.language.authored-added" in [code for code, _ in row.notes]


# -- item 4: short forms that fit ---------------------------------------------------------

def test_short_90_fits_the_shipped_fire_alert_headline_first() -> None:
    alert = alert_of((EXAMPLES / "nl-alert-fire.xml").read_bytes())
    rendered = Renderer(CONFIG).render(alert)
    rows = {r.fitted.language: r for r in preview(rendered, {}, {"short-90": 90})}
    assert rows["nl-NL"].fitted.fits
    assert rows["nl-NL"].fitted.text.startswith("Grote brand in Rotterdam-Zuid")
    assert rows["en-GB"].fitted.fits
    assert short_findings(list(rows.values())) == []


def test_short_90_reports_when_nothing_fits_naming_the_shortest_candidate() -> None:
    long = ("Zeer grote brand met giftige rook bij het chemiebedrijf aan de Waalhaven in "
            "Rotterdam-Zuid en omgeving")
    raw = (EXAMPLES / "nl-alert-fire.xml").read_text(encoding="utf-8").replace(
        "Grote brand in Rotterdam-Zuid", long).replace(
        "<event>Grote brand</event>", f"<event>{long}</event>")
    rendered = Renderer(CONFIG).render(alert_of(raw.encode()))
    rows = [r for r in preview(rendered, {}, {"short-90": 90}) if r.fitted.language == "nl-NL"]
    [finding] = short_findings(rows)
    assert finding.code == "render.short.none-fits"
    assert long in finding.message
