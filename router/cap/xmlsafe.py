"""Hardened XML parsing for untrusted CAP documents.

Stage: the pure core (no network, no file access). Everything that can go wrong
with the bytes becomes a finding; nothing here raises to the caller.

Defences, each with its finding code:

- ``xml.empty``: an empty or all-whitespace body.
- ``xml.too-large``: more than ``max_bytes`` (default 1 MiB), refused before parsing.
- ``xml.dtd-forbidden``: any ``<!DOCTYPE`` or ``<!ENTITY``. CAP needs no DTD, so
  rather than parse one "safely" we refuse it; this stops billion-laughs,
  external entities (``file:///etc/passwd``) and external DTD fetches at once.
- ``xml.encoding``: bytes that are not valid in their declared encoding, and
  UTF-16/32 documents (refused so that the DOCTYPE scan above is sound: it reads
  ASCII-compatible bytes only).
- ``xml.too-deep``: nesting deeper than libxml2's fixed limit of 256 levels. CAP
  itself is 5 levels deep (plus an XML signature), and anything deeper than the
  schema allows is rejected by the XSD, so the fixed libxml2 bound is the
  depth bound; it costs nothing per document.
- ``xml.too-many-elements`` / ``xml.too-many-attributes``: more than
  ``max_elements`` (default 20,000) elements or ``max_attributes`` (default
  1,000) attributes, refused after parsing and before the XSD, so that a flood
  of them costs one pass over the tree instead of one schema error (and one
  finding) each. CAP 1.2 elements carry no attributes at all (an XML signature
  has about ten); the largest real alert in the corpus has under 5,000
  elements. A cheap byte count (``<`` and ``=``) bounds both from above, so the
  tree is only walked when a document could be over a limit.
- ``xml.malformed``: anything else libxml2 refuses, with line and column.

The parser never loads a DTD, never resolves entities, never touches the
network, drops comments and processing instructions (an ``xml-stylesheet``
PI is inert but has no business in a stored alert), and does not process
XInclude.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lxml import etree

from router.cap.findings import Finding, error

DEFAULT_MAX_BYTES = 1 << 20
DEFAULT_MAX_ELEMENTS = 20_000
DEFAULT_MAX_ATTRIBUTES = 1_000

_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\x00<\x00?", b"<\x00?\x00")
_local = threading.local()


@dataclass(frozen=True)
class XmlLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_elements: int = DEFAULT_MAX_ELEMENTS
    max_attributes: int = DEFAULT_MAX_ATTRIBUTES


def _parser() -> etree.XMLParser:
    """One parser per thread: lxml parser objects must not be shared across threads."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def _precheck(data: bytes, limits: XmlLimits) -> Finding | None:
    if len(data) > limits.max_bytes:
        return error(
            "xml.too-large",
            "/",
            f"the document is {len(data)} bytes; the limit is {limits.max_bytes} bytes",
        )
    if not data.strip():
        return error("xml.empty", "/", "the body is empty; send a CAP 1.2 <alert> document")
    if data.startswith(_UTF16_32_BOMS):
        return error("xml.encoding", "/", "UTF-16/UTF-32 documents are not accepted; use UTF-8")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return error(
            "xml.dtd-forbidden",
            "/",
            "the document has a DOCTYPE or ENTITY declaration; CAP needs none and "
            "Tocsin refuses them (entity expansion and external resources are attack vectors)",
        )
    return None


def _syntax_finding(exc: etree.XMLSyntaxError) -> Finding:
    msg = str(exc.msg or exc)
    line, column = exc.position if exc.position else (0, 0)
    where = f"line {line}, column {column}"
    lowered = msg.lower()
    if "excessive depth" in lowered or "maximum depth" in lowered:
        return error("xml.too-deep", where, "the document nests deeper than 256 elements")
    if "encoding" in lowered or "utf-8" in lowered or "char 0x" in lowered:
        return error("xml.encoding", where, f"the bytes do not match the declared encoding: {msg}")
    if "entity" in lowered:
        return error("xml.dtd-forbidden", where, f"entity references are not accepted: {msg}")
    return error("xml.malformed", where, f"not well-formed XML: {msg}")


def _count_finding(data: bytes, root: etree._Element, limits: XmlLimits) -> Finding | None:
    """Too many elements or attributes; the walk stops at the first limit crossed.

    The shortest element is ``<a/>`` (4 bytes) and the shortest attribute `` a=""``
    (5 bytes), so a document too short to hold more than the limits is not even
    counted: a typical 5 KB alert costs no scan at all."""
    may_exceed_elements = (len(data) // 4 > limits.max_elements
                           and data.count(b"<") > limits.max_elements)
    may_exceed_attributes = (len(data) // 5 > limits.max_attributes
                             and data.count(b"=") > limits.max_attributes)
    if not (may_exceed_elements or may_exceed_attributes):
        return None
    attributes = 0
    for elements, element in enumerate(root.iter(tag=etree.Element), start=1):
        attributes += len(element.attrib)
        if elements > limits.max_elements:
            return error("xml.too-many-elements", "/",
                         f"the document has more than {limits.max_elements} elements")
        if attributes > limits.max_attributes:
            return error("xml.too-many-attributes", _line_of(element),
                         f"the document has more than {limits.max_attributes} attributes "
                         "(CAP 1.2 elements have none)")
    return None


def _line_of(element: etree._Element) -> str:
    line = element.sourceline
    return f"line {line}" if line else "/"


def parse_xml(
    data: bytes, limits: XmlLimits | None = None
) -> tuple[etree._Element | None, Finding | None]:
    """Parse untrusted bytes into an element tree, or say why not (never raises)."""
    limits = limits or XmlLimits()
    problem = _precheck(data, limits)
    if problem is not None:
        return None, problem
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        return None, _syntax_finding(exc)
    except (ValueError, LookupError) as exc:  # unknown encoding names, odd byte sequences
        return None, error("xml.encoding", "/", f"the document cannot be decoded: {exc}")
    if getattr(root.getroottree().docinfo, "doctype", ""):
        return None, error("xml.dtd-forbidden", "/", "the document has a DOCTYPE declaration")
    problem = _count_finding(data, root, limits)
    if problem is not None:
        return None, problem
    return root, None
