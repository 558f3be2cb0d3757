"""The official OASIS CAP 1.2 XML Schema, shipped inside the package, as findings.

Stage: the pure core. The XSD is loaded once per thread (lxml schema objects are
not safe to share across threads while validating).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from importlib import resources
from typing import cast

from lxml import etree

from router.cap.findings import Finding, error

_DATETIME_ELEMENTS = ("sent", "effective", "onset", "expires")
_PREFIX = re.compile(r"[A-Za-z0-9_]+:")
_NAMESPACE = re.compile(r"\{[^}'\s]*\}")
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
    """Validate against the CAP 1.2 XSD; every schema error becomes a finding."""
    schema = _schema()
    if schema.validate(root):
        return []
    entries = cast(Iterable[etree._LogEntry], schema.error_log)  # lxml-stubs lack __iter__
    return [_to_finding(root, entry) for entry in entries]


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
    if "*" in path:
        found = root.getroottree().xpath(path)
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            return element_path(found[0])
    return _UNINDEXED_STEP.sub(r"/\1[1]", _PREFIX.sub("", path))


def _to_finding(root: etree._Element, entry: etree._LogEntry) -> Finding:
    location = _location(root, entry.path or "/")
    message = _NAMESPACE.sub("", entry.message)
    if location.rsplit("/", 1)[-1].split("[")[0] in _DATETIME_ELEMENTS:
        return error(
            "cap.datetime-format",
            location,
            f"{message}. CAP 1.2 date-times are YYYY-MM-DDThh:mm:ss with a numeric offset "
            "such as +01:00 or -00:00; alphabetic zone designators such as Z are not allowed",
        )
    return error("xsd.invalid", location, message)
