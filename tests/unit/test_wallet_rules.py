"""TTL, Urgency and Topic rules, the area simplification and the payload choice."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Polygon
from wallet_support import example

from channels.eudi_wallet import headers
from channels.eudi_wallet.area import simplify
from router.channel import Receipt

NOW = datetime(2026, 11, 25, 13, 10, tzinfo=UTC)


def test_ttl_is_seconds_until_expiry_capped_and_zero_when_expired() -> None:
    alert = example(expires_in=timedelta(hours=2)).alert
    expires = alert.infos[0].expires
    assert expires is not None
    now = expires - timedelta(hours=2, seconds=-1)
    assert headers.ttl_seconds(alert, now, 86400) == 7199
    assert headers.ttl_seconds(alert, now, 3600) == 3600
    assert headers.ttl_seconds(alert, now + timedelta(hours=3), 86400) == 0
    assert headers.ttl_seconds(example().alert, now, 86400) == 86400  # no <expires>


def test_urgency_high_only_for_severe_and_soon() -> None:
    alert = example().alert  # Severe, Immediate
    assert headers.urgency(alert) == "high"
    minor = alert.model_copy(update={"infos": tuple(
        i.model_copy(update={"severity": type(i.severity)("Minor")}) for i in alert.infos)})
    assert headers.urgency(minor) == "normal"
    later = alert.model_copy(update={"infos": tuple(
        i.model_copy(update={"urgency": type(i.urgency)("Future")}) for i in alert.infos)})
    assert headers.urgency(later) == "normal"
    bare = alert.model_copy(update={"infos": ()})
    assert headers.urgency(bare, inherited="high") == "high"


def test_update_and_cancel_carry_the_topic_of_the_original() -> None:
    original = example().alert
    update = example("nl-alert-fire-update.xml").alert
    cancel = example("nl-alert-fire-cancel.xml").alert  # references the update only
    first = headers.topic(original)
    assert headers.topic(update) == first
    assert headers.topic(cancel, inherited=headers.topic(update)) == first
    assert headers.topic(cancel) != first  # without the stored Topic the chain is lost
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", first)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_topic_does_not_depend_on_the_offset_sent_was_written_in(minutes: int) -> None:
    sent = NOW.astimezone(timezone(timedelta(minutes=minutes)))
    assert headers.topic_for(headers.cap_key_text("s", "i", sent)) == \
        headers.topic_for(headers.cap_key_text("s", "i", NOW))


def circle_polygon(lat: float, lon: float, radius: float, vertices: int
                   ) -> tuple[tuple[float, float], ...]:
    ring = [(lat + radius * math.sin(2 * math.pi * k / vertices),
             lon + radius * 1.6 * math.cos(2 * math.pi * k / vertices)) for k in range(vertices)]
    return (*ring, ring[0])


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=-60, max_value=60), st.floats(min_value=-170, max_value=170),
       st.floats(min_value=0.01, max_value=2.0), st.integers(min_value=60, max_value=3000),
       st.integers(min_value=8, max_value=64))
def test_simplified_polygon_is_small_and_covers_the_original(
        lat: float, lon: float, radius: float, vertices: int, limit: int) -> None:
    original = circle_polygon(lat, lon, radius, vertices)
    points, margin = simplify(original, limit)
    assert len(points) <= limit
    simplified = Polygon([(p[1], p[0]) for p in points])
    # rounding to 5 decimals may move a vertex by 0.000005 degrees
    assert simplified.buffer(1e-5).covers(Polygon([(p[1], p[0]) for p in original]))
    assert margin > 0


def test_small_polygon_is_kept_as_it_is() -> None:
    polygon = example().alert.infos[0].areas[0].polygons[0]
    assert simplify(polygon, 48) == ([[lat, lon] for lat, lon in polygon], 0.0)


def test_receipt_topic_survives_into_the_update_through_replaces() -> None:
    receipt = Receipt("eudi_wallet", "k", "r", detail={"topic": "T" * 32})
    update = replace(example("nl-alert-fire-cancel.xml"), replaces=receipt)
    assert headers.topic(update.alert, receipt.detail["topic"]) == "T" * 32

