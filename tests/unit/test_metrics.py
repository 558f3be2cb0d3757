"""Metrics through the record stage: a dispatcher with a real SQLite store and fake
channels (one reporting channel counters in its receipts, as the SMS, cell-broadcast,
EWSS and wallet adapters do), checked on the exposition Prometheus would scrape."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from test_dispatcher import FAST, Scripted, accept, settled  # tests/unit is on sys.path

from router.channel import Delivery, FailureReason, PermanentError, Receipt, TransientError
from router.delivery import Dispatcher
from router.observability.metrics import CHANNEL_COUNTERS, Metrics
from router.record import Recorder
from router.record.counters import channel_counters
from router.store import AttemptResult, ClaimedDelivery, DeliveryState, PlannedDelivery, SqliteStore

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "s.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


def samples(metrics: Metrics) -> Samples:
    body, _content_type = metrics.exposition()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples}


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


class Counting(Scripted):
    """A channel that reports counters in ``Receipt.detail["metrics"]``."""

    def __init__(self, name: str, counters: dict[str, object],
                 script: Callable[[int], BaseException | None] = lambda n: None) -> None:
        super().__init__(name, script)
        self.counters = counters

    async def send(self, delivery: Delivery) -> Receipt:
        receipt = await super().send(delivery)
        return Receipt(receipt.channel, receipt.idempotency_key, receipt.reference,
                       detail={"metrics": self.counters}, duplicate=receipt.duplicate)


async def dispatch(store: SqliteStore, metrics: Metrics, channels: list[Scripted],
                   plan: list[PlannedDelivery], identifier: str) -> dict[str, DeliveryState]:
    alert_id = await accept(store, identifier, plan, expires_in=30)
    dispatcher = Dispatcher(store, {c.name: c for c in channels}, FAST,
                            Recorder(store, metrics))
    await dispatcher.start()
    try:
        return await settled(store, alert_id)
    finally:
        await dispatcher.stop()


def test_fresh_metrics_have_every_channel_reason_series_at_zero() -> None:
    metrics = Metrics(["sms", "cbs"], ["cap12"], [("r", "sms")], process=False)
    found = samples(metrics)
    for channel in ("sms", "cbs"):
        for reason in FailureReason:
            assert value(found, "tocsin_delivery_errors_total", channel=channel,
                         reason=reason.value) == 0
        assert value(found, "tocsin_channel_breaker_state", channel=channel) == 0
    assert value(found, "tocsin_deliveries_planned_total", route="r", channel="sms") == 0
    assert value(found, "tocsin_alerts_accepted_total", profile="cap12", msg_type="Cancel") == 0


async def test_delivered_attempts_count_outcomes_latencies_and_channel_counters(
        store: SqliteStore) -> None:
    metrics = Metrics(["sms", "cbs"], process=False)
    sms = Counting("sms", {"sms_recipients_sent": 1200, "sms_recipients_delivered": 1100,
                           "sms_recipients_failed": 60, "sms_recipients_expired": 40})
    cbs = Counting("cbs", {"cbs_pages": 3, "ewss_messages": 1, "wallet_pushes": 2,
                           "made_up_counter": 5, "sms_recipients_sent": -4})
    states = await dispatch(store, metrics, [sms, cbs],
                            [PlannedDelivery("sms", "r"), PlannedDelivery("cbs", "r")], "C-1")
    assert states == {"sms": DeliveryState.DELIVERED, "cbs": DeliveryState.DELIVERED}
    found = samples(metrics)
    for outcome, expected in (("sent", 1200), ("delivered", 1100), ("failed", 60),
                              ("expired", 40)):
        assert value(found, "tocsin_sms_recipients_total", channel="sms",
                     outcome=outcome) == expected
    assert value(found, "tocsin_cbs_pages_total", channel="cbs") == 3
    assert value(found, "tocsin_ewss_messages_total", channel="cbs") == 1
    assert value(found, "tocsin_wallet_pushes_total", channel="cbs") == 2
    assert value(found, "tocsin_sms_recipients_total", channel="cbs", outcome="sent") == 0
    assert not [name for name, _labels in found if "made_up" in name]
    for channel in ("sms", "cbs"):
        assert value(found, "tocsin_deliveries_total", channel=channel, outcome="delivered") == 1
        assert value(found, "tocsin_delivery_attempts_total", channel=channel,
                     outcome="delivered") == 1
        for histogram in ("accepted_to_confirmed", "accepted_to_handoff", "sent_to_confirmed"):
            assert value(found, f"tocsin_delivery_{histogram}_seconds_count",
                         channel=channel) == 1
        assert value(found, "tocsin_deliveries_in_flight", channel=channel) == 0
        assert value(found, "tocsin_deliveries_queued", channel=channel) == 0


async def test_retries_errors_fallbacks_and_breaker(store: SqliteStore) -> None:
    metrics = Metrics(["flaky", "down", "ewss"], process=False)

    def flaky_script(n: int) -> BaseException | None:
        return TransientError("busy", FailureReason.OVERLOADED) if n <= 2 else None

    def down_script(_n: int) -> BaseException | None:
        return PermanentError("refused", FailureReason.REJECTED)

    flaky, down = Scripted("flaky", flaky_script), Scripted("down", down_script)
    states = await dispatch(store, metrics, [flaky, down, Scripted("ewss")],
                            [PlannedDelivery("flaky", "r"), PlannedDelivery("down", "r"),
                             PlannedDelivery("ewss", "r", fallback_for="down")], "C-2")
    assert states == {"flaky": DeliveryState.DELIVERED, "down": DeliveryState.FAILED,
                      "ewss": DeliveryState.DELIVERED}
    found = samples(metrics)
    assert value(found, "tocsin_delivery_retries_total", channel="flaky") == 2
    assert value(found, "tocsin_delivery_errors_total", channel="flaky", reason="overloaded") == 2
    assert value(found, "tocsin_delivery_attempts_total", channel="flaky",
                 outcome="transient") == 2
    assert value(found, "tocsin_delivery_errors_total", channel="down", reason="rejected") == 1
    assert value(found, "tocsin_deliveries_total", channel="down", outcome="failed") == 1
    assert value(found, "tocsin_fallback_activations_total", channel="down") == 1
    assert value(found, "tocsin_deliveries_total", channel="ewss", outcome="delivered") == 1


async def test_breaker_state_is_read_at_scrape_time(store: SqliteStore) -> None:
    metrics = Metrics(["a"], process=False)
    dispatcher = Dispatcher(store, {"a": Scripted("a")}, FAST, Recorder(store, metrics))
    for _ in range(FAST.breaker_failures):
        dispatcher.breakers["a"].failure()
    assert value(samples(metrics), "tocsin_channel_breaker_state", channel="a") == 2
    dispatcher.breakers["a"].success()
    assert value(samples(metrics), "tocsin_channel_breaker_state", channel="a") == 0


async def test_unknown_channels_and_reasons_never_become_label_values(
        store: SqliteStore) -> None:
    """A delivery stored under an older configuration, a reason written by an older
    version: the labels stay within their sets."""
    metrics = Metrics(["a"], process=False)
    recorder = Recorder(store, metrics)
    alert_id = await accept(store, "C-3", [PlannedDelivery("removed-channel", "r")])
    now = datetime.now(UTC)
    item = ClaimedDelivery(alert_id, "removed-channel", f"{alert_id}/x", 0, None, b"", None,
                           now - timedelta(seconds=1))
    for number, outcome in ((1, "transient"), (2, "an-outcome-from-the-future")):
        await recorder.attempt(item, AttemptResult(
            alert_id, "removed-channel", number, now, now, outcome, DeliveryState.PENDING,
            "a reason from the future", "busy", now + timedelta(seconds=60)))
    found = samples(metrics)
    labels = {(label, v) for _name, labelset in found for label, v in labelset}
    assert ("channel", "removed-channel") not in labels
    assert not [v for label, v in labels if "future" in v]
    assert value(found, "tocsin_delivery_errors_total", channel="other", reason="internal") == 1
    assert value(found, "tocsin_delivery_attempts_total", channel="other",
                 outcome="transient") == 1
    assert value(found, "tocsin_delivery_attempts_total", channel="other", outcome="other") == 1


@settings(deadline=None)  # no timed assertions on a shared machine
@given(st.dictionaries(st.sampled_from([*CHANNEL_COUNTERS, "other", "metrics"]),
                       st.one_of(st.integers(), st.floats(), st.booleans(), st.text(),
                                 st.none())))
def test_channel_counters_accept_only_known_positive_finite_numbers(
        reported: dict[str, object]) -> None:
    counters = channel_counters({"metrics": reported})
    assert set(counters) <= set(CHANNEL_COUNTERS)
    for name, number in counters.items():
        assert math.isfinite(number)
        assert number > 0
        assert not isinstance(reported[name], bool)
        assert number == float(reported[name])  # type: ignore[arg-type]


@pytest.mark.parametrize("detail", [None, "text", {"metrics": "no"}, {"metrics": [1, 2]}, {}])
def test_channel_counters_ignore_malformed_detail(detail: object) -> None:
    assert channel_counters(detail) == {}
