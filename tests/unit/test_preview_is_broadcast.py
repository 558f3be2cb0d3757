"""Preview equals broadcast: what ``tocsin preview`` and ``/variants`` show for cell
broadcast and SMS is, byte for byte, what the channels hand to the CBC and the SMSC.

Property: for generated alerts (one or two languages, diacritics that force UCS-2,
Arabic, lengths around every page and part boundary) the preview's text and page or
part count equal what the cell broadcast channel's ``send`` wrote (its osmo-cbc
request, decoded the way the mock CBC decodes it) and the SMS parts the adapter
submits, decoded as the SMSC reads them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.cell_broadcast import CellBroadcastChannel
from channels.cell_broadcast.coding import choose_coding
from channels.cell_broadcast.pages import encode
from channels.cell_broadcast.transport import CbcMessage, KillOutcome, WriteOutcome, ecbe_body
from channels.mock.cbc import decode_page, parse_write
from channels.sms.adapter import SmsChannel, _Texts
from channels.sms.encoding import decode_part
from router.assets import load_accessibility
from router.cap import parse_cap
from router.channel import Delivery, Health, PermanentError, Recipient
from router.render import Renderer, preview

REPO = Path(__file__).resolve().parents[2]
RENDERER = Renderer(load_accessibility(REPO / "config" / "accessibility"))


class RecordingCbc:
    """A ``Transport`` that keeps every message it is asked to write."""

    keyed_by_serial = True

    def __init__(self) -> None:
        self.written: list[CbcMessage] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write(self, message: CbcMessage) -> WriteOutcome:
        self.written.append(message)
        return WriteOutcome.WRITTEN

    async def kill(self, message_id: int, serial: int) -> KillOutcome:
        return KillOutcome.KILLED

    async def health(self) -> Health:
        return Health(True)


WORDS = {
    "nl": ["Ga", "naar", "binnen", "vóór", "België", "rook", "brand", "water", "sluit",
           "ramen", "deuren", "€", "[", "dijk", "café", "ü", "over", "straat"],
    "en": ["Go", "inside", "close", "windows", "doors", "smoke", "fire", "naïve", "{",
           "water", "river", "^", "bank", "road", "Zoë", "street"],
    "ar": ["حريق", "كبير", "ادخل", "أغلق", "النوافذ", "الأبواب", "دخان", "الماء"],
}


def text_of(language: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(WORDS[language]), min_size=low, max_size=high).map(
        lambda words: " ".join(words) or WORDS[language][0])


@st.composite
def alerts(draw: st.DrawFn) -> bytes:
    languages = draw(st.sampled_from([("nl", "en"), ("nl",), ("en",), ("ar",),
                                      ("nl", "ar")]))
    infos = []
    for language in languages:
        headline = draw(text_of(language, 1, 8))
        # 0..220 words: from one page to past 15 CBS pages and 4 SMS parts
        description = draw(text_of(language, 0, draw(st.sampled_from([10, 60, 120, 220]))))
        instruction = draw(text_of(language, 1, 30))
        infos.append(f"""  <info>
    <language>{language}</language>
    <category>Fire</category>
    <event>{escape(headline.split()[0])}</event>
    <responseType>Shelter</responseType>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>2099-01-01T00:00:00+01:00</expires>
    <senderName>Veiligheidsregio</senderName>
    <headline>{escape(headline)}</headline>
    {f"<description>{escape(description)}</description>" if description else ""}
    <instruction>{escape(instruction)}</instruction>
    <web>https://www.nl-alert.nl/</web>
    <area>
      <areaDesc>{escape(draw(text_of(language, 1, 4)))}</areaDesc>
      <polygon>51.89,4.43 51.89,4.49 51.87,4.49 51.87,4.43 51.89,4.43</polygon>
    </area>
  </info>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>PROP-1</identifier>
  <sender>meldkamer@example.nl</sender>
  <sent>2026-11-25T14:05:00+01:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
{chr(10).join(infos)}
</alert>
""".encode()


def _cb_sent(raw: bytes, tmp: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(preview rows, the requests the channel sent, as the mock CBC decodes them)."""
    document = parse_cap(raw).document
    assert document is not None, parse_cap(raw).findings
    rendered = RENDERER.render(document.alert)
    cbc = RecordingCbc()
    channel = CellBroadcastChannel("cell_broadcast", {"url": "http://127.0.0.1:9",
                                   "state_file": str(tmp / "ledger.json")}, transport=cbc)
    rows = [r.as_dict() for r in preview(rendered, {"cell_broadcast": channel.capabilities},
                                         {}, document.alert)]
    delivery = Delivery("01PROP", "cell_broadcast", "01PROP/cb", document.alert, raw,
                        variants=rendered)
    sent: list[dict[str, object]] = []
    failure: Exception | None = None
    try:
        asyncio.run(channel.send(delivery))
    except PermanentError as exc:  # a too-long alert: the preview must say it cannot go
        failure = exc
    finally:
        channel.ledger.close()
    if failure is not None:
        assert all(row["error"] for row in rows), (failure, rows)
        return rows, sent
    sent = [parse_write(ecbe_body(message, "tocsin")) for message in cbc.written]
    return rows, sent


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(alerts())
def test_cell_broadcast_preview_is_what_the_cbc_receives(tmp_path: Path, raw: bytes) -> None:
    for old in tmp_path.iterdir():
        old.unlink()
    rows, sent = _cb_sent(raw, tmp_path)
    if not sent:
        return
    assert len(rows) == len(sent)
    for row, request in zip(rows, sent, strict=True):
        assert row["fits"] is True
        assert row["text"] == request["display"]
        assert row["segments"] == len(request["pages"])  # type: ignore[arg-type]
        assert row["alphabet"] == ("UCS-2" if request["alphabet"] == "ucs2" else "GSM-7")
        coding = choose_coding(row["languages"][0], row["text"])  # type: ignore[index]
        again = encode(str(row["text"]), coding)
        assert [p.hex().upper() for p in again.pages] == request["pages"]
        assert coding.dcs == request["dcs"]
        # the pages the console draws as a phone screen: each page as the handset reads
        # the page the CBC was handed (the mock CBC's decoder, not the encoder's own)
        assert row["pages"] == [decode_page(coding.dcs, bytes.fromhex(page))["text"]
                                for page in request["pages"]]  # type: ignore[attr-defined]


def _sms_channel() -> SmsChannel:
    return SmsChannel("sms", {"system_id": "tocsin", "password": "x"})


@settings(max_examples=40, deadline=None)
@given(alerts())
def test_sms_preview_is_what_the_smsc_receives(raw: bytes) -> None:
    document = parse_cap(raw).document
    assert document is not None
    rendered = RENDERER.render(document.alert)
    channel = _sms_channel()
    rows = preview(rendered, {"sms": channel.capabilities}, {}, document.alert)
    delivery = Delivery("01PROP", "sms", "01PROP/sms", document.alert, raw,
                        variants=rendered)
    try:
        texts = _Texts(delivery, channel.budget)
    except PermanentError:
        assert any(row.error for row in rows)
        return
    assert [row.fitted.language for row in rows] == list(rendered.languages)
    for row in rows:
        parts = texts.parts_for(Recipient("k", "31600000000", row.fitted.language))
        received = "".join(decode_part(part)[1] for part in parts)
        assert row.fits
        assert row.fitted.text == received
        assert row.segments == len(parts)
        assert row.alphabet == ("GSM-7" if parts[0].data_coding == 0 else "UCS-2")


def test_a_bilingual_nl_alert_is_previewed_as_the_one_message_it_is(tmp_path: Path) -> None:
    raw = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_bytes()
    raw = raw.replace(b"<senderName>", b"<expires>2099-01-01T00:00:00+01:00</expires>"
                      b"<senderName>")
    rows, [request] = _cb_sent(raw, tmp_path)
    [row] = rows
    assert row["languages"] == ["nl-NL", "en-GB"]
    assert row["language"] == "nl-NL+en-GB"
    assert row["text"] == request["display"]
    assert "Grote brand" in row["text"]
    assert "Major fire" in row["text"]
