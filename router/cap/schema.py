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

Bounded work: at most ``MAX_SCHEMA_FINDINGS`` schema errors become findings; the
rest are counted in one ``xsd.more-errors`` finding ("N more schema errors ...").
Locating an error evaluates an XPath, so turning every one of tens of thousands of
errors into a finding would cost far more than the validation itself.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
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
_NOT_EXPECTED = re.compile(r"^Element '(?:\{([^}]*)\})?([^']*)': This element is not expected")
_REPEATABLE = frozenset({
    "info", "area", "resource", "polygon", "circle", "geocode", "eventCode", "parameter",
    "category", "responseType", "code",
})
"""Elements CAP allows more than once: always indexed, so that a location reads the
same (``/alert/info[1]/area[1]``) whichever stage reported it."""
_UNINDEXED_STEP = re.compile(r"/(" + "|".join(sorted(_REPEATABLE)) + r")(?=/|$)")
_local = threading.local()


def _schema() -> etree.XMLSchema:
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        source = resources.files("router.cap").joinpath("schema/CAP-v1.2.xsd").read_bytes()
        schema = etree.XMLSchema(etree.fromstring(source))
        _local.schema = schema
    return schema


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


def _location(root: etree._Element, path: str) -> str:
    """The error's element as an unprefixed, indexed path. libxml2 writes the path
    with the document's own prefixes (``/*/*[9]/x:ext``), which an XPath evaluated
    here does not know (and one prefix may name two namespaces in two scopes), so
    each prefixed step is matched by its local name; a location is never worth an
    exception."""
    if "*" in path:
        try:
            found = root.getroottree().xpath(_PREFIXED_STEP.sub(r"*[local-name()='\2']", path))
        except etree.XPathError:
            found = None
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            return element_path(found[0])
    return _UNINDEXED_STEP.sub(r"/\1[1]", _PREFIX.sub("", path))


def _to_finding(root: etree._Element, entry: etree._LogEntry) -> Finding:
    location = _location(root, entry.path or "/")
    foreign = _NOT_EXPECTED.match(entry.message)
    if foreign is not None and foreign.group(1) != CAP12_NAMESPACE:
        namespace = foreign.group(1) or "no namespace"
        return error(
            "cap.foreign-element", location,
            f"element {foreign.group(2)!r} of namespace {namespace!r} is not part of "
            "CAP 1.2, which has no extension elements (only an XML signature at the end "
            "of <alert>); carry extra data in <parameter> (valueName/value)")
    message = _NAMESPACE.sub("", entry.message)
    if location.rsplit("/", 1)[-1].split("[")[0] in _DATETIME_ELEMENTS:
        return error(
            "cap.datetime-format",
            location,
            f"{message}. CAP 1.2 date-times are YYYY-MM-DDThh:mm:ss with a numeric offset "
            "such as +01:00 or -00:00; alphabetic zone designators such as Z are not allowed",
        )
    return error("xsd.invalid", location, message)
