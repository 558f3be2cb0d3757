"""The GSM 03.38 default alphabet as septets, for cell broadcast.

Stage: a leaf of the cell broadcast adapter (no I/O). Characters map to septet
values through the table in ``channels.gsm7`` (read off the ``gsm0338`` codec;
an extension character becomes ESC + code, two septets); packing septets into
octets is ``pages``'s job. ESC itself (0x1B) is not a character a message may
contain: a handset would read it as the start of an escape, so it is refused.
"""

from __future__ import annotations

from channels import gsm7

CODEC = gsm7.CODEC
ESC = gsm7.ESC
CR = 0x0D


def to_septets(text: str) -> bytes | None:
    """One septet value per octet, or None when ``text`` needs characters outside GSM-7."""
    return gsm7.septets(text)


def is_gsm7(text: str) -> bool:
    return gsm7.is_gsm7(text)


def from_septets(septets: bytes) -> str:
    """The text for unpacked septet values (the inverse of ``to_septets``)."""
    return septets.decode(CODEC)


def non_gsm7(text: str) -> str:
    """The characters of ``text`` outside the GSM 7-bit alphabet, each once, in order
    (what makes a text UCS-2; ESC counts, as ``to_septets`` refuses it)."""
    return gsm7.outside(text)
