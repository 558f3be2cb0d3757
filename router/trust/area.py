"""The area rule of an authority's policy: every ``<polygon>`` and ``<circle>`` of an
alert inside the authority's polygons, every ``<geocode>`` under its prefixes.

Stage: trust (pure at check time). The GeoJSON file is read, validated and prepared
once, when the policy is compiled: the tolerance in metres is applied then, by
buffering each polygon in a local azimuthal-equidistant projection (pyproj) and
projecting the result back to WGS 84, so that a check is one prepared-geometry
``contains`` per alert shape (GEOS), a few microseconds for a 50-vertex polygon.

Circles are checked as the 32-gon inscribed in the geodesic circle (WGS 84
ellipsoid, pyproj ``Geod``); the sagitta between the 32-gon and the true circle is
under 0.5 % of the radius, which the tolerance is there to absorb.

Decisions where CAP leaves room:

- an ``<area>`` the policy cannot check (only an ``<areaDesc>``, or only geocodes
  when the policy has no prefixes for them, or shapes when it has no polygons) is a
  violation: an authority restricted to a region must say where it warns;
- a geocode whose ``valueName`` the policy does not list is a violation (it cannot
  be checked), as is one whose value starts with none of the listed prefixes.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LinearRing, shape
from shapely.geometry.base import BaseGeometry

from router.cap.model import Alert, Area, Circle, Polygon
from router.settings import AreaPolicy

_GEOD = Geod(ellps="WGS84")
_CIRCLE_AZIMUTHS = np.linspace(0.0, 360.0, 32, endpoint=False)
_GEOJSON_POLYGONAL = {"Polygon", "MultiPolygon"}


class AreaPolicyError(ValueError):
    """A policy polygon file that cannot be used; the message names the file."""


def _geometries(document: Any, path: Path) -> list[dict[str, Any]]:
    if not isinstance(document, dict) or not isinstance(document.get("type"), str):
        raise AreaPolicyError(f"{path}: not a GeoJSON object (no 'type' member)")
    kind = document["type"]
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list) or not features:
            raise AreaPolicyError(f"{path}: a FeatureCollection without features")
        return [g for feature in features for g in _geometries(feature, path)]
    if kind == "Feature":
        return _geometries(document.get("geometry"), path)
    if kind == "GeometryCollection":
        return [g for part in document.get("geometries") or [] for g in _geometries(part, path)]
    if kind not in _GEOJSON_POLYGONAL:
        raise AreaPolicyError(f"{path}: a {kind} is not an area; use Polygon or MultiPolygon")
    return [document]


def _read_geojson(path: Path) -> BaseGeometry:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AreaPolicyError(f"{path}: cannot read: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AreaPolicyError(f"{path}: not valid GeoJSON: {exc}") from exc
    parts: list[BaseGeometry] = []
    for number, geometry in enumerate(_geometries(document, path), start=1):
        try:
            part = shape(geometry)
        except (ValueError, TypeError, AttributeError, IndexError, KeyError,
                shapely.errors.GEOSException) as exc:
            raise AreaPolicyError(f"{path}: polygon {number} is not valid GeoJSON: {exc}"
                                  ) from exc
        if part.is_empty or not part.is_valid:
            raise AreaPolicyError(f"{path}: polygon {number} is not a valid area: "
                                  f"{shapely.is_valid_reason(part)}")
        minx, miny, maxx, maxy = part.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise AreaPolicyError(f"{path}: polygon {number} has coordinates outside WGS 84 "
                                  "longitude/latitude (GeoJSON order is longitude, latitude)")
        parts.append(part)
    return shapely.union_all(parts)


def _widened(area: BaseGeometry, metres: float) -> BaseGeometry:
    """``area`` grown by ``metres`` on the ground, back in WGS 84 degrees."""
    if metres <= 0:
        return area
    centre = area.centroid
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84")
    there = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    back = Transformer.from_crs(local, "EPSG:4326", always_xy=True)
    dense = shapely.segmentize(area, max_segment_length=0.05)  # keep edges close to geodesics
    grown = shapely.transform(dense, lambda xy: _projected(there, xy)).buffer(metres)
    return shapely.transform(grown, lambda xy: _projected(back, xy))


def _projected(transformer: Transformer, xy: np.ndarray) -> np.ndarray:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack((x, y))


def _ring(coordinates: np.ndarray) -> LinearRing:
    return cast("LinearRing", shapely.linearrings(coordinates))  # one array in: one ring out


def circle_ring(circle: Circle) -> LinearRing:
    """The 32-gon inscribed in a CAP circle, as a ring in (lat, lon) order."""
    lat, lon = circle.center
    count = len(_CIRCLE_AZIMUTHS)
    lons, lats, _back = _GEOD.fwd(np.full(count, lon), np.full(count, lat), _CIRCLE_AZIMUTHS,
                                  np.full(count, circle.radius_km * 1000.0))
    return _ring(np.column_stack((lats, lons)))


def _coordinates(polygon: Polygon) -> np.ndarray:
    """The (n, 2) array of a parsed polygon; ``fromiter`` over the flattened pairs is
    about twice as fast as ``asarray`` on a tuple of tuples (no type discovery)."""
    flat = np.fromiter(itertools.chain.from_iterable(polygon), float, count=2 * len(polygon))
    return flat.reshape(-1, 2)


@dataclass(frozen=True)
class AreaCheck:
    """A compiled area rule: the prepared (widened) polygons and the geocode prefixes.

    The region is kept in CAP's (lat, lon) order so that an alert's polygon is used as
    parsed, without a copy. A polygon is inside when its ring is: for a region without
    holes the ring's interior then is too (and a self-intersecting ring needs no
    repair); a region with holes (an enclave) also tests the polygon itself. Identical
    shapes (every ``<info>`` of a multilingual alert repeats its area) are tested once.
    """

    region: BaseGeometry | None
    prefixes: dict[str, tuple[str, ...]] | None
    source: str
    has_holes: bool = False

    def violations(self, alert: Alert) -> list[tuple[str, str]]:
        """(location, why) for every area of the alert outside the policy."""
        found: list[tuple[str, str]] = []
        seen: dict[object, bool] = {}
        for i, info in enumerate(alert.infos, start=1):
            if not info.areas:
                found.append((f"/alert/info[{i}]", "the info names no area; this authority "
                                                   "may warn only inside its own area"))
            for j, area in enumerate(info.areas, start=1):
                why = self._outside(area, seen)
                if why is not None:
                    found.append((f"/alert/info[{i}]/area[{j}]", why))
        return found

    def _inside(self, shape_key: Polygon | Circle, seen: dict[object, bool]) -> bool:
        known = seen.get(shape_key)
        if known is None:
            known = seen[shape_key] = self._contains(shape_key)
        return known

    def _contains(self, shape_key: Polygon | Circle) -> bool:
        assert self.region is not None  # noqa: S101  (callers check)
        ring = circle_ring(shape_key) if isinstance(shape_key, Circle) \
            else _ring(_coordinates(shape_key))
        if not self.region.contains(ring):
            return False
        if not self.has_holes:
            return True
        polygon = shapely.Polygon(ring)
        return bool(self.region.contains(polygon if polygon.is_valid
                                         else shapely.make_valid(polygon)))

    def _outside(self, area: Area, seen: dict[object, bool]) -> str | None:
        shapes: list[Polygon | Circle] = [*area.polygons, *area.circles]
        if shapes and self.region is None:
            return "polygons and circles cannot be checked: the policy has geocodes only"
        if not all(self._inside(key, seen) for key in shapes):
            return f"{area.area_desc!r} reaches outside the area this authority serves"
        for geocode in area.geocodes:
            allowed = (self.prefixes or {}).get(geocode.value_name)
            if allowed is None:
                return (f"geocode {geocode.value_name!r} cannot be checked: the policy "
                        "lists no prefixes for it")
            if not geocode.value.startswith(allowed):
                return f"geocode {geocode.value_name}={geocode.value!r} is outside its prefixes"
        if not shapes and not area.geocodes:
            return f"{area.area_desc!r} has no polygon, circle or geocode to check"
        return None


def load_area(policy: AreaPolicy) -> AreaCheck:
    """Compile an area rule (reads and prepares the polygon file; AreaPolicyError if bad)."""
    region: BaseGeometry | None = None
    holes = False
    if policy.polygons_file is not None:
        lon_lat = _widened(_read_geojson(policy.polygons_file), policy.tolerance_m)
        holes = any(len(p.interiors) for p in getattr(lon_lat, "geoms", [lon_lat]))
        region = shapely.transform(lon_lat, lambda xy: xy[:, ::-1])  # CAP's (lat, lon)
        shapely.prepare(region)
    prefixes = None if policy.geocode_prefixes is None else {
        name: tuple(values) for name, values in policy.geocode_prefixes.items()}
    return AreaCheck(region, prefixes, str(policy.polygons_file or "geocode prefixes"), holes)

