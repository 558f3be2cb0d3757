"""The alert area as the phone receives it: simplified polygons and circles.

Stage: channel adapter (pure). A national alert can carry polygons of thousands
of vertices; a push message has room for about 4 KB. Each polygon is reduced
to at most ``max_vertices`` vertices in a way that never shrinks it: the
polygon is grown by a tolerance, then simplified by the same tolerance
(Douglas-Peucker moves the boundary by at most that much), so every point of
the original area stays inside -- the WEA 3.0 rule that the whole target must
be reached, with a small overshoot. The tolerance starts near WEA's 0.1 mile
and doubles until the polygon fits; the overshoot used is sent as
``margin_deg`` so a device can show it was generous.

Coordinates stay in CAP's order, (latitude, longitude), in degrees.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shapely import Polygon as ShapelyPolygon

from router.channel import Alert

Polygon = tuple[tuple[float, float], ...]
"""CAP's polygon as ``Info.areas`` holds it: (latitude, longitude) pairs."""

START_TOLERANCE_DEG = 0.0005  # about 55 m of latitude
MAX_DOUBLINGS = 16


def _to_shape(polygon: Polygon) -> ShapelyPolygon:
    return ShapelyPolygon([(lon, lat) for lat, lon in polygon])


def _from_shape(shape: Any) -> list[list[float]]:
    hull = shape if isinstance(shape, ShapelyPolygon) else shape.convex_hull
    return [[round(lat, 5), round(lon, 5)] for lon, lat in hull.exterior.coords]


def simplify(polygon: Polygon, max_vertices: int) -> tuple[list[list[float]], float]:
    """``polygon`` with at most ``max_vertices`` vertices (closing vertex included) that
    contains the original, and the margin in degrees it may overshoot by."""
    if len(polygon) <= max_vertices:
        return [[lat, lon] for lat, lon in polygon], 0.0
    shape = _to_shape(polygon)
    if not shape.is_valid:
        shape = shape.buffer(0)
    tolerance = START_TOLERANCE_DEG
    for _ in range(MAX_DOUBLINGS):
        grown: Any = shape.buffer(tolerance * 1.01, quad_segs=2).simplify(tolerance)
        if not isinstance(grown, ShapelyPolygon):  # parts of a self-touching polygon
            grown = grown.convex_hull
        if len(grown.exterior.coords) <= max_vertices:
            return _from_shape(grown), round(2 * tolerance, 6)
        tolerance *= 2
    envelope = shape.envelope  # a huge or degenerate area: its bounding box still covers it
    return _from_shape(envelope), round(2 * tolerance, 6)


def _unique_areas(alert: Alert) -> Iterable[Any]:
    """Each area once, although every language's ``<info>`` repeats the same ones."""
    seen: set[tuple[Any, ...]] = set()
    for info in alert.infos:
        for area in info.areas:
            key = (area.polygons, area.circles)
            if key not in seen:
                seen.add(key)
                yield area


def area_document(alert: Alert, max_vertices: int) -> dict[str, Any]:
    """The ``area`` member: polygons, circles, descriptions and the margin used.

    Geocodes are not sent: a phone cannot test a geocode against its position
    without a gazetteer. An alert with geocodes only has no shapes, and the
    device shows it everywhere (its documented fallback).
    """
    polygons: list[list[list[float]]] = []
    circles: list[dict[str, Any]] = []
    descriptions: list[str] = []
    margin = 0.0
    for area in _unique_areas(alert):
        descriptions.append(area.area_desc)
        for polygon in area.polygons:
            points, used = simplify(polygon, max_vertices)
            polygons.append(points)
            margin = max(margin, used)
        circles += [{"center": [c.center[0], c.center[1]], "radius_km": c.radius_km}
                    for c in area.circles]
    return {"desc": descriptions, "polygons": polygons, "circles": circles,
            "margin_deg": margin}
