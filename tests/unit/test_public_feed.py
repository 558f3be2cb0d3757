"""The public feed's variants and history pages (``router.feeds.publish``) against a
store fake: ``?lang=`` picks each entry's ``<info>`` in the closest language,
``?before=`` pages every public Actual alert ever accepted through ``rel="next"``
links (read with feedparser, which Tocsin does not use to write the feed), every
variant has its own ETag, and a request for anything already rendered touches no
store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlsplit

import feedparser
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from router.cap.model import Status
from router.feeds.publish import PublicFeed
from router.ingest.context import IngestContext
from router.store import AlertState
from router.store.records import AlertPage

EXAMPLE = (Path(__file__).resolve().parents[2] / "config" / "examples"
           / "nl-alert-fire.xml").read_text(encoding="utf-8")


def alert(identifier: str, *, sent: str = "2026-11-25T14:05:00+01:00",
          expires: str | None = None, scope: str = "Public", status: str = "Actual") -> bytes:
    text = EXAMPLE.replace("NL-VRR-2026-0042", identifier).replace(
        "2026-11-25T14:05:00+01:00", sent).replace("<scope>Public</scope>",
                                                   f"<scope>{scope}</scope>").replace(
        "<status>Actual</status>", f"<status>{status}</status>")
    if expires is not None:
        text = text.replace("</certainty>", f"</certainty>\n    <expires>{expires}</expires>")
    return text.encode()


@dataclass
class FakeStore:
    """What the public feed reads of the store, counting every call."""

    rows: list[tuple[str, AlertState, bytes]] = field(default_factory=list)
    calls: int = 0

    def add(self, alert_id: str, state: AlertState, raw: bytes) -> None:
        self.rows.append((alert_id, state, raw))

    async def list(self, *, state: AlertState | None = None, cursor: str | None = None,
                   limit: int = 50, **_: Any) -> AlertPage:
        self.calls += 1
        matching = [SimpleNamespace(id=i, state=s,
                                    status=raw.split(b"<status>")[1].split(b"<")[0].decode())
                    for i, s, raw in self.rows if state is None or s == state]
        start = int(cursor or 0)
        page = matching[start:start + limit]
        more = start + limit < len(matching)
        return AlertPage(cast(Any, page), str(start + limit) if more else None, len(matching))

    async def raw_cap(self, alert_id: str) -> bytes | None:
        self.calls += 1
        return next((raw for i, _s, raw in self.rows if i == alert_id), None)

    async def get(self, alert_id: str) -> Any:
        self.calls += 1
        return next((SimpleNamespace(id=i, state=s) for i, s, _r in self.rows
                     if i == alert_id), None)


def ulid(n: int) -> str:
    """Time-ordered ids like the store's: a higher ``n`` is newer."""
    return f"01JD{n:06d}" + "0" * 16


def public_feed(store: FakeStore, page_size: int = 2,
                statuses: tuple[Status, ...] = (Status.ACTUAL,)) -> PublicFeed:
    ctx = SimpleNamespace(store=store, settings=SimpleNamespace(
        public_feed_page_size=page_size, public_feed_statuses=list(statuses)))
    return PublicFeed(cast(IngestContext, ctx))


async def get(feed: PublicFeed, url: str, etag: str | None = None) -> web.Response:
    headers = {"Host": "tocsin.example"} | ({"If-None-Match": etag} if etag else {})
    return await feed.feed(make_mocked_request("GET", url, headers=headers))


def parsed(response: web.Response) -> Any:
    assert response.status == 200
    result = feedparser.parse(cast(bytes, response.body))
    assert not result.bozo, result.bozo_exception
    assert result.version == "atom10"
    return result


def next_link(result: Any) -> str | None:
    href = next((x.href for x in result.feed.links if x.rel == "next"), None)
    if href is None:
        return None
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    s.add(ulid(1), AlertState.SUPERSEDED, alert("OLD-1", sent="2026-11-25T10:00:00+01:00"))
    s.add(ulid(2), AlertState.ACCEPTED, alert("EXPIRED-2", sent="2026-11-25T11:00:00+01:00",
                                              expires="2026-11-25T12:00:00+01:00"))
    s.add(ulid(3), AlertState.PENDING_APPROVAL, alert("HELD-3"))
    s.add(ulid(4), AlertState.ACCEPTED, alert("RESTRICTED-4", scope="Restricted"))
    s.add(ulid(5), AlertState.CANCELLED, alert("CANCELLED-5", sent="2026-11-25T12:00:00+01:00"))
    s.add(ulid(6), AlertState.ACCEPTED, alert("NOW-6", sent="2026-11-25T13:00:00+01:00"))
    s.add(ulid(7), AlertState.ACCEPTED, alert("NOW-7", sent="2026-11-25T14:00:00+01:00"))
    return s


def identifiers(result: Any, store: FakeStore) -> list[str]:
    by_id = {f"urn:tocsin:alert:{i}": raw for i, _s, raw in store.rows}
    return [by_id[e.id].split(b"<identifier>")[1].split(b"<")[0].decode()
            for e in result.entries]


async def test_history_pages_follow_next_links_over_every_public_actual_alert(
        store: FakeStore) -> None:
    first = parsed(await get(public_feed(store), "/feeds/public.atom"))
    assert identifiers(first, store) == ["NOW-7", "NOW-6"]  # in force only, complete
    feed = public_feed(store)
    seen: list[list[str]] = []
    link = next_link(first)
    while link is not None:
        page = parsed(await get(feed, link))
        seen.append(identifiers(page, store))
        link = next_link(page)
        assert len(seen) < 10
    # newest received first, two a page; held and Restricted never listed
    assert seen == [["NOW-7", "NOW-6"], ["CANCELLED-5", "EXPIRED-2"], ["OLD-1"]]


async def test_a_history_document_is_served_as_received(store: FakeStore) -> None:
    feed = public_feed(store)
    request = make_mocked_request("GET", f"/feeds/alerts/{ulid(2)}.xml",
                                  match_info={"alert_id": ulid(2)})
    response = await feed.document(request)
    assert response.body == store.rows[1][2]
    for hidden in (ulid(3), ulid(4)):  # held; Restricted
        with pytest.raises(web.HTTPNotFound):
            await feed.document(make_mocked_request(
                "GET", f"/feeds/alerts/{hidden}.xml", match_info={"alert_id": hidden}))


async def test_lang_picks_the_closest_info_and_falls_back_to_the_first(
        store: FakeStore) -> None:
    feed = public_feed(store)
    english = parsed(await get(feed, "/feeds/public.atom?lang=en"))
    dutch = parsed(await get(feed, "/feeds/public.atom?lang=nl"))
    other = parsed(await get(feed, "/feeds/public.atom?lang=ja"))
    assert english.entries[0].title == "Major fire in Rotterdam-Zuid"
    assert english.entries[0].title_detail.language == "en-GB"
    assert "Waalhaven and surroundings" in english.entries[0].summary
    assert "Waalhaven en omgeving" not in english.entries[0].summary
    assert dutch.entries[0].title == "Grote brand in Rotterdam-Zuid"
    assert other.entries[0].title == "Grote brand in Rotterdam-Zuid"  # the first info
    assert other.entries[0].title_detail.language == "nl-NL"  # says which was used
    # the variant keeps its language along the history
    link = next_link(english)
    assert link is not None
    assert "lang=en" in link
    history = parsed(await get(feed, link))
    assert history.entries[0].title == "Major fire in Rotterdam-Zuid"


async def test_each_variant_has_its_own_etag_and_none_touches_the_store_again(
        store: FakeStore) -> None:
    feed = public_feed(store)
    urls = ["/feeds/public.atom", "/feeds/public.atom?lang=en", "/feeds/public.atom?lang=nl",
            f"/feeds/public.atom?before={ulid(6)}"]
    etags = [(await get(feed, url)).headers["ETag"] for url in urls]
    assert len(set(etags)) == len(urls)
    calls = store.calls
    for url, etag in zip(urls, etags, strict=True):
        assert (await get(feed, url, etag)).status == 304
        assert (await get(feed, url)).headers["ETag"] == etag
    assert (await get(feed, "/feeds/public.atom?lang=de")).status == 200  # new variant
    assert store.calls == calls  # all served from memory
    feed.invalidate()  # an alert accepted: read again
    await get(feed, "/feeds/public.atom")
    assert store.calls > calls


@pytest.mark.parametrize("query", ["lang=%3Cb%3E", "lang=", "before=../etc",
                                   "before=01JD0000060000000000000000X"])
async def test_malformed_variant_is_a_400(store: FakeStore, query: str) -> None:
    with pytest.raises(web.HTTPBadRequest):
        await get(public_feed(store), f"/feeds/public.atom?{query}")


async def test_other_statuses_are_listed_only_when_configured_and_marked_as_such(
        store: FakeStore) -> None:
    """``public_feed_statuses``: Actual alone by default; an Exercise listed on request
    says so in its title and a ``status`` category, so no reader takes it for real."""
    store.add(ulid(8), AlertState.ACCEPTED, alert("DRILL-8", sent="2026-11-25T14:30:00+01:00",
                                                  status="Exercise"))
    default = parsed(await get(public_feed(store), "/feeds/public.atom"))
    assert identifiers(default, store) == ["NOW-7", "NOW-6"]
    both = parsed(await get(public_feed(store, statuses=(Status.ACTUAL, Status.EXERCISE)),
                            "/feeds/public.atom"))
    assert identifiers(both, store) == ["DRILL-8", "NOW-7", "NOW-6"]
    drill, actual = both.entries[0], both.entries[1]
    assert drill.title.startswith("Exercise: ")
    assert {"term": "Exercise", "label": "status"} in [
        {"term": t.term, "label": t.label} for t in drill.tags]
    assert not actual.title.startswith("Actual")
    assert "status" not in [t.label for t in actual.tags]
    history = parsed(await get(public_feed(store, statuses=(Status.EXERCISE,)),
                               "/feeds/public.atom?before=" + "7" + "Z" * 25))
    assert identifiers(history, store) == ["DRILL-8"]
