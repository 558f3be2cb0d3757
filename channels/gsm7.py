"""The GSM 03.38 alphabet (default table plus the ESC extension table) as one lookup table.

Stage: a leaf shared by the cell broadcast and SMS adapters (pure; no I/O). The
``gsm0338`` codec maps text character by character in Python, which made counting
septets for every budget the largest single cost of rendering an alert. The table
here is read off that same codec once, at import (every septet and every ESC pair
decoded), so the codec stays the one source of the alphabet; encoding is then a
set check and one ``str.translate`` in C. The property tests hold it equal to the
codec for generated text.

ESC (0x1B) itself is not a character a message may contain: the codec would
accept it and a handset would read it as the start of an escape, so the table has
no entry for it and text holding it is not GSM-7.
"""

from __future__ import annotations

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

CODEC = "gsm03.38"
ESC = 0x1B


def _read_table() -> dict[str, bytes]:
    """Character -> its septet value(s), one per octet, from the codec's decoder."""
    table: dict[str, bytes] = {}
    for value in range(128):
        if value != ESC:
            table.setdefault(bytes([value]).decode(CODEC), bytes([value]))
    for value in range(128):
        try:
            char = bytes([ESC, value]).decode(CODEC)
        except UnicodeDecodeError:
            continue
        if len(char) == 1:
            table.setdefault(char, bytes([ESC, value]))
    return table


SEPTETS: dict[str, bytes] = _read_table()
ALPHABET: frozenset[str] = frozenset(SEPTETS)
_TRANSLATION = {ord(char): septets.decode("latin-1") for char, septets in SEPTETS.items()}


def is_gsm7(text: str) -> bool:
    """Every character of ``text`` is in the default or extension table."""
    return ALPHABET.issuperset(text)


def septets(text: str) -> bytes | None:
    """One septet value per octet (an extension character is ESC + code), or None
    when ``text`` holds a character outside GSM-7."""
    if not ALPHABET.issuperset(text):
        return None
    return text.translate(_TRANSLATION).encode("latin-1")


def septet_units(text: str) -> list[bytes]:
    """The septets of each character of a GSM-7 ``text`` (KeyError otherwise)."""
    return [SEPTETS[char] for char in text]


def outside(text: str) -> str:
    """The characters of ``text`` outside GSM-7, each once, in order."""
    return "".join(dict.fromkeys(char for char in text if char not in ALPHABET))
