"""CAP 1.0 and 1.1 documents are upgraded to the 1.2 model, noting the source version."""

from __future__ import annotations

from router.cap import parse_cap, serialize

V10 = b"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="http://www.incident.com/cap/1.0">
  <identifier>X-1</identifier><sender>a@example.org</sender>
  <sent>2003-06-17T14:57:00-07:00</sent><status>Actual</status><msgType>Alert</msgType>
  <password>secret</password><scope>Public</scope>
  <info><category>Met</category><event>Storm</event><urgency>Expected</urgency>
    <severity>Severe</severity><certainty>Very Likely</certainty>
    <eventCode>SAME=SVR</eventCode>
    <parameter>WindSpeed=100</parameter>
    <resource><resourceDesc>map</resourceDesc><uri>https://example.org/m.png</uri></resource>
    <area><areaDesc>County</areaDesc><geocode>FIPS6=006017</geocode></area>
  </info>
</alert>"""

V11 = V10.replace(b"http://www.incident.com/cap/1.0", b"urn:oasis:names:tc:emergency:cap:1.1")
V11 = V11.replace(b"<password>secret</password>", b"")
V11 = V11.replace(b"<eventCode>SAME=SVR</eventCode>",
                  b"<eventCode><valueName>SAME</valueName><value>SVR</value></eventCode>")
V11 = V11.replace(b"<parameter>WindSpeed=100</parameter>", b"")
V11 = V11.replace(b"<geocode>FIPS6=006017</geocode>",
                  b"<geocode><valueName>FIPS6</valueName><value>006017</value></geocode>")
V11 = V11.replace(b"<resourceDesc>map</resourceDesc>",
                  b"<resourceDesc>map</resourceDesc><mimeType>image/png</mimeType>")


def test_cap10_upgraded_with_pairs_split_and_losses_noted() -> None:
    outcome = parse_cap(V10)
    assert outcome.ok, outcome.findings
    assert outcome.document is not None
    assert outcome.document.source_version == "1.0"
    info = outcome.document.alert.infos[0]
    assert info.certainty.value == "Likely"
    assert (info.event_codes[0].value_name, info.event_codes[0].value) == ("SAME", "SVR")
    assert (info.parameters[0].value_name, info.parameters[0].value) == ("WindSpeed", "100")
    assert info.areas[0].geocodes[0].value == "006017"
    assert info.resources[0].mime_type == "application/octet-stream"
    codes = {f.code for f in outcome.findings}
    assert {"cap.upgrade.password-dropped", "cap.upgrade.mime-type-assumed"} <= codes


def test_cap11_upgraded() -> None:
    outcome = parse_cap(V11)
    assert outcome.ok, outcome.findings
    assert outcome.document is not None
    assert outcome.document.source_version == "1.1"
    assert outcome.document.alert.infos[0].certainty.value == "Likely"


def test_upgraded_alert_serialises_as_cap12() -> None:
    outcome = parse_cap(V10)
    assert outcome.document is not None
    again = parse_cap(serialize(outcome.document.alert))
    assert again.document is not None
    assert again.document.source_version == "1.2"
    assert again.document.alert == outcome.document.alert


def test_cap10_pair_without_equals_is_an_error() -> None:
    outcome = parse_cap(V10.replace(b"SAME=SVR", b"SAME SVR"))
    assert not outcome.ok
    assert "cap.upgrade.pair" in {f.code for f in outcome.findings}
