"""The CAP 1.2 rules an XML Schema cannot express, as pure functions over the model.

Stage: the pure core. Each rule yields findings; ``spec_findings`` runs them all.
Section numbers refer to OASIS CAP 1.2 §3.2 (the data dictionary). MUST-level
statements are errors; SHOULD-level statements are warnings.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache
from itertools import pairwise
from urllib.parse import urlsplit

import langcodes

from router.cap.findings import Finding, error, warning
from router.cap.model import (
    Alert,
    Area,
    Bounds,
    CapDocument,
    Circle,
    Info,
    MsgType,
    Polygon,
    Resource,
    Scope,
)

Rule = Callable[[Alert], Iterator[Finding]]

_FORBIDDEN_ID_CHARS = re.compile(r"[\s,<&]")
_MIME = re.compile(r"^[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*(\s*;.*)?$")
_SHA1 = re.compile(r"^[0-9A-Fa-f]{40}$")
_KM_PER_DEGREE = 111.32  # of latitude, and of longitude at the equator
_REFERENCING = (MsgType.UPDATE, MsgType.CANCEL, MsgType.ACK, MsgType.ERROR)


def _identifier_rules(alert: Alert) -> Iterator[Finding]:
    for name, value in (("identifier", alert.identifier), ("sender", alert.sender)):
        if not value:
            yield error(f"cap.{name}.empty", f"/alert/{name}", f"<{name}> must not be empty")
        elif _FORBIDDEN_ID_CHARS.search(value):
            yield error(f"cap.{name}.chars", f"/alert/{name}",
                        f"<{name}> must not contain spaces, commas, '<' or '&' (CAP 1.2 §3.2.1)")


def _scope_rules(alert: Alert) -> Iterator[Finding]:
    if alert.scope is Scope.RESTRICTED and not alert.restriction:
        yield error("cap.restriction.required", "/alert/restriction",
                    "scope Restricted requires a <restriction> saying who may see the alert")
    if alert.scope is Scope.PRIVATE and not alert.addresses:
        yield error("cap.addresses.required", "/alert/addresses",
                    "scope Private requires <addresses> listing the intended recipients")


def _reference_rules(alert: Alert) -> Iterator[Finding]:
    refs = alert.references
    if refs is not None and not refs and alert.msg_type not in _REFERENCING:
        # Nothing is referenced either way: an Alert means the same with or without
        # the empty element, so refusing it would refuse a real warning for its form.
        yield warning("cap.references.empty", "/alert/references",
                      "<references> is present but empty; a plain Alert references nothing, "
                      "so leave the element out")
    if alert.msg_type in _REFERENCING and not refs:
        yield error("cap.references.required", "/alert/references",
                    f"msgType {alert.msg_type.value} must reference the message(s) it "
                    "updates, cancels, acknowledges or corrects")
    for position, ref in enumerate(refs or (), start=1):
        if _FORBIDDEN_ID_CHARS.search(ref.identifier) or _FORBIDDEN_ID_CHARS.search(ref.sender):
            yield error("cap.references.format", f"/alert/references (entry {position})",
                        "a referenced sender or identifier contains a forbidden character")
        if (ref.sender, ref.identifier) == (alert.sender, alert.identifier):
            yield error("cap.references.self", f"/alert/references (entry {position})",
                        "an alert cannot reference itself")
        if ref.sent > alert.sent:
            yield warning("cap.references.future", f"/alert/references (entry {position})",
                          "the referenced message was sent after this one")


def _message_rules(alert: Alert) -> Iterator[Finding]:
    if alert.msg_type is MsgType.ERROR and not alert.note:
        yield warning("cap.note.recommended", "/alert/note",
                      "msgType Error should explain the error in <note>")
    if alert.msg_type in (MsgType.ALERT, MsgType.UPDATE) and not alert.infos:
        yield warning("cap.info.missing", "/alert",
                      f"a msgType {alert.msg_type.value} without <info> tells the public nothing")


@lru_cache(maxsize=512)
def _language_finding(tag: str, where: str) -> Finding | None:
    """RFC 3066 via BCP 47: the XSD checks the shape; this checks the subtags exist.

    A tag that cannot be read as BCP 47 at all is an error: nobody can tell which
    language the text is in. A well-formed tag whose subtags are not in the IANA
    registry (an old feed's ``sp-US``) is a warning: the text is still the
    authority's, channels that match on the language will not pick it, and an
    alert is not refused for its form."""
    try:
        if langcodes.tag_is_valid(tag):
            return None
        langcodes.Language.get(tag)
    except (ValueError, LookupError):
        return error("cap.language.invalid", where,
                     f"{tag!r} is not a well-formed RFC 3066 / BCP 47 language tag "
                     "(e.g. nl-NL, en-GB, fr)")
    return warning("cap.language.unregistered", where,
                   f"{tag!r} is well-formed but names a subtag the IANA language subtag "
                   "registry does not have (e.g. es-US, not sp-US); channels choosing "
                   "<info> by language will not recognise it")


def _info_rules(alert: Alert) -> Iterator[Finding]:
    for index, info in enumerate(alert.infos, start=1):
        where = f"/alert/info[{index}]"
        if info.language is not None:
            language = _language_finding(info.language, f"{where}/language")
            if language is not None:
                yield language
        yield from _time_rules(alert.sent, info, where)
        if info.web is not None and not _absolute_url(info.web):
            yield error("cap.web.not-absolute", f"{where}/web",
                        "<web> must be a full absolute URI (CAP 1.2 §3.2.2)")
        for r_index, resource in enumerate(info.resources, start=1):
            yield from _resource_rules(resource, f"{where}/resource[{r_index}]")
        for a_index, area in enumerate(info.areas, start=1):
            yield from _area_rules(area, f"{where}/area[{a_index}]")


def _time_rules(sent: datetime, info: Info, where: str) -> Iterator[Finding]:
    if info.expires is None:
        return
    start = info.effective or sent
    label = "effective" if info.effective else "sent"
    if info.expires < start:
        yield error("cap.expires.before-start", f"{where}/expires",
                    f"<expires> {info.expires.isoformat()} is before <{label}> "
                    f"{start.isoformat()}; the alert would never be in force")
    elif info.expires == start:
        yield warning("cap.expires.at-start", f"{where}/expires",
                      f"<expires> equals <{label}>: the alert expires the moment it takes "
                      "effect, so no channel will deliver it")
    if info.onset is not None and info.onset >= info.expires:
        yield warning("cap.onset.after-expires", f"{where}/onset",
                      "<onset> is not before <expires>")


def _absolute_url(value: str) -> bool:
    parts = urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.scheme in ("mailto", "tel", "urn")))


def _resource_rules(resource: Resource, where: str) -> Iterator[Finding]:

    if not _MIME.match(resource.mime_type):
        yield error("cap.resource.mime-type", f"{where}/mimeType",
                    f"{resource.mime_type!r} is not an RFC 2046 MIME type such as image/png")
    if resource.digest is not None and not _SHA1.match(resource.digest):
        yield error("cap.resource.digest", f"{where}/digest",
                    "<digest> must be the SHA-1 hash of the resource, 40 hex digits")
    if resource.size is not None and resource.size < 0:
        yield error("cap.resource.size", f"{where}/size", "<size> must not be negative")
    if resource.deref_uri is not None and not _is_base64(resource.deref_uri):
        yield error("cap.resource.deref-uri", f"{where}/derefUri",
                    "<derefUri> must be the Base64-encoded content of the resource")
    if resource.uri is not None and resource.size is None and not resource.deref_uri:
        yield warning("cap.resource.size-recommended", f"{where}/size",
                      "a <resource> with a <uri> should give its approximate <size> in bytes")
    if resource.uri is not None and not _absolute_url(resource.uri) and not resource.deref_uri:
        yield warning("cap.resource.relative-uri", f"{where}/uri",
                      "a relative <uri> names the content of <derefUri>, which is missing")


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _range_problem(bounds: Bounds) -> str | None:
    """Every latitude and longitude in range, judged on the polygon's bounding box."""
    south, north, west, east = bounds
    if south < -90.0 or north > 90.0:
        return f"latitude {south if south < -90.0 else north} is outside -90..90"
    if west < -180.0 or east > 180.0:
        return f"longitude {west if west < -180.0 else east} is outside -180..180"
    return None


def _area_rules(area: Area, where: str) -> Iterator[Finding]:
    for index, (polygon, bounds) in enumerate(zip(area.polygons, area.polygon_bounds,
                                                  strict=True), start=1):
        yield from _polygon_rules(polygon, bounds, f"{where}/polygon[{index}]")
    for index, circle in enumerate(area.circles, start=1):
        yield from _circle_rules(circle, f"{where}/circle[{index}]")
    for index, geocode in enumerate(area.geocodes, start=1):
        if not geocode.value_name or not geocode.value:
            yield error("cap.geocode.empty", f"{where}/geocode[{index}]",
                        "a <geocode> needs both <valueName> and <value>")
    if area.ceiling is not None and area.altitude is None:
        yield error("cap.area.ceiling-without-altitude", f"{where}/ceiling",
                    "<ceiling> may only be used together with <altitude>")
    elif area.ceiling is not None and area.altitude is not None and area.ceiling < area.altitude:
        yield error("cap.area.ceiling-below-altitude", f"{where}/ceiling",
                    "<ceiling> is below <altitude>")


def _polygon_rules(polygon: Polygon, bounds: Bounds | None, where: str
                   ) -> Iterator[Finding]:
    if len(polygon) < 4:
        yield error("cap.polygon.too-few-points", where,
                    f"a polygon needs at least 4 coordinate pairs (first = last); "
                    f"this one has {len(polygon)}")
    elif polygon[0] != polygon[-1]:
        yield error("cap.polygon.not-closed", where,
                    "the first and last coordinate pairs of a polygon must be the same")
    problem = _range_problem(bounds) if bounds is not None else None
    if problem:
        yield error("cap.polygon.out-of-range", where, problem)
    elif bounds is not None and bounds[3] - bounds[2] > 180.0:
        yield from _antimeridian_rule(polygon, where)


def _antimeridian_rule(polygon: Polygon, where: str) -> Iterator[Finding]:
    """An edge spanning more than 180 degrees of longitude: the polygon crosses the 180
    degree meridian (CAP has no way to say so), or is wider than half the world. Routing,
    cell areas and the EWSS ellipse read coordinates as plain degrees, so either way the
    area would be placed on the wrong side of the world: refused, with how to fix it.
    Only polygons more than 180 degrees wide can have such an edge, so the edges are
    looked at only for those (the bounding box is at hand)."""
    for (_lat1, lon1), (_lat2, lon2) in pairwise(polygon):
        if abs(lon2 - lon1) > 180.0:
            yield error("cap.polygon.antimeridian", where,
                        f"an edge goes from longitude {lon1} to {lon2}: the polygon crosses "
                        "the 180 degree meridian, which Tocsin cannot place (it would warn "
                        "the far side of the world); send it as two polygons, one each side "
                        "of 180 degrees")
            return


def _circle_rules(circle: Circle, where: str) -> Iterator[Finding]:
    lat, lon = circle.center
    problem = _range_problem((lat, lat, lon, lon))
    if problem:
        yield error("cap.circle.out-of-range", where, problem)
    if circle.radius_km < 0:
        yield error("cap.circle.radius", where, "the circle radius must not be negative")
    elif not problem and _reaches_antimeridian(circle):
        yield error("cap.circle.antimeridian", where,
                    f"the circle reaches across the 180 degree meridian (centre longitude "
                    f"{lon}, radius {circle.radius_km:g} km), which Tocsin cannot place; "
                    "send the area as two polygons, one each side of 180 degrees")


def _reaches_antimeridian(circle: Circle) -> bool:
    """The circle's east-west extent (in degrees at its centre's latitude) passes 180."""
    lat, lon = circle.center
    reach = circle.radius_km / (_KM_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6))
    return abs(lon) + reach > 180.0


SPEC_RULES: tuple[Rule, ...] = (
    _identifier_rules,
    _scope_rules,
    _reference_rules,
    _message_rules,
    _info_rules,
)


def spec_findings(document: CapDocument) -> list[Finding]:
    """Every CAP 1.2 rule beyond the XSD, applied to one alert."""
    return [finding for rule in SPEC_RULES for finding in rule(document.alert)]


def arrival_findings(alert: Alert, now: datetime, *, reject_expired: bool = False) -> list[Finding]:
    """What is wrong with an alert at the moment it arrives (so not part of
    ``spec_findings``, which depend on the document alone).

    ``cap.expires.past``: an ``<info>`` whose ``<expires>`` is not after ``now`` will be
    delivered by no channel. When every ``<info>`` has expired the whole alert is dead
    on arrival: a warning by default (an archive or a late relay may post it on
    purpose) and an error with ``reject_expired`` (the operator wants it refused with
    422 rather than stored with deliveries that all end ``expired``). When only some
    have, it is always a warning: the others are delivered."""
    infos = alert.infos
    expired = [(index, info.expires) for index, info in enumerate(infos, start=1)
               if info.expires is not None and info.expires <= now]
    if not expired:
        return []
    whole = len(expired) == len(infos)
    make = error if whole and reject_expired else warning
    consequence = ("no channel will deliver the alert" if whole else
                   "this <info> is not delivered; the others are")
    return [make("cap.expires.past", f"/alert/info[{index}]/expires",
                     f"<expires> {expires.isoformat()} is already past at arrival "
                     f"({now.isoformat(timespec='seconds')}): {consequence}")
                for index, expires in expired]
