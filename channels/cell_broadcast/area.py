"""The CAP area as Warning Area Coordinates (device-based geofencing).

Stage: pure encoding of the cell broadcast adapter. The format is the one
ATIS-0700041 defines and Android's cell broadcast service parses
(``GsmSmsCbMessage.parseWarningAreaCoordinates``): a 2-octet little-endian
length, then TLVs, each a 4-bit type, a 10-bit length in octets (header
included) and 2 spare bits, read most significant bit first. Type 2 is a
polygon (its vertices, then zero bits to the octet), type 3 a circle (centre,
then a 20-bit radius in km/64). A coordinate is 44 bits: 22 bits of latitude,
floor((lat + 90) / 180 * 2^22), then 22 bits of longitude,
floor((lon + 180) / 360 * 2^22). The SBc-AP IE is at most 1,024 octets; a
polygon too detailed for that is simplified with shapely, doubling the
tolerance from 1e-5 degrees until it fits, and the tolerance is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shapely.geometry import Polygon as ShapelyPolygon

from router.channel import Alert

MAX_OCTETS = 1024
TYPE_POLYGON = 2
TYPE_CIRCLE = 3
_SCALE = 1 << 22
_FIRST_TOLERANCE_DEG = 1e-5
_MAX_RADIUS_UNITS = (1 << 20) - 1

Point = tuple[float, float]  # (latitude, longitude), CAP's order


@dataclass(frozen=True)
class Shape:
    kind: str  # "polygon" or "circle"
    points: tuple[Point, ...]
    radius_km: float = 0.0


@dataclass(frozen=True)
class WarningArea:
    """What the adapter keeps of the CAP area for a CBC that geofences."""

    coordinates: bytes | None
    """The encoded Warning Area Coordinates, or None when there is no polygon/circle
    or they cannot fit 1,024 octets even simplified."""
    tolerance_deg: float = 0.0
    """The simplification applied (0: the shapes as the alert drew them)."""
    cells: tuple[str, ...] = ()
    note: str = ""

    def as_detail(self) -> dict[str, object]:
        return {"wac_octets": len(self.coordinates) if self.coordinates else 0,
                "simplification_tolerance_deg": self.tolerance_deg,
                "cells": list(self.cells), **({"note": self.note} if self.note else {})}


class _Bits:
    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def put(self, value: int, width: int) -> None:
        self.value = (self.value << width) | (value & ((1 << width) - 1))
        self.length += width

    def pad(self) -> None:
        self.put(0, -self.length % 8)

    def octets(self) -> bytes:
        return self.value.to_bytes(self.length // 8, "big")


def quantise(lat: float, lon: float) -> tuple[int, int]:
    return (min(_SCALE - 1, max(0, int((lat + 90) / 180 * _SCALE))),
            min(_SCALE - 1, max(0, int((lon + 180) / 360 * _SCALE))))


def _tlv(kind: int, body: _Bits) -> bytes:
    body.pad()
    payload = body.octets()
    head = _Bits()
    head.put(kind, 4)
    head.put(len(payload) + 2, 10)
    head.put(0, 2)
    return head.octets() + payload


def _coordinates(bits: _Bits, point: Point) -> None:
    lat, lon = quantise(*point)
    bits.put(lat, 22)
    bits.put(lon, 22)


def encode_shape(shape: Shape) -> bytes:
    bits = _Bits()
    if shape.kind == "circle":
        _coordinates(bits, shape.points[0])
        bits.put(min(_MAX_RADIUS_UNITS, round(shape.radius_km * 64)), 20)
        return _tlv(TYPE_CIRCLE, bits)
    for point in shape.points:
        _coordinates(bits, point)
    return _tlv(TYPE_POLYGON, bits)


def encode(shapes: Sequence[Shape]) -> bytes:
    """The length-prefixed TLV sequence for ``shapes``."""
    body = b"".join(encode_shape(shape) for shape in shapes)
    return len(body).to_bytes(2, "little") + body


def _open_ring(points: Sequence[Point]) -> tuple[Point, ...]:
    """CAP closes a polygon by repeating the first vertex; the TLV does not need it."""
    ring = tuple(points)
    return ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring


def _simplified(shape: Shape, tolerance: float) -> Shape:
    if shape.kind != "polygon" or tolerance == 0:
        return shape
    simple = ShapelyPolygon(shape.points).simplify(tolerance, preserve_topology=True)
    if simple.is_empty or not isinstance(simple, ShapelyPolygon):
        return shape
    return Shape("polygon", _open_ring([(x, y) for x, y in simple.exterior.coords]))


def shapes_of(alert: Alert) -> list[Shape]:
    shapes: list[Shape] = []
    for info in alert.infos[:1]:  # every <info> of one alert describes the same area
        for area in info.areas:
            shapes += [Shape("polygon", _open_ring(p)) for p in area.polygons]
            shapes += [Shape("circle", (c.center,), c.radius_km) for c in area.circles]
    return shapes


def warning_area(alert: Alert, cell_lists: dict[str, tuple[str, ...]]) -> WarningArea:
    cells = tuple(dict.fromkeys(
        cell for info in alert.infos[:1] for area in info.areas for code in area.geocodes
        for cell in cell_lists.get(f"{code.value_name}={code.value}", ())))
    shapes = shapes_of(alert)
    if not shapes:
        return WarningArea(None, cells=cells, note="no polygon or circle in the alert")
    tolerance = 0.0
    for _ in range(40):  # 1e-5 * 2^40 degrees is far beyond any map: bounded
        encoded = encode([_simplified(shape, tolerance) for shape in shapes])
        if len(encoded) <= MAX_OCTETS:
            return WarningArea(encoded, tolerance, cells)
        tolerance = tolerance * 2 if tolerance else _FIRST_TOLERANCE_DEG
    return WarningArea(None, tolerance, cells,
                       note=f"{len(shapes)} shapes do not fit {MAX_OCTETS} octets")
