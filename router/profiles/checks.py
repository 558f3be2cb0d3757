"""Compile profile rules into pure functions over a CAP document.

Stage: the pure middle (profiles). Compiling happens once at start-up, so a bad
path or regular expression is a configuration error there, and evaluating a
rule per alert is attribute access and comparisons only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from router.cap.findings import Finding, FindingSeverity
from router.cap.model import Alert, Bounds, CapDocument, Point, Polygon
from router.profiles.model import BoundingBox, Box, RequiredLanguages, RuleSpec, When
from router.profiles.paths import Group, Walk, compile_path

Violation = tuple[str, str]  # (location, message)
Check = Callable[[CapDocument, Walk], list[Violation]]
"""A check returns a list, empty when the rule holds: most rules hold for most alerts,
and an empty list costs less than a generator created, entered and exhausted per rule."""


class RuleError(ValueError):
    """A rule that cannot be compiled (bad path, bad regular expression)."""


@dataclass(frozen=True)
class CompiledRule:
    code: str
    severity: FindingSeverity
    when: When | None
    message: str | None
    check: Check

    def findings(self, document: CapDocument, walk: Walk) -> list[Finding]:
        if self.when is not None and not _applies(self.when, document.alert):
            return []
        violations = self.check(document, walk)
        if not violations:
            return []
        return [Finding(code=self.code, severity=self.severity, location=location,
                        message=f"{self.message} ({message})" if self.message else message)
                for location, message in violations]


def _applies(when: When, alert: Alert) -> bool:
    return ((when.status is None or alert.status in when.status)
            and (when.msg_type is None or alert.msg_type in when.msg_type)
            and (when.scope is None or alert.scope in when.scope))


def compile_rule(profile: str, spec: RuleSpec) -> CompiledRule:
    builder = _BUILDERS[spec.check_name]
    try:
        check = builder(getattr(spec, spec.check_name))
    except (ValueError, re.error) as exc:
        raise RuleError(f"{spec.check_name}: {exc}") from exc
    return CompiledRule(f"profile.{profile}.{spec.id}", FindingSeverity(spec.severity),
                        spec.when, spec.message, check)


def _over_groups(path: str, judge: Callable[[Group], Violation | None]) -> Check:
    """A rule judged per parent element: at most one violation per group."""
    compiled = compile_path(path)

    def check(_document: CapDocument, walk: Walk) -> list[Violation]:
        return [found for group in walk.groups(compiled)
                if (found := judge(group)) is not None]

    return check


def _over_texts(path: str, judge: Callable[[str], str | None]) -> Check:
    """A rule judged per value, as CAP text: one violation per value that fails."""
    compiled = compile_path(path)

    def check(_document: CapDocument, walk: Walk) -> list[Violation]:
        found: list[Violation] = []
        for group in walk.groups(compiled):
            for value in group.texts():
                problem = judge(value)
                if problem is not None:
                    found.append((group.location, problem))
        return found

    return check


def _require(params: Any) -> Check:
    need = "is missing" if params.min == 1 else f"occurs fewer than {params.min} times"
    name = params.path.rsplit(".", 1)[-1]

    def judge(group: Group) -> Violation | None:
        if len(group.items) < params.min:
            return group.location, f"<{name}> {need}"
        return None
    return _over_groups(params.path, judge)


def _require_any(params: Any) -> Check:
    compiled = [compile_path(path) for path in params.paths]
    parents = {path.parent.text if path.parent else "" for path in compiled}
    if len(parents) != 1:
        raise ValueError("require_any paths must name siblings (the same parent element)")
    names = " or ".join(f"<{path.rsplit('.', 1)[-1]}>" for path in params.paths)

    def check(_document: CapDocument, walk: Walk) -> list[Violation]:
        per_path = [walk.groups(path) for path in compiled]
        return [(groups[0].parent, f"needs {names}")
                for groups in zip(*per_path, strict=True)
                if not any(group.items for group in groups)]
    return check


def _count(params: Any) -> Check:
    upper = "any number" if params.max is None else str(params.max)

    def judge(group: Group) -> Violation | None:
        n = len(group.items)
        if n < params.min or (params.max is not None and n > params.max):
            return group.location, f"found {n}; expected {params.min} to {upper}"
        return None
    return _over_groups(params.path, judge)


def _require_value(params: Any) -> Check:
    def judge(group: Group) -> Violation | None:
        if params.value not in group.texts():
            return group.location, f"must include the value {params.value!r}"
        return None
    return _over_groups(params.path, judge)


def _allowed_values(params: Any) -> Check:
    allowed = frozenset(params.values)
    listed = ", ".join(params.values)

    def judge(value: str) -> str | None:
        return None if value in allowed else f"{value!r} is not one of {listed}"
    return _over_texts(params.path, judge)


def _pattern(params: Any) -> Check:
    regex = re.compile(params.regex)

    def judge(value: str) -> str | None:
        return None if regex.fullmatch(value) else f"{value!r} does not match {params.regex}"
    return _over_texts(params.path, judge)


def _max_length(params: Any) -> Check:
    chars = params.chars

    def judge(value: str) -> str | None:
        if len(value) <= chars:
            return None
        return f"{len(value)} characters, {len(value) - chars} over the limit of {chars}"
    return _over_texts(params.path, judge)


def _required_languages(params: RequiredLanguages) -> Check:
    wanted = [language.lower() for language in params.languages]

    def check(document: CapDocument, _walk: Walk) -> list[Violation]:
        present = {info.effective_language.split("-")[0].lower() for info in document.alert.infos}
        found: list[Violation] = []
        missing = [language for language in wanted if language not in present]
        if missing:
            found.append(("/alert/info", (f"no <info> in {', '.join(missing)} "
                                          f"(found: {', '.join(sorted(present)) or 'none'})")))
        if len(present) < params.min_distinct:
            found.append(("/alert/info", (f"<info> blocks in {len(present)} language(s); "
                                          f"at least {params.min_distinct} are needed")))
        return found
    return check


_KM_PER_DEGREE = 111.32


def _inside(point: Point, boxes: list[Box], margin_km: float = 0.0) -> bool:
    """Inside a box; ``margin_km`` widens the point to a circle of that radius."""
    lat, lon = point
    dlat = margin_km / _KM_PER_DEGREE
    dlon = margin_km / (_KM_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6))
    return any(b.min_lat <= lat - dlat and lat + dlat <= b.max_lat
               and b.min_lon <= lon - dlon and lon + dlon <= b.max_lon
               for b in boxes)


def _polygon_inside(polygon: Polygon, bounds: Bounds, boxes: list[Box]) -> bool:
    """Every vertex in some box; the polygon's own bounding box decides the common case."""
    south, north, west, east = bounds
    if any(b.min_lat <= south and north <= b.max_lat and b.min_lon <= west and east <= b.max_lon
           for b in boxes):
        return True
    return all(_inside(point, boxes) for point in polygon)


def _bounding_box(params: BoundingBox) -> Check:
    names = ", ".join(box.name or f"{box.min_lat},{box.min_lon}.." for box in params.boxes)

    def check(document: CapDocument, _walk: Walk) -> list[Violation]:
        found: list[Violation] = []
        for i, info in enumerate(document.alert.infos, start=1):
            for a, area in enumerate(info.areas, start=1):
                where = f"/alert/info[{i}]/area[{a}]"
                for p, (polygon, bounds) in enumerate(
                        zip(area.polygons, area.polygon_bounds, strict=True), start=1):
                    if bounds is not None and not _polygon_inside(polygon, bounds, params.boxes):
                        found.append((f"{where}/polygon[{p}]",
                                      f"reaches outside the allowed area ({names})"))
                for c, circle in enumerate(area.circles, start=1):
                    if not _inside(circle.center, params.boxes, circle.radius_km):
                        found.append((f"{where}/circle[{c}]",
                                      f"reaches outside the allowed area ({names})"))
        return found
    return check


def _max_polygon_points(limit: int) -> Check:
    def check(document: CapDocument, _walk: Walk) -> list[Violation]:
        return [(f"/alert/info[{i}]/area[{a}]/polygon[{p}]",
                 f"{len(polygon)} coordinate pairs; at most {limit} allowed")
                for i, info in enumerate(document.alert.infos, start=1)
                for a, area in enumerate(info.areas, start=1)
                for p, polygon in enumerate(area.polygons, start=1)
                if len(polygon) > limit]
    return check


_BUILDERS: dict[str, Callable[[Any], Check]] = {
    "require": _require,
    "require_any": _require_any,
    "count": _count,
    "require_value": _require_value,
    "allowed_values": _allowed_values,
    "pattern": _pattern,
    "max_length": _max_length,
    "required_languages": _required_languages,
    "bounding_box": _bounding_box,
    "max_polygon_points": _max_polygon_points,
}
