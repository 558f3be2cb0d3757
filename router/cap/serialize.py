"""Serialise the CAP model to canonical CAP 1.2 XML.

Stage: the pure core. Canonical means: the 1.2 namespace as the default
namespace, elements in schema order, date-times as ``YYYY-MM-DDThh:mm:ss±hh:mm``,
numbers in positional notation (no exponent, which the XSD decimal type forbids),
list entries with spaces in double quotes. ``parse_cap(serialize(a))`` yields an
alert equal to ``a``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from lxml import etree

from router.cap.model import (
    CAP12_NAMESPACE,
    Alert,
    Area,
    Circle,
    Info,
    Point,
    Reference,
    Resource,
    ValuePair,
)

_NS = "{" + CAP12_NAMESPACE + "}"


def format_datetime(value: datetime) -> str:
    """CAP 1.2 §3.2.1: numeric offsets only, and UTC written as ``-00:00``."""
    text = value.isoformat(timespec="seconds")
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def format_number(value: float) -> str:
    """Shortest round-tripping decimal, never in exponent form."""
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text


def _point(point: Point) -> str:
    lat, lon = point
    return f"{format_number(lat)},{format_number(lon)}"


def format_polygon(points: Iterable[Point]) -> str:
    return " ".join(_point(point) for point in points)


def format_circle(circle: Circle) -> str:
    return f"{_point(circle.center)} {format_number(circle.radius_km)}"


def format_references(references: Iterable[Reference]) -> str:
    return " ".join(f"{r.sender},{r.identifier},{format_datetime(r.sent)}" for r in references)


def format_quoted_list(items: Iterable[str]) -> str:
    return " ".join(f'"{item}"' if not item or any(c.isspace() for c in item) else item
                    for item in items)


def _text(parent: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        etree.SubElement(parent, _NS + name).text = value


def _pairs(parent: etree._Element, name: str, pairs: Iterable[ValuePair]) -> None:
    for pair in pairs:
        element = etree.SubElement(parent, _NS + name)
        _text(element, "valueName", pair.value_name)
        _text(element, "value", pair.value)


def _resource(parent: etree._Element, resource: Resource) -> None:
    element = etree.SubElement(parent, _NS + "resource")
    _text(element, "resourceDesc", resource.resource_desc)
    _text(element, "mimeType", resource.mime_type)
    _text(element, "size", None if resource.size is None else str(resource.size))
    _text(element, "uri", resource.uri)
    _text(element, "derefUri", resource.deref_uri)
    _text(element, "digest", resource.digest)


def _area(parent: etree._Element, area: Area) -> None:
    element = etree.SubElement(parent, _NS + "area")
    _text(element, "areaDesc", area.area_desc)
    for polygon in area.polygons:
        _text(element, "polygon", format_polygon(polygon))
    for circle in area.circles:
        _text(element, "circle", format_circle(circle))
    _pairs(element, "geocode", area.geocodes)
    for name, number in (("altitude", area.altitude), ("ceiling", area.ceiling)):
        _text(element, name, None if number is None else format_number(number))


def _optional_time(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def _info(parent: etree._Element, info: Info) -> None:
    element = etree.SubElement(parent, _NS + "info")
    _text(element, "language", info.language)
    for category in info.categories:
        _text(element, "category", category.value)
    _text(element, "event", info.event)
    for response in info.response_types:
        _text(element, "responseType", response.value)
    for name, value in (("urgency", info.urgency), ("severity", info.severity),
                        ("certainty", info.certainty)):
        _text(element, name, value.value)
    _text(element, "audience", info.audience)
    _pairs(element, "eventCode", info.event_codes)
    for name in ("effective", "onset", "expires"):
        _text(element, name, _optional_time(getattr(info, name)))
    for name, xml_name in (("sender_name", "senderName"), ("headline", "headline"),
                           ("description", "description"), ("instruction", "instruction"),
                           ("web", "web"), ("contact", "contact")):
        _text(element, xml_name, getattr(info, name))
    _pairs(element, "parameter", info.parameters)
    for resource in info.resources:
        _resource(element, resource)
    for area in info.areas:
        _area(element, area)


def to_element(alert: Alert) -> etree._Element:
    root = etree.Element(_NS + "alert", nsmap={None: CAP12_NAMESPACE})  # type: ignore[dict-item]
    _text(root, "identifier", alert.identifier)
    _text(root, "sender", alert.sender)
    _text(root, "sent", format_datetime(alert.sent))
    _text(root, "status", alert.status.value)
    _text(root, "msgType", alert.msg_type.value)
    _text(root, "source", alert.source)
    _text(root, "scope", alert.scope.value)
    _text(root, "restriction", alert.restriction)
    if alert.addresses is not None:
        _text(root, "addresses", format_quoted_list(alert.addresses))
    for code in alert.codes:
        _text(root, "code", code)
    _text(root, "note", alert.note)
    if alert.references is not None:
        _text(root, "references", format_references(alert.references))
    if alert.incidents is not None:
        _text(root, "incidents", format_quoted_list(alert.incidents))
    for info in alert.infos:
        _info(root, info)
    return root


def serialize(alert: Alert, *, pretty: bool = True) -> bytes:
    """Canonical CAP 1.2 XML, UTF-8, with an XML declaration."""
    return etree.tostring(to_element(alert), xml_declaration=True, encoding="UTF-8",
                          pretty_print=pretty)
