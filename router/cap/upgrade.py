"""Recognise the CAP version of a parsed document and upgrade CAP 1.0/1.1 to 1.2.

Stage: the pure core. Works on the element tree before schema validation, so an
upgraded document is then held to the CAP 1.2 schema like any other.

What changes between versions (OASIS CAP 1.1 and 1.2, "changes from previous
version" annexes), and what the upgrade does about it:

- the namespace (1.0 ``http://www.incident.com/cap/1.0``, 1.1 ``…cap:1.1``): renamed;
- ``<certainty>Very Likely</certainty>`` (1.0, deprecated in 1.1, removed in 1.2): ``Likely``;
- 1.0 ``<password>``: removed in 1.1; dropped with a warning (it is never stored);
- 1.0 ``eventCode``/``parameter``/``geocode`` as ``name=value`` text: split into
  ``<valueName>``/``<value>``;
- 1.0 ``<resource>`` without ``<mimeType>`` (required since 1.1):
  ``application/octet-stream`` is filled in, with a warning.
"""

from __future__ import annotations

from lxml import etree

from router.cap.findings import Finding, error, warning
from router.cap.model import CAP10_NAMESPACE, CAP11_NAMESPACE, CAP12_NAMESPACE

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
_VERSIONS = {CAP12_NAMESPACE: "1.2", CAP11_NAMESPACE: "1.1", CAP10_NAMESPACE: "1.0"}
_PAIR_ELEMENTS = ("eventCode", "parameter", "geocode")
_NS12 = "{" + CAP12_NAMESPACE + "}"


def detect_version(root: etree._Element) -> tuple[str | None, Finding | None]:
    """Return the CAP version of the root element, or a finding saying what it is instead."""
    qname = etree.QName(root)
    version = _VERSIONS.get(qname.namespace or "")
    if version is not None and qname.localname == "alert":
        return version, None
    if qname.namespace == ATOM_NAMESPACE and qname.localname == "feed":
        return None, error(
            "cap.feed",
            "/feed",
            "this is an Atom feed, not a CAP alert; post each <alert> on its own",
        )
    return None, error(
        "cap.namespace",
        f"/{qname.localname}",
        f"the root element is {{{qname.namespace or ''}}}{qname.localname}; expected "
        f"<alert xmlns=\"{CAP12_NAMESPACE}\"> (CAP 1.1 and 1.0 namespaces are upgraded)",
    )


def upgrade(root: etree._Element, version: str) -> list[Finding]:
    """Rewrite a CAP 1.0/1.1 tree in place into CAP 1.2; return what was changed with loss."""
    if version == "1.2":
        return []
    old = "{" + (CAP11_NAMESPACE if version == "1.1" else CAP10_NAMESPACE) + "}"
    findings: list[Finding] = []
    for element in root.iter(old + "*"):
        element.tag = _NS12 + element.tag[len(old):]
    etree.cleanup_namespaces(root, top_nsmap={None: CAP12_NAMESPACE})  # type: ignore[dict-item]
    for certainty in root.iter(_NS12 + "certainty"):
        if certainty.text == "Very Likely":
            certainty.text = "Likely"
    if version == "1.0":
        findings += _upgrade_10(root)
    return findings


def _upgrade_10(root: etree._Element) -> list[Finding]:
    findings: list[Finding] = []
    for password in root.findall(_NS12 + "password"):
        root.remove(password)
        findings.append(warning("cap.upgrade.password-dropped", "/alert/password",
                                "CAP 1.0 <password> is obsolete and was discarded"))
    for name in _PAIR_ELEMENTS:
        for element in root.iter(_NS12 + name):
            findings += _split_pair(element)
    for resource in root.iter(_NS12 + "resource"):
        if resource.find(_NS12 + "mimeType") is None:
            mime = etree.Element(_NS12 + "mimeType")
            mime.text = "application/octet-stream"
            resource.insert(1, mime)
            findings.append(warning("cap.upgrade.mime-type-assumed", "/alert/info/resource",
                                    "CAP 1.0 resource had no <mimeType>; "
                                    "application/octet-stream assumed"))
    return findings


def _split_pair(element: etree._Element) -> list[Finding]:
    if len(element) or element.text is None:
        return []
    name, sep, value = element.text.strip().partition("=")
    if not sep:
        tag = etree.QName(element).localname
        return [error("cap.upgrade.pair", f"/alert/info/{tag}",
                      f"CAP 1.0 <{tag}> {element.text!r} is not of the form name=value")]
    element.text = None
    etree.SubElement(element, _NS12 + "valueName").text = name
    etree.SubElement(element, _NS12 + "value").text = value
    return []
