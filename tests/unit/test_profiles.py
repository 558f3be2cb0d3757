"""Profiles as data: the loader rejects bad files with their path, and each check works."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.cap import ParseOutcome
from router.profiles import ProfileConfigError, ProfileSet, load_profiles

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>NL-2026-0001</identifier>
  <sender>nl-alert@example.nl</sender>
  <sent>2026-11-25T10:00:00+01:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  {codes}
  {infos}
</alert>"""

INFO = """<info>
    <language>{lang}</language>
    <category>Fire</category>
    <event>Brand</event>
    <urgency>Immediate</urgency>
    <severity>{severity}</severity>
    <certainty>Observed</certainty>
    {event_codes}
    <expires>2026-11-25T14:00:00+01:00</expires>
    <senderName>Veiligheidsregio Rotterdam-Rijnmond</senderName>
    <headline>Grote brand in Rotterdam-Noord</headline>
    <description>Er is een grote brand met veel rook.</description>
    <instruction>Sluit ramen en deuren.</instruction>
    <area>
      <areaDesc>Rotterdam-Noord</areaDesc>
      {geometry}
    </area>
  </info>"""

NL_POLYGON = "<polygon>51.93,4.46 51.95,4.46 51.95,4.50 51.93,4.50 51.93,4.46</polygon>"
PARIS_CIRCLE = "<circle>48.85,2.35 5</circle>"


def alert(langs: tuple[str, ...] = ("nl-NL", "en-GB"), *, severity: str = "Severe",
          geometry: str = NL_POLYGON, codes: str = "", event_codes: str = "") -> bytes:
    infos = "".join(INFO.format(lang=lang, severity=severity, geometry=geometry,
                                event_codes=event_codes) for lang in langs)
    return TEMPLATE.format(codes=codes, infos=infos).encode()


@pytest.fixture(scope="module")
def profiles() -> ProfileSet:
    return load_profiles()


def codes(outcome: ParseOutcome) -> list[str]:
    return [f.code for f in outcome.findings]


def test_builtin_profiles_are_all_there(profiles: ProfileSet) -> None:
    assert profiles.names() == ["cap12", "eu-alert", "ipaws-1.0", "nl-alert"]


def test_a_good_nl_alert_passes_every_eu_profile(profiles: ProfileSet) -> None:
    for name in ("cap12", "eu-alert", "nl-alert"):
        outcome = profiles.validate(alert(), name)
        assert outcome.ok, (name, outcome.findings)
        assert outcome.findings == []


@pytest.mark.parametrize(
    ("data", "profile", "code", "location"),
    [
        (alert(("nl-NL",)), "nl-alert", "profile.nl-alert.languages", "/alert/info"),
        (alert(("nl-NL",)), "eu-alert", "profile.eu-alert.languages", "/alert/info"),
        (alert(("nl-NL", "de-DE")), "eu-alert", "profile.eu-alert.languages", "/alert/info"),
        (alert(geometry=PARIS_CIRCLE), "nl-alert", "profile.nl-alert.area-in-nl",
         "/alert/info[1]/area[1]/circle[1]"),
        (alert(severity="Unknown"), "eu-alert", "profile.eu-alert.severity-level",
         "/alert/info[1]/severity"),
        (alert(), "ipaws-1.0", "profile.ipaws-1.0.code", "/alert/code"),
        (alert(), "ipaws-1.0", "profile.ipaws-1.0.same-event-code", "/alert/info[1]/eventCode[SAME]"),
        (alert(event_codes="<eventCode><valueName>SAME</valueName><value>fire</value></eventCode>"),
         "ipaws-1.0", "profile.ipaws-1.0.same-event-code-format", "/alert/info[1]/eventCode[SAME]"),
        (alert(), "ipaws-1.0", "profile.ipaws-1.0.same-geocode",
         "/alert/info[1]/area[1]/geocode[SAME]"),
    ],
)
def test_profile_rule_reports_code_and_location(
    profiles: ProfileSet, data: bytes, profile: str, code: str, location: str
) -> None:
    outcome = profiles.validate(data, profile)
    matching = [f for f in outcome.findings if f.code == code]
    assert matching, codes(outcome)
    assert matching[0].location == location
    assert matching[0].severity.value == "error"
    assert not outcome.ok


def test_circle_radius_counts_for_the_bounding_box(profiles: ProfileSet) -> None:
    near_border = "<circle>51.40,6.0 5</circle>"  # centre inside NL, 5 km circle too
    assert profiles.validate(alert(geometry=near_border), "nl-alert").ok
    spilling = "<circle>51.40,7.25 20</circle>"  # centre inside, circle reaches Germany
    outcome = profiles.validate(alert(geometry=spilling), "nl-alert")
    assert "profile.nl-alert.area-in-nl" in codes(outcome)


def test_geocode_only_area_is_a_warning_inherited_by_eu_alert(profiles: ProfileSet) -> None:
    geocode = "<geocode><valueName>CBS</valueName><value>GM0599</value></geocode>"
    outcome = profiles.validate(alert(geometry=geocode), "eu-alert")
    assert outcome.ok
    assert [f.code for f in outcome.findings] == ["profile.cap12.area-geometry"] * 2
    assert outcome.findings[0].location == "/alert/info[1]/area[1]"


def test_unknown_profile_names_the_known_ones(profiles: ProfileSet) -> None:
    with pytest.raises(KeyError, match="nl-alert"):
        profiles.validate(alert(), "no-such-profile")


def test_profile_is_not_applied_to_unreadable_input(profiles: ProfileSet) -> None:
    outcome = profiles.validate(b"not xml", "nl-alert")
    assert not outcome.readable
    assert codes(outcome) == ["xml.malformed"]


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_directory_adds_a_profile(tmp_path: Path) -> None:
    write(tmp_path, "be-alert", """
name: be-alert
title: BE-Alert
extends: eu-alert
rules:
  - id: languages
    required_languages: {languages: [nl, fr, de, en]}
""")
    profiles = load_profiles([tmp_path])
    outcome = profiles.validate(alert(), "be-alert")
    assert [f.code for f in outcome.findings] == ["profile.be-alert.languages"]
    assert "fr, de" in outcome.findings[0].message


def test_every_problem_is_reported_with_its_file(tmp_path: Path) -> None:
    unknown_rule = write(tmp_path, "a", """
name: a
title: A
rules:
  - id: x
    requires: {path: info}
""")
    bad_value = write(tmp_path, "b", """
name: b
title: B
rules:
  - id: y
    severity: fatal
    require: {path: info}
""")
    wrong_name = write(tmp_path, "e", "name: not-e\ntitle: E\n")
    with pytest.raises(ProfileConfigError) as caught:
        load_profiles([tmp_path])
    problems = "\n".join(caught.value.problems)
    for path in (unknown_rule, bad_value, wrong_name):
        assert str(path) in problems
    assert "rules.0.requires" in problems
    assert "rules.0.severity" in problems
    assert "must match the file name" in problems


def test_compile_errors_are_reported_together(tmp_path: Path) -> None:
    bad_path = write(tmp_path, "c", "name: c\ntitle: C\nrules:\n  - id: z\n    require: {path: info.aera}\n")
    bad_regex = write(tmp_path, "d",
                      'name: d\ntitle: D\nrules:\n  - id: w\n    pattern: {path: identifier, regex: "(["}\n')
    cycle = write(tmp_path, "f", "name: f\ntitle: F\nextends: g\n")
    write(tmp_path, "g", "name: g\ntitle: G\nextends: f\n")
    with pytest.raises(ProfileConfigError) as caught:
        load_profiles([tmp_path])
    problems = "\n".join(caught.value.problems)
    assert f"{bad_path}: rules.0 (z): require: <info> has no child <aera>" in problems
    assert f"{bad_regex}: rules.0 (w): pattern:" in problems
    assert f"{cycle}: extends: cycle" in problems


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("rules:\n  - id: x\n", "exactly one check"),
        ("rules:\n  - id: x\n    signature_required: true\n",
         "replaced by the profile-level setting `signature:"),
        ("signature: maybe\n", "signature"),
        ("extends: nowhere\n", "unknown profile 'nowhere'"),
        ("disable: [nothing]\n", "no inherited rule 'nothing'"),
        ("rules:\n  - id: x\n    require: {path: 'info.eventCode.value'}\n", "has no child"),
        ("rules:\n  - id: x\n    require: {path: 'info.event[SAME]'}\n", "selects by valueName"),
        ("rules:\n  - id: x\n    max_polygon_points: 2\n", "greater than or equal to 4"),
        ("rules:\n  - id: Bad_Id\n    require: {path: info}\n", "rules.0.id"),
    ],
)
def test_invalid_profile_is_rejected(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, "p", "name: p\ntitle: P\n" + body)
    with pytest.raises(ProfileConfigError) as caught:
        load_profiles([tmp_path])
    assert any(str(path) in p and expected in p for p in caught.value.problems), caught.value


def test_a_profile_cannot_shadow_a_builtin(tmp_path: Path) -> None:
    write(tmp_path, "nl-alert", "name: nl-alert\ntitle: mine\n")
    with pytest.raises(ProfileConfigError, match="already defined"):
        load_profiles([tmp_path])


def test_signature_setting_is_inherited_and_overridable(tmp_path: Path) -> None:
    write(tmp_path, "strict", "name: strict\ntitle: S\nextends: nl-alert\nsignature: required\n"
          "signature_legacy: {allow_sha1: true}\n")
    write(tmp_path, "child", "name: child\ntitle: C\nextends: strict\n")
    profiles = load_profiles([tmp_path])
    assert profiles.get("cap12").signature == "ignore"
    assert profiles.get("nl-alert").signature == "if-present"
    assert profiles.get("ipaws-1.0").signature == "required"
    assert profiles.get("child").signature == "required"
    assert profiles.get("child").signature_legacy.allow_sha1
    assert not profiles.get("nl-alert").signature_legacy.allow_sha1


def test_disable_and_when(tmp_path: Path) -> None:
    write(tmp_path, "lenient", """
name: lenient
title: L
extends: nl-alert
disable: [area-in-nl]
rules:
  - id: exercise-only
    when: {status: [Exercise]}
    require: {path: note}
""")
    profiles = load_profiles([tmp_path])
    outcome = profiles.validate(alert(geometry=PARIS_CIRCLE), "lenient")
    assert outcome.ok, outcome.findings
    exercise = alert().replace(b"<status>Actual</status>", b"<status>Exercise</status>")
    assert "profile.lenient.exercise-only" in codes(profiles.validate(exercise, "lenient"))
