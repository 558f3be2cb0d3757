"""Times in the store keep milliseconds: a retry due in half a second is not due
before then, and rows written to the whole second (older stores) still compare
and order correctly against new ones in SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.store import AlertStore, AttemptResult, DeliveryState, PlannedDelivery
from router.store.sqlite import utc_text
from tests import stores
from tests.stores import opened_stores
from tests.unit.test_dispatcher import accept

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite

T0 = datetime(2026, 12, 3, 12, 0, 0, 200_000, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AlertStore]:
    async with opened_stores(tmp_path) as opened:
        yield opened.alerts


async def test_a_retry_half_a_second_away_is_not_due_before_it(store: AlertStore) -> None:
    alert_id = await accept(store, "HALF", [PlannedDelivery("a", "r")])
    [claimed] = await store.claim_due(T0, 10)
    await store.record_attempt(AttemptResult(
        alert_id, "a", 1, T0, T0, "transient", DeliveryState.PENDING, "unavailable", "503",
        T0 + timedelta(seconds=0.5)))
    assert await store.claim_due(T0 + timedelta(seconds=0.1), 10) == []
    assert await store.claim_due(T0 + timedelta(seconds=0.499), 10) == []
    assert [c.alert_id for c in await store.claim_due(T0 + timedelta(seconds=0.5), 10)] == [
        claimed.alert_id]
    record = await store.get(alert_id)
    assert record is not None
    assert record.deliveries[0].next_attempt_at == T0 + timedelta(seconds=0.5)
    assert record.deliveries[0].history[0].started_at == T0


async def test_rows_written_to_the_second_compare_as_the_instants_they_are(
        store: AlertStore, tmp_path: Path) -> None:
    if stores.backend == "postgresql":
        pytest.skip("rows written by older SQLite versions: PostgreSQL has none")
    alert_id = await accept(store, "OLD", [PlannedDelivery("a", "r")])
    conn = sqlite3.connect(tmp_path / "s.sqlite3")
    with conn:  # as an older Tocsin wrote it
        conn.execute("UPDATE deliveries SET next_attempt_at = '2026-12-03T12:00:01+00:00'")
    conn.close()
    assert await store.claim_due(datetime(2026, 12, 3, 12, 0, 0, 999_000, tzinfo=UTC), 5) == []
    due = await store.claim_due(datetime(2026, 12, 3, 12, 0, 1, tzinfo=UTC), 5)
    assert [c.alert_id for c in due] == [alert_id]


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(UTC))


@given(instants, instants)
def test_stored_text_orders_as_the_instants_do(a: datetime, b: datetime) -> None:
    def ms(value: datetime) -> datetime:
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    old_style = a.replace(microsecond=0).isoformat(timespec="seconds")  # older rows
    for left, right in ((utc_text(a), utc_text(b)), (old_style, utc_text(b))):
        left_t, right_t = datetime.fromisoformat(left), datetime.fromisoformat(right)
        assert (left < right) == (left_t < right_t)
        assert (left == right) == (left_t == right_t)
    assert datetime.fromisoformat(utc_text(a)) == ms(a)
    assert datetime.fromisoformat(utc_text(a, round_up=True)) >= a
