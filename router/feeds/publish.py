"""Tocsin's own public feed: ``GET /feeds/public.atom`` and ``GET /feeds/alerts/{id}.xml``.

Stage: feeds. The feed lists the alerts in force that anyone may see: stored state
``accepted`` (not superseded, cancelled, held or awaiting approval), ``<scope>Public``,
``<status>Actual`` (or one of ``public_feed_statuses``: an Exercise or Test listed
there is marked in its entry's title, ``Exercise: ...``, and by a ``status`` category,
so no reader takes a drill for a warning), and not past every ``<expires>``; a Cancel
is itself an accepted alert, so it is listed too and a subscriber learns of the
cancellation. Newest
``<sent>`` first; each entry has the headline (first ``<info>``), the area descriptions,
the severity, ``sent``/``expires`` and a link to the document as received (so an
authority's XML signature still verifies at the subscriber's end).

History (RFC 5005 paging): the feed links ``rel="next"`` to
``public.atom?before=<cursor>``, a page of every public Actual alert ever accepted --
in force, expired, superseded or cancelled alike, since a history that forgot the
cancelled ones would misinform -- newest received first (by alert id, a ULID),
``public_feed_page_size`` per page, each page linking ``rel="next"`` to the older ones
with the id of its last entry as the cursor. Held, rejected and unapproved alerts are
never listed. The first page stays "what is in force", complete, so a subscriber that
only polls it (Tocsin's own poller does) misses nothing current.

Languages: ``?lang=<BCP 47 tag>`` renders each entry from its ``<info>`` in the closest
language (CLDR matching through ``langcodes``: ``nl`` takes ``nl-NL``, ``en-GB`` takes
``en-US``), and from its first ``<info>`` when none is close -- the entry's ``xml:lang``
says which was used. Every variant and page has its own ETag.

Cheap to serve: the alerts in force, their documents and the rendered variants are
kept in memory and dropped only after an alert is accepted (``invalidate``, hooked on
the ingest context's ``on_accepted``, which an approval calls too), when the earliest
``<expires>`` in force has passed, or ``MAX_AGE`` after they were read; between those
a request touches no database. ``If-None-Match`` answers 304. History pages are read
on first request and kept alike; finding them scans the store's accepted, superseded
and cancelled records once per rebuild.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import langcodes
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
MAX_VARIANTS = 256
"""Rendered pages kept (host x language x page); the least recently used go first."""
HISTORY_STATES = (AlertState.ACCEPTED, AlertState.SUPERSEDED, AlertState.CANCELLED)
CURSOR = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
"""An alert id (ULID, Crockford base32): ``before=`` takes nothing else."""
HISTORY_START = "7" + "Z" * 25
"""The greatest ULID: the first page's ``rel="next"`` cursor, so the history starts with
the newest alert. A fixed value: derived from the newest alert, it would tell anyone when
a non-public alert was last accepted, and change the first page's ETag with it."""
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EMPTY_UPDATED = "1970-01-01T00:00:00+00:00"
"""``<updated>`` of a page with no entry: fixed, so an empty feed keeps its ETag."""


@dataclass(frozen=True)
class _Info:
    language: str
    headline: str
    event: str
    severity: str
    areas: tuple[str, ...]


@dataclass(frozen=True)
class _Entry:
    alert_id: str
    sent: str
    infos: tuple[_Info, ...]
    expires: datetime | None
    status: str = "Actual"

    def view(self, lang: str | None) -> tuple[_Info, str]:
        """The info to show and the areas: for ``lang`` the closest language's (else
        the first info's); without ``lang``, the first info's with every area."""
        if not self.infos:
            return _Info("", "", "", "", ()), ""
        if lang is None:
            areas = dict.fromkeys(a for i in self.infos for a in i.areas)
            return self.infos[0], "; ".join(areas)
        tags = [i.language for i in self.infos]
        match = langcodes.closest_supported_match(lang, tags)
        chosen = self.infos[tags.index(match)] if match in tags else self.infos[0]
        return chosen, "; ".join(dict.fromkeys(chosen.areas))


@dataclass(frozen=True)
class _InForce:
    entries: list[_Entry]
    documents: dict[str, bytes]
    valid_until: datetime


@dataclass(frozen=True)
class _Page:
    body: bytes
    etag: str


def _entry(alert_id: str, raw: bytes, statuses: frozenset[str]) -> _Entry | None:
    """The entry of a public alert of one of ``statuses`` (None for any other), whenever
    it expires."""
    root, _ = parse_xml(raw, XmlLimits(max_bytes=max(len(raw), 1024)))
    if root is None:
        return None
    ns = etree.QName(root).namespace or CAP  # stored as received: 1.0 and 1.1 too
    status = root.findtext(f"{{{ns}}}status") or ""
    if root.findtext(f"{{{ns}}}scope") != "Public" or status not in statuses:
        return None
    infos = root.findall(f"{{{ns}}}info")
    expiries = [datetime.fromisoformat(t) for i in infos
                if (t := i.findtext(f"{{{ns}}}expires"))]
    return _Entry(alert_id, root.findtext(f"{{{ns}}}sent") or "",
                  tuple(_info(i, ns) for i in infos), max(expiries) if expiries else None,
                  status)


def _info(info: etree._Element, ns: str) -> _Info:
    def text(tag: str) -> str:
        return info.findtext(f"{{{ns}}}{tag}") or ""

    return _Info(text("language") or "en-US", text("headline"), text("event"),
                 text("severity"), tuple(a.text or "" for a in info.iterfind(
                     f"{{{ns}}}area/{{{ns}}}areaDesc")))


def _query(lang: str | None, before: str | None) -> str:
    pairs = [(k, v) for k, v in (("lang", lang), ("before", before)) if v is not None]
    return "?" + urlencode(pairs) if pairs else ""


def _atom(entries: list[_Entry], base: str, lang: str | None, before: str | None,
          next_cursor: str | None) -> bytes:
    url = f"{base}/feeds/public.atom"
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})  # type: ignore[dict-item]
    etree.SubElement(feed, f"{{{ATOM}}}id").text = url + _query(lang, None)
    etree.SubElement(feed, f"{{{ATOM}}}title").text = (
        "Public warnings in force" if before is None else "Public warnings: history")
    etree.SubElement(feed, f"{{{ATOM}}}updated").text = (
        max(entries, key=lambda e: datetime.fromisoformat(e.sent)).sent if entries
        else EMPTY_UPDATED)
    etree.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=url + _query(lang, before))
    if next_cursor is not None:
        etree.SubElement(feed, f"{{{ATOM}}}link", rel="next",
                         href=url + _query(lang, next_cursor))
    for e in entries:
        _atom_entry(feed, e, base, lang)
    return etree.tostring(feed, encoding="UTF-8", xml_declaration=True)


def _atom_entry(feed: etree._Element, e: _Entry, base: str, lang: str | None) -> None:
    info, areas = e.view(lang)
    entry = etree.SubElement(feed, f"{{{ATOM}}}entry")
    if lang is not None and info.language:
        entry.set(XML_LANG, info.language)
    etree.SubElement(entry, f"{{{ATOM}}}id").text = f"urn:tocsin:alert:{e.alert_id}"
    title = info.headline or info.event or e.alert_id
    etree.SubElement(entry, f"{{{ATOM}}}title").text = (
        title if e.status == "Actual" else f"{e.status}: {title}")
    etree.SubElement(entry, f"{{{ATOM}}}updated").text = e.sent
    etree.SubElement(entry, f"{{{ATOM}}}published").text = e.sent
    author = etree.SubElement(entry, f"{{{ATOM}}}author")
    etree.SubElement(author, f"{{{ATOM}}}name").text = "Tocsin"
    summary = f"{info.severity}: {areas}" + (
        f" (expires {e.expires.isoformat()})" if e.expires else "")
    etree.SubElement(entry, f"{{{ATOM}}}summary").text = summary
    etree.SubElement(entry, f"{{{ATOM}}}category", term=info.severity, label="severity")
    if e.status != "Actual":
        etree.SubElement(entry, f"{{{ATOM}}}category", term=e.status, label="status")
    etree.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="application/cap+xml",
                     href=f"{base}/feeds/alerts/{e.alert_id}.xml")


class PublicFeed:
    def __init__(self, ctx: IngestContext) -> None:
        self._ctx = ctx
        self._statuses = frozenset(str(s) for s in ctx.settings.public_feed_statuses)
        self._lock = asyncio.Lock()
        self._generation = 0
        self._in_force: _InForce | None = None
        self._history: list[str] | None = None
        self._pages: OrderedDict[tuple[str, str | None, str | None], _Page] = OrderedDict()
        self._until = datetime.max.replace(tzinfo=UTC)
        self.builds = 0
        """Reads of the store (in force or history): a request served from memory adds none."""

    def invalidate(self) -> None:
        self._generation += 1
        self._in_force = None
        self._history = None
        self._pages.clear()
        self._until = datetime.max.replace(tzinfo=UTC)

    async def _page(self, base: str, lang: str | None, before: str | None) -> _Page:
        key = (base, lang, before)
        if self._until <= datetime.now(UTC):
            self.invalidate()
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
            return page
        async with self._lock:
            if self._until <= datetime.now(UTC):
                self.invalidate()
            page = self._pages.get(key)
            if page is None:
                generation = self._generation
                page = await self._render(base, lang, before)
                if generation == self._generation:  # nothing accepted meanwhile
                    self._pages[key] = page
                    while len(self._pages) > MAX_VARIANTS:
                        self._pages.popitem(last=False)
            return page

    async def _render(self, base: str, lang: str | None, before: str | None) -> _Page:
        next_cursor: str | None
        if before is None:
            entries, next_cursor = (await self._current()).entries, HISTORY_START
        else:
            entries, next_cursor = await self._history_page(before)
        body = _atom(entries, base, lang, before, next_cursor)
        return _Page(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    async def _current(self) -> _InForce:
        if self._in_force is None:
            generation = self._generation
            built = await self._build_in_force(datetime.now(UTC))
            if generation == self._generation:
                self._in_force = built
                self._until = min(self._until, built.valid_until)
            return built
        return self._in_force

    async def _build_in_force(self, now: datetime) -> _InForce:
        self.builds += 1
        store = self._ctx.store
        entries: list[_Entry] = []
        documents: dict[str, bytes] = {}
        cursor: str | None = None
        while True:
            page = await store.list(state=AlertState.ACCEPTED, cursor=cursor, limit=200)
            for record in page.items:
                raw = (await store.raw_cap(record.id) if record.status in self._statuses
                       else None)
                entry = _entry(record.id, raw, self._statuses) if raw is not None else None
                if entry is not None and raw is not None and (
                        entry.expires is None or entry.expires > now):
                    entries.append(entry)
                    documents[record.id] = raw
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        entries.sort(key=lambda e: datetime.fromisoformat(e.sent), reverse=True)
        entries = entries[:MAX_ENTRIES]
        expiries = [e.expires for e in entries if e.expires is not None]
        return _InForce(entries, {e.alert_id: documents[e.alert_id] for e in entries},
                        min([now + MAX_AGE, *expiries]))

    async def _history_ids(self) -> list[str]:
        """Ids of the listed statuses' alerts in a history state, newest first."""
        if self._history is None:
            generation = self._generation
            self.builds += 1
            ids: list[str] = []
            for state in HISTORY_STATES:
                cursor: str | None = None
                while True:
                    page = await self._ctx.store.list(state=state, cursor=cursor, limit=500)
                    ids += [r.id for r in page.items if r.status in self._statuses]
                    if page.next_cursor is None:
                        break
                    cursor = page.next_cursor
            ids.sort(reverse=True)
            if generation == self._generation:
                self._history = ids
                self._until = min(self._until, datetime.now(UTC) + MAX_AGE)
            return ids
        return self._history

    async def _history_page(self, before: str) -> tuple[list[_Entry], str | None]:
        ids = [i for i in await self._history_ids() if i < before]
        size = self._ctx.settings.public_feed_page_size
        entries: list[_Entry] = []
        for position, alert_id in enumerate(ids):
            raw = await self._ctx.store.raw_cap(alert_id)
            entry = _entry(alert_id, raw, self._statuses) if raw is not None else None
            if entry is not None:
                entries.append(entry)
            if len(entries) == size:
                return entries, (alert_id if position + 1 < len(ids) else None)
        return entries, None

    async def feed(self, request: web.Request) -> web.Response:
        lang, before = _variant(request)
        page = await self._page(_base(request), lang, before)
        headers = {"ETag": page.etag, "Cache-Control": "public, max-age=10"}
        if request.headers.get("If-None-Match") == page.etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=page.body, headers=headers,
                            content_type="application/atom+xml")

    async def document(self, request: web.Request) -> web.Response:
        """An alert of the feed or its history, the bytes as received."""
        alert_id = request.match_info["alert_id"]
        if self._until <= datetime.now(UTC):
            self.invalidate()
        current = self._in_force or await self._in_force_locked()
        raw = current.documents.get(alert_id)
        if raw is None and CURSOR.match(alert_id):  # history: not kept in memory
            record = await self._ctx.store.get(alert_id)
            if record is not None and record.state in HISTORY_STATES:
                raw = await self._ctx.store.raw_cap(alert_id)
                if raw is not None and _entry(alert_id, raw, self._statuses) is None:
                    raw = None
        if raw is None:
            raise web.HTTPNotFound(text="no public alert with this id")
        return web.Response(body=raw, content_type="application/cap+xml")

    async def _in_force_locked(self) -> _InForce:
        async with self._lock:
            return await self._current()


def _variant(request: web.Request) -> tuple[str | None, str | None]:
    lang = request.query.get("lang")
    before = request.query.get("before")
    if lang is not None and not langcodes.tag_is_valid(lang):
        raise web.HTTPBadRequest(text="lang: not a BCP 47 language tag")
    if before is not None and not CURSOR.match(before):
        raise web.HTTPBadRequest(text="before: not a cursor from this feed's next link")
    return (langcodes.standardize_tag(lang) if lang is not None else None), before


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
