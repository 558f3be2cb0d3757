"""Polygons: read once, proven once, scanned once per alert (a regression guard for
validation speed, counted rather than timed).

The model does not re-validate polygon vertices (``Area.polygons``), so the builder
is what proves them finite float pairs; the spec range check and the profiles'
allowed-area boxes share one bounding box per polygon instead of each scanning the
vertices again."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from router.cap import model, parse_cap
from router.cap.model import Point
from router.profiles import load_profiles

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cap"
POINTS = TypeAdapter(tuple[tuple[float, float], ...])


def _alert_with_polygon(polygon: str) -> bytes:
    medium = (FIXTURES / "small.xml").read_text(encoding="utf-8")
    start = medium.index("<polygon>") + len("<polygon>")
    end = medium.index("</polygon>")
    return (medium[:start] + polygon + medium[end:]).encode("utf-8")


def _polygons(data: bytes) -> tuple[tuple[Point, ...], ...]:
    outcome = parse_cap(data)
    assert outcome.document is not None, outcome.findings
    return tuple(polygon for info in outcome.document.alert.infos
                 for area in info.areas for polygon in area.polygons)


@pytest.mark.parametrize("size", ["small", "medium", "large"])
def test_each_polygon_is_scanned_once_by_spec_and_profile_rules(
        size: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = model.polygon_bounds

    def counted(polygon: Any) -> Any:
        calls.append(len(polygon))
        return real(polygon)
    monkeypatch.setattr(model, "polygon_bounds", counted)
    data = (FIXTURES / f"{size}.xml").read_bytes()
    outcome = load_profiles().validate(data, "nl-alert")
    assert outcome.ok, outcome.findings
    assert outcome.document is not None
    polygons = [polygon for info in outcome.document.alert.infos
                for area in info.areas for polygon in area.polygons]
    assert polygons  # the fixture has polygons, so the count means something
    assert sorted(calls) == sorted(len(polygon) for polygon in polygons)


@pytest.mark.parametrize("spelling", ["nan", "NaN", "inf", "-Infinity", "+inf"])
def test_a_non_finite_coordinate_is_a_polygon_syntax_error(spelling: str) -> None:
    data = _alert_with_polygon(
        f"52.0,4.0 52.1,{spelling} 52.1,4.1 52.0,4.0")
    outcome = parse_cap(data)
    assert outcome.document is None
    codes = [finding.code for finding in outcome.findings]
    assert codes == ["cap.polygon.syntax"], outcome.findings
    assert spelling in outcome.findings[0].message


_coordinate = st.floats(min_value=-180, max_value=180, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(_coordinate.map(lambda v: v / 2), _coordinate),
                min_size=3, max_size=40),
       st.sampled_from([" ", "\n", "  \t", "\n      "]))
def test_the_built_polygon_is_what_pydantic_would_make_of_it(
        points: list[tuple[float, float]], gap: str) -> None:
    ring = [*points, points[0]]
    text = gap.join(f"{lat!r},{lon!r}" for lat, lon in ring)
    polygon = _polygons(_alert_with_polygon(gap + text + gap))[0]
    assert polygon == POINTS.validate_python(ring)  # the oracle: full validation
    assert type(polygon) is tuple
    assert all(type(point) is tuple and len(point) == 2 for point in polygon)
    assert all(type(v) is float and math.isfinite(v) for point in polygon for v in point)
    assert hash(polygon) == hash(tuple(ring))
