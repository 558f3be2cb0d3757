"""The authorisation check's cost per alert, against parse + validation of the same alert.

The alert is tests/fixtures/cap/medium.xml (nl-NL + en-GB, a 50-point polygon in each
<info>); the authority's policy has a 50-vertex area polygon (GeoJSON, 250 m
tolerance), allowed statuses, event globs, a highest severity and allowed channels.
Both are measured in this run, interleaved round by round, each figure the median of
the rounds, in process CPU time (``time.process_time``):

- ``parse+validate``  ``ProfileSet.validate`` with the ``nl-alert`` profile (what ingest
                      does before authorising);
- ``authz``           ``AuthorityPolicy.check`` (status, msgType, event, severity, area
                      with both polygons tested against the prepared policy polygon), the
                      channel split and the approval decision -- the pure part of the
                      authorise step (the store read for references is not in it).

Target (issue 15, "Measured"): authz <= 50 us per alert. Prints PASS/MISS and ends with
JSON lines ``{"bench": "authz", "metric", "value", "target", "pass"}``; exits 0 either way.

Run: ``.venv/bin/python bench/authz.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from verdicts import figure, verdict

from router.cap.model import Alert
from router.profiles import load_profiles
from router.settings import ApprovalSettings, AreaPolicy, Authority, Settings
from router.trust import approval_policy, compile_policies

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cap" / "medium.xml"
TARGET_US = 50.0
CHANNELS = ["cell_broadcast", "sms", "eudi_wallet", "webhook"]


def policy_polygon(alert: Alert, vertices: int = 50) -> dict[str, object]:
    """A 50-vertex polygon around the alert's polygons (GeoJSON, lon/lat)."""
    points = [p for info in alert.infos for area in info.areas for poly in area.polygons
              for p in poly]
    lat = sum(p[0] for p in points) / len(points)
    lon = sum(p[1] for p in points) / len(points)
    ring = [[lon + 0.3 * math.cos(2 * math.pi * k / vertices) / math.cos(math.radians(lat)),
             lat + 0.3 * math.sin(2 * math.pi * k / vertices)] for k in range(vertices)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def timed(call: Callable[[], object], repeat: int) -> float:
    """Microseconds of this process's CPU per call: on a shared, loaded machine the wall
    clock also counts the time other processes held the core."""
    started = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - started) / repeat * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (few rounds)")
    args = parser.parse_args()
    rounds, repeat = (3, 50) if args.quick else (15, 400)
    body = FIXTURE.read_bytes()
    profiles = load_profiles([])
    outcome = profiles.validate(body, "nl-alert")
    assert outcome.ok, outcome.findings
    assert outcome.document is not None
    alert = outcome.document.alert
    with tempfile.TemporaryDirectory() as tmp:
        area_file = Path(tmp) / "area.geojson"
        area_file.write_text(json.dumps(policy_polygon(alert)), encoding="utf-8")
        authority = Authority(
            name="bench", senders=["*"], status=["Actual", "Exercise"], events=["*brand*", "*"],
            max_severity="Extreme", channels=CHANNELS,
            area=AreaPolicy(polygons_file=area_file, tolerance_m=250,
                            geocode_prefixes={"CBS.GM": ["GM05"]}))
        policy = compile_policies([authority], set(CHANNELS))["bench"]
    approval = approval_policy(Settings(approval=ApprovalSettings()))
    assert policy.check(alert) == [], policy.check(alert)

    def authorise() -> object:
        findings = policy.check(alert)
        allowed, _refused = policy.split_channels(CHANNELS)
        return findings, approval.reason(alert, allowed, references_approved=False)

    parse_us: list[float] = []
    authz_us: list[float] = []
    for _ in range(rounds):
        parse_us.append(timed(lambda: profiles.validate(body, "nl-alert"), max(repeat // 10, 5)))
        authz_us.append(timed(authorise, repeat))
    parse_median, authz_median = statistics.median(parse_us), statistics.median(authz_us)
    ratio = authz_median / parse_median
    passed = authz_median <= TARGET_US
    print(f"alert: {FIXTURE.name} ({len(body)} bytes, {len(alert.infos)} infos, "
          "50-point polygons); policy polygon: 50 vertices, tolerance 250 m")
    print(f"parse+validate (nl-alert)  {parse_median:9.1f} us/alert   (baseline, same run)")
    print(f"authz check                {authz_median:9.1f} us/alert   "
          f"= {ratio:.3f} x parse+validate")
    print(f"target authz <= {TARGET_US:.0f} us: {'PASS' if passed else 'MISS'} "
          f"({rounds} rounds, medians; a shared machine: read ratios, not absolutes)")
    verdict("authz", "authz_check_us", authz_median, f"<= {TARGET_US:g}", passed)
    figure("authz", "parse_validate_us", parse_median)
    figure("authz", "authz_over_parse_validate", ratio)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
