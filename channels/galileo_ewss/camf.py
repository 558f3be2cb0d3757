"""The Common Alert Message Format (CAMF v1.0): 122 bits, fields A1-A18, MSB first.

Stage: channel adapter codec (pure, no I/O). Field order and widths follow the
research note ``shared/specs/ewss-wallet-accessibility.md`` §1.2, where three
independent decoders agree. A ``CamfMessage`` holds the *codes* that go on the
wire; the functions below it turn codes into what they mean (degrees, km).

Every field is checked on the way in and on the way out: a value that does not
fit its field, a hazard code outside 1-113, a minute of week past 10 080, a
reserved List B code -- all raise ``CamfError`` naming the field. Nothing is
clamped: a satellite message that says something other than what was meant is
worse than one that is not sent.

On the wire a message is 16 bytes: the 122 bits MSB first, then 6 zero bits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass
from enum import IntEnum
from typing import ClassVar

from channels.galileo_ewss.tables import AXIS_KM, GUIDANCE_B_RESERVED, HAZARD_DETAIL_LAYOUTS

MESSAGE_BITS = 122
WIRE_BYTES = 16
PAD_BITS = WIRE_BYTES * 8 - MESSAGE_BITS
MINUTES_PER_WEEK = 7 * 24 * 60
SETTINGS_BITS = 15

LATITUDE_STEP = 180 / (2**16 - 1)
"""A12: degrees per latitude code (lat = -90 + code * step), about 306 m."""
LONGITUDE_STEP = 360 / (2**17 - 1)
"""A13: degrees per longitude code (lon = -180 + code * step)."""
AZIMUTH_STEP = 180 / 64
"""A16: degrees per azimuth code (az = -90 + code * step)."""


class CamfError(ValueError):
    """A field value CAMF cannot carry (encoding) or bits that are not valid CAMF."""


class MessageType(IntEnum):
    TEST = 0
    ALERT = 1
    UPDATE = 2
    ALL_CLEAR = 3


class Severity(IntEnum):
    UNKNOWN = 0
    MODERATE = 1
    SEVERE = 2
    EXTREME = 3


class Duration(IntEnum):
    UNKNOWN = 0
    UNDER_6_H = 1
    FROM_6_TO_12_H = 2
    FROM_12_TO_24_H = 3


class Library(IntEnum):
    INTERNATIONAL = 0  # maintained by the EU; A11 = List A code, List B code
    COUNTRY = 1  # A11 is country-defined


class Subject(IntEnum):
    """A17: what the 15 bits of A18 carry."""

    REFINEMENT = 0  # B1: improved resolution of the main ellipse
    HAZARD_CENTRE = 1  # B2: position of the hazard when it is not the ellipse centre
    SECONDARY_ELLIPSE = 2  # B3
    HAZARD_DETAILS = 3  # B4: quantitative, hazard-dependent D-fields


@dataclass(frozen=True)
class Refinement:
    """B1: eighths of a grid step added to the centre, eighths of the gap to the next
    smaller table entry taken off each semi-axis."""

    subject: ClassVar[Subject] = Subject.REFINEMENT
    latitude: int = 0
    longitude: int = 0
    semi_major: int = 0
    semi_minor: int = 0
    reserved: int = 0

    @classmethod
    def widths(cls, _hazard: int) -> tuple[int, ...]:
        return (3, 3, 3, 3, 3)


@dataclass(frozen=True)
class HazardCentre:
    """B2: where the hazard is, as latitude/longitude offsets from the ellipse centre."""

    subject: ClassVar[Subject] = Subject.HAZARD_CENTRE
    latitude: int
    longitude: int
    reserved: int = 0

    @classmethod
    def widths(cls, _hazard: int) -> tuple[int, ...]:
        return (7, 7, 1)


@dataclass(frozen=True)
class SecondaryEllipse:
    """B3: a second ellipse, shifted and scaled from the main one, with its own
    List C instruction."""

    subject: ClassVar[Subject] = Subject.SECONDARY_ELLIPSE
    shift: int
    factor: int
    bearing: int
    guidance: int

    @classmethod
    def widths(cls, _hazard: int) -> tuple[int, ...]:
        return (2, 3, 5, 5)


@dataclass(frozen=True)
class HazardDetails:
    """B4: the D-fields of the message's hazard (``tables.HAZARD_DETAIL_LAYOUTS``) in
    order, then the reserved rest. A hazard without D-fields has only ``reserved``."""

    subject: ClassVar[Subject] = Subject.HAZARD_DETAILS
    values: tuple[int, ...] = ()
    reserved: int = 0

    @classmethod
    def widths(cls, hazard: int) -> tuple[int, ...]:
        layout = tuple(bits for _name, bits in HAZARD_DETAIL_LAYOUTS.get(hazard, ()))
        return (*layout, SETTINGS_BITS - sum(layout))

    def parts(self) -> tuple[int, ...]:
        return (*self.values, self.reserved)


SpecificSettings = Refinement | HazardCentre | SecondaryEllipse | HazardDetails
_SETTINGS_TYPES: dict[Subject, type[SpecificSettings]] = {
    Subject.REFINEMENT: Refinement, Subject.HAZARD_CENTRE: HazardCentre,
    Subject.SECONDARY_ELLIPSE: SecondaryEllipse, Subject.HAZARD_DETAILS: HazardDetails}
_FROM_PARTS: dict[Subject, Callable[[tuple[int, ...]], SpecificSettings]] = {
    Subject.REFINEMENT: lambda p: Refinement(*p),
    Subject.HAZARD_CENTRE: lambda p: HazardCentre(*p),
    Subject.SECONDARY_ELLIPSE: lambda p: SecondaryEllipse(*p),
    Subject.HAZARD_DETAILS: lambda p: HazardDetails(p[:-1], p[-1]),
}


@dataclass(frozen=True)
class CamfMessage:
    """The 18 CAMF fields as wire codes (A1 ... A18)."""

    message_type: MessageType  # A1
    country: int  # A2: index into the ISO 3166-1 list, 500-502 for organisations
    provider: int  # A3
    hazard: int  # A4: 1-113
    severity: Severity  # A5
    onset_next_week: bool  # A6
    onset_minute: int  # A7: 1-based minute of the week, 0 = not used
    duration: Duration  # A8
    library: Library  # A9
    library_version: int  # A10
    instructions: int  # A11: 10 bits; List A code << 5 | List B code when international
    latitude: int  # A12
    longitude: int  # A13
    semi_major: int  # A14: index into AXIS_KM
    semi_minor: int  # A15
    azimuth: int  # A16
    settings: SpecificSettings  # A17 (from its type) and A18

    @property
    def guidance_a(self) -> int:
        return self.instructions >> 5

    @property
    def guidance_b(self) -> int:
        return self.instructions & 0x1F


def instructions(list_a: int, list_b: int) -> int:
    """A11 for the international library: a List A and a List B code (0 = none)."""
    _fits("A11 List A", list_a, 5)
    _fits("A11 List B", list_b, 5)
    return list_a << 5 | list_b


_LAYOUT: tuple[tuple[str, int], ...] = (
    ("A1 message type", 2), ("A2 country", 9), ("A3 provider", 5), ("A4 hazard", 7),
    ("A5 severity", 2), ("A6 onset week", 1), ("A7 onset minute", 14), ("A8 duration", 2),
    ("A9 library", 1), ("A10 library version", 3), ("A11 instructions", 10),
    ("A12 latitude", 16), ("A13 longitude", 17), ("A14 semi-major axis", 5),
    ("A15 semi-minor axis", 5), ("A16 azimuth", 6), ("A17 subject", 2),
    ("A18 specific settings", SETTINGS_BITS),
)
assert sum(bits for _name, bits in _LAYOUT) == MESSAGE_BITS  # noqa: S101 - import-time proof


def _fits(name: str, value: int, bits: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CamfError(f"{name}: {value!r} is not an integer")
    if not 0 <= value < 1 << bits:
        raise CamfError(f"{name}: {value} does not fit {bits} bits (0-{(1 << bits) - 1})")


def _pack(parts: tuple[int, ...], widths: tuple[int, ...], name: str) -> int:
    if len(parts) != len(widths):
        raise CamfError(f"{name}: {len(parts)} values for {len(widths)} sub-fields")
    word = 0
    for index, (value, bits) in enumerate(zip(parts, widths, strict=True)):
        _fits(f"{name} part {index + 1}", value, bits)
        word = word << bits | value
    return word


def _unpack(word: int, widths: tuple[int, ...]) -> tuple[int, ...]:
    parts = []
    for bits in reversed(widths):
        parts.append(word & ((1 << bits) - 1))
        word >>= bits
    return tuple(reversed(parts))


def _settings_parts(settings: SpecificSettings) -> tuple[int, ...]:
    if isinstance(settings, HazardDetails):
        return settings.parts()
    return tuple(astuple(settings))


def _check_meaning(message: CamfMessage) -> None:
    """The rules beyond field widths."""
    if not 1 <= message.hazard <= 113:
        raise CamfError(f"A4 hazard: {message.hazard} is not a hazard code (1-113)")
    if message.onset_minute > MINUTES_PER_WEEK:
        raise CamfError(f"A7 onset minute: {message.onset_minute} is past the end of the "
                        f"week ({MINUTES_PER_WEEK})")
    if message.semi_minor > message.semi_major:
        raise CamfError(f"A15 semi-minor axis: index {message.semi_minor} exceeds the "
                        f"semi-major axis index {message.semi_major}")
    if message.library is Library.INTERNATIONAL and message.guidance_b in GUIDANCE_B_RESERVED:
        raise CamfError(f"A11 List B: code {message.guidance_b} is reserved")
    refine = message.settings
    if isinstance(refine, Refinement) and (
            message.latitude * 8 + refine.latitude > (2**16 - 1) * 8):
        raise CamfError("A18 B1 latitude refinement: the centre would lie north of 90°")


def to_int(message: CamfMessage) -> int:
    """The message as a 122-bit integer (A1 in the most significant bits)."""
    if not isinstance(message.settings, tuple(_SETTINGS_TYPES.values())):
        raise CamfError(f"A18: {message.settings!r} is not a specific-settings layout")
    values = (
        message.message_type, message.country, message.provider, message.hazard,
        message.severity, int(message.onset_next_week), message.onset_minute,
        message.duration, message.library, message.library_version, message.instructions,
        message.latitude, message.longitude, message.semi_major, message.semi_minor,
        message.azimuth, message.settings.subject,
        _pack(_settings_parts(message.settings), message.settings.widths(message.hazard),
              "A18 specific settings"),
    )
    word = 0
    for (name, bits), value in zip(_LAYOUT, values, strict=True):
        _fits(name, int(value) if isinstance(value, IntEnum) else value, bits)
        word = word << bits | int(value)
    _check_meaning(message)
    return word


def from_int(word: int) -> CamfMessage:
    """A 122-bit integer back into fields; ``CamfError`` when it is not valid CAMF."""
    if not 0 <= word < 1 << MESSAGE_BITS:
        raise CamfError(f"not a {MESSAGE_BITS}-bit value")
    codes = _unpack(word, tuple(bits for _name, bits in _LAYOUT))
    subject = Subject(codes[16])
    kind = _SETTINGS_TYPES[subject]
    hazard = codes[3]
    parts = _unpack(codes[17], kind.widths(hazard))
    settings = _FROM_PARTS[subject](parts)
    message = CamfMessage(
        MessageType(codes[0]), codes[1], codes[2], hazard, Severity(codes[4]), bool(codes[5]),
        codes[6], Duration(codes[7]), Library(codes[8]), codes[9], codes[10], codes[11],
        codes[12], codes[13], codes[14], codes[15], settings)
    _check_meaning(message)
    return message


def to_bits(message: CamfMessage) -> str:
    """The 122 bits as a string of 0 and 1, A1 first."""
    return format(to_int(message), f"0{MESSAGE_BITS}b")


def encode(message: CamfMessage) -> bytes:
    """The 16 wire bytes: 122 bits MSB first, then 6 zero bits."""
    return (to_int(message) << PAD_BITS).to_bytes(WIRE_BYTES, "big")


def decode(data: bytes) -> CamfMessage:
    if len(data) != WIRE_BYTES:
        raise CamfError(f"a CAMF message is {WIRE_BYTES} bytes, got {len(data)}")
    word = int.from_bytes(data, "big")
    if word & ((1 << PAD_BITS) - 1):
        raise CamfError(f"the {PAD_BITS} padding bits after the message are not zero")
    return from_int(word >> PAD_BITS)


# -- what the codes mean -----------------------------------------------------------


def latitude(code: int) -> float:
    return -90 + code * LATITUDE_STEP


def longitude(code: int) -> float:
    return -180 + code * LONGITUDE_STEP


def azimuth(code: int) -> float:
    return -90 + code * AZIMUTH_STEP


def axis_km(index: int, eighths: int = 0) -> float:
    """A semi-axis length: the table entry, less ``eighths``/8 of the gap to the entry
    below (B1; the gap below index 0 is the entry itself)."""
    gap = AXIS_KM[index] - (AXIS_KM[index - 1] if index else 0.0)
    return AXIS_KM[index] - eighths / 8 * gap


def centre_offset(code: int) -> float:
    """B2 C5/C6: degrees from the ellipse centre to the hazard, within about ±10
    (zero itself is not representable)."""
    k = code if code <= 63 else code + 1
    return -10 + k * 20 / 128


def secondary_scale(code: int) -> float:
    """B3 C8: the secondary ellipse's axes as a multiple of the main ellipse's."""
    return (code + 1) * 0.25


def secondary_bearing(code: int) -> float:
    """B3 C9: degrees along which the secondary ellipse's centre is shifted."""
    return code * 11.25


def epicentre_bearing(code: int) -> float:
    """B4 D3 (earthquake): degrees from the ellipse centre to the epicentre."""
    return code * 22.5


@dataclass(frozen=True)
class Ellipse:
    """The main ellipse a receiver reconstructs: centre in degrees, semi-axes in km,
    azimuth of the semi-major axis in degrees (reference: ``geometry.AZIMUTH_*``)."""

    latitude: float
    longitude: float
    semi_major_km: float
    semi_minor_km: float
    azimuth_deg: float


def ellipse(message: CamfMessage) -> Ellipse:
    """The main ellipse, with the B1 refinement applied when the message carries it."""
    refine = message.settings if isinstance(message.settings, Refinement) else Refinement()
    return Ellipse(
        latitude(message.latitude) + refine.latitude * LATITUDE_STEP / 8,
        (longitude(message.longitude) + refine.longitude * LONGITUDE_STEP / 8 + 180) % 360
        - 180,
        axis_km(message.semi_major, refine.semi_major),
        axis_km(message.semi_minor, refine.semi_minor),
        azimuth(message.azimuth))
