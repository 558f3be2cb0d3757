"""The wallet subscription store: what it may hold (nothing about who or where), and
the durable audience that makes a fan-out resumable."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from wallet_support import EXAMPLES

from router.audience import NewWalletSubscription, SubscriptionSaved
from router.cap import parse_cap
from router.channel import Audience, RecipientOutcome, RecipientResult
from router.storage import Stores
from router.store import AlertStore, ClaimedDelivery, NewAlert, PlannedDelivery
from tests.stores import opened_stores

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite

ALLOWED = {"seq", "id", "endpoint", "p256dh", "auth", "country", "languages", "created_on"}
FORBIDDEN = re.compile(
    r"lat(itude)?|lon(gitude)?|lng|geo\w*|loc(ation)?|position|coord\w*|area|point|ip|"
    r"address|device|imei|user|name|e?mail|phone|msisdn|pid|person|identity|agent|seen|"
    r"cell|tower|wifi", re.IGNORECASE)
"""Matched against each ``_``-separated word of a column name."""


def table_columns(url: str, table: str) -> set[str]:
    """The columns of ``table`` as the database itself lists them."""
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(url.removeprefix("sqlite://"))
        try:
            return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        return {row[0] for row in pg.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            (table,))}


def forbidden(column: str) -> bool:
    return any(FORBIDDEN.fullmatch(word) for word in column.split("_"))


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    async with opened_stores(tmp_path) as opened:
        yield opened


def subscription(n: int, country: str | None = None) -> NewWalletSubscription:
    return NewWalletSubscription(f"https://push.example/{n}", "B" + "A" * 86, "C" * 22,
                                 country, ("nl", "en"))


async def test_subscription_tables_have_no_identity_or_location_columns(
        stores: Stores, tmp_path: Path) -> None:
    columns, results = table_columns(stores.url, "wallet_subscriptions"), table_columns(
        stores.url, "wallet_push_results")
    assert columns == ALLOWED  # a new column must be argued for here first
    assert not [c for c in columns | results if forbidden(c)]
    assert results == {"delivery_key", "subscription_seq", "outcome", "reason"}


def test_the_forbidden_pattern_catches_what_it_should() -> None:
    for column in ("latitude", "lon", "geohash", "location", "ip_address", "device_id",
                   "user_id", "msisdn", "pid_hash", "email", "last_seen_at"):
        assert forbidden(column), column
    assert not forbidden("endpoint")


async def test_same_endpoint_is_one_subscription(stores: Stores) -> None:
    first = await stores.audience.save_wallet_subscription(subscription(1))
    again = await stores.audience.save_wallet_subscription(subscription(1, "NL"))
    assert first.created
    assert not again.created
    assert again.id == first.id
    assert await stores.audience.count_wallet_subscriptions() == 1
    assert await stores.audience.delete_wallet_subscription(first.id)
    assert not await stores.audience.delete_wallet_subscription(first.id)


async def test_same_endpoint_with_other_keys_is_refused_until_the_id_proves_it(
        stores: Stores) -> None:
    first = await stores.audience.save_wallet_subscription(subscription(1))
    other = NewWalletSubscription("https://push.example/1", "D" + "A" * 86, "E" * 22)
    assert await stores.audience.save_wallet_subscription(other) == SubscriptionSaved(None, created=False)
    assert not await stores.audience.renew_wallet_subscription("not-the-id", other)
    assert first.id is not None
    assert await stores.audience.renew_wallet_subscription(first.id, other)
    again = await stores.audience.save_wallet_subscription(other)
    assert (again.id, again.created) == (first.id, False)
    assert await stores.audience.count_wallet_subscriptions() == 1


async def accepted(store: AlertStore, identifier: str = "W-1") -> ClaimedDelivery:
    raw = (EXAMPLES / "nl-alert-fire.xml").read_bytes().replace(b"NL-VRR-2026-0042",
                                                                identifier.encode())
    document = parse_cap(raw).document
    assert document is not None
    await store.accept(NewAlert(id=identifier, alert=document.alert, raw=raw, content_hash="h",
                                profile="cap12", authority="t", received_at=datetime.now(UTC),
                                findings=[], plan=[PlannedDelivery("eudi_wallet", "r")]))
    claimed = await store.claim_due(datetime.now(UTC), 10)
    return next(c for c in claimed if c.alert_id == identifier)


async def collect(audience: Audience, size: int) -> list[str]:
    return [r.key async for batch in audience.batches(size) for r in batch]


async def test_audience_offers_each_subscription_until_it_has_a_final_outcome(
        stores: Stores) -> None:
    for n in range(25):
        await stores.audience.save_wallet_subscription(subscription(n))
    delivery = await accepted(stores.alerts)
    audience = stores.audience.audience("wallet", delivery, parse_cap(delivery.raw).document.alert)  # type: ignore[union-attr]
    keys = await collect(audience, 10)
    assert len(keys) == 25
    outcomes = [RecipientOutcome.SENT] * 20 + [RecipientOutcome.UNSENT] * 3 \
        + [RecipientOutcome.GONE] * 2
    await audience.record([RecipientResult(k, o) for k, o in zip(keys, outcomes, strict=True)])
    assert await collect(audience, 10) == keys[20:23]  # only the unsent are offered again
    assert await audience.counts() == {"sent": 20, "unsent": 3, "gone": 2}
    assert await stores.audience.count_wallet_subscriptions() == 23  # gone ones are deleted


async def test_audience_by_country_includes_subscriptions_without_one(stores: Stores) -> None:
    await stores.audience.save_wallet_subscription(subscription(1, "NL"))
    await stores.audience.save_wallet_subscription(subscription(2, "BE"))
    await stores.audience.save_wallet_subscription(subscription(3))
    delivery = await accepted(stores.alerts)
    alert = parse_cap(delivery.raw).document.alert  # type: ignore[union-attr]
    assert len(await collect(stores.audience.audience("wallet:NL", delivery, alert), 10)) == 2
    assert len(await collect(stores.audience.audience("wallet", delivery, alert), 10)) == 3
