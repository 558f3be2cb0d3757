"""How an alert's deliveries went, as one word and counts: the alert's ``state`` in the
status API, the SSE stream and ``tocsin send --wait``.

Stage: the store layer, pure (no I/O): a function of the alert's stored lifecycle
state and its deliveries' states, so every reader derives the same answer.

============================  ===========================================================
state                         when
============================  ===========================================================
``delivering``                a delivery is still pending, being sent or waiting for its
                              channel (and no delivered fallback covers it)
``delivered``                 every delivery that was to carry the alert delivered it
``partially_delivered``       some delivered, some failed or expired (a fallback that
                              delivered in place of a failed channel counts as delivered,
                              the failed channel as failed: the operator must see both)
``failed``                    none delivered and at least one failed
``expired``                   none delivered, none failed: the deadline came first
``skipped``                   no channel was to carry it (every one skipped it by design,
                              or no route matched)
``cancelled``, ``superseded``  a Cancel or an Update took the alert off the air; the
                              counts still say how far its deliveries got
``pending_approval``          held for a second principal's approval: nothing planned
                              yet, not settled
``rejected``,                 the second principal refused it, or nobody approved it
``expired_unapproved``        within the approval window: nothing was sent
``held_unknown_reference``    an Update or Cancel of nothing this store knows: held,
                              nothing sent (``router.store.unknown_references``)
============================  ===========================================================

A primary delivery still retrying while a fallback that replaced it has delivered
does not keep the alert ``delivering``: people were reached through the fallback, so
the outcome is settled (``partially_delivered``; the primary keeps retrying and the
state moves to ``delivered`` if it gets through). Otherwise a waiting client would
wait for the primary's deadline, an hour, after the warning was out.

Lifecycle states that say more than the deliveries do are listed in ``HEADLINES``;
a new lifecycle state (an alert awaiting a second principal's approval, say) is one
more entry there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from router.store.records import AlertState, DeliveryState

OPEN = frozenset({DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.WAITING})
NOT_CARRYING = frozenset({DeliveryState.STANDBY, DeliveryState.SKIPPED,
                          DeliveryState.SUPERSEDED, DeliveryState.CANCELLED})
"""Deliveries that were not (or are no longer) meant to carry the alert."""
HEADLINES: Mapping[str, str] = {AlertState.CANCELLED.value: "cancelled",
                                AlertState.SUPERSEDED.value: "superseded",
                                AlertState.PENDING_APPROVAL.value: "pending_approval",
                                AlertState.REJECTED.value: "rejected",
                                AlertState.EXPIRED_UNAPPROVED.value: "expired_unapproved",
                                AlertState.HELD_UNKNOWN_REFERENCE.value:
                                    "held_unknown_reference"}
"""Stored lifecycle states that are the alert's state whatever its deliveries did."""
AWAITING = frozenset({AlertState.PENDING_APPROVAL.value})
"""Lifecycle states with nothing planned yet but more to come: never settled (a watcher
of an alert held for approval waits for the decision and the deliveries it brings)."""


class DeliveryLike(Protocol):
    @property
    def channel(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def fallback_for(self) -> str | None: ...


@dataclass(frozen=True)
class AlertOutcome:
    state: str
    settled: bool  # nothing more to wait for (a watcher may stop)
    counts: dict[str, int] = field(default_factory=dict)  # deliveries per delivery state


def alert_outcome(lifecycle: str, deliveries: Iterable[DeliveryLike]) -> AlertOutcome:
    """The alert's state from its stored lifecycle state and its deliveries."""
    items = [(d.channel, DeliveryState(d.state), d.fallback_for) for d in deliveries]
    counts = dict(Counter(state.value for _, state, _ in items))
    covered = {primary for _, state, primary in items
               if primary is not None and state is DeliveryState.DELIVERED}
    waiting_on = [channel for channel, state, primary in items
                  if state in OPEN and not (primary is None and channel in covered)]
    settled = not waiting_on and lifecycle not in AWAITING
    if lifecycle in HEADLINES:
        return AlertOutcome(HEADLINES[lifecycle], settled, counts)
    if not settled:
        return AlertOutcome("delivering", False, counts)
    carrying = [state for _, state, _ in items if state not in NOT_CARRYING]
    delivered = carrying.count(DeliveryState.DELIVERED)
    return AlertOutcome(_headline(delivered, len(carrying) - delivered, carrying), True,
                        counts)


def _headline(delivered: int, undelivered: int, carrying: list[DeliveryState]) -> str:
    if delivered and not undelivered:
        return "delivered"
    if delivered:
        return "partially_delivered"
    if DeliveryState.FAILED in carrying:
        return "failed"
    if DeliveryState.EXPIRED in carrying:
        return "expired"
    return "skipped"
