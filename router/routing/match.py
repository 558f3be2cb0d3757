"""Matchers: does an alert satisfy a route's ``match``, and why (not)?

Stage: the pure middle (routing). Each matcher returns ``(matched, reason)``
so that ``tocsin routes test`` can explain every decision. Alert-level keys
are checked once; info-level keys must all hold for one and the same ``<info>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase

import shapely
from shapely.geometry.base import BaseGeometry

from router.cap.model import Alert, Area, Info, ValuePair
from router.routing.config import Match, Region

Verdict = tuple[bool, str]
_KM_PER_DEGREE = 111.32
_ALERT_KEYS = ("status", "msg_type", "scope", "sender")


def region_geometry(region: Region) -> BaseGeometry:
    if region.bbox is not None:
        min_lat, min_lon, max_lat, max_lon = region.bbox
        return shapely.box(min_lon, min_lat, max_lon, max_lat)
    assert region.polygon is not None  # noqa: S101 - guaranteed by Region's validator
    return shapely.Polygon([(lon, lat) for lat, lon in region.polygon])


def area_geometry(area: Area) -> BaseGeometry | None:
    """CAP polygons and circles of one ``<area>`` as one shapely geometry (lon, lat)."""
    shapes: list[BaseGeometry] = [
        shapely.Polygon([(lon, lat) for lat, lon in polygon])
        for polygon in area.polygons if len(polygon) >= 4
    ]
    for circle in area.circles:
        lat, lon = circle.center
        dlat = circle.radius_km / _KM_PER_DEGREE
        dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
        unit = shapely.Point(0, 0).buffer(1.0, quad_segs=16)
        shapes.append(shapely.affinity.translate(
            shapely.affinity.scale(unit, dlon, dlat, origin=(0, 0)), lon, lat))
    return shapely.union_all(shapes) if shapes else None


def _globs(value: str, patterns: Sequence[str], *, fold: bool = False) -> bool:
    subject = value.lower() if fold else value
    return any(fnmatchcase(subject, p.lower() if fold else p) for p in patterns)


def _pairs(pairs: Sequence[ValuePair], wanted: dict[str, list[str]]) -> bool:
    return all(any(p.value_name == name and _globs(p.value, values) for p in pairs)
               for name, values in wanted.items())


def _listed(values: Sequence[object]) -> str:
    return ", ".join(str(getattr(value, "value", value)) for value in values)


def _alert_verdict(match: Match, alert: Alert) -> Verdict:
    checks: list[tuple[str, bool, str]] = []
    if match.status is not None:
        checks.append(("status", alert.status in match.status, alert.status.value))
    if match.msg_type is not None:
        checks.append(("msg_type", alert.msg_type in match.msg_type, alert.msg_type.value))
    if match.scope is not None:
        checks.append(("scope", alert.scope in match.scope, alert.scope.value))
    if match.sender is not None:
        checks.append(("sender", _globs(alert.sender, match.sender), alert.sender))
    failed = [f"{key}={value} not in [{_listed(getattr(match, key))}]"
              for key, ok, value in checks if not ok]
    if failed:
        return False, "; ".join(failed)
    return True, ", ".join(f"{key}={value}" for key, _, value in checks)


InfoCheck = Callable[[Info], bool]


def _info_checks(match: Match, regions: dict[str, BaseGeometry]) -> list[tuple[str, InfoCheck]]:
    checks: list[tuple[str, InfoCheck]] = []
    if match.category is not None:
        wanted = match.category
        checks.append(("category", lambda i: any(c in wanted for c in i.categories)))
    if match.event is not None:
        events = match.event
        checks.append(("event", lambda i: _globs(i.event, events, fold=True)))
    for key in ("severity", "urgency", "certainty"):
        allowed = getattr(match, key)
        if allowed is not None:
            checks.append((key, _field_in(key, allowed)))
    if match.event_code is not None:
        codes = match.event_code
        checks.append(("event_code", lambda i: _pairs(i.event_codes, codes)))
    if match.language is not None:
        langs = [lang.lower() for lang in match.language]
        checks.append(("language",
                       lambda i: i.effective_language.split("-")[0].lower() in langs))
    if match.geocode is not None:
        geo = match.geocode
        checks.append(("geocode", lambda i: any(_pairs(a.geocodes, geo) for a in i.areas)))
    if match.area_intersects is not None:
        shapes = [regions[name] for name in match.area_intersects]
        checks.append(("area_intersects", lambda i: _intersects(i, shapes)))
    return checks


def _field_in(key: str, allowed: Sequence[object]) -> InfoCheck:
    return lambda info: getattr(info, key) in allowed


def _intersects(info: Info, shapes: list[BaseGeometry]) -> bool:
    for area in info.areas:
        geometry = area_geometry(area)
        if geometry is not None and any(geometry.intersects(shape) for shape in shapes):
            return True
    return False


class CompiledMatch:
    """A route's ``match`` with region geometries resolved, ready to explain itself."""

    def __init__(self, match: Match, regions: dict[str, BaseGeometry]) -> None:
        self.match = match
        self.info_checks = _info_checks(match, regions)
        self.has_alert_keys = any(getattr(match, key) is not None for key in _ALERT_KEYS)

    def verdict(self, alert: Alert) -> Verdict:
        ok, reason = _alert_verdict(self.match, alert)
        if not ok or not self.info_checks:
            return ok, reason or "no conditions"
        names = ", ".join(name for name, _ in self.info_checks)
        for index, info in enumerate(alert.infos, start=1):
            if all(check(info) for _, check in self.info_checks):
                return True, ", ".join(filter(None, [reason, f"info[{index}] has {names}"]))
        failures = [self._why_not(info, index) for index, info in enumerate(alert.infos, 1)]
        return False, "; ".join(failures) or "the alert has no <info>"

    def _why_not(self, info: Info, index: int) -> str:
        failed = [name for name, check in self.info_checks if not check(info)]
        return f"info[{index}] fails {', '.join(failed)}"
