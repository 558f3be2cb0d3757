"""CAP 1.2 rules, one row per finding code: each mutation of a valid alert
yields exactly the finding it should, at the element it concerns."""

from __future__ import annotations

import pytest

from router.cap import parse_cap

BASE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>NL-2026-0001</identifier>
  <sender>veiligheidsregio@example.nl</sender>
  <sent>2026-11-25T10:00:00+01:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>nl-NL</language>
    <category>Fire</category>
    <event>Grote brand</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <expires>2026-11-25T14:00:00+01:00</expires>
    <headline>Grote brand in Rotterdam</headline>
    <web>https://www.nl-alert.nl/</web>
    <resource>
      <resourceDesc>Kaart</resourceDesc>
      <mimeType>image/png</mimeType>
      <size>1024</size>
      <uri>https://example.nl/kaart.png</uri>
    </resource>
    <area>
      <areaDesc>Rotterdam</areaDesc>
      <polygon>51.9,4.4 51.95,4.5 51.9,4.6 51.9,4.4</polygon>
      <circle>51.92,4.47 2.5</circle>
      <geocode><valueName>CBS</valueName><value>GM0599</value></geocode>
    </area>
  </info>
</alert>
"""


def mutate(*pairs: tuple[str, str]) -> bytes:
    text = BASE
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode()


def test_base_alert_is_clean() -> None:
    outcome = parse_cap(mutate())
    assert outcome.ok
    assert outcome.findings == []


REF = "<msgType>Alert</msgType>"
SENT = "<sent>2026-11-25T10:00:00+01:00</sent>"
EXPIRES = "<expires>2026-11-25T14:00:00+01:00</expires>"
POLYGON = "<polygon>51.9,4.4 51.95,4.5 51.9,4.6 51.9,4.4</polygon>"
CIRCLE = "<circle>51.92,4.47 2.5</circle>"
RESOURCE_SIZE = "<size>1024</size>"
SCOPE = "<scope>Public</scope>"

# (case id, mutation, expected code, expected severity, expected location prefix)
CASES: list[tuple[str, tuple[tuple[str, str], ...], str, str, str]] = [
    ("Z zone designator", ((SENT, "<sent>2026-11-25T09:00:00Z</sent>"),),
     "cap.datetime-format", "error", "/alert/sent"),
    ("fractional seconds", ((SENT, "<sent>2026-11-25T10:00:00.5+01:00</sent>"),),
     "cap.datetime-format", "error", "/alert/sent"),
    ("no zone", ((SENT, "<sent>2026-11-25T10:00:00</sent>"),),
     "cap.datetime-format", "error", "/alert/sent"),
    ("+00:00 for UTC", ((SENT, "<sent>2026-11-25T09:00:00+00:00</sent>"),),
     "cap.datetime.utc-sign", "warning", "/alert/sent"),
    ("identifier with space", (("NL-2026-0001", "NL 2026"),),
     "cap.identifier.chars", "error", "/alert/identifier"),
    ("sender with comma", (("veiligheidsregio@example.nl", "a,b@example.nl"),),
     "cap.sender.chars", "error", "/alert/sender"),
    ("Restricted without restriction", ((SCOPE, "<scope>Restricted</scope>"),),
     "cap.restriction.required", "error", "/alert/restriction"),
    ("Private without addresses", ((SCOPE, "<scope>Private</scope>"),),
     "cap.addresses.required", "error", "/alert/addresses"),
    ("Update without references", ((REF, "<msgType>Update</msgType>"),),
     "cap.references.required", "error", "/alert/references"),
    ("Cancel without references", ((REF, "<msgType>Cancel</msgType>"),),
     "cap.references.required", "error", "/alert/references"),
    ("Ack without references", ((REF, "<msgType>Ack</msgType>"),),
     "cap.references.required", "error", "/alert/references"),
    ("empty references", ((SCOPE, SCOPE + "<references> </references>"),),
     "cap.references.empty", "warning", "/alert/references"),
    ("references not triples", ((SCOPE, SCOPE + "<references>a@b.nl,X-1</references>"),),
     "cap.references.format", "error", "/alert/references"),
    ("references with Z time",
     ((SCOPE, SCOPE + "<references>a@b.nl,X-1,2026-11-25T08:00:00Z</references>"),),
     "cap.datetime-format", "error", "/alert/references"),
    ("references itself",
     ((SCOPE, SCOPE + "<references>veiligheidsregio@example.nl,NL-2026-0001,"
       "2026-11-25T09:00:00+01:00</references>"),),
     "cap.references.self", "error", "/alert/references"),
    ("references the future",
     ((SCOPE, SCOPE + "<references>a@b.nl,X-1,2026-11-26T08:00:00+01:00</references>"),),
     "cap.references.future", "warning", "/alert/references"),
    ("Error without note",
     ((REF, "<msgType>Error</msgType>"),
      (SCOPE, SCOPE + "<references>a@b.nl,X-1,2026-11-25T08:00:00+01:00</references>")),
     "cap.note.recommended", "warning", "/alert/note"),
    ("Alert without info", (("<info>", "<!--"), ("</info>", "-->")),
     "cap.info.missing", "warning", "/alert"),
    ("unknown language", (("<language>nl-NL</language>", "<language>xx-QQ</language>"),),
     "cap.language.unregistered", "warning", "/alert/info[1]/language"),
    ("expires before sent", ((EXPIRES, "<expires>2026-11-25T09:00:00+01:00</expires>"),),
     "cap.expires.before-start", "error", "/alert/info[1]/expires"),
    ("expires before effective",
     ((EXPIRES, "<effective>2026-11-25T15:00:00+01:00</effective>"
       "<expires>2026-11-25T14:00:00+01:00</expires>"),),
     "cap.expires.before-start", "error", "/alert/info[1]/expires"),
    ("expires at sent", ((EXPIRES, "<expires>2026-11-25T10:00:00+01:00</expires>"),),
     "cap.expires.at-start", "warning", "/alert/info[1]/expires"),
    ("onset after expires",
     ((EXPIRES, "<onset>2026-11-25T15:00:00+01:00</onset>" + EXPIRES),),
     "cap.onset.after-expires", "warning", "/alert/info[1]/onset"),
    ("relative web", (("<web>https://www.nl-alert.nl/</web>", "<web>/nl-alert</web>"),),
     "cap.web.not-absolute", "error", "/alert/info[1]/web"),
    ("bad mime type", (("<mimeType>image/png</mimeType>", "<mimeType>png</mimeType>"),),
     "cap.resource.mime-type", "error", "/alert/info[1]/resource[1]/mimeType"),
    ("bad digest", ((RESOURCE_SIZE, RESOURCE_SIZE.replace("<size>1024</size>", "<size>1024</size>")),
                    ("<uri>https://example.nl/kaart.png</uri>",
                     "<uri>https://example.nl/kaart.png</uri><digest>abc</digest>")),
     "cap.resource.digest", "error", "/alert/info[1]/resource[1]/digest"),
    ("negative size", ((RESOURCE_SIZE, "<size>-1</size>"),),
     "cap.resource.size", "error", "/alert/info[1]/resource[1]/size"),
    ("uri without size", ((RESOURCE_SIZE, ""),),
     "cap.resource.size-recommended", "warning", "/alert/info[1]/resource[1]/size"),
    ("bad derefUri",
     (("<uri>https://example.nl/kaart.png</uri>",
       "<uri>https://example.nl/kaart.png</uri><derefUri>not base64!</derefUri>"),),
     "cap.resource.deref-uri", "error", "/alert/info[1]/resource[1]/derefUri"),
    ("relative uri without derefUri",
     (("<uri>https://example.nl/kaart.png</uri>", "<uri>kaart.png</uri>"),),
     "cap.resource.relative-uri", "warning", "/alert/info[1]/resource[1]/uri"),
    ("polygon with 3 points", ((POLYGON, "<polygon>51.9,4.4 51.95,4.5 51.9,4.4</polygon>"),),
     "cap.polygon.too-few-points", "error", "/alert/info[1]/area[1]/polygon[1]"),
    ("polygon not closed", ((POLYGON, "<polygon>51.9,4.4 51.95,4.5 51.9,4.6 51.8,4.4</polygon>"),),
     "cap.polygon.not-closed", "error", "/alert/info[1]/area[1]/polygon[1]"),
    ("polygon latitude out of range",
     ((POLYGON, "<polygon>91.9,4.4 51.95,4.5 51.9,4.6 91.9,4.4</polygon>"),),
     "cap.polygon.out-of-range", "error", "/alert/info[1]/area[1]/polygon[1]"),
    ("polygon longitude out of range",
     ((POLYGON, "<polygon>51.9,184.4 51.95,4.5 51.9,4.6 51.9,184.4</polygon>"),),
     "cap.polygon.out-of-range", "error", "/alert/info[1]/area[1]/polygon[1]"),
    ("polygon across the antimeridian",
     ((POLYGON, "<polygon>-17.0,179.5 -16.5,-179.5 -17.5,-179.6 -17.0,179.5</polygon>"),),
     "cap.polygon.antimeridian", "error", "/alert/info[1]/area[1]/polygon[1]"),
    ("circle across the antimeridian", ((CIRCLE, "<circle>-17.0,179.9 50</circle>"),),
     "cap.circle.antimeridian", "error", "/alert/info[1]/area[1]/circle[1]"),
    ("polygon syntax", ((POLYGON, "<polygon>51.9;4.4 51.95;4.5 51.9;4.6 51.9;4.4</polygon>"),),
     "cap.polygon.syntax", "error", "/alert/info[1]/area[1]/polygon[1]"),
    ("empty polygon", ((POLYGON, "<polygon></polygon>"),),
     "cap.polygon.empty", "warning", "/alert/info[1]/area[1]/polygon[1]"),
    ("circle syntax", ((CIRCLE, "<circle>51.92,4.47</circle>"),),
     "cap.circle.syntax", "error", "/alert/info[1]/area[1]/circle[1]"),
    ("circle out of range", ((CIRCLE, "<circle>51.92,194.47 2.5</circle>"),),
     "cap.circle.out-of-range", "error", "/alert/info[1]/area[1]/circle[1]"),
    ("circle negative radius", ((CIRCLE, "<circle>51.92,4.47 -2.5</circle>"),),
     "cap.circle.radius", "error", "/alert/info[1]/area[1]/circle[1]"),
    ("geocode empty value", (("<value>GM0599</value>", "<value></value>"),),
     "cap.geocode.empty", "error", "/alert/info[1]/area[1]/geocode[1]"),
    ("ceiling without altitude", (("</geocode>", "</geocode><ceiling>100</ceiling>"),),
     "cap.area.ceiling-without-altitude", "error", "/alert/info[1]/area[1]/ceiling"),
    ("ceiling below altitude",
     (("</geocode>", "</geocode><altitude>200</altitude><ceiling>100</ceiling>"),),
     "cap.area.ceiling-below-altitude", "error", "/alert/info[1]/area[1]/ceiling"),
    ("unknown urgency", (("<urgency>Immediate</urgency>", "<urgency>Now</urgency>"),),
     "xsd.invalid", "error", "/alert/info[1]/urgency"),
    ("two categories are fine but a missing event is not", (("<event>Grote brand</event>", ""),),
     "cap.element-missing", "error", "/alert/info[1]"),
    ("element out of order",
     (("<status>Actual</status>\n  <msgType>Alert</msgType>",
       "<msgType>Alert</msgType>\n  <status>Actual</status>"),),
     "cap.element-order", "error", "/alert/msgType"),
]


@pytest.mark.parametrize(("name", "pairs", "code", "severity", "location"), CASES,
                         ids=[c[0] for c in CASES])
def test_rule_yields_its_finding(
    name: str, pairs: tuple[tuple[str, str], ...], code: str, severity: str, location: str
) -> None:
    outcome = parse_cap(mutate(*pairs))
    assert outcome.readable
    matching = [f for f in outcome.findings if f.code == code]
    assert matching, f"expected {code}, got {[(f.code, f.location) for f in outcome.findings]}"
    finding = matching[0]
    assert finding.severity == severity
    assert finding.location.startswith(location), finding.location
    assert len(finding.message) > 20
    assert outcome.ok is (severity == "warning" and not any(
        f.severity == "error" for f in outcome.findings))


def test_two_categories_parse() -> None:
    outcome = parse_cap(mutate(("<category>Fire</category>",
                                "<category>Fire</category><category>Safety</category>")))
    assert outcome.ok
    assert outcome.document is not None
    assert [c.value for c in outcome.document.alert.infos[0].categories] == ["Fire", "Safety"]


def test_all_problems_reported_at_once() -> None:
    outcome = parse_cap(mutate(
        (SCOPE, "<scope>Private</scope>"),
        (POLYGON, "<polygon>51.9,4.4 51.95,4.5 51.9,4.6 51.8,4.4</polygon>"),
        (CIRCLE, "<circle>51.92,4.47 -2.5</circle>"),
    ))
    codes = {f.code for f in outcome.findings}
    assert {"cap.addresses.required", "cap.polygon.not-closed", "cap.circle.radius"} <= codes


def test_z_is_rejected_in_every_datetime_element() -> None:
    outcome = parse_cap(mutate((EXPIRES, "<expires>2026-11-25T13:00:00Z</expires>")))
    assert [f.location for f in outcome.findings if f.code == "cap.datetime-format"] == [
        "/alert/info[1]/expires"
    ]


@pytest.mark.parametrize("area", [
    "<polygon>-17.0,179.1 -16.5,179.9 -17.5,179.8 -17.0,179.1</polygon>",  # up to 180
    "<polygon>-17.0,-179.9 -16.5,-179.1 -17.5,-179.2 -17.0,-179.9</polygon>",  # beyond it
    "<circle>-17.0,179.0 50</circle>",  # 47 km short of it
])
def test_areas_next_to_the_antimeridian_are_fine(area: str) -> None:
    old = POLYGON if area.startswith("<polygon>") else CIRCLE
    outcome = parse_cap(mutate((old, area)))
    assert [f.code for f in outcome.findings if "antimeridian" in f.code] == []
