"""The official OASIS CAP 1.2 XML Schema, shipped inside the package, as findings.

Stage: the pure core. The XSD is loaded once per thread (lxml schema objects are
not safe to share across threads while validating).

Foreign-namespace elements: CAP 1.2 has no extension elements. Its XSD closes
every content model; the one wildcard is at the end of ``<alert>`` and admits
only the XML-DSig namespace (the enveloped ``<Signature>``). Extra data travels
in ``<parameter>`` (valueName/value) or ``<resource>``. So an element of any
other namespace (``<x:ext xmlns:x="urn:...">`` inside ``<info>``, say) is
refused, as the XSD says, with its own finding ``cap.foreign-element`` naming the
namespace and pointing at the element, rather than accepted with a warning: an
alert Tocsin stores and forwards must be one every CAP 1.2 consumer downstream
accepts too.

Order and placement: CAP fixes the order of every element's children (an
``<expires>`` comes after ``<onset>`` and before ``<senderName>``). libxml2 says only
"This element is not expected. Expected is one of (...)", which names what would have
been allowed at that point, not what is wrong; so such an error becomes
``cap.element-order`` (a known child in the wrong position: which element, after which
it stands, and between which elements it belongs), ``cap.element-repeated`` (a second
one of an element allowed once) or ``cap.element-misplaced`` (an element of another
parent: where it belongs), all read from the shipped XSD itself. A format hint (such
as the date-time one) is only given for an error about an element's value.

Bounded work: at most ``MAX_SCHEMA_FINDINGS`` schema errors become findings; the
rest are counted in one ``xsd.more-errors`` finding ("N more schema errors ...").
Locating an error evaluates an XPath, so turning every one of tens of thousands of
errors into a finding would cost far more than the validation itself.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import islice
from typing import cast

from lxml import etree

from router.cap.findings import Finding, error
from router.cap.model import CAP12_NAMESPACE

MAX_SCHEMA_FINDINGS = 50
"""Schema errors reported one by one; an alert with more is rewritten, not fixed
error by error, and the count of the rest says so."""

_DATETIME_ELEMENTS = ("sent", "effective", "onset", "expires")
_PREFIX = re.compile(r"[A-Za-z0-9_]+:")
_PREFIXED_STEP = re.compile(r"([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)")
_NAMESPACE = re.compile(r"\{[^}'\s]*\}")
_EXPECTED = re.compile(r"Expected is (?:one of )?\( (.*) \)")
_NOT_EXPECTED = re.compile(r"^Element '(?:\{([^}]*)\})?([^']*)': This element is not expected")
_REPEATABLE = frozenset({
    "info", "area", "resource", "polygon", "circle", "geocode", "eventCode", "parameter",
    "category", "responseType", "code",
})
"""Elements CAP allows more than once: always indexed, so that a location reads the
same (``/alert/info[1]/area[1]``) whichever stage reported it."""
_UNINDEXED_STEP = re.compile(r"/(" + "|".join(sorted(_REPEATABLE)) + r")(?=/|$)")
_local = threading.local()
_XS = "{http://www.w3.org/2001/XMLSchema}"


def _xsd_source() -> bytes:
    return resources.files("router.cap").joinpath("schema/CAP-v1.2.xsd").read_bytes()


def _schema() -> etree.XMLSchema:
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        schema = etree.XMLSchema(etree.fromstring(_xsd_source()))
        _local.schema = schema
    return schema


@dataclass(frozen=True)
class ChildSlot:
    """One position in an element's content model, as the XSD declares it."""

    name: str
    repeatable: bool
    required: bool


@cache
def child_order() -> dict[str, tuple[ChildSlot, ...]]:
    """Each CAP element with children -> its children in the order the XSD demands.

    Read from the shipped XSD (not written out again here), so the placement messages
    cannot disagree with the schema that found the error. Immutable after the first
    call, so sharing it between threads is safe."""
    order: dict[str, tuple[ChildSlot, ...]] = {}
    for element in etree.fromstring(_xsd_source()).iter(f"{_XS}element"):
        sequence = element.find(f"{_XS}complexType/{_XS}sequence")
        name = element.get("name")
        if sequence is None or name is None:
            continue
        slots = []
        for child in sequence.findall(f"{_XS}element"):
            child_name = child.get("name") or (child.get("ref") or "").split(":")[-1]
            slots.append(ChildSlot(child_name, child.get("maxOccurs", "1") != "1",
                                   child.get("minOccurs", "1") != "0"))
        order[name] = tuple(slots)
    return order


def schema_findings(root: etree._Element) -> list[Finding]:
    """Validate against the CAP 1.2 XSD; each schema error becomes a finding, up to
    ``MAX_SCHEMA_FINDINGS``, and one more finding counts the rest."""
    schema = _schema()
    if schema.validate(root):
        return []
    log = schema.error_log
    entries = cast(Iterable[etree._LogEntry], log)  # lxml-stubs lack __iter__
    findings = [_to_finding(root, entry)
                for entry in islice(entries, MAX_SCHEMA_FINDINGS)]
    rest = len(log) - len(findings)  # type: ignore[arg-type]  # lxml-stubs lack __len__
    if rest > 0:
        findings.append(error(
            "xsd.more-errors", "/alert",
            f"{rest} more schema errors are not listed (the first {len(findings)} are)"))
    return findings


def element_path(element: etree._Element) -> str:
    """An XPath-like location with local names and 1-based indices: /alert/info[2]/area[1]."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is None:
            steps.append(name)
        else:
            same = [sibling for sibling in parent if sibling.tag == node.tag]
            indexed = len(same) > 1 or name in _REPEATABLE
            steps.append(f"{name}[{same.index(node) + 1}]" if indexed else name)
        node = parent
    return "/" + "/".join(reversed(steps))


def _element_at(root: etree._Element, path: str) -> etree._Element | None:
    """The element a libxml2 error path names. libxml2 writes the path with the
    document's own prefixes (``/*/*[9]/x:ext``), which an XPath evaluated here does
    not know (and one prefix may name two namespaces in two scopes), so each
    prefixed step is matched by its local name; a location is never worth an
    exception."""
    if "*" not in path:
        return None
    try:
        found = root.getroottree().xpath(_PREFIXED_STEP.sub(r"*[local-name()='\2']", path))
    except etree.XPathError:
        return None
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _location(root: etree._Element, path: str,
              element: etree._Element | None = None) -> str:
    """The error's element as an unprefixed, indexed path."""
    found = element if element is not None else _element_at(root, path)
    if found is not None:
        return element_path(found)
    return _UNINDEXED_STEP.sub(r"/\1[1]", _PREFIX.sub("", path))


def _local_name(element: etree._Element | None) -> str | None:
    if element is None or not isinstance(element.tag, str):
        return None
    return etree.QName(element).localname


def _previous_element(element: etree._Element) -> etree._Element | None:
    node = element.getprevious()
    while node is not None and not isinstance(node.tag, str):  # comments, PIs
        node = node.getprevious()
    return node


def _expected_names(message: str) -> list[str]:
    found = _EXPECTED.search(message)
    if found is None:
        return []
    return [_NAMESPACE.sub("", name.strip()) for name in found.group(1).split(",")]


def placement_finding(element: etree._Element, location: str,
                      expected: list[str] | None = None) -> Finding | None:
    """What is wrong with where a CAP element stands, from the XSD's content models:
    ``None`` when the element is not a child any CAP element declares (the XSD's own
    message is then the better one). ``expected`` is what the schema would have
    allowed at this point: a required element among them that belongs earlier than
    this one is missing (or stands later, out of order)."""
    parent_element = element.getparent()
    name, parent = _local_name(element), _local_name(parent_element)
    if name is None or parent is None or parent_element is None:
        return None
    order = child_order()
    slots = order.get(parent, ())
    names = [slot.name for slot in slots]
    if name not in names:
        homes = sorted(owner for owner, children in order.items()
                       if name in {slot.name for slot in children})
        if not homes:
            return None
        return error("cap.element-misplaced", location,
                     f"<{name}> is not a child of <{parent}>; it belongs inside "
                     + " or ".join(f"<{home}>" for home in homes))
    previous = _previous_element(element)
    previous_name = _local_name(previous)
    slot = slots[names.index(name)]
    if previous_name == name and not slot.repeatable:
        return error("cap.element-repeated", location,
                     f"<{parent}> may hold one <{name}>; this is a second one")
    index = names.index(name)
    siblings_after = {_local_name(node) for node in element.itersiblings()}
    for wanted in expected or ():
        if (wanted in names and names.index(wanted) < index
                and slots[names.index(wanted)].required and wanted not in siblings_after):
            return error("cap.element-missing", element_path(parent_element),
                         f"<{parent}> lacks <{wanted}>, which CAP 1.2 requires before "
                         f"<{name}>")
    before = names[index - 1] if index > 0 else None
    after = names[index + 1] if index + 1 < len(names) else None
    if before and after:
        belongs = f"after <{before}> and before <{after}>"
    elif after:
        belongs = f"first, before <{after}>"
    else:
        belongs = f"last, after <{before}>" if before else "alone"
    here = f"here it follows <{previous_name}>" if previous_name else "here it comes first"
    return error("cap.element-order", location,
                 f"<{name}> is out of place in <{parent}>: CAP 1.2 fixes the order of "
                 f"<{parent}>'s elements and <{name}> belongs {belongs} ({here})")


def _to_finding(root: etree._Element, entry: etree._LogEntry) -> Finding:
    element = _element_at(root, entry.path or "/")
    location = _location(root, entry.path or "/", element)
    foreign = _NOT_EXPECTED.match(entry.message)
    if foreign is not None and foreign.group(1) != CAP12_NAMESPACE:
        namespace = foreign.group(1) or "no namespace"
        return error(
            "cap.foreign-element", location,
            f"element {foreign.group(2)!r} of namespace {namespace!r} is not part of "
            "CAP 1.2, which has no extension elements (only an XML signature at the end "
            "of <alert>); carry extra data in <parameter> (valueName/value)")
    if foreign is not None and element is not None:
        placed = placement_finding(element, location, _expected_names(entry.message))
        if placed is not None:
            return placed
    message = _NAMESPACE.sub("", entry.message)
    if foreign is None and location.rsplit("/", 1)[-1].split("[")[0] in _DATETIME_ELEMENTS:
        return error(
            "cap.datetime-format",
            location,
            f"{message}. CAP 1.2 date-times are YYYY-MM-DDThh:mm:ss with a numeric offset "
            "such as +01:00 or -00:00; alphabetic zone designators such as Z are not allowed",
        )
    return error("xsd.invalid", location, message)
