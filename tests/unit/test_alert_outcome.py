"""The alert's state from its deliveries (``router.store.outcome``), table-driven."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from router.store.outcome import alert_outcome


@dataclass(frozen=True)
class D:
    channel: str
    state: str
    fallback_for: str | None = None


CASES = [
    ("accepted", [D("cb", "delivered"), D("sms", "delivered"), D("ewss", "skipped", "cb")],
     "delivered", True),
    ("accepted", [D("cb", "delivered"), D("sms", "failed")], "partially_delivered", True),
    ("accepted", [D("cb", "expired"), D("sms", "delivered")], "partially_delivered", True),
    ("accepted", [D("cb", "failed"), D("sms", "expired")], "failed", True),
    ("accepted", [D("cb", "expired")], "expired", True),
    ("accepted", [D("cb", "skipped")], "skipped", True),
    ("accepted", [], "skipped", True),
    ("accepted", [D("cb", "pending"), D("sms", "delivered")], "delivering", False),
    ("accepted", [D("cb", "waiting_for_channel")], "delivering", False),
    ("accepted", [D("cb", "sending"), D("ewss", "standby", "cb")], "delivering", False),
    # the fallback delivered in place of a channel still retrying: settled
    ("accepted", [D("cb", "waiting_for_channel"), D("ewss", "delivered", "cb")],
     "partially_delivered", True),
    ("accepted", [D("cb", "failed"), D("ewss", "delivered", "cb")], "partially_delivered",
     True),
    # a fallback still being sent is waited for
    ("accepted", [D("cb", "failed"), D("ewss", "pending", "cb")], "delivering", False),
    ("cancelled", [D("cb", "delivered"), D("sms", "cancelled")], "cancelled", True),
    ("superseded", [D("cb", "delivered")], "superseded", True),
    ("cancelled", [D("cb", "sending")], "cancelled", False),
]


@pytest.mark.parametrize(("lifecycle", "deliveries", "state", "settled"), CASES)
def test_state_and_settled(lifecycle: str, deliveries: list[D], state: str,
                           settled: bool) -> None:
    outcome = alert_outcome(lifecycle, deliveries)
    assert (outcome.state, outcome.settled) == (state, settled)


def test_counts_every_delivery_by_state() -> None:
    outcome = alert_outcome("accepted", [D("a", "delivered"), D("b", "delivered"),
                                         D("c", "failed"), D("f", "skipped", "a")])
    assert outcome.counts == {"delivered": 2, "failed": 1, "skipped": 1}
