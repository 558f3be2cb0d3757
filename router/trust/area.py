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

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import transform

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
    there = Transformer.from_crs("EPSG:4326", local, always_xy=True).transform
    back = Transformer.from_crs(local, "EPSG:4326", always_xy=True).transform
    dense = shapely.segmentize(area, max_segment_length=0.05)  # keep edges close to geodesics
    return transform(back, transform(there, dense).buffer(metres))


def circle_shape(circle: Circle) -> ShapelyPolygon:
    """The 32-gon inscribed in a CAP circle (lon, lat coordinates)."""
    lat, lon = circle.center
    count = len(_CIRCLE_AZIMUTHS)
    lons, lats, _back = _GEOD.fwd(np.full(count, lon), np.full(count, lat), _CIRCLE_AZIMUTHS,
                                  np.full(count, circle.radius_km * 1000.0))
    return ShapelyPolygon(np.column_stack((lons, lats)))


def polygon_shape(polygon: Polygon) -> BaseGeometry:
    """A CAP polygon ((lat, lon) pairs) as a shapely geometry in (lon, lat)."""
    points = np.asarray(polygon, dtype=float)[:, ::-1]
    geometry = ShapelyPolygon(points)
    return geometry if geometry.is_valid else shapely.make_valid(geometry)


@dataclass(frozen=True)
class AreaCheck:
    """A compiled area rule: the prepared (widened) polygons and the geocode prefixes."""

    region: BaseGeometry | None
    prefixes: dict[str, tuple[str, ...]] | None
    source: str

    def violations(self, alert: Alert) -> list[tuple[str, str]]:
        """(location, why) for every area of the alert outside the policy."""
        found: list[tuple[str, str]] = []
        for i, info in enumerate(alert.infos, start=1):
            if not info.areas:
                found.append((f"/alert/info[{i}]", "the info names no area; this authority "
                                                   "may warn only inside its own area"))
            for j, area in enumerate(info.areas, start=1):
                why = self._outside(area)
                if why is not None:
                    found.append((f"/alert/info[{i}]/area[{j}]", why))
        return found

    def _outside(self, area: Area) -> str | None:
        shapes = [polygon_shape(p) for p in area.polygons] + [circle_shape(c)
                                                             for c in area.circles]
        if shapes and self.region is None:
            return "polygons and circles cannot be checked: the policy has geocodes only"
        if self.region is not None:
            for geometry in shapes:
                if not self.region.contains(geometry):
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
    if policy.polygons_file is not None:
        region = _widened(_read_geojson(policy.polygons_file), policy.tolerance_m)
        shapely.prepare(region)
    prefixes = None if policy.geocode_prefixes is None else {
        name: tuple(values) for name, values in policy.geocode_prefixes.items()}
    return AreaCheck(region, prefixes, str(policy.polygons_file or "geocode prefixes"))

