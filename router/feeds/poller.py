"""Poll one configured feed and hand each new CAP document to the ``POST`` path.

Stage: feeds. One task per feed, so a feed that hangs, answers 500 or sends an entity
bomb delays only itself. Each document goes through
``router.ingest.handlers.submit_document`` -- hardened parse, signature, sender and
authority policy, profile, references, durable accept -- as the feed's authority; its
answer is classified the way a ``POST`` client would read it:

- accepted and new: ``new``; the identical alert again: ``duplicate`` (the store's
  idempotency by CAP key, so a restart re-reading the feed duplicates nothing);
- same CAP key, other content: ``ingest.key-conflict``, kept as the feed's finding and
  never written over the stored alert;
- any other refusal: ``rejected`` with its problem code; the feed goes on.

A document already taken (new or duplicate) is not fetched again while its URL stays
in the feed (remembered in memory, bounded by what the feed lists). Errors back off
exponentially from the interval up to ``max_backoff_s``, with full jitter, so many
instances polling one broken feed do not stampede it when it comes back. Linked
documents are fetched ``fetch_concurrency`` at a time (default 4) and submitted in the
feed's order.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from fnmatch import fnmatch

import aiohttp
import shapely
import structlog
from lxml import etree
from shapely.geometry.base import BaseGeometry

from router.audit.chain import Principal as AuditPrincipal
from router.cap import XmlLimits, parse_cap
from router.cap.findings import Finding
from router.cap.model import Alert
from router.cap.xmlsafe import parse_xml
from router.errors import ConfigurationError
from router.feeds.fetch import FetchError, fetch
from router.feeds.index import CAP, FeedItem, Unwrapped, read_index, unwrap_document
from router.feeds.metrics import FeedMetrics
from router.http.problems import ProblemError
from router.ingest.context import IngestContext
from router.ingest.handlers import submit_document
from router.routing.config import Region
from router.routing.match import area_geometry, region_geometry
from router.settings import Feed, FeedArea
from router.trust import Principal, Role

log = structlog.get_logger("tocsin.feeds")
MAX_FINDINGS = 20
"""Recent findings a feed's status keeps (newest last)."""
INDEX_MAX_ATTRIBUTES = 20_000
"""An Atom or RSS index carries a few attributes per entry (a link's rel, type, href),
where a CAP document has none: the CAP limit (1,000) would refuse a feed of a few
hundred entries; this leaves room for thousands, the byte limit still bounding all."""


@dataclass
class FeedStatus:
    """What ``GET /api/v1/feeds`` says of one feed."""

    name: str
    url: str
    authority: str
    state: str = "starting"
    last_fetch: str | None = None
    last_success: str | None = None
    last_error: str | None = None
    consecutive_errors: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("fetches", "not_modified", "new", "duplicate", "rejected", "filtered"), 0))
    findings: list[dict[str, str]] = field(default_factory=list)

    def note(self, entry: str, code: str, message: str) -> None:
        self.findings.append({"entry": entry, "code": code, "message": message[:300]})
        del self.findings[:-MAX_FINDINGS]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FeedPoller:
    def __init__(self, feed: Feed, authority: str, profile: str, ctx: IngestContext,
                 metrics: FeedMetrics) -> None:
        self.feed = feed
        self.profile = profile
        self.ctx = ctx
        self.metrics = metrics
        self.status = FeedStatus(feed.label, feed.url, authority)
        self.principal = Principal(f"{authority}/feed", authority,
                                   frozenset({Role.SUBMIT, Role.CANCEL, Role.READ}))
        self.recorded_as = AuditPrincipal(via="feed", authority=authority, actor=feed.url)
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._taken: set[str] = set()
        self._limits = XmlLimits(max_bytes=feed.max_bytes)
        self.index_limits = replace(self._limits, max_attributes=INDEX_MAX_ATTRIBUTES)
        self._area = (None if feed.area is None else
                      _area_shape(feed, feed.area, ctx.router.config.regions))

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Poll until cancelled; never raises for anything the feed does."""
        while True:
            ok = await self.poll_once(session)
            await asyncio.sleep(self._delay(ok))

    def _delay(self, ok: bool) -> float:
        if ok:
            return self.feed.interval_s
        ceiling = min(self.feed.max_backoff_s,
                      self.feed.interval_s * 2 ** min(self.status.consecutive_errors, 20))
        return max(self.feed.interval_s, random.uniform(0, ceiling))  # noqa: S311  (jitter)

    async def poll_once(self, session: aiohttp.ClientSession) -> bool:
        started = time.perf_counter()
        self.status.last_fetch = _now()
        self._count("fetches")
        try:
            fetched = await fetch(session, self.feed.url, max_bytes=self.feed.max_bytes,
                                  timeout_s=self.feed.timeout_s,
                                  max_redirects=self.feed.max_redirects,
                                  etag=self._etag, last_modified=self._last_modified)
        except FetchError as exc:
            return self._failed(exc.code, exc.detail)
        if fetched.not_modified:
            self._count("not_modified")
            self._succeeded("not-modified", started)
            return True
        index = read_index(fetched.body, fetched.url, self.index_limits)
        if index.finding is not None:
            return self._failed(index.finding.code, index.finding.message)
        listed = set()
        for entry, finding in index.refused:
            key = f"refused|{entry}|{finding.code}"
            listed.add(key)
            if key not in self._taken:  # once per entry while the feed lists it
                self._rejected(entry, finding.code, finding.message)
                self._taken.add(key)
        pending: dict[str, FeedItem] = {}
        for item in index.items:
            listed.add(item.key)
            if item.key not in self._taken:
                pending.setdefault(item.key, item)
        await self._take_all(session, list(pending.items()))
        self._taken &= listed  # remember only what the feed still lists
        # an entry left to retry (its document unreachable, the store unavailable) must
        # not hide behind a 304 on the next poll: keep the validators only when all settled
        settled = listed <= self._taken
        self._etag = fetched.etag if settled else None
        self._last_modified = fetched.last_modified if settled else None
        self._succeeded("ok", started, entries=len(index.items))
        return True

    async def _take_all(self, session: aiohttp.ClientSession,
                        pending: list[tuple[str, FeedItem]]) -> None:
        """Fetch the linked documents ``fetch_concurrency`` at a time and submit them in
        the feed's order, a window at a time: a slow document server is not met with
        one request after another, nor with every entry at once, and at most that many
        documents (each within ``max_bytes``) are held in memory."""
        window = self.feed.fetch_concurrency
        for start in range(0, len(pending), window):
            batch = pending[start:start + window]
            documents = await asyncio.gather(*(self._document(session, item, key)
                                               for key, item in batch))
            for (key, item), parts in zip(batch, documents, strict=True):
                if parts is not None:
                    await self._take(item, key, parts)

    async def _document(self, session: aiohttp.ClientSession, item: FeedItem,
                        key: str) -> list[Unwrapped] | None:
        """The CAP documents of one entry, or None when there is nothing to submit (a
        failed fetch, retried next poll; a refused document, remembered as taken)."""
        if item.inline is not None:
            return [Unwrapped("", item.inline, item.envelope)]
        if item.url is None:
            return None
        try:
            body = (await fetch(session, item.url, max_bytes=self.feed.max_bytes,
                                timeout_s=self.feed.timeout_s,
                                max_redirects=self.feed.max_redirects)).body
        except FetchError as exc:
            self._rejected(item.entry, exc.code, exc.detail)
            return None  # not remembered: fetched again next poll
        parts, finding = unwrap_document(body, self._limits)
        if finding is not None:
            self._rejected(item.entry, finding.code, finding.message)
            self._taken.add(key)  # the same document would be refused again
            return None
        return parts

    async def _take(self, item: FeedItem, key: str, parts: list[Unwrapped]) -> None:
        settled = True
        for part in parts:
            entry = f"{item.entry}#{part.part}" if part.part else item.entry
            settled = await self._submit(entry, part) and settled
        if settled:
            self._taken.add(key)

    async def _submit(self, entry: str, part: Unwrapped) -> bool:
        """Hand one CAP document to the submit path; True when it is settled (taken,
        filtered or refused for good), False when it is to be tried again next poll."""
        body = part.cap
        if not self._passes_filters(body):
            self._count("filtered")
            return True
        try:
            submitted = await submit_document(
                self.ctx, self.principal, body, self.profile, recorded_as=self.recorded_as,
                started=time.perf_counter(), require_signature=self.feed.signature_required,
                envelope=part.envelope)
        except ProblemError as problem:
            self._rejected(entry, problem.code, _problem_text(problem))
            return problem.status in (400, 403, 409, 422)  # the same bytes: refused again
        self._count("new" if submitted.created else "duplicate")
        if submitted.created:
            self._observe_lag(body)
        log.info("feed.entry", feed=self.status.name, entry=entry,
                 alert_id=submitted.alert_id, created=submitted.created)
        return True

    def _passes_filters(self, body: bytes) -> bool:
        if self.feed.status is None and self.feed.events is None and self.feed.area is None:
            return True
        root, _ = parse_xml(body, self._limits)
        if root is None:
            return True  # the submit path reports why it is unreadable
        cap = _namespace(root)  # CAP 1.0 and 1.1 too: the submit path upgrades them
        status = root.findtext(f"{{{cap}}}status")
        if self.feed.status is not None and status not in {s.value for s in self.feed.status}:
            return False
        if self.feed.events is not None:
            events = [(e.text or "").lower()
                      for e in root.findall(f"{{{cap}}}info/{{{cap}}}event")]
            if not any(fnmatch(e, g.lower()) for e in events for g in self.feed.events):
                return False
        document = parse_cap(body, self._limits).document if self.feed.area else None
        # not a valid alert: the submit path refuses it with its findings
        return document is None or self.feed.area is None or \
            self._in_area(document.alert, self.feed.area)

    def _in_area(self, alert: Alert, wanted: FeedArea) -> bool:
        """``FeedArea``: any area of any info intersecting the shape, or carrying a
        listed geocode or a matching areaDesc; an alert without info passes."""
        if not alert.infos:
            return True
        for area in (a for info in alert.infos for a in info.areas):
            if self._area is not None:
                geometry = area_geometry(area)
                if geometry is not None and geometry.intersects(self._area):
                    return True
            if wanted.geocode is not None and any(
                    pair.value_name == name and any(fnmatch(pair.value, g) for g in globs)
                    for pair in area.geocodes for name, globs in wanted.geocode.items()):
                return True
            if wanted.area_desc is not None and any(
                    fnmatch(area.area_desc.lower(), g.lower()) for g in wanted.area_desc):
                return True
        return False

    def _observe_lag(self, body: bytes) -> None:
        root, _ = parse_xml(body, self._limits)
        sent = root.findtext(f"{{{_namespace(root)}}}sent") if root is not None else None
        try:
            lag = (datetime.now(UTC) - datetime.fromisoformat(sent or "")).total_seconds()
        except ValueError:
            return
        self.metrics.lag.labels(self.status.name).observe(max(lag, 0.0))

    def _count(self, what: str) -> None:
        self.status.counts[what] += 1
        self.metrics.count(self.status.name, what)

    def _rejected(self, entry: str, code: str, message: str) -> None:
        self._count("rejected")
        self.metrics.rejected.labels(self.status.name, code).inc()
        self.status.note(entry, code, message)
        log.warning("feed.entry_rejected", feed=self.status.name, entry=entry, code=code,
                    detail=message[:300])

    def _failed(self, code: str, detail: str) -> bool:
        self.status.state = "failing"
        self.status.consecutive_errors += 1
        self.status.last_error = f"{code}: {detail}"[:300]
        self.metrics.rejected.labels(self.status.name, code).inc()
        log.warning("feed.fetch_failed", feed=self.status.name, code=code, detail=detail[:300],
                    consecutive=self.status.consecutive_errors)
        return False

    def _succeeded(self, outcome: str, started: float, entries: int | None = None) -> None:
        self.status.state = "ok"
        self.status.consecutive_errors = 0
        self.status.last_error = None
        self.status.last_success = _now()
        self.metrics.last_success.labels(self.status.name).set(time.time())
        log.info("feed.fetched", feed=self.status.name, outcome=outcome, entries=entries,
                 ms=round((time.perf_counter() - started) * 1000, 1))


def _namespace(root: etree._Element) -> str:
    """The alert's CAP namespace (1.2, 1.1 or 1.0), to read it before the upgrade."""
    return etree.QName(root).namespace or CAP


def _area_shape(feed: Feed, area: FeedArea, regions: dict[str, Region]
                ) -> BaseGeometry | None:
    """The feed's area filter as one prepared shape (lon, lat), a region looked up in
    the routes file; None when it filters by geocode or areaDesc only."""
    if area.region is not None:
        if area.region not in regions:
            raise ConfigurationError([f"feed {feed.label}: area region {area.region!r} is not "
                                      f"a region of the routes file (known: "
                                      f"{', '.join(sorted(regions)) or 'none'})"])
        shape = region_geometry(regions[area.region])
    elif area.polygon is not None or area.bbox is not None:
        shape = region_geometry(Region(polygon=area.polygon, bbox=area.bbox))
    else:
        return None
    shapely.prepare(shape)
    return shape


def _problem_text(problem: ProblemError) -> str:
    findings: list[Finding] = list(problem.findings or [])
    codes = ", ".join(f.code for f in findings[:5])
    return f"{problem.detail}" + (f" ({codes})" if codes else "")
