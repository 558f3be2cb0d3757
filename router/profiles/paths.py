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
class CompiledPath:
    """A checked path; ``text`` and ``parent.text`` are the memo keys of a ``Walk``."""

    text: str
    parent: CompiledPath | None
    steps: tuple[Step, ...]


Trail = tuple[tuple[str, int], ...]  # (element, 1-based index) from <alert> down


def _location(trail: Trail) -> str:
    return "/alert" + "".join(f"/{element}[{index}]" for element, index in trail)


@dataclass(slots=True)
class Group:
    """The occurrences of the last path element under one parent element.

    Locations are formatted only when asked for (when a rule fails), and
    ``texts`` renders values as CAP text only for checks that compare text.
    """

    trail: Trail
    element: str
    items: tuple[object, ...]

    @property
    def parent(self) -> str:
        return _location(self.trail)

    @property
    def location(self) -> str:
        return f"{_location(self.trail)}/{self.element}"

    def texts(self) -> list[str]:
        return [text_of(item) for item in self.items]


def compile_path(path: str) -> CompiledPath:
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
    parent = compile_path(path.rsplit(".", 1)[0]) if "." in path else None
    return CompiledPath(path, parent, tuple(steps))


def _items(value: object) -> tuple[object, ...]:
    if value is None:
        return ()
    if isinstance(value, tuple):
        return value
    return (value,)


def text_of(value: object) -> str:  # noqa: PLR0911 - one return per kind of CAP value
    """The CAP text of a leaf value, as the operator wrote it in the XML.

    Text and the CAP enumerations (``StrEnum``, whose members are their own text)
    come first: they are nearly every value a text rule sees."""
    if isinstance(value, str):
        return str.__str__(value)
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


class Walk:
    """One document's path walks, memoised: rules that share a path walk it once."""

    def __init__(self, alert: Alert) -> None:
        self._parents: dict[str, list[tuple[BaseModel, Trail]]] = {"": [(alert, ())]}
        self._groups: dict[str, list[Group]] = {}

    def _parents_of(self, path: CompiledPath) -> list[tuple[BaseModel, Trail]]:
        parent = path.parent
        if parent is None:
            return self._parents[""]
        found = self._parents.get(parent.text)
        if found is None:
            found = []
            step = parent.steps[-1]
            for obj, trail in self._parents_of(parent):
                for index, item in enumerate(_items(getattr(obj, step.attribute)), start=1):
                    assert isinstance(item, BaseModel)  # noqa: S101 - inner steps are elements
                    found.append((item, (*trail, (step.element, index))))
            self._parents[parent.text] = found
        return found

    def groups(self, path: CompiledPath) -> list[Group]:
        """One group of leaf values per parent element of the path's last step."""
        found = self._groups.get(path.text)
        if found is not None:
            return found
        last = path.steps[-1]
        attribute, value_name = last.attribute, last.value_name
        element = last.element + (f"[{value_name}]" if value_name else "")
        found = []
        for obj, trail in self._parents_of(path):
            value = getattr(obj, attribute)
            items: tuple[object, ...] = (() if value is None else value
                                         if type(value) is tuple else (value,))
            if value_name is not None:
                items = tuple(p for p in items
                              if isinstance(p, ValuePair) and p.value_name == value_name)
            found.append(Group(trail, element, items))
        self._groups[path.text] = found
        return found
