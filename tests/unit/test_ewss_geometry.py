"""Area -> ellipse: the decoded ellipse covers every vertex, circles stay round, and
the over-warning ratio is reported."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.galileo_ewss import camf, geometry
from channels.galileo_ewss.geometry import Coverage, EllipseCodes, Shapes
from channels.galileo_ewss.mapping import with_ellipse

BASE = camf.CamfMessage(camf.MessageType.ALERT, 150, 1, 24, camf.Severity.SEVERE, False, 0,
                        camf.Duration.UNKNOWN, camf.Library.INTERNATIONAL, 1, 0, 0, 0, 0, 0, 0,
                        camf.Refinement())


def through_bits(codes: EllipseCodes) -> camf.Ellipse:
    return camf.ellipse(camf.decode(camf.encode(with_ellipse(BASE, codes))))


def cover(shapes: Shapes, refine: bool = True) -> Coverage:
    return geometry.cover(shapes, through_bits, refine=refine)


def distance_and_bearing(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """Geodesic distance (km) and forward azimuth (degrees clockwise from north) on WGS84,
    from geographiclib -- not PROJ, which geometry.py uses."""
    line = Geodesic.WGS84.Inverse(a[0], a[1], b[0], b[1])
    return float(line["s12"]) / 1000, float(line["azi1"])


def inside(ellipse: camf.Ellipse, point: tuple[float, float]) -> bool:
    """Independent of geometry.py: a point is inside when its geodesic distance from the
    centre is at most the ellipse's radius in its azimuth (the azimuth read clockwise from
    north, as geometry.AZIMUTH_CLOCKWISE_FROM_NORTH says)."""
    assert geometry.AZIMUTH_CLOCKWISE_FROM_NORTH
    distance, bearing = distance_and_bearing((ellipse.latitude, ellipse.longitude), point)
    phi = math.radians(bearing - ellipse.azimuth_deg)
    a, b = ellipse.semi_major_km, ellipse.semi_minor_km
    radius = a * b / math.hypot(b * math.cos(phi), a * math.sin(phi))
    return distance <= radius * (1 + 1e-9) + 1e-9


def closed(points: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    return (*points, points[0])


@st.composite
def polygons(draw: st.DrawFn, near: tuple[float, float] | None = None,
             scale: float | None = None) -> tuple[tuple[float, float], ...]:
    """A random polygon (3-12 vertices, not necessarily simple) within ``scale`` km of
    a centre; both drawn when not given."""
    if near is None:
        near = (draw(st.floats(-70, 70)), draw(st.floats(-179, 179)))
    if scale is None:
        scale = draw(st.floats(0.05, 600))
    centre = geometry.destination(near, draw(st.floats(0, 360)), scale * draw(st.floats(0, 1)))
    count = draw(st.integers(3, 12))
    vertices = [geometry.destination(centre, draw(st.floats(0, 360)),
                                     scale * draw(st.floats(0.01, 1.0)))
                for _ in range(count)]
    return closed(vertices)


@st.composite
def areas(draw: st.DrawFn) -> Shapes:
    """One to three polygons near each other, as the areas of one <info>."""
    near = (draw(st.floats(-70, 70)), draw(st.floats(-179, 179)))
    scale = draw(st.floats(0.05, 600))
    count = draw(st.integers(1, 3))
    return Shapes(polygons=tuple(draw(polygons(near, scale)) for _ in range(count)))


@settings(max_examples=150, deadline=None)
@given(areas(), st.booleans())
def test_decoded_ellipse_contains_every_vertex(area: Shapes, refine: bool) -> None:
    coverage = cover(area, refine)
    decoded = through_bits(coverage.codes)
    assert decoded == coverage.ellipse
    assert decoded.semi_minor_km <= decoded.semi_major_km
    missed = [v for polygon in area.polygons for v in polygon if not inside(decoded, v)]
    assert missed == []


@settings(max_examples=40, deadline=None)
@given(polygons())
def test_axes_are_the_smallest_grid_steps_that_cover(polygon: tuple[tuple[float, float], ...]
                                                     ) -> None:
    coverage = cover(Shapes(polygons=(polygon,)))
    codes, refinement = coverage.codes, coverage.codes.refinement
    assert refinement is not None
    steps = [(i, e) for i in range(32) for e in range(8)]
    steps.sort(key=lambda s: camf.axis_km(*s))
    major = steps.index((codes.semi_major, refinement.semi_major))
    minor = steps.index((codes.semi_minor, refinement.semi_minor))
    smaller = []
    if major > 0 and camf.axis_km(*steps[major - 1]) >= camf.axis_km(*steps[minor]):
        smaller.append((steps[major - 1], steps[minor]))
    if minor > 0:
        smaller.append((steps[major], steps[minor - 1]))
    for (i, ei), (j, ej) in smaller:
        shrunk = EllipseCodes(codes.latitude, codes.longitude, i, j, codes.azimuth,
                              camf.Refinement(refinement.latitude, refinement.longitude, ei, ej))
        assert geometry.uncovered(through_bits(shrunk), list(polygon)), "a smaller one covers"


@pytest.mark.parametrize("radius", [0.1, 2.5, 10.0, 80.0])
def test_a_circle_maps_to_a_circle_that_contains_it(radius: float) -> None:
    centre = (51.9225, 4.47917)
    coverage = cover(Shapes(circles=((centre, radius),)))
    ellipse = coverage.ellipse
    assert ellipse.semi_major_km == ellipse.semi_minor_km
    assert coverage.codes.azimuth == 32  # azimuth 0
    assert all(inside(ellipse, geometry.destination(centre, bearing, radius))
               for bearing in np.linspace(0, 360, 721))
    assert coverage.alert_area_km2 == pytest.approx(math.pi * radius**2, rel=1e-3)
    ratio = coverage.overwarning_ratio
    assert ratio is not None
    assert ratio >= 1
    if radius >= 2.5:  # B1 steps are ~4 % of the radius; the centre's grid shift is ~20 m
        assert ratio < 1.2


def test_long_thin_polygon_reports_its_overwarning_ratio() -> None:
    start = (52.0, 4.5)
    far = geometry.destination(start, 60, 100)
    corners = [start, far, geometry.destination(far, 150, 1), geometry.destination(start, 150, 1)]
    coverage = cover(Shapes(polygons=(closed(corners),)))
    assert coverage.alert_area_km2 == pytest.approx(100, rel=0.01)
    ratio = coverage.overwarning_ratio
    assert ratio is not None
    assert ratio == pytest.approx(coverage.ellipse_area_km2 / coverage.alert_area_km2)
    assert ratio > math.pi / 2  # a rectangle's best ellipse is already pi/2 its area
    assert coverage.ellipse.azimuth_deg == pytest.approx(60, abs=camf.AZIMUTH_STEP)
    assert all(inside(coverage.ellipse, c) for c in corners)


def test_polygons_and_circles_of_one_info_share_one_ellipse() -> None:
    polygon = closed([(51.89, 4.43), (51.89, 4.49), (51.87, 4.49), (51.87, 4.43)])
    circle = ((52.1, 4.3), 3.0)
    coverage = cover(Shapes(polygons=(polygon,), circles=(circle,)))
    assert all(inside(coverage.ellipse, v) for v in polygon)
    assert all(inside(coverage.ellipse, geometry.destination(circle[0], b, circle[1]))
               for b in range(0, 360, 2))


def test_degenerate_areas_are_still_covered() -> None:
    point = (50.0, 5.0)
    line = closed([point, geometry.destination(point, 45, 20), point])
    for shapes in (Shapes(polygons=(closed([point, point, point]),)), Shapes(polygons=(line,))):
        coverage = cover(shapes)
        assert coverage.overwarning_ratio is None  # no area to compare with
        assert all(inside(coverage.ellipse, v) for v in shapes.polygons[0])


def test_across_the_antimeridian() -> None:
    polygon = closed([(-17.0, 179.8), (-17.0, -179.7), (-17.5, -179.7), (-17.5, 179.8)])
    coverage = cover(Shapes(polygons=(polygon,)))
    assert coverage.ellipse.semi_major_km < 60
    assert all(inside(coverage.ellipse, v) for v in polygon)


def test_an_area_larger_than_the_largest_ellipse_is_refused() -> None:
    polygon = closed([(-60.0, -170.0), (60.0, -170.0), (60.0, 170.0), (-60.0, 170.0)])
    with pytest.raises(geometry.CoverageError, match="largest CAMF ellipse"):
        cover(Shapes(polygons=(polygon,)))
    with pytest.raises(geometry.CoverageError, match="no polygon or circle"):
        cover(Shapes())


def test_khachiyan_recovers_a_known_ellipse() -> None:
    angles = np.linspace(0, 2 * math.pi, 50, endpoint=False)
    a, b, tilt = 3.0, 1.0, math.radians(30)
    points = np.column_stack((a * np.cos(angles), b * np.sin(angles)))
    rotation = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
    centre, matrix = geometry.khachiyan(points @ rotation.T + [5.0, -2.0])
    values = np.linalg.eigvalsh(matrix)
    assert centre == pytest.approx([5.0, -2.0], abs=1e-3)
    assert sorted(1 / np.sqrt(values)) == pytest.approx([b, a], rel=1e-3)
