"""The dashboard's backlog figures: what the /metrics backlog gauges last read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from router.ingest.overview import _backlog
from router.observability.metrics import Metrics
from router.record.backlog import BacklogGauges
from router.store import DeliveryState
from router.store.backlog import ChannelBacklog, StoreBacklog


def test_backlog_per_channel_with_the_oldest_wait() -> None:
    metrics = Metrics(channels=["sms", "webhook"], process=False)
    now = datetime.now(UTC)
    BacklogGauges(cast(Any, None), metrics).show(StoreBacklog({
        "sms": ChannelBacklog({DeliveryState.PENDING: 3, DeliveryState.SENDING: 2},
                              now - timedelta(seconds=42.4)),
        "retired": ChannelBacklog({DeliveryState.WAITING: 1},
                                  now - timedelta(seconds=7))}), now)
    ctx = SimpleNamespace(recorder=SimpleNamespace(metrics=metrics),
                          channels={"sms": None, "webhook": None})
    backlog = _backlog(cast(Any, ctx))
    assert backlog["sms"] == {"pending": 3, "waiting_for_channel": 0, "sending": 2,
                              "standby": 0, "oldest_age_s": 42}
    assert backlog["webhook"] == dict.fromkeys(backlog["webhook"], 0)
    # a channel no longer configured is counted as the gauges count it: `other`
    assert backlog["other"]["waiting_for_channel"] == 1
