"""A feed of a thousand entries is read, not refused by the limits meant for one CAP
document (found by bench/feeds.py: its 1,000-entry index failed with
``xml.too-many-attributes``, since each Atom link carries three attributes)."""

from __future__ import annotations

from typing import Any, cast

from router.feeds.index import read_index
from router.feeds.poller import FeedPoller
from router.settings import Feed


def atom(entries: int) -> bytes:
    body = "".join(f'<entry><id>urn:x:{n}</id><title>t</title><updated>2026-11-25T10:00:00Z'
                   f'</updated><link rel="alternate" type="application/cap+xml" '
                   f'href="/cap/{n}.xml"/></entry>' for n in range(entries))
    return (f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<id>urn:x</id><title>x</title><updated>2026-11-25T10:00:00Z</updated>{body}"
            "</feed>").encode()


def test_the_poller_reads_a_thousand_entry_index() -> None:
    poller = FeedPoller(Feed(url="http://127.0.0.1/feed.atom"), "demo", "cap12",
                        cast(Any, None), cast(Any, None))
    index = read_index(atom(1000), "http://127.0.0.1/feed.atom", poller.index_limits)
    assert index.finding is None, index.finding
    assert len(index.items) == 1000
    # the document limits still hold for the CAP documents themselves
    assert poller.index_limits.max_bytes == Feed(url="http://x.example").max_bytes
