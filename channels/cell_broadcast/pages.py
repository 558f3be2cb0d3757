"""CBS pages: text -> 82-octet page contents, and the 88-octet GSM page.

Stage: a leaf of the cell broadcast adapter (3GPP TS 23.041 §9.4.1 and TS 23.038
§6.1.2.2). Every page is packed on its own: a GSM-7 page holds 93 septets
(82 octets, 5 spare bits left zero), a UCS-2 page 41 UTF-16 units; with a
language prefix 90 / 40 of them are text. The unused end of the last page is
filled with CR (septet 0x0D, or U+000D), which handsets strip. A character is
never split across pages: an extension character (ESC + code) or a surrogate
pair that does not fit starts the next page. CR is the padding character and
handsets strip it from the end of every page, so message text carries line
breaks as LF: ``normalise`` turns CR LF and lone CRs into LF, and ``layout``
refuses a CR that is still there. At most 15 pages; the encoder
refuses more rather than cut (the caller turns that into a "too long" failure).
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.cell_broadcast.alphabet import CR, ESC, from_septets, to_septets
from channels.cell_broadcast.coding import (
    GSM7_PER_PAGE,
    MAX_PAGES,
    PAGE_OCTETS,
    Coding,
)
from channels.cell_broadcast.serial import SerialNumber


class TooManyPagesError(ValueError):
    def __init__(self, pages: int) -> None:
        super().__init__(f"the text needs {pages} pages; a CBS message has at most {MAX_PAGES}")
        self.pages = pages


def pack7(septets: bytes) -> bytes:
    """GSM 7-bit packing: septet i starts at bit 7*i, least significant bit first."""
    value = 0
    for index, septet in enumerate(septets):
        value |= (septet & 0x7F) << (7 * index)
    return value.to_bytes((7 * len(septets) + 7) // 8, "little")


def unpack7(octets: bytes, count: int) -> bytes:
    """The first ``count`` septets of packed ``octets`` (the inverse of ``pack7``)."""
    value = int.from_bytes(octets, "little")
    return bytes((value >> (7 * index)) & 0x7F for index in range(count))


def _units(text: str, coding: Coding) -> list[bytes]:
    """Per character, its code units: septets, or UTF-16 big-endian octet pairs."""
    if coding.ucs2:
        return [char.encode("utf-16-be") for char in text]
    septets = to_septets(text)
    if septets is None:
        raise ValueError("the text needs characters outside the GSM 7-bit alphabet")
    units, index = [], 0
    while index < len(septets):  # one character: a septet, or ESC and its code
        width = 2 if septets[index] == ESC else 1
        units.append(septets[index:index + width])
        index += width
    return units


def _whole_width(text: str, coding: Coding) -> bytes | None:
    """The text's code units when each character is one unit (GSM-7 with no extension
    character, UCS-2 with no surrogate pair), else None (``layout`` then keeps each
    wide character whole, unit by unit)."""
    if coding.ucs2:
        data = text.encode("utf-16-be")
        return data if len(data) == 2 * len(text) else None
    septets = to_septets(text)
    if septets is None:
        raise ValueError("the text needs characters outside the GSM 7-bit alphabet")
    return septets if ESC not in septets else None


def normalise(text: str) -> str:
    """Line breaks as LF (CR is page padding on CBS)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def layout(text: str, coding: Coding) -> list[bytes]:
    """The text's code units as pages (no prefix, no padding), characters kept whole."""
    if "\r" in text:
        raise ValueError("CR is page padding on cell broadcast; normalise() the text first")
    capacity = coding.per_page * (2 if coding.ucs2 else 1)
    whole = _whole_width(text, coding)
    if whole is not None:  # every character one unit wide: pages are plain slices
        return [whole[i:i + capacity] for i in range(0, len(whole), capacity)] or [b""]
    pages: list[bytearray] = [bytearray()]
    for units in _units(text, coding):
        if len(pages[-1]) + len(units) > capacity:
            pages.append(bytearray())
        pages[-1] += units
    return [bytes(page) for page in pages]


def _prefix(coding: Coding) -> bytes:
    if coding.prefix is None:
        return b""
    septets = to_septets(coding.prefix)
    if septets is None or len(septets) != 2:
        raise ValueError(f"language prefix {coding.prefix!r} is not two GSM-7 letters")
    return septets + bytes([CR]) if not coding.ucs2 else pack7(septets)


def _page_content(body: bytes, coding: Coding) -> tuple[bytes, int]:
    """One page's 82 octets and how many of them carry text (prefix included)."""
    prefix = _prefix(coding)
    if coding.ucs2:
        used = len(prefix) + len(body)
        return (prefix + body + b"\x00\x0d" * ((PAGE_OCTETS - used) // 2)), used
    septets = prefix + body
    packed = pack7(septets + bytes([CR]) * (GSM7_PER_PAGE - len(septets)))
    return packed, (7 * len(septets) + 7) // 8


@dataclass(frozen=True)
class EncodedMessage:
    """A text coded into CBS pages: what the CBC is handed."""

    coding: Coding
    pages: tuple[bytes, ...]
    """82 octets each."""
    used: tuple[int, ...]
    """Octets of each page that carry text (the UMTS/LTE form needs them)."""

    @property
    def page_count(self) -> int:
        return len(self.pages)


def encode(text: str, coding: Coding) -> EncodedMessage:
    """``text`` as at most 15 CBS pages, or ``TooManyPagesError``."""
    bodies = layout(text, coding)
    if len(bodies) > MAX_PAGES:
        raise TooManyPagesError(len(bodies))
    contents = [_page_content(body, coding) for body in bodies]
    return EncodedMessage(coding, tuple(c for c, _ in contents), tuple(u for _, u in contents))


def page_texts(message: EncodedMessage) -> list[str]:
    """What a handset shows of each page: the 82 octets read back (the language prefix
    and the CR padding removed). The console draws these, so the page boundaries it
    shows are the encoder's, not a guess from a character count."""
    prefix = _prefix(message.coding)
    texts = []
    for page in message.pages:
        if message.coding.ucs2:
            body = page[len(prefix):]
            text = body[:len(body) & ~1].decode("utf-16-be", errors="replace")
        else:
            text = from_septets(unpack7(page, GSM7_PER_PAGE)[len(prefix):])
        texts.append(text.rstrip("\r"))
    return texts


def page_parameter(number: int, total: int) -> int:
    """High nibble: this page (1..15); low nibble: the total (1..15)."""
    if not 1 <= number <= total <= MAX_PAGES:
        raise ValueError(f"page {number} of {total} is not a valid page parameter")
    return (number << 4) | total


def gsm_pages(serial: SerialNumber, message_id: int, message: EncodedMessage) -> list[bytes]:
    """The 88-octet pages sent on the GSM CBCH (6 header octets + 82 content octets)."""
    total = message.page_count
    header = serial.to_bytes() + message_id.to_bytes(2, "big")
    return [header + bytes([message.coding.dcs, page_parameter(n, total)]) + content
            for n, content in enumerate(message.pages, start=1)]


def warning_message_contents(message: EncodedMessage) -> bytes:
    """The UMTS / SBc-AP Warning-Message-Contents form: the page count, then each
    page's 82 octets followed by its useful length (TS 23.041 §9.3.35)."""
    return bytes([message.page_count]) + b"".join(
        content + bytes([used]) for content, used in zip(message.pages, message.used,
                                                         strict=True))
