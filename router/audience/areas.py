"""Which subscriber home areas an alert's area reaches: the geometry of the selector.

Stage: the audience layer (pure geometry, no SQL). A subscriber's home area is a point
(latitude, longitude) or a CAP geocode (``valueName``/``value``). An alert reaches
a point inside any of its polygons or circles, and a geocode it names itself.
Two deliberate limits: a point is not matched by a geocode (Tocsin holds no
boundaries for geocodes), and a geocode home area is not matched by a polygon;
alerts that should reach both carry both, as EU-Alert messages usually do.

``boxes()`` gives the bounding boxes the SQL pre-selection uses, ``covers()`` the
exact test applied afterwards.
"""

from __future__ import annotations

import math

from shapely import Point as ShapelyPoint
from shapely import Polygon as ShapelyPolygon
from shapely.prepared import PreparedGeometry, prep

from router.cap import Alert

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = 111.32
Box = tuple[float, float, float, float]  # min_lat, max_lat, min_lon, max_lon


def _circle_box(lat: float, lon: float, radius_km: float) -> Box:
    dlat = radius_km / KM_PER_DEGREE
    cos = math.cos(math.radians(lat))
    dlon = 180.0 if cos < 1e-6 else min(180.0, radius_km / (KM_PER_DEGREE * cos))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class AlertArea:
    """The union of every ``<area>`` of every ``<info>`` of one alert."""

    def __init__(self, alert: Alert) -> None:
        self._polygons: list[tuple[PreparedGeometry[ShapelyPolygon], Box]] = []
        self._circles: list[tuple[tuple[float, float], float]] = []
        self.geocodes: set[tuple[str, str]] = set()
        for info in alert.infos:
            for area in info.areas:
                for polygon in area.polygons:
                    shape = ShapelyPolygon([(lon, lat) for lat, lon in polygon])
                    min_lon, min_lat, max_lon, max_lat = shape.bounds
                    self._polygons.append((prep(shape), (min_lat, max_lat, min_lon, max_lon)))
                for circle in area.circles:
                    self._circles.append((circle.center, circle.radius_km))
                self.geocodes.update((g.value_name, g.value) for g in area.geocodes)

    @property
    def empty(self) -> bool:
        return not (self._polygons or self._circles or self.geocodes)

    def boxes(self) -> list[Box]:
        return [box for _, box in self._polygons] + [
            _circle_box(*center, radius) for center, radius in self._circles]

    def covers(self, lat: float, lon: float) -> bool:
        """Whether the point lies in (or on the edge of) a polygon or circle."""
        point = ShapelyPoint(lon, lat)
        if any(shape.covers(point) for shape, _ in self._polygons):
            return True
        return any(distance_km(center, (lat, lon)) <= radius
                   for center, radius in self._circles)
