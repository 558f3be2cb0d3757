"""GSM 03.38 / UCS-2 encoding and splitting of one SMS text into submit_sm parts.

Stage: channel adapter (pure; no I/O). The alphabet is the PyPI ``gsm0338`` codec's
(3GPP TS 23.038 default table plus the extension table reached through ESC 0x1B,
two septets per extension character), as the lookup table ``channels.gsm7`` reads
off it once. A text that the default alphabet can carry
goes as GSM-7, anything else as UCS-2 (UTF-16BE on the wire, which is what
handsets decode; a character outside the BMP costs a surrogate pair).

Sizes are counted the way the air interface counts them (140 octets per SMS):

- one part: 160 GSM-7 septets or 70 UCS-2 units (140 octets);
- concatenated: a 6-octet UDH ``05 00 03 ref total seq`` (8-bit reference) leaves
  153 septets (the UDH is padded to a septet boundary with one fill bit) or 67
  UCS-2 units (134 octets) per part; at most 255 parts.

A part never ends between ESC and its extension character, nor between the two
halves of a surrogate pair: the text is cut into indivisible units first and the
parts are filled with whole units only.

On SMPP, GSM-7 goes unpacked, one septet per octet, with ``data_coding`` 0x00
(the SMSC packs it); UCS-2 with ``data_coding`` 0x08; a UDH sets esm_class 0x40.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from enum import StrEnum

from channels import gsm7

GSM_CODEC = gsm7.CODEC
SMS_OCTETS = 140
UDH_OCTETS = 6
MAX_PARTS = 255
ESM_CLASS_UDHI = 0x40


class Coding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"

    @property
    def data_coding(self) -> int:
        return 0x00 if self is Coding.GSM7 else 0x08


@dataclass(frozen=True)
class Part:
    """One submit_sm worth of message: ``short_message`` and the flags it needs."""

    short_message: bytes
    esm_class: int
    data_coding: int


@dataclass(frozen=True)
class Split:
    """A text as the parts that carry it."""

    coding: Coding
    parts: tuple[Part, ...]
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text."""


def coding_for(text: str) -> Coding:
    """GSM-7 when the GSM 03.38 tables hold every character, else UCS-2.

    A literal ESC (U+001B) in the text is not a character of the alphabet: the codec
    would pass it through as the escape septet, which a phone reads together with the
    next character as an extension character. Such text goes as UCS-2."""
    return Coding.GSM7 if gsm7.is_gsm7(text) else Coding.UCS2


def units_of(text: str, coding: Coding) -> list[bytes]:
    """The text as indivisible units: a septet or ESC pair (GSM-7), a UTF-16 unit or
    surrogate pair (UCS-2). Concatenated, they are the encoded text."""
    if coding is Coding.GSM7:
        return gsm7.septet_units(text)
    return [char.encode("utf-16-be") for char in text]


def _octets(payload: int, coding: Coding, udh: bool) -> int:
    """Octets on the air for ``payload`` septets/octets after an optional UDH."""
    if coding is Coding.UCS2:
        return payload + (UDH_OCTETS if udh else 0)
    header_bits = (UDH_OCTETS * 8 + 6) // 7 * 7 if udh else 0  # UDH plus fill bits
    bits = payload * 7 + header_bits
    return math.ceil(bits / 8)


def air_octets(part: Part) -> int:
    """What one part occupies on the air interface (must be at most 140)."""
    coding = Coding.GSM7 if part.data_coding == 0x00 else Coding.UCS2
    udh = bool(part.esm_class & ESM_CLASS_UDHI)
    payload = len(part.short_message) - (UDH_OCTETS if udh else 0)
    return _octets(payload, coding, udh)


def _fits(size: int, coding: Coding, udh: bool) -> bool:
    return _octets(size, coding, udh) <= SMS_OCTETS


def _chunks(units: list[bytes], coding: Coding) -> list[bytes]:
    """Greedy fill of concatenated parts with whole units."""
    chunks: list[bytes] = []
    current = bytearray()
    for unit in units:
        if current and not _fits(len(current) + len(unit), coding, udh=True):
            chunks.append(bytes(current))
            current = bytearray()
        current += unit
    if current:
        chunks.append(bytes(current))
    return chunks


def reference_for(key: str) -> int:
    """A stable 8-bit concatenation reference: a part resent after a rebind must carry
    the same reference as its siblings, or the handset cannot reassemble them."""
    return zlib.crc32(key.encode()) & 0xFF


def split(text: str, reference: int = 0) -> Split:
    """The parts for ``text``; ``reference`` (0..255) ties concatenated parts together."""
    coding = coding_for(text)
    units = units_of(text, coding)
    payload = b"".join(units)
    count = len(payload) if coding is Coding.GSM7 else len(payload) // 2
    if _fits(len(payload), coding, udh=False):
        return Split(coding, (Part(payload, 0, coding.data_coding),), count)
    chunks = _chunks(units, coding)
    total = len(chunks)
    if total > MAX_PARTS:
        raise ValueError(f"the text needs {total} parts; SMS concatenation allows {MAX_PARTS}")
    parts = tuple(
        Part(bytes((5, 0, 3, reference & 0xFF, total, seq)) + chunk, ESM_CLASS_UDHI,
             coding.data_coding)
        for seq, chunk in enumerate(chunks, start=1))
    return Split(coding, parts, count)


def part_count(text: str) -> int:
    """How many SMS ``text`` needs (0 for the empty text)."""
    if not text:
        return 0
    coding = coding_for(text)
    units = units_of(text, coding)
    if _fits(sum(map(len, units)), coding, udh=False):
        return 1
    return len(_chunks(units, coding))


def decode_part(part: Part) -> tuple[tuple[int, int, int] | None, str]:
    """(reference, total, seq) from the UDH if any, and the text of one part."""
    body, header = part.short_message, None
    if part.esm_class & ESM_CLASS_UDHI:
        udh = body[:UDH_OCTETS]
        header = (udh[3], udh[4], udh[5])
        body = body[UDH_OCTETS:]
    codec = GSM_CODEC if part.data_coding == 0x00 else "utf-16-be"
    return header, body.decode(codec)
