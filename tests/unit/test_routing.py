"""Routing: depth-first fan-out, stop, fallback inheritance, BLOCKCHANNEL, explanations, errors."""

from __future__ import annotations

import pytest

from router.cap import parse_cap
from router.cap.model import Alert
from router.routing import Router, RoutingConfigError, parse_routing

CHANNELS = {"cell_broadcast", "sms", "eudi_wallet", "galileo_ewss", "webhook", "file"}

ROUTES = """
regions:
  netherlands: {bbox: [50.70, 3.10, 53.70, 7.30]}
  rotterdam:
    polygon: [[51.85, 4.35], [51.99, 4.35], [51.99, 4.60], [51.85, 4.60], [51.85, 4.35]]
block_aliases:
  CMAS: [cell_broadcast]
routes:
  - id: exercises
    match: {status: [Exercise, Test]}
    channels: [file]
    stop: true
  - id: national
    match: {area_intersects: [netherlands]}
    channels: [eudi_wallet]
    fallback: [galileo_ewss]
    routes:
      - id: severe
        match: {severity: [Extreme, Severe], urgency: [Immediate, Expected]}
        channels: [cell_broadcast]
      - id: rotterdam-sms
        match: {area_intersects: [rotterdam], language: [nl]}
        channels: [sms]
        fallback: []
  - id: chemical
    match: {event: ["*chemisch*"], event_code: {HAZARD: [CHM]}}
    channels: [webhook]
default: [file]
"""

ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>R-1</identifier><sender>vr@example.nl</sender>
  <sent>2026-11-25T10:00:00+01:00</sent><status>{status}</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><language>nl-NL</language><category>Env</category><event>Brand met chemische stoffen</event>
    <urgency>Immediate</urgency><severity>{severity}</severity><certainty>Observed</certainty>
    <eventCode><valueName>HAZARD</valueName><value>CHM</value></eventCode>
    {parameters}
    <area><areaDesc>x</areaDesc>{geometry}</area></info>
</alert>"""

ROTTERDAM = "<circle>51.92,4.48 2</circle>"
GRONINGEN = "<circle>53.22,6.57 2</circle>"
PARIS = "<circle>48.85,2.35 5</circle>"


def alert(*, status: str = "Actual", severity: str = "Severe", geometry: str = ROTTERDAM,
          parameters: str = "") -> Alert:
    outcome = parse_cap(ALERT.format(status=status, severity=severity, geometry=geometry,
                                     parameters=parameters).encode())
    assert outcome.document is not None, outcome.findings
    return outcome.document.alert


@pytest.fixture(scope="module")
def router() -> Router:
    return Router(parse_routing(ROUTES, "routes.yaml", CHANNELS))


def test_fan_out_adds_every_matching_route(router: Router) -> None:
    decision = router.decide(alert())
    assert decision.channels == ["eudi_wallet", "cell_broadcast", "sms", "webhook"]
    by_channel = {t.channel: t for t in decision.targets}
    assert by_channel["cell_broadcast"].route == "severe"
    assert by_channel["cell_broadcast"].fallback == ("galileo_ewss",)  # inherited
    assert by_channel["sms"].fallback == ()  # overridden with an empty list
    assert by_channel["webhook"].fallback == ()


def test_children_only_when_parent_matches(router: Router) -> None:
    decision = router.decide(alert(geometry=PARIS))
    assert decision.channels == ["webhook"]
    visited = [step.route for step in decision.trace]
    assert "severe" not in visited


def test_area_outside_the_child_region(router: Router) -> None:
    decision = router.decide(alert(geometry=GRONINGEN, severity="Moderate"))
    assert decision.channels == ["eudi_wallet", "webhook"]
    reasons = {step.route: step for step in decision.trace}
    assert not reasons["severe"].matched
    assert "severity" in reasons["severe"].reason
    assert "area_intersects" in reasons["rotterdam-sms"].reason


def test_stop_ends_matching(router: Router) -> None:
    decision = router.decide(alert(status="Exercise"))
    assert decision.channels == ["file"]
    assert [step.route for step in decision.trace] == ["exercises"]


def test_default_when_nothing_matched() -> None:
    config = parse_routing("routes:\n  - id: only-test\n    match: {status: [Test]}\n"
                           "    channels: [sms]\ndefault: [file]\n", "r.yaml", CHANNELS)
    decision = Router(config).decide(alert())
    assert decision.channels == ["file"]
    assert decision.targets[0].route == "default"


def test_blockchannel_vetoes_by_name_and_alias(router: Router) -> None:
    blocked = "<parameter><valueName>BLOCKCHANNEL</valueName><value>CMAS</value></parameter>"
    blocked += "<parameter><valueName>BLOCKCHANNEL</valueName><value>galileo_ewss</value></parameter>"
    decision = router.decide(alert(parameters=blocked))
    assert "cell_broadcast" not in decision.channels
    assert decision.vetoed == {"cell_broadcast": "the alert's BLOCKCHANNEL parameter"}
    assert all("galileo_ewss" not in t.fallback for t in decision.targets)


def test_decision_is_deterministic(router: Router) -> None:
    a = alert()
    assert router.decide(a).targets == router.decide(a).targets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("routes:\n  - id: a\n    match: {severity: [Huge]}\n    channels: [file]\ndefault: [file]\n",
         "r.yaml:3: routes.0.match.severity.0: Input should be"),
        ("routes:\n  - id: a\n    channels: [fax]\ndefault: [file]\n",
         "r.yaml:3: routes.0.channels: unknown channel 'fax'"),
        ("routes:\n  - id: a\n    match: {area_intersects: [mars]}\n    channels: [file]\ndefault: [file]\n",
         "r.yaml:3: routes.0.match.area_intersects: unknown region 'mars'"),
        ("routes:\n  - id: a\n    channels: [file]\n  - id: a\n    channels: [sms]\ndefault: [file]\n",
         "r.yaml:4: routes.1.id: id 'a' is used at routes.0 too"),
        ("routes:\n  - id: a\n    contine: true\n    channels: [file]\ndefault: [file]\n",
         "r.yaml:3: routes.0.contine: Extra inputs are not permitted"),
        ("routes: []\ndefault: [file]\n", "r.yaml:1: routes: List should have at least 1 item"),
        ("routes: [\n", "r.yaml: not valid YAML"),
    ],
)
def test_invalid_rules_name_line_and_reason(text: str, expected: str) -> None:
    with pytest.raises(RoutingConfigError) as caught:
        parse_routing(text, "r.yaml", CHANNELS)
    assert any(problem.startswith(expected) for problem in caught.value.problems), caught.value.problems


def test_every_problem_is_reported() -> None:
    text = ("routes:\n  - id: a\n    channels: [fax]\n    fallback: [pigeon]\n"
            "default: [telex]\n")
    with pytest.raises(RoutingConfigError) as caught:
        parse_routing(text, "r.yaml", CHANNELS)
    assert len(caught.value.problems) == 3
