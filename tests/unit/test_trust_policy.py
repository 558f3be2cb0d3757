"""The pure trust rules: area (with tolerance), event/severity/status, channels,
references, roles, scope of routes and the approval rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from router.cap import parse_cap
from router.cap.model import Alert
from router.routing import parse_routing
from router.settings import ApprovalSettings, AreaPolicy, Authority, Settings, hash_api_key
from router.trust import (
    AreaPolicyError,
    PolicyConfigError,
    approval_policy,
    compile_policies,
    load_area,
    parse_roles,
    scope_route_problems,
)
from router.trust.principal import UnknownRoleError
from tests.integration.conftest import make_alert

GEOD = Geod(ellps="WGS84")
HASH = hash_api_key("k")
SQUARE = {"type": "Polygon", "coordinates": [[[4.0, 51.0], [5.0, 51.0], [5.0, 52.0],
                                               [4.0, 52.0], [4.0, 51.0]]]}


def alert_with(polygon: str = "", circle: str = "", geocode: str = "",
               severity: str = "Severe") -> Alert:
    area = (f"<areaDesc>test</areaDesc>{f'<polygon>{polygon}</polygon>' if polygon else ''}"
            f"{f'<circle>{circle}</circle>' if circle else ''}{geocode}")
    text = re.sub(r"<area>.*?</area>", f"<area>{area}</area>", make_alert("T-1").decode(),
                  flags=re.DOTALL)
    text = text.replace("<severity>Severe</severity>", f"<severity>{severity}</severity>")
    document = parse_cap(text.encode()).document
    assert document is not None
    return document.alert


def square_file(tmp_path: Path) -> Path:
    path = tmp_path / "square.geojson"
    path.write_text(json.dumps({"type": "Feature", "geometry": SQUARE}), encoding="utf-8")
    return path


def ring(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{lat:.7f},{lon:.7f}" for lat, lon in [*points, points[0]])


def test_polygon_inside_passes_outside_fails(tmp_path: Path) -> None:
    check = load_area(AreaPolicy(polygons_file=square_file(tmp_path)))
    inside = alert_with(ring([(51.2, 4.2), (51.2, 4.4), (51.4, 4.4)]))
    across = alert_with(ring([(51.2, 4.2), (51.2, 5.4), (51.4, 4.4)]))
    assert check.violations(inside) == []
    assert [loc for loc, _ in check.violations(across)] == ["/alert/info[1]/area[1]",
                                                          "/alert/info[2]/area[1]"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tolerance=st.floats(200, 5000), fraction=st.floats(0.0, 3.0),
       lat=st.floats(51.2, 51.8))
def test_tolerance_is_metres_on_the_ground(tmp_path_factory: pytest.TempPathFactory,
                                           tolerance: float, fraction: float,
                                           lat: float) -> None:
    """A vertex ``fraction`` x tolerance east of the east edge passes iff within it."""
    if 0.95 < fraction < 1.05:  # the 0.05 % sagitta of a segmentised edge: not decidable
        return
    path = square_file(tmp_path_factory.mktemp("area"))
    check = load_area(AreaPolicy(polygons_file=path, tolerance_m=tolerance))
    lon, east_lat, _ = GEOD.fwd(5.0, lat, 90, fraction * tolerance)
    alert = alert_with(ring([(lat - 0.05, 4.8), (east_lat, lon), (lat + 0.05, 4.8)]))
    assert (check.violations(alert) == []) == (fraction < 1)


def test_circle_must_lie_inside(tmp_path: Path) -> None:
    check = load_area(AreaPolicy(polygons_file=square_file(tmp_path)))
    assert check.violations(alert_with(circle="51.5,4.5 10")) == []
    assert check.violations(alert_with(circle="51.5,4.95 10"))  # 10 km reaches past 5.0 E


def test_geocodes_must_match_prefixes_and_unknown_names_fail() -> None:
    check = load_area(AreaPolicy(geocode_prefixes={"CBS": ["GM05"]}))
    ok = alert_with(geocode="<geocode><valueName>CBS</valueName><value>GM0599</value></geocode>")
    other = alert_with(geocode="<geocode><valueName>CBS</valueName><value>GM0363</value>"
                               "</geocode>")
    unknown = alert_with(geocode="<geocode><valueName>NUTS</valueName><value>NL33</value>"
                                 "</geocode>")
    assert check.violations(ok) == []
    assert "outside its prefixes" in check.violations(other)[0][1]
    assert "cannot be checked" in check.violations(unknown)[0][1]
    assert "cannot be checked" in check.violations(alert_with(ring(
        [(51.2, 4.2), (51.2, 4.4), (51.4, 4.4)])))[0][1]


@pytest.mark.parametrize(("content", "why"), [
    ("{nope", "not valid GeoJSON"),
    ('{"type": "Point", "coordinates": [4, 52]}', "not an area"),
    ('{"type": "Polygon", "coordinates": [[[4, 52], [5]]]}', "not valid GeoJSON"),
    ('{"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}',
     "not a valid area"),
    ('{"type": "Polygon", "coordinates": [[[52, 4], [53, 4], [53, 200], [52, 4]]]}',
     "outside WGS 84"),
    ('{"type": "FeatureCollection", "features": []}', "without features"),
])
def test_bad_polygon_files_are_named(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AreaPolicyError) as failed:
        load_area(AreaPolicy(polygons_file=path))
    assert str(path) in str(failed.value)
    assert why in str(failed.value)


def test_policy_findings_one_per_rule(tmp_path: Path) -> None:
    authority = Authority(name="a", senders=["*"], key_hashes=[HASH], status=["Exercise"],
                          events=["flood*"], max_severity="Moderate",
                          area=AreaPolicy(polygons_file=square_file(tmp_path)))
    policy = compile_policies([authority], set())["a"]
    alert = alert_with(ring([(53.0, 6.0), (53.0, 6.2), (53.2, 6.2)]))
    codes = [f.code for f in policy.check(alert)]
    assert codes == ["authz.status", "authz.event", "authz.severity", "authz.area"]
    assert all("(and 1 more)" in f.message for f in policy.check(alert)[1:])


def test_policy_problems_are_all_reported(tmp_path: Path) -> None:
    missing = tmp_path / "missing.geojson"
    authorities = [Authority(name="a", senders=["*"], channels=["nope"], supervises=["ghost"],
                             area=AreaPolicy(polygons_file=missing))]
    with pytest.raises(PolicyConfigError) as failed:
        compile_policies(authorities, {"file"})
    text = " ".join(failed.value.problems)
    assert "'nope'" in text
    assert "'ghost'" in text
    assert str(missing) in text


def test_references_reads_and_channels() -> None:
    policies = compile_policies([
        Authority(name="nat", senders=["*"], supervises=["reg"], read="all"),
        Authority(name="reg", senders=["*"], channels=["sms"])], {"sms", "cell_broadcast"})
    assert policies["nat"].may_reference("reg")
    assert not policies["reg"].may_reference("nat")
    assert policies["nat"].may_read("other")
    assert not policies["reg"].may_read("nat")
    assert policies["reg"].split_channels(["cell_broadcast", "sms"]) == (["sms"],
                                                                        ["cell_broadcast"])


def test_roles_parse_and_unknown_roles_are_named() -> None:
    assert {r.value for r in parse_roles("submit, approve")} == {"submit", "approve"}
    with pytest.raises(UnknownRoleError, match="publish"):
        parse_roles("submit,publish")
    with pytest.raises(ValueError, match="publish"):
        Authority(name="a", senders=["*"], keys=[{"name": "x", "hash": HASH,
                                                   "roles": ["publish"]}])


def test_a_route_only_for_private_alerts_to_a_public_channel_is_refused() -> None:
    routing = parse_routing(json.dumps({"routes": [
        {"id": "internal", "match": {"scope": ["Private"]}, "channels": ["file", "sms"]},
        {"id": "mixed", "match": {"scope": ["Private", "Public"]}, "channels": ["sms"]},
        {"id": "parent", "match": {"scope": ["Restricted"]},
         "routes": [{"id": "child", "channels": ["file"], "fallback": ["webhook"]}]}],
        "default": ["file"]}), "test")
    problems = scope_route_problems(routing.routes, {"file": False, "sms": True,
                                                     "webhook": True})
    assert len(problems) == 2
    assert "'internal'" in problems[0]
    assert "'sms'" in problems[0]
    assert "'child'" in problems[1]
    assert "'webhook'" in problems[1]


def test_approval_rules_and_defaults() -> None:
    severe, extreme_alert = alert_with(), alert_with(severity="Extreme")
    default = approval_policy(Settings())
    assert default.reason(extreme_alert, [], references_approved=False)
    assert default.reason(severe, ["sms"], references_approved=False) is None
    assert approval_policy(Settings(demo=True)).enabled is False
    demo = approval_policy(Settings(demo=True, dev_approver_key="x"))
    assert demo.reason(extreme_alert, [], references_approved=False)
    assert demo.reason(severe, ["cell_broadcast"], references_approved=False) is None
    cancels = approval_policy(Settings(approval=ApprovalSettings(cancel_needs_approval=True)))
    assert cancels.cancel_needs_approval


def test_start_up_refuses_a_private_only_route_to_a_public_channel(tmp_path: Path) -> None:
    from router.app import create_app  # noqa: PLC0415
    from router.errors import ConfigurationError  # noqa: PLC0415

    routes = tmp_path / "routes.yaml"
    routes.write_text("routes:\n  - id: internal\n    match: {scope: [Private]}\n"
                      "    channels: [partner]\ndefault: [archive]\n", encoding="utf-8")
    channels = {"partner": {"type": "webhook", "url": "http://127.0.0.1:9/hook",
                            "secret": "s3cret-s3cret"},
                "archive": {"type": "file", "path": str(tmp_path / "a.jsonl")}}
    with pytest.raises(ConfigurationError) as refused:
        create_app(Settings(routes_file=routes, channels=channels, data_dir=tmp_path))
    assert any("'internal'" in p and "'partner'" in p and "scope" in p
               for p in refused.value.problems)
