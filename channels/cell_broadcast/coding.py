"""Which Data Coding Scheme a text goes out with (3GPP TS 23.038 §5).

Stage: a leaf of the cell broadcast adapter. A language in the 23.038 table
with text in the GSM 7-bit alphabet gets its own DCS (Dutch 0x05, English
0x01, ...) and the whole page for text: 93 characters. Any other language
with a two-letter ISO 639 code gets 0x10 and the language in the first three
characters of every page (90 left). Text that needs characters outside
GSM 03.38 goes as UCS-2: 0x11 with the language in the first two octets of
every page (40 characters left), or 0x48 (UCS-2, no language, 41) when the
language is unknown. GSM-7 with no known language is 0x0F.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.cell_broadcast.alphabet import is_gsm7

LANGUAGE_DCS: dict[str, int] = {
    "de": 0x00, "en": 0x01, "it": 0x02, "fr": 0x03, "es": 0x04, "nl": 0x05, "sv": 0x06,
    "da": 0x07, "pt": 0x08, "fi": 0x09, "no": 0x0A, "el": 0x0B, "tr": 0x0C, "hu": 0x0D,
    "pl": 0x0E, "cs": 0x20, "he": 0x21, "ar": 0x22, "ru": 0x23, "is": 0x24,
}
DCS_GSM7_UNSPECIFIED = 0x0F
DCS_GSM7_LANGUAGE_PREFIX = 0x10
DCS_UCS2_LANGUAGE_PREFIX = 0x11
DCS_UCS2_NO_LANGUAGE = 0x48

PAGE_OCTETS = 82
MAX_PAGES = 15
GSM7_PER_PAGE = PAGE_OCTETS * 8 // 7  # 93
UCS2_PER_PAGE = PAGE_OCTETS // 2  # 41


@dataclass(frozen=True)
class Coding:
    """How a message's pages are coded: the DCS octet, the alphabet, and the
    language prefix written at the start of every page (or None)."""

    dcs: int
    ucs2: bool
    prefix: str | None = None

    @property
    def per_page(self) -> int:
        """Text characters (septets, or UTF-16 units) one page holds."""
        if self.ucs2:
            return UCS2_PER_PAGE - (1 if self.prefix else 0)
        return GSM7_PER_PAGE - (3 if self.prefix else 0)

    @property
    def alphabet(self) -> str:
        return "UCS-2" if self.ucs2 else "GSM-7"


def primary_language(tag: str | None) -> str | None:
    """``"nl-NL"`` -> ``"nl"``; None for a tag without a two-letter primary subtag."""
    if not tag:
        return None
    primary = tag.split("-", 1)[0].lower()
    return primary if len(primary) == 2 and primary.isascii() and primary.isalpha() else None


def choose_coding(language: str | None, text: str, *, force_ucs2: bool = False) -> Coding:
    """The coding ``text`` in ``language`` goes out with (``force_ucs2`` when another
    part of the same message already needs UCS-2)."""
    lang = primary_language(language)
    if not force_ucs2 and is_gsm7(text):
        if lang in LANGUAGE_DCS:
            return Coding(LANGUAGE_DCS[lang], ucs2=False)
        if lang is not None:
            return Coding(DCS_GSM7_LANGUAGE_PREFIX, ucs2=False, prefix=lang)
        return Coding(DCS_GSM7_UNSPECIFIED, ucs2=False)
    if lang is not None:
        return Coding(DCS_UCS2_LANGUAGE_PREFIX, ucs2=True, prefix=lang)
    return Coding(DCS_UCS2_NO_LANGUAGE, ucs2=True)
