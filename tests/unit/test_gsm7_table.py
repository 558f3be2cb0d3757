"""The GSM-7 lookup table equals the ``gsm0338`` codec it is read from (the codec is
the independent oracle), for generated text of GSM, extension and other characters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from channels import gsm7
from channels.cell_broadcast.alphabet import non_gsm7, to_septets
from channels.sms.encoding import Coding, coding_for, units_of

OTHERS = list("ëóéÉçÇàè€[]{}^|~\\\x1b\r\n中ءض🙂\u00a0\u2019")
CHARS = st.sampled_from(sorted(gsm7.ALPHABET) + OTHERS)
TEXTS = st.lists(CHARS, max_size=60).map("".join) | st.text(max_size=40)


def oracle(text: str) -> bytes | None:
    if "\x1b" in text:
        return None
    try:
        return text.encode("gsm03.38")
    except UnicodeEncodeError:
        return None


@given(TEXTS)
def test_septets_equal_the_codec(text: str) -> None:
    expected = oracle(text)
    assert gsm7.septets(text) == expected
    assert to_septets(text) == expected
    assert gsm7.is_gsm7(text) is (expected is not None)
    assert coding_for(text) is (Coding.GSM7 if expected is not None else Coding.UCS2)
    if expected is not None:
        assert b"".join(gsm7.septet_units(text)) == expected
        assert b"".join(units_of(text, Coding.GSM7)) == expected


@given(TEXTS)
def test_characters_outside_are_those_the_codec_refuses(text: str) -> None:
    refused = "".join(dict.fromkeys(c for c in text if oracle(c) is None))
    assert gsm7.outside(text) == refused
    assert non_gsm7(text) == refused


def test_the_table_holds_the_whole_alphabet_and_no_escape() -> None:
    assert len(gsm7.ALPHABET) == 137  # 127 default characters (ESC excluded) + 10 extension
    assert "\x1b" not in gsm7.ALPHABET
    assert gsm7.SEPTETS["€"] == b"\x1be"
