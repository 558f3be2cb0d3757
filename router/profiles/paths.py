"""Element paths in profile rules: CAP element names joined by dots.

Stage: the pure middle (profiles). A path such as ``info.area.geocode[SAME]``
names CAP elements the way an operator reads them in the XML (camelCase CAP
names, not Python attribute names). The optional ``[NAME]`` on ``eventCode``,
``parameter`` and ``geocode`` selects the pairs whose ``valueName`` is NAME and
yields their ``value``.

Evaluating a path yields one ``Group`` per *parent* of the last element, so a
rule "``info.expires`` is required" means "every ``<info>`` has an ``<expires>``"
and each missing one is reported at its own ``<info>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from pydantic import BaseModel

from router.cap.model import Alert, Circle, ValuePair
from router.cap.serialize import format_circle, format_polygon

_ALERT = {
    "identifier": "identifier", "sender": "sender", "sent": "sent", "status": "status",
    "msgType": "msg_type", "source": "source", "scope": "scope", "restriction": "restriction",
    "addresses": "addresses", "code": "codes", "note": "note", "references": "references",
    "incidents": "incidents", "info": "infos",
}
_INFO = {
    "language": "language", "category": "categories", "event": "event",
    "responseType": "response_types", "urgency": "urgency", "severity": "severity",
    "certainty": "certainty", "audience": "audience", "eventCode": "event_codes",
    "effective": "effective", "onset": "onset", "expires": "expires",
    "senderName": "sender_name", "headline": "headline", "description": "description",
    "instruction": "instruction", "web": "web", "contact": "contact",
    "parameter": "parameters", "resource": "resources", "area": "areas",
}
_RESOURCE = {
    "resourceDesc": "resource_desc", "mimeType": "mime_type", "size": "size", "uri": "uri",
    "derefUri": "deref_uri", "digest": "digest",
}
_AREA = {
    "areaDesc": "area_desc", "polygon": "polygons", "circle": "circles", "geocode": "geocodes",
    "altitude": "altitude", "ceiling": "ceiling",
}
_CHILDREN = {"alert": _ALERT, "info": _INFO, "resource": _RESOURCE, "area": _AREA}
_PAIRS = frozenset({"eventCode", "parameter", "geocode"})
_STEP = re.compile(r"^([A-Za-z]+)(?:\[([^\]]+)\])?$")


class PathError(ValueError):
    """A profile names an element CAP 1.2 does not have."""


@dataclass(frozen=True)
class Step:
    element: str
    attribute: str
    value_name: str | None = None


@dataclass(frozen=True)
class Group:
    """The occurrences of the last path element under one parent element.

    ``items`` are the model values; ``texts`` renders them as CAP text only when
    a check compares text, so counting polygons never formats coordinates.
    """

    parent: str
    location: str
    items: tuple[object, ...]

    def texts(self) -> list[str]:
        return [text_of(item) for item in self.items]


def compile_path(path: str) -> tuple[Step, ...]:
    """Check a path against the CAP 1.2 element tree and turn it into steps."""
    steps: list[Step] = []
    context = "alert"
    for part in path.split("."):
        match = _STEP.match(part)
        if match is None:
            raise PathError(f"{part!r} is not an element name (optionally with [valueName])")
        element, value_name = match.groups()
        children = _CHILDREN.get(context)
        if children is None or element not in children:
            known = ", ".join(sorted(children or ()))
            raise PathError(f"<{context}> has no child <{element}> (it has: {known})")
        if value_name is not None and element not in _PAIRS:
            raise PathError(f"[{value_name}] selects by valueName, which <{element}> lacks")
        steps.append(Step(element, children[element], value_name))
        context = element
    return tuple(steps)


def _items(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, tuple):
        return list(value)
    return [value]


def _parents(alert: Alert, steps: tuple[Step, ...]) -> list[tuple[BaseModel, str]]:
    parents: list[tuple[BaseModel, str]] = [(alert, "/alert")]
    for step in steps[:-1]:
        following: list[tuple[BaseModel, str]] = []
        for obj, location in parents:
            items = _items(getattr(obj, step.attribute))
            for index, item in enumerate(items, start=1):
                assert isinstance(item, BaseModel)  # noqa: S101 - intermediate steps are elements
                following.append((item, f"{location}/{step.element}[{index}]"))
        parents = following
    return parents


def text_of(value: object) -> str:
    """The CAP text of a leaf value, as the operator wrote it in the XML."""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, ValuePair):
        return value.value
    if isinstance(value, Circle):
        return format_circle(value)
    if isinstance(value, tuple) and all(isinstance(point, tuple) for point in value):
        return format_polygon(value)
    return str(value)


def evaluate(alert: Alert, steps: tuple[Step, ...]) -> Iterator[Group]:
    """One group of leaf values per parent element of the path's last step."""
    last = steps[-1]
    for obj, location in _parents(alert, steps):
        items = _items(getattr(obj, last.attribute))
        if last.value_name is not None:
            items = [p for p in items if isinstance(p, ValuePair)
                     and p.value_name == last.value_name]
        suffix = f"[{last.value_name}]" if last.value_name else ""
        yield Group(location, f"{location}/{last.element}{suffix}", tuple(items))
