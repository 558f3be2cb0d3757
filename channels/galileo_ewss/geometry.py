"""CAP polygons and circles -> the one CAMF ellipse that covers them all.

Stage: channel adapter geometry (pure, no I/O). CAMF targets a single ellipse
(centre, two semi-axes from a 32-entry table, azimuth), so everything an ``<info>``
covers must fit inside it. The steps (research note §1.7, a proposal no source
contradicts):

1. project every polygon vertex, and every circle as the polygon circumscribing it,
   into an azimuthal-equidistant plane (km) on the WGS84 ellipsoid centred on the
   shapes;
2. fit the minimum-area enclosing ellipse of their convex hull (Khachiyan's
   algorithm; the principal axes of the points when the hull is degenerate);
3. quantise **outward**: the centre and azimuth to the nearest grid point, then,
   re-projected around the decoded centre, the pair of representable semi-axes
   with the smallest area that still covers every point;
4. verify by decoding the bits and checking every original vertex (and every
   vertex of every circumscribing polygon) lies inside; if not, grow the axes a
   step and try again; if 2 500 km cannot cover it, give up.

The ratio of the ellipse's area to the alert's area is reported, because that is
how many people outside the danger zone a satellite warning also reaches.

Everything is on the WGS84 ellipsoid, because that is where a GNSS receiver puts
itself: CAP coordinates are WGS 84, a CAP circle's radius is a geodesic distance,
and a point is *inside* the decoded ellipse when, at geodesic distance s and
forward azimuth alpha from the decoded centre, (s cos(alpha - theta) / a)^2 +
(s sin(alpha - theta) / b)^2 <= 1 (theta: the A16 azimuth). How a real receiver
decides "inside" is in no source the research note found (UNVERIFIED); this
geodesic polar form is exact in distance and bearing from the centre, the two
things the message states. An earlier version worked on a sphere of mean radius:
up to ~0.3 % off in distance, which left vertices of real areas outside by up to
127 m on the ellipsoid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod

from channels.galileo_ewss import camf
from channels.galileo_ewss.tables import AXIS_KM

Point = tuple[float, float]  # (latitude, longitude) in degrees, CAP's order
Array = npt.NDArray[np.float64]

WGS84: Final = Geod(ellps="WGS84")
"""The ellipsoid a GNSS receiver positions itself on; every distance and bearing here
is a geodesic on it (PROJ's implementation of Karney's algorithms)."""
CIRCLE_SEGMENTS: Final = 32
"""Sides of the polygon drawn *around* a CAP circle (so covering it covers the circle)."""
AZIMUTH_CLOCKWISE_FROM_NORTH: Final = True
"""A16's reference direction. UNVERIFIED: no source the research note found (§1.2)
says whether the azimuth of the semi-major axis is measured clockwise from north or
counter-clockwise from east. Tocsin assumes clockwise from north (the navigation
convention); set False for counter-clockwise from east. Both the encoder and the
verification read this one constant, so a correction changes both together."""
_EPSILON: Final = 1e-9
_MAX_GROWTH_STEPS: Final = 64
_KHACHIYAN_TOLERANCE: Final = 1e-3
_KHACHIYAN_MAX_ITERATIONS: Final = 2000


class CoverageError(ValueError):
    """The shapes cannot be covered by any CAMF ellipse (or there are no shapes)."""


@dataclass(frozen=True)
class Shapes:
    """What one ``<info>`` covers: polygons (closed vertex lists) and circles."""

    polygons: tuple[tuple[Point, ...], ...] = ()
    circles: tuple[tuple[Point, float], ...] = ()  # (centre, radius in km)

    def outline(self) -> list[Point]:
        """Every polygon vertex and every vertex of each circle's circumscribing polygon."""
        points = [vertex for polygon in self.polygons for vertex in polygon]
        for centre, radius in self.circles:
            reach = radius / math.cos(math.pi / CIRCLE_SEGMENTS)
            points += [destination(centre, 360 * k / CIRCLE_SEGMENTS, reach)
                       for k in range(CIRCLE_SEGMENTS)]
        return points


@dataclass(frozen=True)
class EllipseCodes:
    """A12-A16 and the B1 refinement (None: no refinement)."""

    latitude: int
    longitude: int
    semi_major: int
    semi_minor: int
    azimuth: int
    refinement: camf.Refinement | None


@dataclass(frozen=True)
class Coverage:
    codes: EllipseCodes
    ellipse: camf.Ellipse
    ellipse_area_km2: float
    alert_area_km2: float

    @property
    def overwarning_ratio(self) -> float | None:
        """Ellipse area / alert area; None when the alert has no area (a line, a point)."""
        if self.alert_area_km2 <= 0:
            return None
        return self.ellipse_area_km2 / self.alert_area_km2


# -- the ellipsoid and the plane --------------------------------------------------------


def destination(start: Point, bearing_deg: float, distance_km: float) -> Point:
    """The point ``distance_km`` from ``start`` along ``bearing_deg`` (a WGS84 geodesic)."""
    lon, lat, _back = WGS84.fwd(start[1], start[0], bearing_deg, distance_km * 1000)
    return float(lat), (float(lon) + 540) % 360 - 180


@dataclass(frozen=True)
class Plane:
    """Azimuthal-equidistant plane around ``origin`` on the WGS84 ellipsoid (geodesic
    polar coordinates): a point at geodesic distance s and forward azimuth alpha from
    the origin sits at x = s sin(alpha) east, y = s cos(alpha) north, in km. Distance
    and bearing from the origin are exact, which is what the inside-test needs."""

    origin: Point

    def forward(self, points: Sequence[Point]) -> Array:
        coords = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        count = len(coords)
        azimuths, _back, metres = WGS84.inv(np.full(count, self.origin[1]),
                                            np.full(count, self.origin[0]),
                                            coords[:, 1], coords[:, 0])
        km, alpha = np.asarray(metres) / 1000, np.radians(np.asarray(azimuths))
        return np.column_stack((km * np.sin(alpha), km * np.cos(alpha)))

    def inverse(self, x: float, y: float) -> Point:
        rho = math.hypot(x, y)
        if rho < 1e-12:
            return self.origin
        return destination(self.origin, math.degrees(math.atan2(x, y)), rho)


def spherical_centre(points: Sequence[Point]) -> Point:
    """The normalised mean of the points as unit vectors (safe across the antimeridian)."""
    coords = np.radians(np.asarray(points, dtype=np.float64))
    vectors = np.column_stack((np.cos(coords[:, 0]) * np.cos(coords[:, 1]),
                               np.cos(coords[:, 0]) * np.sin(coords[:, 1]),
                               np.sin(coords[:, 0])))
    x, y, z = vectors.mean(axis=0)
    return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))


# -- the continuous fit ---------------------------------------------------------------


def _hull(xy: Array) -> Array:
    hull = shapely.MultiPoint(xy).convex_hull
    if isinstance(hull, shapely.Polygon):
        return np.asarray(hull.exterior.coords[:-1], dtype=np.float64)
    return np.asarray(hull.coords, dtype=np.float64)


def khachiyan(points: Array) -> tuple[Array, Array]:
    """Minimum-volume enclosing ellipse of 2-D ``points``: centre c and matrix A with
    (p - c)^T A (p - c) <= 1 to the tolerance (callers rescale to cover exactly).

    Khachiyan's algorithm with the Todd-Yildirim away steps (weight moves off the
    point that needs it least as well as onto the one that needs it most), which
    turns thousands of plain steps into tens. It stops when every point lies within
    (d + 1)(1 ± tolerance) in the lifted metric -- the bound that makes the area
    near-optimal -- or after a fixed number of steps (the ellipse is still valid
    then, only less tight). ``numpy.linalg.LinAlgError`` for collinear points."""
    count, dims = points.shape
    n = dims + 1
    lifted = np.vstack((points.T, np.ones(count)))
    weights = np.full(count, 1.0 / count)
    for _ in range(_KHACHIYAN_MAX_ITERATIONS):
        scatter = (lifted * weights) @ lifted.T
        distances = np.einsum("ij,ij->j", lifted, np.linalg.inv(scatter) @ lifted)
        j = int(np.argmax(distances))
        k = int(np.argmin(np.where(weights > 0, distances, np.inf)))
        if (distances[j] <= n * (1 + _KHACHIYAN_TOLERANCE)
                and distances[k] >= n * (1 - _KHACHIYAN_TOLERANCE)):
            break
        if distances[j] - n >= n - distances[k]:
            step = (distances[j] - n) / (n * (distances[j] - 1))
            weights *= 1 - step
            weights[j] += step
        else:
            step = min((n - distances[k]) / (n * (distances[k] - 1)),
                       weights[k] / (1 - weights[k]))
            weights *= 1 + step
            weights[k] -= step
            weights[k] = max(weights[k], 0.0)
    centre = points.T @ weights
    covariance = (points.T * weights) @ points - np.outer(centre, centre)
    return centre, np.linalg.inv(covariance) / dims


def _principal_fit(points: Array) -> tuple[Array, float]:
    """Centre and major-axis angle (radians from +x) of degenerate points: the middle
    of their extent along their principal direction."""
    mean = points.mean(axis=0)
    spread = points - mean
    if not np.any(spread):
        return mean, 0.0
    _values, vectors = np.linalg.eigh(spread.T @ spread)
    major = vectors[:, 1]
    along = spread @ major
    across = spread @ np.array([-major[1], major[0]])
    middle = (along.max() + along.min()) / 2 * major + (across.max() + across.min()) / 2 * (
        np.array([-major[1], major[0]]))
    return mean + middle, math.atan2(major[1], major[0])


def _fit(hull: Array) -> tuple[Array, float]:
    """Centre (km) and major-axis angle (radians from +x, counter-clockwise)."""
    if len(hull) < 3 or shapely.Polygon(hull).area < 1e-9:
        return _principal_fit(hull)
    try:
        centre, matrix = khachiyan(hull)
    except np.linalg.LinAlgError:
        return _principal_fit(hull)
    values, vectors = np.linalg.eigh(matrix)
    major = vectors[:, int(np.argmin(values))]
    return centre, math.atan2(major[1], major[0])


# -- the grid ------------------------------------------------------------------------


def to_azimuth(angle_rad: float) -> float:
    """A plane angle (counter-clockwise from east) as a CAMF azimuth in [-90, 90)."""
    degrees = 90 - math.degrees(angle_rad) if AZIMUTH_CLOCKWISE_FROM_NORTH else math.degrees(
        angle_rad)
    return (degrees + 90) % 180 - 90


def from_azimuth(azimuth_deg: float) -> float:
    """A CAMF azimuth as a plane angle in radians, counter-clockwise from east."""
    return math.radians(90 - azimuth_deg if AZIMUTH_CLOCKWISE_FROM_NORTH else azimuth_deg)


@dataclass(frozen=True)
class _Grid:
    """The semi-axis lengths a message can say, smallest first, with their codes."""

    lengths: Array
    codes: tuple[tuple[int, int], ...]  # (table index, B1 eighths)

    @classmethod
    def build(cls, refine: bool) -> _Grid:
        pairs = sorted(((camf.axis_km(i, e), (i, e)) for i in range(len(AXIS_KM))
                        for e in (range(8) if refine else (0,))), key=lambda item: item[0])
        return cls(np.array([length for length, _ in pairs]),
                   tuple(code for _, code in pairs))

    def at_least(self, length: float) -> int:
        """The position of the smallest length >= ``length`` (len(self) when none)."""
        return int(np.searchsorted(self.lengths, length, side="left"))


_GRIDS = {refine: _Grid.build(refine) for refine in (False, True)}


def _centre_codes(point: Point, refine: bool) -> tuple[int, int, int, int]:
    """A12, A13 and the B1 eighths of the grid point nearest ``point``."""
    eighths = 8 if refine else 1
    lat_k = min(round((point[0] + 90) / (camf.LATITUDE_STEP / eighths)), 65535 * eighths)
    lon_k = min(round(((point[1] + 180) % 360) / (camf.LONGITUDE_STEP / eighths)),
                131071 * eighths)
    return lat_k // eighths, lon_k // eighths, lat_k % eighths, lon_k % eighths


def _axes_for(uv: Array, grid: _Grid, round_only: bool) -> tuple[int, int] | None:
    """The grid positions (major, minor) of the smallest-area ellipse covering ``uv``
    (points in the ellipse's own axes), or None when nothing on the grid covers them."""
    u2, v2 = uv[:, 0] ** 2, uv[:, 1] ** 2
    if round_only:
        position = grid.at_least(math.sqrt(float((u2 + v2).max())) * (1 + _EPSILON))
        return None if position >= len(grid.lengths) else (position, position)
    b = grid.lengths[:, None]
    room = 1 - v2[None, :] / (b * b)
    feasible = room.min(axis=1) > _EPSILON
    if not feasible.any():
        return None
    safe_room = np.where(room > _EPSILON, room, 1.0)
    a_needed = np.sqrt((u2[None, :] / safe_room).max(axis=1)) * (1 + _EPSILON)
    majors = np.searchsorted(grid.lengths, np.maximum(a_needed, grid.lengths), side="left")
    usable = feasible & (majors < len(grid.lengths))
    if not usable.any():
        return None
    areas = np.where(usable, grid.lengths[np.minimum(majors, len(grid.lengths) - 1)]
                     * grid.lengths, np.inf)
    minor = int(np.argmin(areas))
    return int(majors[minor]), minor


def _in_axes(plane: Plane, points: Sequence[Point], azimuth_deg: float) -> Array:
    xy = plane.forward(points)
    angle = from_azimuth(azimuth_deg)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    return np.column_stack((xy[:, 0] * cos_a + xy[:, 1] * sin_a,
                            -xy[:, 0] * sin_a + xy[:, 1] * cos_a))


def uncovered(ellipse: camf.Ellipse, points: Sequence[Point]) -> list[Point]:
    """The points outside ``ellipse`` (a decoded CAMF ellipse); empty when it covers."""
    if not points:
        return []
    uv = _in_axes(Plane((ellipse.latitude, ellipse.longitude)), points, ellipse.azimuth_deg)
    inside = (uv[:, 0] / ellipse.semi_major_km) ** 2 + (uv[:, 1] / ellipse.semi_minor_km) ** 2
    return [p for p, value in zip(points, inside, strict=True) if value > 1.0]


def ellipse_outline(ellipse: camf.Ellipse, segments: int = 72) -> list[Point]:
    """The decoded ellipse as a closed ring of (lat, lon) points, in the same plane and
    axes as ``uncovered`` tests against, so a map draws the area receivers are told."""
    plane = Plane((ellipse.latitude, ellipse.longitude))
    angle = from_azimuth(ellipse.azimuth_deg)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    ring = []
    for k in range(segments):
        theta = 2 * math.pi * k / segments
        u, v = ellipse.semi_major_km * math.cos(theta), ellipse.semi_minor_km * math.sin(theta)
        ring.append(plane.inverse(u * cos_a - v * sin_a, u * sin_a + v * cos_a))
    return [*ring, ring[0]]


# -- putting it together -------------------------------------------------------------


Decoder = Callable[[EllipseCodes], camf.Ellipse]


def cover(shapes: Shapes, decode: Decoder, *, refine: bool = True) -> Coverage:
    """The smallest grid ellipse that covers ``shapes``, verified through ``decode``
    (which must turn the codes into bits and back, so what is checked is what is sent).
    Raises ``CoverageError`` when nothing covers them."""
    outline = shapes.outline()
    if not outline:
        raise CoverageError("no polygon or circle to cover")
    lone_circle = not shapes.polygons and len(shapes.circles) == 1
    if lone_circle:
        centre, angle = shapes.circles[0][0], math.pi / 2  # a circle: azimuth 0
    else:
        plane = Plane(spherical_centre(outline))
        middle, angle = _fit(_hull(plane.forward(outline)))
        centre = plane.inverse(float(middle[0]), float(middle[1]))
    lat_code, lon_code, lat_e, lon_e = _centre_codes(centre, refine)
    nearest = round((to_azimuth(angle) + 90) / camf.AZIMUTH_STEP) % 64
    candidates = (nearest,) if lone_circle else (nearest, (nearest + 1) % 64,
                                                  (nearest - 1) % 64, (nearest + 32) % 64)
    grid = _GRIDS[refine]
    best: tuple[float, EllipseCodes] | None = None
    for azimuth_code in candidates:
        codes = _smallest(outline, grid, (lat_code, lon_code, lat_e, lon_e), azimuth_code,
                          refine=refine, round_only=lone_circle)
        if codes is not None:
            found = decode(codes)
            area = found.semi_major_km * found.semi_minor_km
            if best is None or area < best[0]:
                best = (area, codes)
    if best is None:
        raise CoverageError("the area is larger than the largest CAMF ellipse "
                            f"(semi-axes up to {AXIS_KM[-1]:g} km)")
    return _verified(shapes, outline, best[1], decode, grid)


def _smallest(outline: list[Point], grid: _Grid, centre: tuple[int, int, int, int],
              azimuth_code: int, *, refine: bool, round_only: bool) -> EllipseCodes | None:
    lat_code, lon_code, lat_e, lon_e = centre
    origin = (camf.latitude(lat_code) + lat_e * camf.LATITUDE_STEP / 8,
              (camf.longitude(lon_code) + lon_e * camf.LONGITUDE_STEP / 8 + 180) % 360 - 180)
    uv = _in_axes(Plane(origin), outline, camf.azimuth(azimuth_code))
    axes = _axes_for(uv, grid, round_only)
    if axes is None:
        return None
    return _codes(centre, azimuth_code, grid, axes, refine)


def _codes(centre: tuple[int, int, int, int], azimuth_code: int, grid: _Grid,
           axes: tuple[int, int], refine: bool) -> EllipseCodes:
    (major, major_e), (minor, minor_e) = grid.codes[axes[0]], grid.codes[axes[1]]
    refinement = camf.Refinement(centre[2], centre[3], major_e, minor_e) if refine else None
    return EllipseCodes(centre[0], centre[1], major, minor, azimuth_code, refinement)


def _verified(shapes: Shapes, outline: list[Point], codes: EllipseCodes, decode: Decoder,
              grid: _Grid) -> Coverage:
    """Decode, check every point, grow a grid step at a time until everything is in."""
    major, minor = (_grid_position(grid, codes.semi_major, codes.refinement, True),
                    _grid_position(grid, codes.semi_minor, codes.refinement, False))
    centre = (codes.latitude, codes.longitude,
              *((codes.refinement.latitude, codes.refinement.longitude)
                if codes.refinement else (0, 0)))
    for _ in range(_MAX_GROWTH_STEPS):
        ellipse = decode(codes)
        if not uncovered(ellipse, outline):
            return Coverage(codes, ellipse,
                            math.pi * ellipse.semi_major_km * ellipse.semi_minor_km,
                            alert_area_km2(shapes, (ellipse.latitude, ellipse.longitude)))
        major, minor = major + 1, minor + 1
        if major >= len(grid.lengths):
            break
        codes = _codes(centre, codes.azimuth, grid, (major, minor), codes.refinement is not None)
    raise CoverageError("no CAMF ellipse on the grid covers every vertex of the area")


def _grid_position(grid: _Grid, index: int, refinement: camf.Refinement | None,
                   major: bool) -> int:
    eighths = 0 if refinement is None else (
        refinement.semi_major if major else refinement.semi_minor)
    return grid.codes.index((index, eighths))


def alert_area_km2(shapes: Shapes, origin: Point) -> float:
    """The area the alert covers (polygons and circles united), in km²."""
    plane = Plane(origin)
    parts = [shapely.Polygon(plane.forward(list(polygon))).buffer(0)
             for polygon in shapes.polygons if len(polygon) >= 3]
    parts += [shapely.Point(plane.forward([centre])[0]).buffer(radius, quad_segs=64)
              for centre, radius in shapes.circles]
    return float(shapely.union_all(parts).area) if parts else 0.0
