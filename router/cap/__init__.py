"""CAP 1.2 core: hardened parsing, the model, the serializer and the spec rules.

Stage: the pure core at the bottom of the pipeline. Imports nothing from the
rest of Tocsin; does no I/O beyond reading its own packaged XSD.
"""

from router.cap.findings import Finding, FindingSeverity, has_errors
from router.cap.model import Alert, CapDocument
from router.cap.parse import ParseOutcome, parse_cap, read_stored, read_tree
from router.cap.serialize import serialize
from router.cap.xmlsafe import DEFAULT_MAX_BYTES, XmlLimits

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Alert",
    "CapDocument",
    "Finding",
    "FindingSeverity",
    "ParseOutcome",
    "XmlLimits",
    "has_errors",
    "parse_cap",
    "read_stored",
    "read_tree",
    "serialize",
]
