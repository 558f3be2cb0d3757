"""CAP 1.2 -> CAMF messages, driven by the tables in ``config/galileo_ewss/``.

Stage: channel adapter mapping (pure: the clock comes in as ``now``). The rules
follow the research note's proposal (§1.7); where it is silent, the decisions are:

- **one message per distinct content**: every ``<info>`` is mapped, and infos that
  come out as the same 122 bits (the Dutch and English versions of one warning)
  are sent once; CAMF carries codes, not language;
- an ``<info>`` is left out, with its reason, when its severity is Minor (a
  satellite warning is for threats to life), its event maps to no hazard (guessing
  a hazard is worse than not sending), or it has no polygon or circle; when every
  ``<info>`` is left out the delivery is ``NotApplicableError`` (``skipped``, and
  the fallbacks take over) with all the reasons;
- A1 from status and msgType: Test/Exercise -> Test; Actual Alert/Update -> Alert/
  Update; Actual Cancel -> All Clear only when the tables say
  ``cancel_as_all_clear``; a Test/Exercise Cancel, System, Draft, Ack and Error are
  not sent (CAMF has no "test All Clear");
- A11: the hazard's default guidance; a Test says "this is only a test" (A29), an
  Update "replaces previous warning" (B31), an All Clear "conditions improved"
  (A31); CAP parameters ``CAMF_IC_A`` / ``CAMF_IC_B`` override any of these;
- a sender with no provider id, or a bad ``CAMF_*`` value, is a ``PermanentError``
  saying what to fix: the alert is not sent under a made-up identity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from channels.galileo_ewss import camf, geometry
from channels.galileo_ewss.settings import Tables
from channels.galileo_ewss.tables import GUIDANCE_B_RESERVED
from router.channel import (
    Alert,
    FailureReason,
    Info,
    MsgType,
    NotApplicableError,
    PermanentError,
    Status,
)

ONSET_WEEK_CLOCK: Final = UTC
"""The clock A6/A7 count in: weeks start Monday 00:00 in this zone. UNVERIFIED: the
research note (§1.2) found one decoder reading the onset as UTC and another via the
GPS week; which time scale (UTC or Galileo System Time, with or without leap
seconds) CAMF mandates must be checked in the specification before real use."""

_SEVERITY: Final = {"Extreme": camf.Severity.EXTREME, "Severe": camf.Severity.SEVERE,
                    "Moderate": camf.Severity.MODERATE, "Unknown": camf.Severity.UNKNOWN}
_TEST_A, _UPDATE_B, _ALL_CLEAR_A = 29, 31, 31


@dataclass(frozen=True)
class Planned:
    """One CAMF message to send, and how well its ellipse fits the alert."""

    message: camf.CamfMessage
    info_index: int
    coverage: geometry.Coverage


@dataclass(frozen=True)
class Plan:
    messages: tuple[Planned, ...]
    left_out: tuple[str, ...]  # why some <info> blocks are not carried


def message_type(alert: Alert, tables: Tables) -> camf.MessageType:
    """A1, or ``NotApplicableError`` for what EWSS does not carry."""
    if alert.msg_type in {MsgType.ACK, MsgType.ERROR}:
        raise NotApplicableError(f"a CAP {alert.msg_type.value} is not a warning")
    if alert.status not in {Status.ACTUAL, Status.TEST, Status.EXERCISE}:
        raise NotApplicableError(f"status {alert.status.value} alerts are not broadcast")
    if alert.msg_type is MsgType.CANCEL:
        if alert.status is not Status.ACTUAL:
            raise NotApplicableError("CAMF has no test All Clear: a Cancel of a "
                                     f"{alert.status.value} alert is not broadcast")
        if not tables.cancel_as_all_clear:
            raise NotApplicableError("a CAP Cancel is sent as a CAMF All Clear only with "
                                     "cancel_as_all_clear: true in the EWSS tables")
        return camf.MessageType.ALL_CLEAR
    if alert.status is not Status.ACTUAL:
        return camf.MessageType.TEST
    return camf.MessageType.UPDATE if alert.msg_type is MsgType.UPDATE else (
        camf.MessageType.ALERT)


def hazard(info: Info, tables: Tables) -> int | None:
    """A4 from an ``<eventCode>`` (preferred) or the ``<event>`` text; None if unmapped."""
    for pair in info.event_codes:
        if tables.hazard_value_name and pair.value_name == tables.hazard_value_name:
            return _code(pair.value, f"eventCode {pair.value_name}", 1, 113)
        code = tables.event_codes.get(pair.value_name, {}).get(pair.value)
        if code is not None:
            return code
    return tables.events.get(info.event.strip().casefold())


def _code(text: str, where: str, low: int, high: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise PermanentError(f"{where}: {text!r} is not a number from {low} to {high}",
                             FailureReason.INVALID_INPUT)
    return value


def onset(when: datetime, now: datetime) -> tuple[bool, int]:
    """A6 and A7: (next week?, 1-based minute of the week); (False, 0) = not used, for
    an onset before this week or after next week."""
    local = now.astimezone(ONSET_WEEK_CLOCK)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0,
                                                               microsecond=0)
    minutes = math.floor((when - monday).total_seconds() / 60)
    if 0 <= minutes < 2 * camf.MINUTES_PER_WEEK:
        return minutes >= camf.MINUTES_PER_WEEK, minutes % camf.MINUTES_PER_WEEK + 1
    return False, 0


def duration(start: datetime, expires: datetime | None) -> camf.Duration:
    """A8 from how long the hazard lasts: under 6 h, 6-12 h, 12-24 h, else unknown."""
    if expires is None or expires <= start:
        return camf.Duration.UNKNOWN
    hours = (expires - start).total_seconds() / 3600
    if hours < 6:
        return camf.Duration.UNDER_6_H
    if hours < 12:
        return camf.Duration.FROM_6_TO_12_H
    if hours < 24:
        return camf.Duration.FROM_12_TO_24_H
    return camf.Duration.UNKNOWN


def guidance(info: Info, hazard_code: int, kind: camf.MessageType, tables: Tables) -> int:
    """A11 (international library): defaults by hazard and message type, then CAP
    parameters ``CAMF_IC_A`` / ``CAMF_IC_B``."""
    default = tables.guidance_for(hazard_code)
    a, b = default.a, default.b
    if kind is camf.MessageType.TEST:
        a = _TEST_A
    elif kind is camf.MessageType.UPDATE:
        b = _UPDATE_B
    elif kind is camf.MessageType.ALL_CLEAR:
        a, b = _ALL_CLEAR_A, 0
    for pair in info.parameters:
        if pair.value_name == "CAMF_IC_A":
            a = _code(pair.value, "parameter CAMF_IC_A", 0, 31)
        elif pair.value_name == "CAMF_IC_B":
            b = _code(pair.value, "parameter CAMF_IC_B", 0, 31)
    if b in GUIDANCE_B_RESERVED:
        raise PermanentError(f"parameter CAMF_IC_B: List B code {b} is reserved",
                             FailureReason.INVALID_INPUT)
    return camf.instructions(a, b)


def shapes(info: Info) -> geometry.Shapes:
    return geometry.Shapes(
        polygons=tuple(polygon for area in info.areas for polygon in area.polygons),
        circles=tuple((circle.center, circle.radius_km) for area in info.areas
                      for circle in area.circles))


def plan(alert: Alert, tables: Tables, now: datetime) -> Plan:
    """Every CAMF message ``alert`` becomes; ``NotApplicableError`` when none."""
    kind = message_type(alert, tables)
    provider = tables.provider(alert.sender)
    if provider is None:
        raise PermanentError(f"sender {alert.sender!r} has no EWSS provider id: add it under "
                             "`providers` in the EWSS tables", FailureReason.CONFIGURATION)
    planned: dict[bytes, Planned] = {}
    left_out: list[str] = []
    for index, info in enumerate(alert.infos):
        try:
            item = _message(alert, index, info, kind, provider, tables, now)
        except NotApplicableError as exc:
            left_out.append(f"info[{index + 1}] ({info.effective_language}): {exc}")
            continue
        planned.setdefault(camf.encode(item.message), item)
    if not planned:
        raise NotApplicableError("; ".join(left_out) or "the alert has no <info> to carry")
    return Plan(tuple(planned.values()), tuple(left_out))


def _message(alert: Alert, index: int, info: Info, kind: camf.MessageType,  # noqa: PLR0917
             provider: int, tables: Tables, now: datetime) -> Planned:
    severity = _SEVERITY.get(info.severity.value)
    if severity is None:
        raise NotApplicableError(f"severity {info.severity.value} is below what EWSS carries")
    hazard_code = hazard(info, tables)
    if hazard_code is None:
        raise NotApplicableError(f"event {info.event!r} maps to no CAMF hazard")
    area = shapes(info)
    if not area.polygons and not area.circles:
        raise NotApplicableError("no polygon or circle: EWSS targets an ellipse")
    start = info.onset or info.effective or alert.sent
    next_week, minute = onset(start, now)
    base = camf.CamfMessage(
        kind, tables.country, provider, hazard_code, severity, next_week, minute,
        duration(start, info.expires), camf.Library.INTERNATIONAL, tables.library_version,
        guidance(info, hazard_code, kind, tables), 0, 0, 0, 0, 0, camf.Refinement())
    coverage = _cover(area, base, tables.refine_ellipse)
    message = with_ellipse(base, coverage.codes)
    _verify(message, area)
    return Planned(message, index, coverage)


def with_ellipse(base: camf.CamfMessage, codes: geometry.EllipseCodes) -> camf.CamfMessage:
    return replace(base, latitude=codes.latitude, longitude=codes.longitude,
                   semi_major=codes.semi_major, semi_minor=codes.semi_minor,
                   azimuth=codes.azimuth, settings=codes.refinement or camf.Refinement())


def _cover(area: geometry.Shapes, base: camf.CamfMessage, refine: bool) -> geometry.Coverage:
    def through_the_bits(codes: geometry.EllipseCodes) -> camf.Ellipse:
        return camf.ellipse(camf.decode(camf.encode(with_ellipse(base, codes))))

    try:
        return geometry.cover(area, through_the_bits, refine=refine)
    except geometry.CoverageError as exc:
        raise PermanentError(f"area: {exc}", FailureReason.INVALID_INPUT) from exc


def _verify(message: camf.CamfMessage, area: geometry.Shapes) -> None:
    """The final bits, decoded, cover every vertex (a second check, on what is sent)."""
    missed = geometry.uncovered(camf.ellipse(camf.decode(camf.encode(message))),
                                area.outline())
    if missed:
        raise PermanentError(f"the encoded ellipse misses {len(missed)} vertices, e.g. "
                             f"{missed[0]}", FailureReason.INTERNAL)
