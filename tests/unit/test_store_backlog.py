"""The store's delivery backlog read (issue 18: ``/metrics`` showed 41 queued while
12,905 deliveries were pending in the store). Runs against ``TOCSIN_TEST_STORE`` too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.store import AttemptResult, DeliveryState, NewAlert, PlannedDelivery
from router.store.backlog import AGED_STATES
from tests.stores import opened_stores
from tests.unit.test_sqlite_store import new_alert

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite


def _planned(name: str, plan: list[PlannedDelivery], received_at: datetime) -> NewAlert:
    base = new_alert("nl-alert-fire.xml", name)
    return NewAlert(**{**base.__dict__, "id": f"id-{name}", "plan": plan,
                       "received_at": received_at})


async def test_backlog_counts_what_the_store_still_has_to_send(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]  # channels of this test alone, in a shared store too
    primary, fallback, other = f"webhook-{tag}", f"ewss-{tag}", f"file-{tag}"
    plan = [PlannedDelivery(primary, "r"), PlannedDelivery(other, "r"),
            PlannedDelivery(fallback, "r", fallback_for=primary)]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    async with opened_stores(tmp_path) as stores:
        store = stores.alerts
        for n in range(5):
            await store.accept(_planned(f"BL-{tag}-{n}", plan, start + timedelta(minutes=n)))

        backlog = await store.delivery_backlog()
        for channel in (primary, other):
            assert backlog.count(channel, DeliveryState.PENDING) == 5
            assert backlog.channels[channel].oldest_accepted == start
        assert backlog.count(fallback, DeliveryState.STANDBY) == 5
        assert backlog.channels[fallback].oldest_accepted is None  # standby is not due
        assert backlog.channels[primary].oldest_age_s(start + timedelta(minutes=1)) == 60

        # the dispatcher takes every due one; the oldest alert's go out on both channels
        claimed = await store.claim_due(datetime.now(UTC), 1000)
        mine = [c for c in claimed if c.channel in (primary, other)]
        assert len(mine) == 10
        now = datetime.now(UTC)
        for item in mine:
            if item.alert_id == f"id-BL-{tag}-0":
                await store.record_attempt(AttemptResult(
                    item.alert_id, item.channel, 1, now, now, "delivered",
                    next_state=DeliveryState.DELIVERED))
        backlog = await store.delivery_backlog()
        assert backlog.count(primary, DeliveryState.SENDING) == 4
        assert backlog.count(primary, DeliveryState.PENDING) == 0
        assert backlog.count(primary, DeliveryState.DELIVERED) == 0  # ended: not read
        assert backlog.channels[primary].oldest_accepted == start + timedelta(minutes=1)

        # a transient failure goes back to pending: still in the backlog, still as old
        second = next(c for c in mine if c.channel == primary
                      and c.alert_id == f"id-BL-{tag}-1")
        await store.record_attempt(AttemptResult(
            second.alert_id, primary, 1, now, now, "transient", reason="unavailable",
            next_state=DeliveryState.PENDING, next_attempt_at=now + timedelta(minutes=5)))
        backlog = await store.delivery_backlog()
        assert backlog.count(primary, DeliveryState.PENDING) == 1
        assert backlog.count(primary, DeliveryState.SENDING) == 3
        assert backlog.channels[primary].oldest_accepted == start + timedelta(minutes=1)
        assert DeliveryState.STANDBY not in AGED_STATES
