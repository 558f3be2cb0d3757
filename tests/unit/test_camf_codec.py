"""The CAMF codec: the spec's layout and worked examples, validation, and round trips."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from channels.galileo_ewss import camf
from channels.galileo_ewss.camf import (
    CamfError,
    CamfMessage,
    Duration,
    HazardCentre,
    HazardDetails,
    Library,
    MessageType,
    Refinement,
    SecondaryEllipse,
    Severity,
    Subject,
)
from channels.galileo_ewss.tables import AXIS_KM, HAZARD_DETAIL_LAYOUTS, HAZARDS

# Offsets and widths of A1..A18, re-typed from the research note's bit-layout table
# (shared/specs/ewss-wallet-accessibility.md §1.2), independent of camf._LAYOUT.
SPEC_LAYOUT = [(0, 2), (2, 9), (11, 5), (16, 7), (23, 2), (25, 1), (26, 14), (40, 2),
               (42, 1), (43, 3), (46, 10), (56, 16), (72, 17), (89, 5), (94, 5), (99, 6),
               (105, 2), (107, 15)]

JAPAN = 111

# Field values A1..A18 of the synthetic DCX frames in yoronneko/qzsl6tool
# sample/make_synthetic_dcx.py, which takes them from the CAMF specification's
# calculation examples (research note §1.8). Re-typed as values.
SPEC_VECTORS = {
    "tsunami L-Alert, spec ellipse": (1, JAPAN, 1, 44, 3, 0, 1 + 1440 + 570, 1, 1, 0, 0b1000000010,
                                      45761, 116395, 13, 10, 48, 0, 0),
    "J-Alert test, cities": (0, JAPAN, 3, 113, 0, 0, 0, 0, 1, 0, 0b0010001000,
                             0, 0, 0, 0, 0, 0, 0),
    "Zambia storm, B2 hazard centre": (1, 248, 1, 77, 2, 1, 1, 3, 0, 0, (3 << 5) | 1,
                                       32768, 65536, 20, 18, 32, 1, (64 << 8) | (0 << 1)),
    "Italy earthquake, B4": (1, 108, 2, 36, 3, 0, 1 + 3 * 1440 + 8 * 60, 1, 0, 0, (21 << 5) | 22,
                             50000, 70000, 15, 12, 40, 3, (5 << 11) | (4 << 8) | (4 << 4) | 6),
    "Australia forest fire, B3": (2, 10, 3, 27, 2, 0, 1 + 5 * 1440, 2, 0, 1, (26 << 5) | 17,
                                  20000, 110000, 18, 16, 8, 2,
                                  (2 << 13) | (7 << 10) | (16 << 5) | 7),
    "flood L-Alert, B1 refinement": (1, JAPAN, 1, 68, 2, 0, 1 + 1440 + 570, 1, 1, 0, 0b0100000010,
                                     45761, 116395, 13, 10, 48, 0,
                                     (4 << 12) | (2 << 9) | (1 << 6) | (0 << 3)),
}


def from_values(values: tuple[int, ...]) -> CamfMessage:
    """Build the message from A1..A18 through the spec's own bit positions."""
    word = 0
    for (_offset, width), value in zip(SPEC_LAYOUT, values, strict=True):
        word = word << width | value
    return camf.from_int(word)


@pytest.mark.parametrize("name", SPEC_VECTORS)
def test_spec_vectors_land_at_the_spec_offsets_and_round_trip(name: str) -> None:
    values = SPEC_VECTORS[name]
    message = from_values(values)
    bits = camf.to_bits(message)
    assert len(bits) == 122
    for (offset, width), value in zip(SPEC_LAYOUT, values, strict=True):
        assert int(bits[offset:offset + width], 2) == value, (name, offset)
    assert camf.decode(camf.encode(message)) == message


def test_spec_calculation_examples() -> None:
    """Worked examples quoted in the research note §1.2 and §1.8 (spec calculation
    examples as used by yoronneko/qzsl6tool sample/make_synthetic_dcx.py)."""
    assert camf.latitude(45761) == pytest.approx(35.688, abs=5e-4)
    assert camf.longitude(116395) == pytest.approx(139.691, abs=5e-4)
    assert camf.azimuth(48) == pytest.approx(45.00)
    assert camf.axis_km(13) == pytest.approx(10.933)
    assert camf.axis_km(10) == pytest.approx(4.421)
    assert camf.centre_offset(64) == pytest.approx(0.15625)  # B2 C5=64
    assert camf.centre_offset(0) == pytest.approx(-10.0)  # B2 C6=0
    assert camf.secondary_scale(7) == pytest.approx(2.0)  # B3 C8=7 -> x2
    assert camf.secondary_bearing(16) == pytest.approx(180.0)  # B3 C9=16
    assert camf.epicentre_bearing(4) == pytest.approx(90.0)  # B4 D3=4


def test_spec_vectors_decode_to_their_meaning() -> None:
    earthquake = from_values(SPEC_VECTORS["Italy earthquake, B4"])
    assert earthquake.settings == HazardDetails((5, 4, 4, 6), 0)
    storm = from_values(SPEC_VECTORS["Zambia storm, B2 hazard centre"])
    assert storm.settings == HazardCentre(64, 0, 0)
    assert (storm.guidance_a, storm.guidance_b) == (3, 1)  # IC-A-04, IC-B-02
    fire = from_values(SPEC_VECTORS["Australia forest fire, B3"])
    assert fire.settings == SecondaryEllipse(2, 7, 16, 7)
    refined = from_values(SPEC_VECTORS["flood L-Alert, B1 refinement"])
    assert refined.settings == Refinement(4, 2, 1, 0, 0)
    plain = camf.ellipse(from_values(SPEC_VECTORS["tsunami L-Alert, spec ellipse"]))
    fine = camf.ellipse(refined)
    assert fine.latitude - plain.latitude == pytest.approx(4 / 8 * camf.LATITUDE_STEP)
    assert fine.longitude - plain.longitude == pytest.approx(2 / 8 * camf.LONGITUDE_STEP)
    assert fine.semi_major_km == pytest.approx(10.933 - (10.933 - 8.085) / 8)
    assert fine.semi_minor_km == pytest.approx(4.421)
    assert plain.azimuth_deg == pytest.approx(45.0)


def test_the_dcx_null_message_is_not_a_warning() -> None:
    """The QZSS DCX NULL frames (vector 1 of the same source) carry hazard 0."""
    with pytest.raises(CamfError, match="A4 hazard"):
        from_values((0, JAPAN, *([0] * 16)))


def test_axis_table_is_the_spec_table() -> None:
    assert len(AXIS_KM) == 32
    assert (AXIS_KM[0], AXIS_KM[16], AXIS_KM[31]) == (0.216, 27.035, 2500.0)
    assert list(AXIS_KM) == sorted(AXIS_KM)
    assert camf.axis_km(0, 7) == pytest.approx(0.216 / 8)


def test_hazard_table_is_complete() -> None:
    assert sorted(HAZARDS) == list(range(1, 114))
    assert all(sum(bits for _n, bits in layout) <= 15
               for layout in HAZARD_DETAIL_LAYOUTS.values())


# -- validation ---------------------------------------------------------------------

VALID = CamfMessage(MessageType.ALERT, 150, 1, 24, Severity.SEVERE, False, 3666,
                    Duration.UNDER_6_H, Library.INTERNATIONAL, 1, camf.instructions(3, 24),
                    51657, 67159, 9, 8, 0, Refinement(0, 3, 1, 7))


@pytest.mark.parametrize(("change", "field"), [
    ({"hazard": 0}, "A4 hazard"),
    ({"hazard": 114}, "A4 hazard"),
    ({"country": 512}, "A2 country"),
    ({"provider": 32}, "A3 provider"),
    ({"provider": -1}, "A3 provider"),
    ({"onset_minute": 10081}, "A7 onset minute"),
    ({"library_version": 8}, "A10 library version"),
    ({"instructions": 1024}, "A11 instructions"),
    ({"instructions": camf.instructions(3, 29)}, "A11 List B"),
    ({"latitude": 65536}, "A12 latitude"),
    ({"longitude": 131072}, "A13 longitude"),
    ({"semi_major": 32, "semi_minor": 0}, "A14 semi-major"),
    ({"semi_minor": 10}, "A15 semi-minor"),
    ({"azimuth": 64}, "A16 azimuth"),
    ({"settings": Refinement(latitude=8)}, "A18 specific settings"),
    ({"settings": HazardCentre(128, 0)}, "A18 specific settings"),
    ({"hazard": 36, "settings": HazardDetails((1, 2))}, "A18 specific settings: 3 values for 5"),
    ({"latitude": 65535, "settings": Refinement(latitude=1)}, "north of 90"),
    ({"country": True}, "A2 country"),
])
def test_out_of_range_values_are_errors_naming_the_field(change: dict[str, object],
                                                         field: str) -> None:
    with pytest.raises(CamfError, match=field):
        camf.encode(replace(VALID, **change))  # type: ignore[arg-type]


def test_decoding_refuses_wrong_length_and_padding() -> None:
    data = camf.encode(VALID)
    with pytest.raises(CamfError, match="16 bytes"):
        camf.decode(data[:-1])
    with pytest.raises(CamfError, match="padding"):
        camf.decode(data[:-1] + bytes([data[-1] | 1]))


def test_wire_form_is_122_bits_then_six_zero_bits() -> None:
    data = camf.encode(VALID)
    assert len(data) == 16
    assert int.from_bytes(data, "big") == camf.to_int(VALID) << 6
    assert format(int.from_bytes(data, "big"), "0128b")[:122] == camf.to_bits(VALID)


# -- properties ---------------------------------------------------------------------


@st.composite
def specific_settings(draw: st.DrawFn, hazard: int) -> camf.SpecificSettings:
    subject = draw(st.sampled_from(Subject))
    if subject is Subject.REFINEMENT:
        return Refinement(*(draw(st.integers(0, 7)) for _ in range(5)))
    if subject is Subject.HAZARD_CENTRE:
        return HazardCentre(draw(st.integers(0, 127)), draw(st.integers(0, 127)),
                            draw(st.integers(0, 1)))
    if subject is Subject.SECONDARY_ELLIPSE:
        return SecondaryEllipse(draw(st.integers(0, 3)), draw(st.integers(0, 7)),
                                draw(st.integers(0, 31)), draw(st.integers(0, 31)))
    widths = HazardDetails.widths(hazard)
    values = tuple(draw(st.integers(0, (1 << w) - 1)) for w in widths[:-1])
    return HazardDetails(values, draw(st.integers(0, (1 << widths[-1]) - 1)))


@st.composite
def messages(draw: st.DrawFn) -> CamfMessage:
    hazard = draw(st.integers(1, 113))
    library = draw(st.sampled_from(Library))
    if library is Library.INTERNATIONAL:
        guidance = camf.instructions(draw(st.integers(0, 31)),
                                     draw(st.integers(0, 31).filter(lambda b: b not in {29, 30})))
    else:
        guidance = draw(st.integers(0, 1023))
    major = draw(st.integers(0, 31))
    message = CamfMessage(
        draw(st.sampled_from(MessageType)), draw(st.integers(0, 511)), draw(st.integers(0, 31)),
        hazard, draw(st.sampled_from(Severity)), draw(st.booleans()),
        draw(st.integers(0, camf.MINUTES_PER_WEEK)), draw(st.sampled_from(Duration)), library,
        draw(st.integers(0, 7)), guidance, draw(st.integers(0, 65535)),
        draw(st.integers(0, 131071)), major, draw(st.integers(0, major)),
        draw(st.integers(0, 63)), draw(specific_settings(hazard)))
    refine = message.settings
    assume(not (isinstance(refine, Refinement) and message.latitude == 65535
                and refine.latitude))
    return message


@given(messages())
def test_round_trip_is_exact_and_122_bits(message: CamfMessage) -> None:
    bits = camf.to_bits(message)
    assert len(bits) == 122
    assert camf.to_int(message) < 1 << 122
    assert camf.from_int(camf.to_int(message)) == message
    assert camf.decode(camf.encode(message)) == message


@given(st.integers(0, (1 << 122) - 1))
def test_any_122_bits_decode_exactly_or_are_refused(word: int) -> None:
    try:
        message = camf.from_int(word)
    except CamfError:
        return
    assert camf.to_int(message) == word
