"""CAP -> CAMF mapping: message types, hazards, severity, onset, duration, guidance,
and what is left out and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.galileo_ewss import camf, mapping
from channels.galileo_ewss.settings import Tables, load_tables
from router.cap import parse_cap
from router.channel import Alert, FailureReason, NotApplicableError, PermanentError

REPO = Path(__file__).resolve().parents[2]
TABLES = load_tables(REPO / "config" / "galileo_ewss" / "tables.yaml")
NOW = datetime(2026, 11, 25, 13, 10, tzinfo=UTC)  # a Wednesday
POLYGON = "51.8950,4.4300 51.8950,4.4900 51.8700,4.4900 51.8700,4.4300 51.8950,4.4300"


def info(event: str = "Grote brand", severity: str = "Severe", *, language: str = "nl-NL",
         extra: str = "", area: str = f"<polygon>{POLYGON}</polygon>",
         times: str = "", params: str = "") -> str:
    return f"""<info><language>{language}</language><category>Fire</category>
      <event>{event}</event><urgency>Immediate</urgency><severity>{severity}</severity>
      <certainty>Observed</certainty>{extra}{times}<headline>h</headline>{params}
      <area><areaDesc>a</areaDesc>{area}</area></info>"""


def alert(*infos: str, status: str = "Actual", msg_type: str = "Alert",
          sender: str = "meldkamer@vr-rr.example.nl") -> Alert:
    references = ("<references>x@vr-rr.example.nl,OLD,2026-11-25T13:00:00+01:00</references>"
                  if msg_type in {"Update", "Cancel"} else "")
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
    <alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
      <identifier>T-1</identifier><sender>{sender}</sender>
      <sent>2026-11-25T14:05:00+01:00</sent><status>{status}</status>
      <msgType>{msg_type}</msgType><scope>Public</scope>{references}
      {"".join(infos)}</alert>"""
    document = parse_cap(xml.encode()).document
    assert document is not None
    return document.alert


def only(plan: mapping.Plan) -> camf.CamfMessage:
    assert len(plan.messages) == 1
    return plan.messages[0].message


def test_example_alert_maps_to_one_message_for_both_languages() -> None:
    a = alert(info(), info("Major fire", language="en-GB"))
    message = only(mapping.plan(a, TABLES, NOW))
    assert message.message_type is camf.MessageType.ALERT
    assert (message.country, message.provider, message.hazard) == (150, 1, 24)
    assert message.severity is camf.Severity.SEVERE
    assert (message.guidance_a, message.guidance_b) == (3, 24)
    assert message.library is camf.Library.INTERNATIONAL
    assert message.library_version == 1


@pytest.mark.parametrize(("status", "msg_type", "expected"), [
    ("Actual", "Alert", camf.MessageType.ALERT),
    ("Actual", "Update", camf.MessageType.UPDATE),
    ("Test", "Alert", camf.MessageType.TEST),
    ("Exercise", "Alert", camf.MessageType.TEST),
    ("Exercise", "Update", camf.MessageType.TEST),
])
def test_message_type_from_status_and_msg_type(status: str, msg_type: str,
                                               expected: camf.MessageType) -> None:
    assert only(mapping.plan(alert(info(), status=status, msg_type=msg_type), TABLES,
                             NOW)).message_type is expected


@pytest.mark.parametrize(("status", "msg_type", "why"), [
    ("System", "Alert", "status System"),
    ("Draft", "Alert", "status Draft"),
    ("Actual", "Cancel", "cancel_as_all_clear"),
    ("Exercise", "Cancel", "no test All Clear"),
])
def test_what_ewss_does_not_carry_is_not_applicable(status: str, msg_type: str,
                                                    why: str) -> None:
    with pytest.raises(NotApplicableError, match=why) as raised:
        mapping.plan(alert(info(), status=status, msg_type=msg_type), TABLES, NOW)
    assert raised.value.reason is FailureReason.NOT_APPLICABLE


def test_cancel_becomes_all_clear_only_when_configured() -> None:
    tables = TABLES.model_copy(update={"cancel_as_all_clear": True})
    message = only(mapping.plan(alert(info(), msg_type="Cancel"), tables, NOW))
    assert message.message_type is camf.MessageType.ALL_CLEAR
    assert (message.guidance_a, message.guidance_b) == (31, 0)


def test_guidance_by_message_type_and_parameters() -> None:
    test = only(mapping.plan(alert(info(), status="Test"), TABLES, NOW))
    assert (test.guidance_a, test.guidance_b) == (29, 24)
    update = only(mapping.plan(alert(info(), msg_type="Update"), TABLES, NOW))
    assert (update.guidance_a, update.guidance_b) == (3, 31)
    params = ("<parameter><valueName>CAMF_IC_A</valueName><value>2</value></parameter>"
              "<parameter><valueName>CAMF_IC_B</valueName><value>8</value></parameter>")
    overridden = only(mapping.plan(alert(info(params=params)), TABLES, NOW))
    assert (overridden.guidance_a, overridden.guidance_b) == (2, 8)


@pytest.mark.parametrize("value", ["29", "32", "-1", "two"])
def test_bad_guidance_parameter_is_a_permanent_error(value: str) -> None:
    params = f"<parameter><valueName>CAMF_IC_B</valueName><value>{value}</value></parameter>"
    with pytest.raises(PermanentError, match="CAMF_IC_B") as raised:
        mapping.plan(alert(info(params=params)), TABLES, NOW)
    assert raised.value.reason is FailureReason.INVALID_INPUT


def test_hazard_from_event_codes_before_event_text() -> None:
    same = "<eventCode><valueName>SAME</valueName><value>EQW</value></eventCode>"
    assert only(mapping.plan(alert(info("Something", extra=same)), TABLES, NOW)).hazard == 36
    direct = "<eventCode><valueName>CAMF</valueName><value>44</value></eventCode>"
    message = only(mapping.plan(alert(info("Grote brand", extra=direct)), TABLES, NOW))
    assert (message.hazard, message.guidance_b) == (44, 19)
    bad = "<eventCode><valueName>CAMF</valueName><value>114</value></eventCode>"
    with pytest.raises(PermanentError, match="eventCode CAMF"):
        mapping.plan(alert(info(extra=bad)), TABLES, NOW)


def test_minor_severity_and_unmapped_events_are_skipped_with_reasons() -> None:
    with pytest.raises(NotApplicableError) as raised:
        mapping.plan(alert(info(severity="Minor"), info("Kat in boom", language="en-GB")),
                     TABLES, NOW)
    text = str(raised.value)
    assert "info[1] (nl-NL): severity Minor" in text
    assert "info[2] (en-GB): event 'Kat in boom' maps to no CAMF hazard" in text


def test_a_partly_mappable_alert_sends_what_maps_and_says_what_not() -> None:
    plan = mapping.plan(alert(info(), info("Unknown thing", language="en-GB")), TABLES, NOW)
    assert len(plan.messages) == 1
    assert plan.left_out == ("info[2] (en-GB): event 'Unknown thing' maps to no CAMF hazard",)


def test_geocode_only_areas_cannot_be_targeted() -> None:
    geocode = "<geocode><valueName>CBS</valueName><value>GM0599</value></geocode>"
    with pytest.raises(NotApplicableError, match="no polygon or circle"):
        mapping.plan(alert(info(area=geocode)), TABLES, NOW)


def test_unknown_sender_is_a_configuration_error() -> None:
    with pytest.raises(PermanentError, match="no EWSS provider id") as raised:
        mapping.plan(alert(info(), sender="someone@elsewhere.example"), TABLES, NOW)
    assert raised.value.reason is FailureReason.CONFIGURATION


def test_different_areas_become_different_messages() -> None:
    far = "52.10,4.30 52.10,4.35 52.05,4.35 52.05,4.30 52.10,4.30"
    plan = mapping.plan(alert(info(), info(area=f"<polygon>{far}</polygon>",
                                           language="en-GB")), TABLES, NOW)
    assert [p.info_index for p in plan.messages] == [0, 1]


@pytest.mark.parametrize(("when", "expected"), [
    (datetime(2026, 11, 23, 0, 0, tzinfo=UTC), (False, 1)),  # Monday 00:00 this week
    (datetime(2026, 11, 25, 13, 5, 59, tzinfo=UTC), (False, 2 * 1440 + 13 * 60 + 5 + 1)),
    (datetime(2026, 11, 29, 23, 59, tzinfo=UTC), (False, 10080)),  # Sunday 23:59
    (datetime(2026, 11, 30, 0, 0, tzinfo=UTC), (True, 1)),  # next Monday
    (datetime(2026, 12, 6, 23, 59, tzinfo=UTC), (True, 10080)),
    (datetime(2026, 12, 7, 0, 0, tzinfo=UTC), (False, 0)),  # beyond next week: not used
    (datetime(2026, 11, 22, 23, 59, tzinfo=UTC), (False, 0)),  # last week: not used
    (datetime(2026, 11, 23, 1, 0, tzinfo=UTC) + timedelta(hours=1), (False, 121)),
])
def test_onset_week_and_minute(when: datetime, expected: tuple[bool, int]) -> None:
    assert mapping.onset(when, NOW) == expected


def test_onset_counts_in_the_week_clock_whatever_the_offset() -> None:
    local = datetime.fromisoformat("2026-11-23T01:30:00+01:00")  # Monday 00:30 UTC
    assert mapping.onset(local, NOW) == (False, 31)


@pytest.mark.parametrize(("hours", "expected"), [
    (None, camf.Duration.UNKNOWN), (1, camf.Duration.UNDER_6_H), (5.99, camf.Duration.UNDER_6_H),
    (6, camf.Duration.FROM_6_TO_12_H), (12, camf.Duration.FROM_12_TO_24_H),
    (23.9, camf.Duration.FROM_12_TO_24_H), (24, camf.Duration.UNKNOWN),
    (-1, camf.Duration.UNKNOWN),
])
def test_duration_buckets(hours: float | None, expected: camf.Duration) -> None:
    start = datetime(2026, 11, 25, 12, tzinfo=UTC)
    expires = None if hours is None else start + timedelta(hours=hours)
    assert mapping.duration(start, expires) is expected


def test_onset_and_duration_come_from_the_info() -> None:
    times = ("<onset>2026-11-25T15:00:00+01:00</onset>"
             "<expires>2026-11-25T23:00:00+01:00</expires>")
    message = only(mapping.plan(alert(info(times=times)), TABLES, NOW))
    assert (message.onset_next_week, message.onset_minute) == (False, 2 * 1440 + 14 * 60 + 1)
    assert message.duration is camf.Duration.FROM_6_TO_12_H


def test_tables_are_validated_whole(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("country: 600\nevents: {x: 0}\nguidance: {24: {a: 1, b: 29}}\n"
                   "providers: {'*': 40}\nsurprise: 1\n")
    with pytest.raises(ValueError, match=r"t\.yaml") as raised:
        load_tables(bad)
    for where in ("country", "events.x", "guidance.24.b", "providers", "surprise"):
        assert where in str(raised.value)


def test_shipped_tables_map_only_to_real_hazard_codes() -> None:
    assert isinstance(TABLES, Tables)
    assert TABLES.events["grote brand"] == 24
    assert TABLES.provider("MELDKAMER@VR-RR.EXAMPLE.NL") == 1
