"""What a feed document holds: links to CAP documents, CAP documents inline, or itself
one CAP document.

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


@dataclass(frozen=True)
class FeedItem:
    """One CAP document a feed names: ``url`` to fetch it, or ``inline`` bytes."""

    entry: str
    url: str | None = None
    inline: bytes | None = None
    updated: str = ""

    @property
    def key(self) -> str:
        """What the poller remembers as taken: where the document is and when the feed
        says it last changed (and, inline, its digest), so that an entry changed under
        the same URL is read again -- and a changed alert under the same CAP key is
        reported by the store as ``ingest.key-conflict`` instead of passing unseen."""
        digest = hashlib.sha256(self.inline).hexdigest()[:16] if self.inline else ""
        return f"{self.url or self.entry}|{self.updated}|{digest}"


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

    A single ``<alert>`` is itself the one item. Anything else -- HTML, a container of
    several ``<alert>`` elements, an unknown root -- is a ``feed.format`` finding, not a
    partial read."""
    root, problem = parse_xml(data, limits)
    refused: list[tuple[str, Finding]] = []
    if root is None and problem is not None and problem.code == "xml.encoding":
        data, refused = _without_misencoded_entries(data)
        if refused:
            root, problem = parse_xml(data, limits)
    if root is None:
        return FeedIndex([], problem)
    if refused:
        return replace(read_index(data, base_url, limits), refused=refused)
    tag = etree.QName(root)
    if tag.namespace in CAP_NAMESPACES and tag.localname == "alert":
        return FeedIndex([FeedItem(entry=base_url, inline=data)])
    if tag.namespace == ATOM and tag.localname == "feed":
        return FeedIndex(_atom_items(root, base_url))
    if tag.namespace is None and tag.localname == "rss":
        return FeedIndex(_rss_items(root, base_url))
    return FeedIndex([], error("feed.format", "/",
                               f"the document's root is {root.tag!r}, not an Atom feed, "
                               "an RSS 2.0 channel or a CAP 1.2 alert"))


def _inline_alert(container: etree._Element) -> bytes | None:
    alerts = [a for ns in CAP_NAMESPACES for a in container.findall(f"{{{ns}}}alert")]
    if len(alerts) != 1:
        return None
    return etree.tostring(alerts[0], encoding="UTF-8", xml_declaration=True)


def _atom_items(root: etree._Element, base_url: str) -> list[FeedItem]:
    items = []
    for entry in root.iterfind(f"{{{ATOM}}}entry"):
        entry_id = (entry.findtext(f"{{{ATOM}}}id") or "").strip()
        updated = (entry.findtext(f"{{{ATOM}}}updated") or "").strip()
        content = entry.find(f"{{{ATOM}}}content")
        inline = _inline_alert(content) if content is not None else None
        if inline is not None:
            items.append(FeedItem(entry=entry_id, inline=inline, updated=updated))
            continue
        href = _atom_cap_link(entry)
        if href is not None:
            items.append(FeedItem(entry=entry_id or href, url=urljoin(base_url, href),
                                  updated=updated))
    return items


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


def _rss_items(root: etree._Element, base_url: str) -> list[FeedItem]:
    items = []
    for item in root.iterfind("channel/item"):
        enclosure = item.find("enclosure")
        href = (enclosure.get("url") if enclosure is not None else None) or \
            (item.findtext("link") or "").strip()
        inline = _inline_alert(item)
        entry_id = (item.findtext("guid") or href or "").strip()
        updated = (item.findtext("pubDate") or "").strip()
        if inline is not None:
            items.append(FeedItem(entry=entry_id, inline=inline, updated=updated))
        elif href:
            items.append(FeedItem(entry=entry_id, url=urljoin(base_url, href), updated=updated))
    return items
