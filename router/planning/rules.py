"""The planning rules an accepting store applies (``router.planning``).

Pure: no I/O, nothing of the store's schema. The store reads the rows the rules
need (the channels a referenced alert already went out on) in the transaction of
the accept and hands them in; what comes back is what it persists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from router.cap import Alert
from router.cap.model import MsgType

FOLLOW_UP_ROUTE = "references"
"""The route named on a delivery added because a referenced alert went out there."""


@dataclass(frozen=True)
class PlannedDelivery:
    """One row of an alert's delivery plan, decided by routing before the alert is stored."""

    channel: str
    route: str
    fallback_for: str | None = None  # set for a standby fallback channel


class ReferenceEffect(StrEnum):
    """What an alert does to the alerts it references."""

    SUPERSEDE = "supersede"  # an Update: the referenced alert and its open deliveries
    CANCEL = "cancel"  # a Cancel: likewise, cancelled


def reference_effect(msg_type: MsgType) -> ReferenceEffect | None:
    """Update supersedes, Cancel cancels; Alert, Ack and Error leave references alone."""
    if msg_type is MsgType.UPDATE:
        return ReferenceEffect.SUPERSEDE
    if msg_type is MsgType.CANCEL:
        return ReferenceEffect.CANCEL
    return None


def delivery_deadline(alert: Alert) -> datetime | None:
    """The latest ``<expires>`` of the alert's infos: after it, no delivery is attempted.

    None (no deadline) when any info never expires, or there is no info at all: an
    alert that says nothing of its end is delivered for as long as it takes, rather
    than given up on at a time Tocsin made up."""
    expiries = [info.expires for info in alert.infos]
    if not expiries or any(value is None for value in expiries):
        return None
    return max(value for value in expiries if value is not None)


def follow_up_deliveries(msg_type: MsgType, plan: Sequence[PlannedDelivery],
                         carried: Iterable[str]) -> list[PlannedDelivery]:
    """The deliveries an Update or Cancel gets beyond its own ``plan``.

    ``carried``: the channels the referenced alerts went out on or are going out on
    (delivered or being sent), in the order the store found them. Each one the plan
    does not name already is added once, whatever routing says of the new message: a
    Cancel that never reaches the network that broadcast the alert cancels nothing.
    Any other message type gets none."""
    if reference_effect(msg_type) is None:
        return []
    planned = {p.channel for p in plan}
    extra: list[PlannedDelivery] = []
    for channel in carried:
        if channel not in planned:
            planned.add(channel)
            extra.append(PlannedDelivery(channel, FOLLOW_UP_ROUTE))
    return extra
