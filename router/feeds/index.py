"""What a feed document holds: links to CAP documents, CAP documents inline, itself
one CAP document, or an EDXL-DE 1.0 envelope carrying CAP.

Stage: feeds (pure: bytes in, items out). The bytes go through the same hardened XML
front door as a posted alert (``router.cap.xmlsafe.parse_xml``: no DTD, no entities,
size, depth and element limits), and the index is then read with lxml paths.

Why not feedparser: it parses with its own SAX setup and, when that fails, with a
regular-expression "loose" parser, so the feed bytes would not be held to the limits
above; it also sanitises and rewrites entry content as HTML, which would change an
inline CAP document (and break its XML signature). The formats read here are small
and fixed (Atom 1.0 ``entry/link`` and ``entry/content``, RSS 2.0 ``item/link`` and
``item/enclosure``), so reading them from the hardened tree is both safer and shorter.
feedparser is used in the tests, to check what ``router.feeds.publish`` writes.

EDXL-DE 1.0 (``EDXLDistribution``, as a document at a URL, inside an Atom entry's
``content`` or an RSS item) is unwrapped: each ``contentObject/xmlContent/
embeddedXMLContent/alert`` becomes its own CAP document, serialised exactly as that
subtree with ``etree.tostring`` (no reformatting, no namespace rewriting), and the
envelope travels with it to be stored beside the alert. An enveloped XML signature
over the CAP inside the envelope therefore still verifies when it was made with
exclusive canonicalisation (``xml-exc-c14n``, which ignores the namespace declarations
the envelope puts in scope). lxml writes the envelope's other in-scope prefixes onto
the serialised alert, and inclusive c14n signs them: such a signature verifies only
when the envelope declares no prefix besides its own default namespace.

A document whose root is none of the formats above but which holds CAP ``<alert>``
elements somewhere inside is refused whole with ``feed.several-alerts`` (or
``feed.format`` when it holds one or none): guessing which of them the publisher
meant, or taking some, would be a half-read.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin

from lxml import etree

from router.cap.findings import Finding, error
from router.cap.xmlsafe import XmlLimits, parse_xml

ATOM = "http://www.w3.org/2005/Atom"
CAP = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_NAMESPACES = (CAP, "urn:oasis:names:tc:emergency:cap:1.1",
                  "http://www.incident.com/cap/1.0")
"""An ``<alert>`` in any of these is a CAP document (1.0 and 1.1 are upgraded by the
submit path, ``router.cap.upgrade``), inline or at the URL."""
CAP_TYPES = ("application/cap+xml", "application/xml", "text/xml")
EDXL_DE = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
_EMBEDDED = (f"{{{EDXL_DE}}}contentObject/{{{EDXL_DE}}}xmlContent/"
             f"{{{EDXL_DE}}}embeddedXMLContent")


@dataclass(frozen=True)
class FeedItem:
    """One CAP document a feed names: ``url`` to fetch it, or ``inline`` bytes."""

    entry: str
    url: str | None = None
    inline: bytes | None = None
    updated: str = ""
    envelope: bytes | None = None
    """The EDXL-DE envelope ``inline`` was unwrapped from, kept with the alert."""

    @property
    def key(self) -> str:
        """What the poller remembers as taken: where the document is and when the feed
        says it last changed (and, inline, its digest), so that an entry changed under
        the same URL is read again -- and a changed alert under the same CAP key is
        reported by the store as ``ingest.key-conflict`` instead of passing unseen."""
        digest = hashlib.sha256(self.inline).hexdigest()[:16] if self.inline else ""
        return f"{self.url or self.entry}|{self.updated}|{digest}"


@dataclass(frozen=True)
class Unwrapped:
    """One CAP document to submit, taken from a fetched document: ``part`` names where
    in it (empty for the document itself), ``envelope`` the EDXL-DE it came in."""

    part: str
    cap: bytes
    envelope: bytes | None = None


@dataclass(frozen=True)
class FeedIndex:
    items: list[FeedItem]
    finding: Finding | None = None
    refused: list[tuple[str, Finding]] = field(default_factory=list)
    """Entries left out, each with its entry id (or a digest) and why -- today an entry
    whose bytes are not valid in the feed's declared encoding (``xml.encoding``)."""


_ENTRY = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(entry|item)\b.*?</(?:[A-Za-z_][\w.-]*:)?\1\s*>",
                    re.DOTALL)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_ENTRY_ID = re.compile(rb"<(?:[\w.-]+:)?(?:id|guid)\b[^>]*>([^<]{1,300})<")


def _without_misencoded_entries(data: bytes) -> tuple[bytes, list[tuple[str, Finding]]]:
    """``data`` with each Atom entry / RSS item whose bytes do not decode in the declared
    encoding (default UTF-8) cut out, and a finding per entry cut, so that one badly
    encoded entry costs that entry and not the feed. The cut is made on the raw bytes
    before any parse; what is left goes through the hardened parser again, so nothing
    here loosens it (a feed whose bad bytes lie outside any entry still fails whole)."""
    declared = _DECLARED.match(data)
    name = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        return data, []
    kept = bytearray()
    refused: list[tuple[str, Finding]] = []
    last = 0
    for match in _ENTRY.finditer(data):
        segment = match.group(0)
        try:
            segment.decode(name)
            continue
        except UnicodeDecodeError as exc:
            found = _ENTRY_ID.search(segment)
            entry = (found.group(1).decode(name, errors="replace").strip() if found else
                     "sha256:" + hashlib.sha256(segment).hexdigest()[:16])
            refused.append((entry, error(
                "xml.encoding", entry, f"the entry's bytes are not valid {name} "
                f"(the feed's declared encoding): {exc.reason} at byte {exc.start}")))
        kept += data[last:match.start()]
        last = match.end()
    kept += data[last:]
    return bytes(kept), refused


def read_index(data: bytes, base_url: str, limits: XmlLimits) -> FeedIndex:
    """The CAP documents ``data`` (fetched from ``base_url``) names, or why none.

    A single ``<alert>`` is itself the one item; an EDXL-DE envelope gives one item per
    embedded alert. Anything else is a finding, not a partial read: a container of
    several ``<alert>`` elements ``feed.several-alerts``, HTML or another root
    ``feed.format``."""
    root, problem = parse_xml(data, limits)
    refused: list[tuple[str, Finding]] = []
    if root is None and problem is not None and problem.code == "xml.encoding":
        data, refused = _without_misencoded_entries(data)
        if refused:
            root, problem = parse_xml(data, limits)
    if root is None:
        return FeedIndex([], problem)
    if refused:
        inner = read_index(data, base_url, limits)
        return replace(inner, refused=[*refused, *inner.refused])
    return _by_root(root, data, base_url)


def _by_root(root: etree._Element, data: bytes, base_url: str) -> FeedIndex:
    tag = etree.QName(root)
    if _is_alert(root):
        return FeedIndex([FeedItem(entry=base_url, inline=data)])
    if tag.namespace == EDXL_DE and tag.localname == "EDXLDistribution":
        parts = _edxl_alerts(root)
        if not parts:
            return FeedIndex([], _no_cap_in_envelope())
        return FeedIndex([FeedItem(entry=f"{base_url}#{part}", inline=cap, envelope=data)
                          for part, cap in parts])
    if tag.namespace == ATOM and tag.localname == "feed":
        items, refused = _atom_items(root, base_url)
        return FeedIndex(items, refused=refused)
    if tag.namespace is None and tag.localname == "rss":
        items, refused = _rss_items(root, base_url)
        return FeedIndex(items, refused=refused)
    return FeedIndex([], _unknown_root(root))


def unwrap_document(data: bytes, limits: XmlLimits) -> tuple[list[Unwrapped], Finding | None]:
    """The CAP documents in a fetched linked document: itself when it is one CAP alert
    (the bytes as received), each embedded alert of an EDXL-DE envelope, or a finding
    for a container of several alerts. Bytes that do not parse, and any other root,
    are handed on unchanged, so that the submit path refuses them with the same
    finding a ``POST`` of them would get."""
    root, _ = parse_xml(data, limits)
    if root is None or _is_alert(root):
        return [Unwrapped("", data)], None
    tag = etree.QName(root)
    if tag.namespace == EDXL_DE and tag.localname == "EDXLDistribution":
        parts = _edxl_alerts(root)
        if not parts:
            return [], _no_cap_in_envelope()
        return [Unwrapped(part, cap, data) for part, cap in parts], None
    if len(_alerts_within(root)) > 1:
        return [], _unknown_root(root)
    return [Unwrapped("", data)], None


def _is_alert(element: etree._Element) -> bool:
    tag = etree.QName(element)
    return tag.namespace in CAP_NAMESPACES and tag.localname == "alert"


def _alerts_within(element: etree._Element) -> list[etree._Element]:
    return [e for e in element.iter() if isinstance(e.tag, str) and _is_alert(e)]


def _unknown_root(root: etree._Element) -> Finding:
    count = len(_alerts_within(root))
    if count > 1:
        return error("feed.several-alerts", "/", f"the document's root is {root.tag!r}, "
                     f"not an Atom feed, an RSS 2.0 channel, an EDXL-DE distribution or a "
                     f"CAP alert, and it holds {count} CAP <alert> elements: refused whole, "
                     "none of them taken")
    return error("feed.format", "/", f"the document's root is {root.tag!r}, not an Atom "
                 "feed, an RSS 2.0 channel, an EDXL-DE distribution or a CAP 1.2 alert")


def _no_cap_in_envelope() -> Finding:
    return error("feed.edxl-no-cap", "/EDXLDistribution",
                 "the EDXL-DE envelope carries no CAP alert in "
                 "contentObject/xmlContent/embeddedXMLContent")


def _serialised(element: etree._Element) -> bytes:
    return etree.tostring(element, encoding="UTF-8", xml_declaration=True)


def _edxl_alerts(distribution: etree._Element) -> list[tuple[str, bytes]]:
    """``(part, CAP bytes)`` for each CAP alert embedded in the envelope, in order;
    other embedded content (not CAP) is left alone."""
    parts = []
    for position, embedded in enumerate(distribution.iterfind(_EMBEDDED), start=1):
        alerts = [child for child in embedded if isinstance(child.tag, str) and
                  _is_alert(child)]
        for number, alert in enumerate(alerts, start=1):
            where = f"contentObject[{position}]" + (f"/alert[{number}]" if len(alerts) > 1
                                                    else "")
            parts.append((where, _serialised(alert)))
    return parts


def _inline_items(container: etree._Element, entry: str, updated: str
                  ) -> list[FeedItem] | Finding | None:
    """What an Atom ``content`` or an RSS ``item`` carries inline: one CAP alert, the CAP
    alerts of one EDXL-DE envelope, a finding for several alerts side by side, or None
    (nothing inline: the entry's link is followed)."""
    alerts = [child for child in container if isinstance(child.tag, str) and _is_alert(child)]
    envelopes = container.findall(f"{{{EDXL_DE}}}EDXLDistribution")
    if len(alerts) + len(envelopes) > 1:
        return error("feed.several-alerts", entry, f"the entry carries {len(alerts)} CAP "
                     f"alerts and {len(envelopes)} EDXL-DE envelopes inline side by side: "
                     "refused whole, none of them taken")
    if alerts:
        return [FeedItem(entry=entry, inline=_serialised(alerts[0]), updated=updated)]
    if envelopes:
        parts = _edxl_alerts(envelopes[0])
        if not parts:
            return _no_cap_in_envelope()
        envelope = _serialised(envelopes[0])
        return [FeedItem(entry=f"{entry}#{part}", inline=cap, updated=updated,
                         envelope=envelope) for part, cap in parts]
    return None


Taken = tuple[list[FeedItem], list[tuple[str, Finding]]]


def _atom_items(root: etree._Element, base_url: str) -> Taken:
    items: list[FeedItem] = []
    refused: list[tuple[str, Finding]] = []
    for entry in root.iterfind(f"{{{ATOM}}}entry"):
        entry_id = (entry.findtext(f"{{{ATOM}}}id") or "").strip()
        updated = (entry.findtext(f"{{{ATOM}}}updated") or "").strip()
        content = entry.find(f"{{{ATOM}}}content")
        inline = _inline_items(content, entry_id, updated) if content is not None else None
        if isinstance(inline, Finding):
            refused.append((entry_id, inline))
            continue
        if inline is not None:
            items += inline
            continue
        href = _atom_cap_link(entry)
        if href is not None:
            items.append(FeedItem(entry=entry_id or href, url=urljoin(base_url, href),
                                  updated=updated))
    return items, refused


def _atom_cap_link(entry: etree._Element) -> str | None:
    """The entry's link typed as CAP, else its ``alternate`` link (as national
    services publish them), else none."""
    links = entry.findall(f"{{{ATOM}}}link")
    for link in links:
        if (link.get("type") or "").split(";")[0].strip() in CAP_TYPES and link.get("href"):
            return link.get("href")
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href")
    return None


def _rss_items(root: etree._Element, base_url: str) -> Taken:
    items: list[FeedItem] = []
    refused: list[tuple[str, Finding]] = []
    for item in root.iterfind("channel/item"):
        enclosure = item.find("enclosure")
        href = (enclosure.get("url") if enclosure is not None else None) or \
            (item.findtext("link") or "").strip()
        entry_id = (item.findtext("guid") or href or "").strip()
        updated = (item.findtext("pubDate") or "").strip()
        inline = _inline_items(item, entry_id, updated)
        if isinstance(inline, Finding):
            refused.append((entry_id, inline))
        elif inline is not None:
            items += inline
        elif href:
            items.append(FeedItem(entry=entry_id, url=urljoin(base_url, href), updated=updated))
    return items, refused
