"""GSM 03.38 / UCS-2 splitting: parts reassemble to the text and fit 140 octets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.sms.budget import PartsBudget
from channels.sms.encoding import (
    ESM_CLASS_UDHI,
    SMS_OCTETS,
    Coding,
    air_octets,
    coding_for,
    decode_part,
    part_count,
    split,
)

GSM_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
             "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = "^{}\\[~]|€\f"
gsm_text = st.text(alphabet=GSM_BASIC + GSM_EXTENSION, max_size=1200)
any_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=600)


def reassemble(parts: tuple) -> str:  # type: ignore[type-arg]
    decoded = [decode_part(p) for p in parts]
    if len(decoded) == 1 and decoded[0][0] is None:
        return decoded[0][1]
    headers = [h for h, _ in decoded]
    assert all(h is not None for h in headers)
    assert [h[2] for h in headers] == list(range(1, len(parts) + 1))  # type: ignore[index]
    assert {h[1] for h in headers} == {len(parts)}  # type: ignore[index]
    assert len({h[0] for h in headers}) == 1  # type: ignore[index]
    return "".join(text for _, text in decoded)


@settings(max_examples=300, deadline=None)
@given(st.one_of(gsm_text, any_text), st.integers(0, 255))
def test_parts_reassemble_to_the_text_and_fit_the_air_interface(text: str, ref: int) -> None:
    result = split(text, ref)
    assert reassemble(result.parts) == text
    for part in result.parts:
        assert air_octets(part) <= SMS_OCTETS
        assert len(part.short_message) <= 254  # SMPP 3.4 short_message
    assert len(result.parts) == max(part_count(text), 1)


@settings(max_examples=200, deadline=None)
@given(gsm_text)
def test_no_part_ends_inside_an_escape_pair(text: str) -> None:
    for part in split(text).parts:
        body = part.short_message[6:] if part.esm_class & ESM_CLASS_UDHI else part.short_message
        escapes = len(body) - len(body.rstrip(b"\x1b"))
        assert escapes % 2 == 0 or not body.endswith(b"\x1b")
        body.decode("gsm03.38")  # each part decodes on its own


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1F64F),
               min_size=1, max_size=200), st.text(alphabet="ab", max_size=3))
def test_no_part_splits_a_surrogate_pair(emoji: str, prefix: str) -> None:
    for part in split(prefix + emoji).parts:
        _, text = decode_part(part)  # utf-16-be decoding fails on a lone surrogate
        assert text


@pytest.mark.parametrize(("text", "coding", "parts"), [
    ("a" * 160, Coding.GSM7, 1),
    ("a" * 161, Coding.GSM7, 2),
    ("a" * 306, Coding.GSM7, 2),
    ("a" * 307, Coding.GSM7, 3),
    ("€" * 80, Coding.GSM7, 1),          # 160 septets: each € is ESC + e
    ("€" * 81, Coding.GSM7, 2),
    ("ж" * 70, Coding.UCS2, 1),
    ("ж" * 71, Coding.UCS2, 2),
    ("ж" * 134, Coding.UCS2, 2),
    ("ж" * 135, Coding.UCS2, 3),
])
def test_limits(text: str, coding: Coding, parts: int) -> None:
    assert coding_for(text) is coding
    result = split(text)
    assert len(result.parts) == parts
    assert all(p.data_coding == coding.data_coding for p in result.parts)
    assert all(bool(p.esm_class & ESM_CLASS_UDHI) == (parts > 1) for p in result.parts)


def test_escape_pair_straddling_the_boundary_moves_whole_to_the_next_part() -> None:
    text = "a" * 152 + "€" + "b" * 10  # 164 septets; the € (2) does not fit after 152
    first, second = split(text, 7).parts
    assert first.short_message[6:] == b"a" * 152
    assert second.short_message[6:8] == b"\x1be"
    assert first.short_message[:6] == bytes((5, 0, 3, 7, 2, 1))


def test_one_non_gsm_character_switches_the_whole_text_to_ucs2() -> None:
    assert coding_for("Brand in Rotterdam") is Coding.GSM7
    assert coding_for("Brand in Rotterdam ç") is Coding.UCS2  # only capital Ç is GSM


def test_budget_counts_parts() -> None:
    budget = PartsBudget(4)
    assert budget.name == "4 SMS parts"
    assert budget.cost("") == 0
    assert budget.cost("a" * 612) == 4
    assert budget.cost("a" * 613) == 5
    with pytest.raises(ValueError, match="max_parts"):
        PartsBudget(0)


@settings(max_examples=200, deadline=None)
@given(st.one_of(gsm_text, any_text))
def test_budget_segments_are_the_parts_the_text_goes_out_in(text: str) -> None:
    budget = PartsBudget(4)
    expected = len(split(text).parts) if text else 0  # the empty text is never sent
    assert budget.segments(text) == expected
    assert budget.segments("a" * 160) == 1
    assert budget.segments("a" * 161) == 2  # a concatenated part carries 153
    assert budget.segments("ä" * 70 + "ç") == 2  # UCS-2: 70 in one part, 67 each after


def test_more_than_255_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="255"):
        split("a" * 153 * 256)
