"""Build the CAP 1.2 model from a schema-valid element tree.

Stage: the pure core. Runs after the XSD has passed, so element order and
enumerations are known good; what is left to check here is what CAP packs into
strings (date-times, ``references``, ``polygon``, ``circle``, quoted lists).
A string that cannot be read becomes a finding and is left out of the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lxml import etree
from pydantic import ValidationError

from router.cap.findings import Finding, error, has_errors, warning
from router.cap.model import CAP12_NAMESPACE, XMLDSIG_NAMESPACE, Alert

_NS = "{" + CAP12_NAMESPACE + "}"
_NS_LEN = len(_NS)
_SIGNATURE = "{" + XMLDSIG_NAMESPACE + "}Signature"
_QUOTED_LIST = re.compile(r'"([^"]*)"|(\S+)')
_CAP_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)"
_PAIR = re.compile(rf"{_NUMBER},{_NUMBER}")

_ALERT_TEXT = {
    "identifier": "identifier", "sender": "sender", "status": "status", "msgType": "msg_type",
    "source": "source", "scope": "scope", "restriction": "restriction", "note": "note",
}
_INFO_TEXT = {
    "language": "language", "event": "event", "urgency": "urgency", "severity": "severity",
    "certainty": "certainty", "audience": "audience", "senderName": "sender_name",
    "headline": "headline", "description": "description", "instruction": "instruction",
    "web": "web", "contact": "contact",
}
_INFO_TIMES = {"effective": "effective", "onset": "onset", "expires": "expires"}
_RESOURCE_TEXT = {
    "resourceDesc": "resource_desc", "mimeType": "mime_type", "size": "size", "uri": "uri",
    "derefUri": "deref_uri", "digest": "digest",
}


def _cap_datetime(text: str) -> datetime | None:
    if _CAP_DATETIME.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # the right shape but no such date or time (month 13, 24:00)
        return None


class _Builder:
    """Collects findings while turning elements into plain dicts for pydantic."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def fail(self, code: str, location: str, message: str) -> None:
        self.findings.append(error(code, location, message))

    def datetime(self, text: str, location: str) -> datetime | None:
        """CAP's own format only: ``YYYY-MM-DDThh:mm:ss`` and a numeric offset, no ``Z``."""
        value = _cap_datetime(text)
        if value is None:
            self.fail("cap.datetime-format", location,
                      f"{text!r} is not a CAP date-time (YYYY-MM-DDThh:mm:ss with a numeric "
                      "offset such as +01:00; alphabetic zone designators such as Z are not "
                      "allowed)")
            return None
        if text.endswith("+00:00"):
            self.findings.append(warning(
                "cap.datetime.utc-sign", location,
                "CAP 1.2 writes UTC as -00:00; +00:00 is read as UTC"))
        return value

    def alert(self, root: etree._Element) -> dict[str, Any]:
        data: dict[str, Any] = {}
        codes: list[str] = []
        infos: list[dict[str, Any]] = []
        for child in root:
            tag = child.tag
            if not isinstance(tag, str) or not tag.startswith(_NS):
                continue
            name = tag[_NS_LEN:]
            text = child.text or ""
            if name in _ALERT_TEXT:
                data[_ALERT_TEXT[name]] = text
            elif name == "sent":
                data["sent"] = self.datetime(text, "/alert/sent")
            elif name == "code":
                codes.append(text)
            elif name == "info":
                infos.append(self.info(child, f"/alert/info[{len(infos) + 1}]"))
            elif name in ("addresses", "incidents"):
                data[name] = quoted_list(text)
            elif name == "references":
                data["references"] = self.references(text)
        data["codes"] = codes
        data["infos"] = infos
        return data

    def references(self, text: str) -> list[dict[str, Any]]:
        refs: list[dict[str, Any]] = []
        for position, token in enumerate(text.split(), start=1):
            parts = token.split(",")
            where = f"/alert/references (entry {position})"
            if len(parts) != 3 or not all(parts):
                self.fail("cap.references.format", where,
                          f"{token!r} is not a sender,identifier,sent triple")
                continue
            sent = self.datetime(parts[2], where)
            if sent is not None:
                refs.append({"sender": parts[0], "identifier": parts[1], "sent": sent})
        return refs

    def info(self, element: etree._Element, where: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        lists: dict[str, list[Any]] = {
            "categories": [], "response_types": [], "event_codes": [], "parameters": [],
            "resources": [], "areas": [],
        }
        for child in element:
            name = child.tag[_NS_LEN:] if isinstance(child.tag, str) else ""
            text = child.text or ""
            if name in _INFO_TEXT:
                data[_INFO_TEXT[name]] = text
            elif name in _INFO_TIMES:
                data[_INFO_TIMES[name]] = self.datetime(text, f"{where}/{name}")
            elif name == "category":
                lists["categories"].append(text)
            elif name == "responseType":
                lists["response_types"].append(text)
            elif name in ("eventCode", "parameter"):
                lists["event_codes" if name == "eventCode" else "parameters"].append(pair(child))
            elif name == "resource":
                lists["resources"].append(_fields(child, _RESOURCE_TEXT))
            elif name == "area":
                area_where = f"{where}/area[{len(lists['areas']) + 1}]"
                lists["areas"].append(self.area(child, area_where))
        data.update(lists)
        return data

    def area(self, element: etree._Element, where: str) -> dict[str, Any]:
        data: dict[str, Any] = {"polygons": [], "circles": [], "geocodes": []}
        for child in element:
            name = child.tag[_NS_LEN:] if isinstance(child.tag, str) else ""
            text = child.text or ""
            if name == "areaDesc":
                data["area_desc"] = text
            elif name == "polygon":
                at = f"{where}/polygon[{len(data['polygons']) + 1}]"
                if text.strip():
                    self._add(data["polygons"], self.polygon, text, at)
                else:
                    self.findings.append(warning(
                        "cap.polygon.empty", at, "an empty <polygon> carries no area; ignored"))
            elif name == "circle":
                at = f"{where}/circle[{len(data['circles']) + 1}]"
                self._add(data["circles"], self.circle, text, at)
            elif name == "geocode":
                data["geocodes"].append(pair(child))
            elif name in ("altitude", "ceiling"):
                data[name] = text
        return data

    @staticmethod
    def _add(target: list[Any], read: Callable[[str, str], Any], text: str, where: str) -> None:
        value = read(text, where)
        if value is not None:
            target.append(value)

    def polygon(self, text: str, where: str) -> tuple[tuple[float, float], ...] | None:
        """Whitespace-separated ``lat,lon`` pairs; checked per pair only when parsing fails.

        The model does not re-validate polygons (``Area.polygons``), so this is where a
        polygon is proven to be finite float pairs: ``float()`` also reads ``nan``,
        ``inf`` and ``infinity``, and each of those spellings has an ``n``, which no
        decimal number has.
        """
        pairs = text.split()
        if "n" not in text and "N" not in text and all(pair.count(",") == 1 for pair in pairs):
            try:
                numbers = iter(map(float, ",".join(pairs).split(",")))
                return tuple(zip(numbers, numbers, strict=True))
            except ValueError:
                pass
        bad = next((p for p in pairs if not _PAIR.fullmatch(p)), text.strip())
        self.fail("cap.polygon.syntax", where,
                  f"{bad!r} is not a latitude,longitude pair (WGS 84 decimal degrees)")
        return None

    def circle(self, text: str, where: str) -> dict[str, Any] | None:
        centre, _, radius = text.strip().partition(" ")
        lat, _, lon = centre.partition(",")
        try:
            return {"center": (float(lat), float(lon)), "radius_km": float(radius.strip())}
        except ValueError:
            self.fail("cap.circle.syntax", where,
                      f"{text!r} is not 'latitude,longitude radius' (radius in kilometres)")
            return None


def pair(element: etree._Element) -> dict[str, str]:
    values = {"value_name": "", "value": ""}
    for child in element:
        if child.tag == _NS + "valueName":
            values["value_name"] = child.text or ""
        elif child.tag == _NS + "value":
            values["value"] = child.text or ""
    return values


def _fields(element: etree._Element, names: dict[str, str]) -> dict[str, str]:
    return {names[child.tag[_NS_LEN:]]: child.text or "" for child in element
            if isinstance(child.tag, str) and child.tag[_NS_LEN:] in names}


def quoted_list(text: str) -> list[str]:
    """CAP's space-delimited lists, where an entry containing spaces is in double quotes."""
    return [quoted or bare for quoted, bare in _QUOTED_LIST.findall(text)]


def has_signature(root: etree._Element) -> bool:
    return any(child.tag == _SIGNATURE for child in root)


def build_alert(root: etree._Element) -> tuple[Alert | None, list[Finding]]:
    """Turn a schema-valid CAP 1.2 tree into the model, or explain what could not be read."""
    builder = _Builder()
    data = builder.alert(root)
    if has_errors(builder.findings):
        return None, builder.findings
    try:
        return Alert.model_validate(data), builder.findings
    except ValidationError as exc:
        return None, builder.findings + [_model_finding(err) for err in exc.errors()]


def _model_finding(err: Any) -> Finding:
    location = "/alert/" + "/".join(str(part) for part in err["loc"])
    return error("cap.model", location, str(err["msg"]))
