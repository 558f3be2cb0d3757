"""The GSM 03.38 default alphabet as septets, through the ``gsm0338`` codec.

Stage: a leaf of the cell broadcast adapter (no I/O). The codec maps characters
to septet values (an extension character becomes ESC + code, two septets);
packing septets into octets is ``pages``'s job. ESC itself (0x1B) is not a
character a message may contain: the codec would accept it and a handset would
read it as the start of an escape, so it is refused here.
"""

from __future__ import annotations

import functools

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

CODEC = "gsm03.38"
ESC = 0x1B
CR = 0x0D


@functools.lru_cache(maxsize=2048)
def to_septets(text: str) -> bytes | None:
    """One septet value per octet, or None when ``text`` needs characters outside GSM-7.

    Cached (a pure function of an immutable string): fitting a bilingual message
    measures the same candidate texts several times, and the codec maps character by
    character in Python."""
    if "\x1b" in text:
        return None
    try:
        return text.encode(CODEC)
    except UnicodeEncodeError:
        return None


def is_gsm7(text: str) -> bool:
    return to_septets(text) is not None


def from_septets(septets: bytes) -> str:
    """The text for unpacked septet values (the inverse of ``to_septets``)."""
    return septets.decode(CODEC)


def non_gsm7(text: str) -> str:
    """The characters of ``text`` outside the GSM 7-bit alphabet, each once, in order
    (what makes a text UCS-2; ESC counts, as ``to_septets`` refuses it)."""
    if to_septets(text) is not None:
        return ""
    return "".join(dict.fromkeys(char for char in text if to_septets(char) is None))
