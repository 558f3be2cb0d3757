"""CBS pages: golden vectors from an independent source, and round trips through
an independent decoder (the mock CBC's, built on ``smspdudecoder``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.cell_broadcast.alphabet import to_septets
from channels.cell_broadcast.coding import Coding, choose_coding
from channels.cell_broadcast.pages import (
    TooManyPagesError,
    encode,
    gsm_pages,
    pack7,
    page_parameter,
    page_texts,
    unpack7,
    warning_message_contents,
)
from channels.cell_broadcast.serial import GeoScope, SerialNumber
from channels.mock.cbc import decode_page

# Golden vectors, typed in from the Android Open Source Project's cell broadcast tests:
# aosp-mirror/platform_frameworks_base,
# telephony/tests/telephonytests/src/com/android/internal/telephony/gsm/GsmSmsCbTest.java
# (commit f98f68d5). Each is an 88-octet GSM CBS page: serial C000, message identifier
# 0x0032, DCS, page parameter 0x11, 82 content octets; the expected text is the one that
# test asserts. A repeated run of CR padding is written as ``PAD * n`` (7 octets = 8 CRs).
PAD = "D168341A8D46A3"
PADDED_TEXT = "A GSM default alphabet message with carriage return padding"
PADDED_CONTENT = ("41D071DA0491CBE6709D4D0785D97074585CA683DAE5F93C7C2E83EE693A1A340ECBE5E9F0B90C"
                  "9297E975B91B040F93C969F7B9" + PAD * 4 + "D100")
FULL_TEXT = ("A GSM default alphabet message being exactly 93 characters long, "
             "meaning there is no padding!")
FULL_CONTENT = ("41D071DA0491CBE6709D4D0785D97074585CA683DAE5F93C7C2E83C4E5B4FB0C2AE3C3633A3B0F"
                "CACD406374581E1ED3CBF23988FD769F59A07639EC4EBBCF203ABA2C2F83D27390FB0D8287C9"
                "E4B4FB1C02")
SV_CONTENT = ("737B23083A4E9B2072D91CAEB3E9A0301B8E0E8BCB7450BB3C9F87CF65D03D4D4783C661B93C1D"
              "3E9741F232BD2E7783E0613239ED3E371A8D46A3" + PAD * 3 + "D100")
UCS2_TEXT = "A UCS2 message containing a \u0434 character"
UCS2_CONTENT = ("0041002000550043005300320020006D00650073007300610067006500200063006F006E0074"
                "00610069006E0069006E006700200061002004340020006300680061007200610063007400650072"
                "000D000D")
UCS2_XX_CONTENT = "783C" + UCS2_CONTENT[:-4]

GOLDEN = [
    # (test in GsmSmsCbTest.java, coding, text, content hex, useful octets in the UMTS form)
    ("testGetMessageBody7Bit", Coding(0x40, ucs2=False), PADDED_TEXT, PADDED_CONTENT, 0x34),
    ("testGetMessageBody7BitWithLanguage", Coding(0x04, ucs2=False), PADDED_TEXT,
     PADDED_CONTENT, 0x34),
    ("testGetMessageBody7BitFull", Coding(0x40, ucs2=False), FULL_TEXT, FULL_CONTENT, 0x52),
    ("testGetMessageBody7BitWithLanguageInBody", Coding(0x10, ucs2=False, prefix="sv"),
     PADDED_TEXT, SV_CONTENT, 0x37),
    ("testGetMessageBodyUcs2", Coding(0x48, ucs2=True), UCS2_TEXT, UCS2_CONTENT, 0x4E),
    ("testGetMessageBodyUcs2WithLanguageInBody", Coding(0x11, ucs2=True, prefix="xx"),
     UCS2_TEXT, UCS2_XX_CONTENT, 0x50),
]
# testGetMessageBody7BitMultipageUmts: two pages, "First page+" and "Second page",
# 10 useful octets each (UMTS form, same 82-octet page contents as GSM).
MULTIPAGE = [("First page+", "C6B47C4E07C1C3E7F2AA" + PAD * 10 + "D100"),
             ("Second page", "D3F2F8ED2683E0E173B9" + PAD * 10 + "D100")]


@pytest.mark.parametrize(("source", "coding", "text", "content", "useful"), GOLDEN,
                         ids=[g[0] for g in GOLDEN])
def test_golden_gsm_page_byte_for_byte(source: str, coding: Coding, text: str, content: str,
                                       useful: int) -> None:
    message = encode(text, coding)
    [page] = gsm_pages(SerialNumber.decode(0xC000), 0x0032, message)
    expected = bytes.fromhex("C0000032") + bytes([coding.dcs, 0x11]) + bytes.fromhex(content)
    assert len(expected) == 88
    assert page == expected


@pytest.mark.parametrize(("source", "coding", "text", "content", "useful"), GOLDEN,
                         ids=[g[0] for g in GOLDEN])
def test_golden_umts_contents_byte_for_byte(source: str, coding: Coding, text: str,
                                            content: str, useful: int) -> None:
    """The ...Umts twin of each test: page count, 82 octets, useful length."""
    expected = bytes([1]) + bytes.fromhex(content) + bytes([useful])
    assert warning_message_contents(encode(text, coding)) == expected


@pytest.mark.parametrize(("text", "content"), MULTIPAGE)
def test_golden_multipage_pages(text: str, content: str) -> None:
    message = encode(text, Coding(0x40, ucs2=False))
    assert message.pages == (bytes.fromhex(content),)
    assert message.used == (10,)


# -- round trips through the independent decoder ---------------------------------------

GSM_CHARS = [chr(c) for c in range(0x110) if to_septets(chr(c)) is not None and chr(c) != "\r"]
GSM_CHARS += [c for c in "ΔΦΓΛΩΠΨΣΘΞ€" if c not in GSM_CHARS]
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=15 * 93)
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
                   max_size=15 * 41)  # lone surrogates cannot come out of XML


def displayed(message_pages: tuple[bytes, ...], dcs: int) -> str:
    return "".join(decode_page(dcs, page)["text"] for page in message_pages)


def test_extension_characters_are_in_the_strategy() -> None:
    assert {"€", "{", "}", "[", "]", "~", "|", "^", "\\", "\f"} <= set(GSM_CHARS)


@settings(max_examples=200, deadline=None)
@given(gsm_text)
def test_gsm7_text_round_trips(text: str) -> None:
    try:
        message = encode(text, choose_coding("nl", text))
    except TooManyPagesError:
        assert len(to_septets(text) or b"") > 93 * 14
        return
    assert message.coding.dcs == 0x05
    assert all(len(page) == 82 for page in message.pages)
    assert displayed(message.pages, 0x05) == text
    assert unpack7(message.pages[0], 93).decode("gsm03.38").rstrip("\r") == displayed(
        message.pages[:1], 0x05)


@settings(max_examples=150, deadline=None)
@given(any_text)
def test_any_unicode_text_round_trips_as_ucs2(text: str) -> None:
    coding = choose_coding("nl", text, force_ucs2=True)
    assert coding == Coding(0x11, ucs2=True, prefix="nl")
    try:
        message = encode(text, coding)
    except TooManyPagesError:
        assert len(text.encode("utf-16-be")) // 2 > 40 * 14
        return
    assert displayed(message.pages, 0x11) == text
    assert {decode_page(0x11, page)["language"] for page in message.pages} == {"nl"}


@settings(max_examples=150, deadline=None)
@given(st.one_of(gsm_text, any_text), st.booleans())
def test_page_texts_are_what_each_page_shows(text: str, ucs2: bool) -> None:
    """The console's phone screen: one text per page, read back from the page octets,
    equal to the handset's reading of that page, together the whole text."""
    try:
        coding = choose_coding("nl", text, force_ucs2=ucs2)
        message = encode(text, coding)
    except (TooManyPagesError, ValueError):
        return
    texts = page_texts(message)
    assert texts == [decode_page(coding.dcs, page)["text"] for page in message.pages]
    assert "".join(texts) == text


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200).map(lambda b: bytes(x & 0x7F for x in b)))
def test_pack7_round_trips(septets: bytes) -> None:
    assert unpack7(pack7(septets), len(septets)) == septets


def test_trailing_at_sign_survives() -> None:
    """'@' is septet 0: it must not be taken for the zero bits at a page's end."""
    message = encode("Meet @", choose_coding("en", "Meet @"))
    assert displayed(message.pages, 0x01) == "Meet @"


def test_cr_is_refused_and_extension_pairs_stay_whole() -> None:
    with pytest.raises(ValueError, match="CR"):
        encode("a\rb", Coding(0x01, ucs2=False))
    text = "x" * 92 + "€"  # the pair does not fit the first page's last septet
    message = encode(text, Coding(0x01, ucs2=False))
    assert message.page_count == 2
    assert [decode_page(0x01, p)["text"] for p in message.pages] == ["x" * 92, "€"]


@pytest.mark.parametrize(("language", "text_char", "per_page"), [
    ("nl", "a", 93),      # GSM-7 with a language DCS
    ("xx", "a", 90),      # GSM-7, language in the text
    ("nl", "д", 40),      # UCS-2 with the language prefix
    (None, "д", 41),      # UCS-2 without a language
])
def test_page_boundaries(language: str | None, text_char: str, per_page: int) -> None:
    coding = choose_coding(language, text_char)
    assert coding.per_page == per_page
    for length, pages in ((per_page, 1), (per_page + 1, 2), (per_page * 15, 15)):
        message = encode(text_char * length, coding)
        assert message.page_count == pages
        assert displayed(message.pages, coding.dcs) == text_char * length
    last = encode(text_char * (per_page + 1), coding).pages[-1]
    assert decode_page(coding.dcs, last)["text"] == text_char  # the rest is CR padding
    with pytest.raises(TooManyPagesError, match="16 pages"):
        encode(text_char * (per_page * 15 + 1), coding)


def test_page_parameter_nibbles_and_header() -> None:
    message = encode("y" * 200, Coding(0x01, ucs2=False))
    pages = gsm_pages(SerialNumber(GeoScope.PLMN_WIDE, 5, 1), 4371, message)
    assert [p[5] for p in pages] == [0x13, 0x23, 0x33]
    assert all(p[:5] == bytes([0x40, 0x51, 0x11, 0x13, 0x01]) for p in pages)
    with pytest.raises(ValueError, match="page 16"):
        page_parameter(16, 15)


@given(st.sampled_from(list(GeoScope)), st.integers(0, 1023), st.integers(0, 15))
def test_serial_number_layout_round_trips(scope: GeoScope, code: int, update: int) -> None:
    serial = SerialNumber(scope, code, update)
    value = serial.encode()
    assert value >> 14 == scope
    assert (value >> 4) & 0x3FF == code
    assert value & 0xF == update
    assert SerialNumber.decode(value) == serial
    assert SerialNumber.from_detail(serial.as_detail()) == serial
    assert serial.next_update().update_number == (update + 1) % 16
    assert serial.next_update().message_code == code


def test_serial_number_ranges() -> None:
    with pytest.raises(ValueError, match="message code"):
        SerialNumber(GeoScope.CELL_WIDE, 1024)
    with pytest.raises(ValueError, match="update number"):
        SerialNumber(GeoScope.CELL_WIDE, 0, 16)
    assert SerialNumber.decode(0xC000) == SerialNumber(GeoScope.CELL_WIDE, 0, 0)
