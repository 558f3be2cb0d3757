"""EWSS area -> ellipse: how much a CAMF ellipse over-warns, and what mapping costs.

For a set of alert areas, prints the over-warning ratio (ellipse area / alert area)
of the ellipse Tocsin sends, against two baselines computed in the same run:

- the continuous minimum-area enclosing ellipse (Khachiyan, before any quantising):
  what the shape alone forces; ``grid cost`` = sent / continuous;
- the same encoder without the B1 refinement (A17 = 0 with zero eighths): what
  the 32-entry axis table alone would give; ``B1 gain`` = without / with.

Then the time to map alerts (parsed CAP -> verified CAMF messages) as a multiple of
one CAMF encode + decode round trip measured alongside.

Run: ``.venv/bin/python bench/ewss_geometry.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from verdicts import figure  # noqa: E402  (sibling module, bench/ on sys.path)

from channels.galileo_ewss import camf, geometry, mapping  # noqa: E402
from channels.galileo_ewss.geometry import Shapes  # noqa: E402
from channels.galileo_ewss.settings import load_tables  # noqa: E402
from router.cap import parse_cap  # noqa: E402

BASE = camf.CamfMessage(camf.MessageType.ALERT, 150, 1, 24, camf.Severity.SEVERE, False, 0,
                        camf.Duration.UNKNOWN, camf.Library.INTERNATIONAL, 1, 0, 0, 0, 0, 0, 0,
                        camf.Refinement())


def closed(points: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    return (*points, points[0])


def areas() -> dict[str, Shapes]:
    d = geometry.destination
    start, corner = (52.0, 4.5), (52.0, 5.0)
    far, east, north = d(start, 60, 100), d(corner, 90, 100), d(corner, 0, 100)
    rng = np.random.default_rng(7)
    centre = (52.2, 5.6)
    region = closed([d(centre, bearing, float(rng.uniform(25, 45)))
                     for bearing in np.linspace(0, 360, 40, endpoint=False)])
    return {
        "Rotterdam fire (rectangle 4 x 3 km)": Shapes(polygons=(closed(
            [(51.895, 4.43), (51.895, 4.49), (51.87, 4.49), (51.87, 4.43)]),)),
        "circle r = 5 km": Shapes(circles=(((50.973, 5.789), 5.0),)),
        "exercise (circle + rectangle)": Shapes(
            polygons=(closed([(50.955, 5.80), (50.955, 5.85), (50.93, 5.85), (50.93, 5.80)]),),
            circles=(((50.973, 5.789), 5.0),)),
        "region, 40 vertices, r 25-45 km": Shapes(polygons=(region,)),
        "strip 100 x 1 km at 60 deg": Shapes(polygons=(closed(
            [start, far, d(far, 150, 1), d(start, 150, 1)]),)),
        "L-shape, two 100 x 1 km arms": Shapes(polygons=(closed(
            [corner, east, d(east, 0, 1), d(corner, 45, 1.414), d(north, 90, 1), north]),)),
    }


def through_bits(codes: geometry.EllipseCodes) -> camf.Ellipse:
    return camf.ellipse(camf.decode(camf.encode(mapping.with_ellipse(BASE, codes))))


def continuous_area(shapes: Shapes) -> float:
    outline = shapes.outline()
    plane = geometry.Plane(geometry.spherical_centre(outline))
    xy = plane.forward(outline)
    centre, matrix = geometry.khachiyan(xy)
    d = xy - centre
    scale = float(np.max(np.einsum("ij,jk,ik->i", d, matrix, d)))
    return math.pi * scale / math.sqrt(float(np.linalg.det(matrix)))


def ratios() -> None:
    print(f"{'area':36} {'alert km2':>10} {'continuous':>10} {'sent':>8} {'no B1':>8} "
          f"{'grid cost':>9} {'B1 gain':>8}")
    for name, shapes in areas().items():
        refined = geometry.cover(shapes, through_bits, refine=True)
        plain = geometry.cover(shapes, through_bits, refine=False)
        alert = refined.alert_area_km2
        ideal = continuous_area(shapes) / alert
        sent = refined.ellipse_area_km2 / alert
        coarse = plain.ellipse_area_km2 / alert
        print(f"{name:36} {alert:10.1f} {ideal:10.2f} {sent:8.2f} {coarse:8.2f} "
              f"{sent / ideal:9.2f} {coarse / sent:8.2f}")


def timed(action: object, repeat: int) -> float:
    assert callable(action)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def speed(repeat: int) -> None:
    tables = load_tables(REPO / "config" / "galileo_ewss" / "tables.yaml").model_copy(
        update={"providers": {"*": 1}})  # the fixtures' sender has no provider id
    now = datetime(2026, 11, 25, 13, 10, tzinfo=UTC)
    fixtures = REPO / "tests" / "fixtures" / "cap"
    alerts = {name: parse_cap(path.read_bytes()).document
              for name, path in (("fire example", REPO / "config" / "examples" /
                                  "nl-alert-fire.xml"),
                                 ("small fixture", fixtures / "small.xml"),
                                 ("medium fixture", fixtures / "medium.xml"),
                                 ("large fixture", fixtures / "large.xml"))}
    first = alerts["fire example"]
    assert first is not None
    message = mapping.plan(first.alert, tables, now).messages[0].message
    codec = timed(lambda: camf.decode(camf.encode(message)), repeat * 20)
    print(f"\nbaseline: one CAMF encode + decode = {codec * 1e6:.1f} us")
    for name, document in alerts.items():
        assert document is not None
        alert = document.alert
        count = len(mapping.plan(alert, tables, now).messages)
        full = timed(functools.partial(mapping.plan, alert, tables, now), repeat)
        vertices = sum(len(p) for info in alert.infos for area in info.areas
                       for p in area.polygons)
        print(f"map {name:15} ({len(alert.infos)} infos, {vertices:5} vertices -> "
              f"{count} messages): {full * 1e3:7.2f} ms = {full / codec:6.0f} x the baseline")
        figure("ewss_geometry", f"map_{name.replace(' ', '_')}_over_codec", full / codec)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--quick", action="store_true", help="few timing rounds (smoke test)")
    options = args.parse_args()
    ratios()
    speed(3 if options.quick else 30)


if __name__ == "__main__":
    main()
