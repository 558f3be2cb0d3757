"""From a routing decision to the delivery plan stored with the alert.

Stage: ingest. Every primary channel gets a pending delivery; each fallback
channel not already a primary gets one standby delivery, tied to the first
primary it backs up. The dispatcher (a later stage) works from these rows.
"""

from __future__ import annotations

from router.routing import Decision
from router.store import PlannedDelivery


def plan_deliveries(decision: Decision) -> list[PlannedDelivery]:
    plan: dict[str, PlannedDelivery] = {}
    for target in decision.targets:
        plan.setdefault(target.channel, PlannedDelivery(target.channel, target.route))
    for target in decision.targets:
        for channel in target.fallback:
            if channel not in plan and channel not in decision.vetoed:
                plan[channel] = PlannedDelivery(channel, target.route, fallback_for=target.channel)
    return list(plan.values())
