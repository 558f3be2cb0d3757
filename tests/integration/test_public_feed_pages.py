"""The public feed's history pages and language variants through a real ``tocsin
serve``: an alert superseded by its Update leaves the feed of alerts in force but stays
in the history reached by ``rel="next"``, ``?lang=en`` shows the English ``<info>``,
and each variant answers 304 to its own ETag."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import feedparser
import pytest

from tests.integration.conftest import make_alert
from tests.integration.server import Server
from tests.integration.test_feeds import _follow_up, _post

pytestmark = pytest.mark.slow


def _fetch(url: str, etag: str | None = None) -> tuple[int, Any, str]:
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            parsed = feedparser.parse(response.read())
            assert not parsed.bozo, parsed.bozo_exception
            return response.status, parsed, response.headers["ETag"]
    except urllib.error.HTTPError as exc:
        if exc.code != 304:
            raise
        return 304, None, exc.headers["ETag"]


def _next(parsed: Any) -> str | None:
    return next((x.href for x in parsed.feed.links if x.rel == "next"), None)


def test_history_and_language_variant(server: Server) -> None:
    sent = "2026-11-25T14:05:00+01:00"
    _post(server, make_alert("PAGE-1"))
    _post(server, _follow_up("PAGE-2", "Update", f"meldkamer@vr-rr.example.nl,PAGE-1,{sent}"))
    status, first, etag = _fetch(f"{server.url}/feeds/public.atom")
    assert status == 200
    assert len(first.entries) == 1  # PAGE-1 is superseded: no longer in force
    history_url = _next(first)
    assert history_url is not None
    _status, history, _etag = _fetch(history_url)
    assert len(history.entries) == 2  # both, newest first
    links = [e.links[0].href for e in history.entries]
    documents = []
    for link in links:
        with urllib.request.urlopen(link, timeout=10) as response:
            documents.append(response.read())
    assert b"PAGE-2" in documents[0]
    assert b"PAGE-1" in documents[1]  # a superseded alert's document is still served
    assert _next(history) is None

    status, english, english_etag = _fetch(f"{server.url}/feeds/public.atom?lang=en")
    assert english.entries[0].title == "Major fire in Rotterdam-Zuid"
    assert first.entries[0].title == "Grote brand in Rotterdam-Zuid"
    assert english_etag != etag
    assert _fetch(f"{server.url}/feeds/public.atom?lang=en", english_etag)[0] == 304
    assert _fetch(f"{server.url}/feeds/public.atom", etag)[0] == 304
