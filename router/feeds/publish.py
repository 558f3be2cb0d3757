"""Tocsin's own public feed: ``GET /feeds/public.atom`` and ``GET /feeds/alerts/{id}.xml``.

Stage: feeds. The feed lists the alerts in force that anyone may see: stored state
``accepted`` (not superseded, cancelled, held or awaiting approval), ``<scope>Public``,
``<status>Actual``, and not past every ``<expires>``; a Cancel is itself an accepted
Actual alert, so it is listed too and a subscriber learns of the cancellation. Newest
``<sent>`` first; each entry has the headline (first ``<info>``), the area descriptions,
the severity, ``sent``/``expires`` and a link to the document as received (so an
authority's XML signature still verifies at the subscriber's end).

Cheap to serve: the rendered feed, its ETag and the public documents are kept in
memory and rebuilt only after an alert is accepted (``invalidate``, hooked on the
ingest context's ``on_accepted``, which an approval calls too), when the earliest
``<expires>`` in it has passed, or ``MAX_AGE`` after it was built; between those a
request touches no database. ``If-None-Match`` answers 304.

Not yet: ``?before=`` paging for history and ``?lang=`` variants (issue 20).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from lxml import etree

from router.cap.xmlsafe import XmlLimits, parse_xml
from router.feeds.index import ATOM, CAP
from router.ingest.context import IngestContext
from router.store import AlertState

MAX_AGE = timedelta(seconds=5)
"""The longest a built feed is served without a rebuild: on several nodes sharing one
PostgreSQL store, an alert accepted by another node invalidates nothing here, so this
bounds how late it appears (one rebuild per 5 s at most, never one per request)."""
MAX_ENTRIES = 1000
"""At most this many alerts in force are listed (newest first)."""


@dataclass(frozen=True)
class _Entry:
    alert_id: str
    sent: str
    headline: str
    event: str
    severity: str
    areas: str
    expires: datetime | None


@dataclass(frozen=True)
class _Built:
    body: bytes
    etag: str
    documents: dict[str, bytes]
    valid_until: datetime


def _entry(alert_id: str, raw: bytes, now: datetime) -> _Entry | None:
    root, _ = parse_xml(raw, XmlLimits(max_bytes=max(len(raw), 1024)))
    if root is None:
        return None
    ns = etree.QName(root).namespace or CAP  # stored as received: 1.0 and 1.1 too
    if root.findtext(f"{{{ns}}}scope") != "Public" or \
            root.findtext(f"{{{ns}}}status") != "Actual":
        return None
    infos = root.findall(f"{{{ns}}}info")
    expiries = [datetime.fromisoformat(t) for i in infos
                if (t := i.findtext(f"{{{ns}}}expires"))]
    if expiries and max(expiries) <= now:
        return None
    first = infos[0] if infos else None

    def text(tag: str) -> str:
        return (first.findtext(f"{{{ns}}}{tag}") or "") if first is not None else ""

    areas = [a.text or "" for a in root.iterfind(f"{{{ns}}}info/{{{ns}}}area/"
                                                 f"{{{ns}}}areaDesc")]
    return _Entry(alert_id, root.findtext(f"{{{ns}}}sent") or "", text("headline"),
                  text("event"), text("severity"),
                  "; ".join(dict.fromkeys(areas)), max(expiries) if expiries else None)


def _atom(entries: list[_Entry], base: str) -> bytes:
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})  # type: ignore[dict-item]
    etree.SubElement(feed, f"{{{ATOM}}}id").text = f"{base}/feeds/public.atom"
    etree.SubElement(feed, f"{{{ATOM}}}title").text = "Public warnings in force"
    etree.SubElement(feed, f"{{{ATOM}}}updated").text = (
        entries[0].sent if entries else datetime.now(UTC).isoformat(timespec="seconds"))
    etree.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{base}/feeds/public.atom")
    for e in entries:
        entry = etree.SubElement(feed, f"{{{ATOM}}}entry")
        etree.SubElement(entry, f"{{{ATOM}}}id").text = f"urn:tocsin:alert:{e.alert_id}"
        etree.SubElement(entry, f"{{{ATOM}}}title").text = e.headline or e.event or e.alert_id
        etree.SubElement(entry, f"{{{ATOM}}}updated").text = e.sent
        etree.SubElement(entry, f"{{{ATOM}}}published").text = e.sent
        author = etree.SubElement(entry, f"{{{ATOM}}}author")
        etree.SubElement(author, f"{{{ATOM}}}name").text = "Tocsin"
        summary = f"{e.severity}: {e.areas}" + (
            f" (expires {e.expires.isoformat()})" if e.expires else "")
        etree.SubElement(entry, f"{{{ATOM}}}summary").text = summary
        etree.SubElement(entry, f"{{{ATOM}}}category", term=e.severity, label="severity")
        etree.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="application/cap+xml",
                         href=f"{base}/feeds/alerts/{e.alert_id}.xml")
    return etree.tostring(feed, encoding="UTF-8", xml_declaration=True)


class PublicFeed:
    def __init__(self, ctx: IngestContext) -> None:
        self._ctx = ctx
        self._built: dict[str, _Built] = {}
        self._lock = asyncio.Lock()
        self.builds = 0

    def invalidate(self) -> None:
        self._built.clear()

    async def _current(self, base: str) -> _Built:
        now = datetime.now(UTC)
        built = self._built.get(base)
        if built is not None and built.valid_until > now:
            return built
        async with self._lock:
            built = self._built.get(base)
            if built is None or built.valid_until <= now:
                built = await self._build(base, now)
                self._built[base] = built
            return built

    async def _build(self, base: str, now: datetime) -> _Built:
        self.builds += 1
        store = self._ctx.store
        entries: list[_Entry] = []
        documents: dict[str, bytes] = {}
        cursor: str | None = None
        while len(entries) < MAX_ENTRIES:
            page = await store.list(state=AlertState.ACCEPTED, cursor=cursor, limit=200)
            for record in page.items:
                raw = await store.raw_cap(record.id)
                entry = _entry(record.id, raw, now) if raw is not None else None
                if entry is not None and raw is not None:
                    entries.append(entry)
                    documents[record.id] = raw
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        entries.sort(key=lambda e: datetime.fromisoformat(e.sent), reverse=True)
        entries = entries[:MAX_ENTRIES]
        body = _atom(entries, base)
        expiries = [e.expires for e in entries if e.expires is not None]
        return _Built(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                      {e.alert_id: documents[e.alert_id] for e in entries},
                      min([now + MAX_AGE, *expiries]))

    async def feed(self, request: web.Request) -> web.Response:
        built = await self._current(_base(request))
        headers = {"ETag": built.etag, "Cache-Control": "public, max-age=10"}
        if request.headers.get("If-None-Match") == built.etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=built.body, headers=headers,
                            content_type="application/atom+xml")

    async def document(self, request: web.Request) -> web.Response:
        built = await self._current(_base(request))
        raw = built.documents.get(request.match_info["alert_id"])
        if raw is None:
            raise web.HTTPNotFound(text="no public alert in force with this id")
        return web.Response(body=raw, content_type="application/cap+xml")


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
