"""From untrusted bytes to a validated CAP document: the CAP core's one entry point.

Stage: the pure core. Order of work, each step only when the one before passed:
hardened XML parse -> version detection and 1.0/1.1 upgrade -> CAP 1.2 XSD ->
model building -> the spec rules the XSD cannot express. Profiles (EU-Alert,
NL-Alert, IPAWS, ...) are applied on top of this by ``router.profiles``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from router.cap.build import build_alert, has_signature
from router.cap.findings import Finding, has_errors
from router.cap.model import Alert, CapDocument
from router.cap.rules import spec_findings
from router.cap.schema import schema_findings
from router.cap.upgrade import detect_version, upgrade
from router.cap.xmlsafe import XmlLimits, parse_xml


@dataclass(frozen=True)
class ParseOutcome:
    """What the CAP core made of a document.

    ``readable`` is False when the bytes were not a CAP document at all (not XML,
    too large, hostile, wrong root): callers map that to "unreadable input"
    (HTTP 400 / exit 2) rather than "invalid alert" (HTTP 422 / exit 1).
    ``document`` is set whenever the alert could be read into the model, even if
    spec rules then found errors, so that callers can still show what it said.
    """

    document: CapDocument | None
    findings: list[Finding] = field(default_factory=list)
    readable: bool = True

    @property
    def ok(self) -> bool:
        return self.document is not None and not has_errors(self.findings)


def parse_cap(data: bytes, limits: XmlLimits | None = None) -> ParseOutcome:
    """Parse and validate a CAP document (1.2, or 1.1/1.0 upgraded); never raises."""
    root, problem = parse_xml(data, limits)
    if root is None:
        return ParseOutcome(None, [problem] if problem else [], readable=False)
    return read_tree(root, signed=has_signature(root))


def read_tree(root: etree._Element, *, signed: bool) -> ParseOutcome:
    """Validate an already parsed tree: the step after the hardened parse.

    Split out so that a signed alert's model is built from the tree the signature
    check returns (the signed content only), never from the document as received.
    ``signed`` is what the caller knows of the signature; the tree itself may have
    had its ``<Signature>`` removed by the enveloped-signature transform.
    """
    version, problem = detect_version(root)
    if version is None:
        return ParseOutcome(None, [problem] if problem else [], readable=False)
    findings = upgrade(root, version)
    findings += schema_findings(root)
    if has_errors(findings):
        return ParseOutcome(None, findings)
    alert, build_problems = build_alert(root)
    findings += build_problems
    if alert is None:
        return ParseOutcome(None, findings)
    document = CapDocument(alert=alert, source_version=version, signed=signed)
    findings += spec_findings(document)
    return ParseOutcome(document, findings)


def read_stored(data: bytes) -> Alert | None:
    """The model of an alert the store holds, read back without validating it again.

    An alert is stored only after ``parse_cap`` (or ``read_tree``) accepted it, so its
    schema and spec rules were checked then; the dispatcher (per channel), the speech
    worker, the dashboard and the variant and wallet routes read it back many times
    per alert, and the XSD and the rules were a third of each read. What is left is what
    builds the model: the hardened parse (the bytes are still untrusted on disk), the
    1.0/1.1 upgrade and the builder -- the same model, equal to the accepted one.
    ``None`` when the bytes are not such an alert (a store edited by hand)."""
    root, _ = parse_xml(data, XmlLimits(max_bytes=max(len(data), XmlLimits().max_bytes)))
    if root is None:
        return None
    version, _ = detect_version(root)
    if version is None or has_errors(upgrade(root, version)):
        return None
    alert, problems = build_alert(root)
    return None if has_errors(problems) else alert
