"""The record stage for deliveries: stores each attempt and its receipt, then says so
in metrics, the log and live progress.

Stage: record (below delivery, above routing and the store). The dispatcher
decides; this module writes what it decided, through one call per attempt
(``attempt``) and one per settled fallback (``fallbacks``), so every delivery
metric and every delivery log line has exactly one origin.

Latencies are observed for a delivered attempt only: from the CAP ``<sent>`` time
and from acceptance to the channel's confirmation (the moment ``send`` returned a
receipt), and from acceptance to the start of that attempt (the hand-off). A
receipt marked ``duplicate`` (the network already had the idempotency key) adds no
channel counters, so a resumed send never counts a broadcast twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Protocol, TypeVar

import structlog

from router.cap import Alert
from router.errors import StoreUnavailableError
from router.observability.metrics import BREAKER_STATES, DELIVERY_OUTCOMES, Metrics
from router.record.counters import channel_counters
from router.record.intake import Intake
from router.record.progress import ProgressHub
from router.store import AttemptResult, ClaimedDelivery, DeliveryState, Store

log = structlog.get_logger("tocsin.delivery")
T = TypeVar("T")

_EVENTS = {
    DeliveryState.DELIVERED: "delivery_sent",
    DeliveryState.FAILED: "delivery_failed",
    DeliveryState.EXPIRED: "delivery_expired",
    DeliveryState.SKIPPED: "delivery_skipped",
    DeliveryState.CANCELLED: "delivery_cancelled",
    DeliveryState.SUPERSEDED: "delivery_superseded",
}
"""One event name per lifecycle step; a pending result is ``delivery_retry`` (it failed
transiently and goes again); a delivery put back unsent because its channel's breaker
is open is ``delivery_waiting`` (``Recorder.waiting``)."""
_AGAIN = frozenset({DeliveryState.PENDING, DeliveryState.WAITING})
_ERROR_OUTCOMES = frozenset({"transient", "permanent"})


RECORD_RETRY_S = (0.05, 0.2, 0.5, 1.0, 2.0)
"""Waits between tries to store an outcome while the store is away; the last repeats."""


async def until_stored(write: Callable[[], Awaitable[T]], *,
                       give_up_s: float = 3600.0) -> T:
    """``write()`` again while the store is unavailable (a database restart, a failover).

    What an attempt came to happened on the network and exists only in this process
    until it is stored; dropping it would leave the delivery ``sending`` under this
    node's lease, to be sent again later. So it is tried again until the store is back
    (or the claim was taken over meanwhile: ``LeaseLostError`` goes to the caller), for
    at most ``give_up_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_s
    for attempt in itertools.count():
        try:
            return await write()
        except StoreUnavailableError as exc:
            if loop.time() >= deadline:
                raise
            wait = RECORD_RETRY_S[min(attempt, len(RECORD_RETRY_S) - 1)]
            log.warning("delivery_record_retry", error=str(exc), retry_in_s=wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


class _HasState(Protocol):
    @property
    def state(self) -> Any: ...


class Recorder:
    def __init__(self, store: Store, metrics: Metrics,
                 progress: ProgressHub | None = None) -> None:
        self.store = store
        self.metrics = metrics
        self.progress = progress or ProgressHub()
        self.intake = Intake(metrics)

    async def attempt(self, item: ClaimedDelivery, result: AttemptResult,
                      alert: Alert | None = None) -> DeliveryState:
        """Store one attempt; returns the state stored (an Update or Cancel that came
        in meanwhile turns a retry into ``superseded``/``cancelled``)."""
        if result.fence is None and item.fence:  # the claim's token: refused if taken over
            result = dataclasses.replace(result, fence=item.fence)
        stored = result
        state = await until_stored(lambda: self.store.record_attempt(stored))
        channel = self.metrics.channel(result.channel)
        self._count(channel, result, state)
        if state is DeliveryState.DELIVERED:
            self._observe_latency(channel, item, result, alert)
            self._count_receipt(channel, result.receipt)
        _log_attempt(result, state)
        self.progress.changed(result.alert_id)
        return state

    async def waiting(self, item: ClaimedDelivery, until: datetime, why: str) -> DeliveryState:
        """Put a claimed delivery back unsent until ``until`` (its channel's breaker is
        open). Not an attempt: no attempt row, only the ``not_sent`` attempt counter, so
        a long outage costs one store write per delivery per breaker cool-down."""
        state = await until_stored(lambda: self.store.wait_for_channel(
            item.alert_id, item.channel, until, why, fence=item.fence or None))
        self.metrics.attempts.labels(self.metrics.channel(item.channel), "not_sent").inc()
        log.info("delivery_waiting", state=state.value, until=until.isoformat(), reason=why)
        self.progress.changed(item.alert_id)
        return state

    async def fallbacks(self, alert_id: str, channel: str, *, needed: bool) -> list[str]:
        """Wake (``needed``) or skip the standby fallbacks of ``channel``; returns those
        changed."""
        changed = await until_stored(lambda: self.store.settle_fallbacks(
            alert_id, channel, needed=needed))
        if changed and needed:
            self.metrics.fallback_activations.labels(self.metrics.channel(channel)).inc(
                len(changed))
            log.warning("fallback_activated", failed_channel=channel, fallbacks=changed)
        elif changed:
            for name in changed:
                self.metrics.deliveries.labels(self.metrics.channel(name), "skipped").inc()
            log.info("fallback_skipped", fallbacks=changed)
        if changed:
            self.progress.changed(alert_id)
        return changed

    @asynccontextmanager
    async def slot(self, channel: str, limit: asyncio.Semaphore) -> AsyncIterator[None]:
        """Hold one of ``channel``'s concurrency slots, counted as queued while waiting
        for it and in flight while holding it."""
        label = self.metrics.channel(channel)
        queued, in_flight = self.metrics.queued.labels(label), self.metrics.in_flight.labels(label)
        queued.inc()
        try:
            await limit.acquire()
        finally:
            queued.dec()
        in_flight.inc()
        try:
            yield
        finally:
            in_flight.dec()
            limit.release()

    def watch_breakers(self, breakers: Mapping[str, _HasState]) -> None:
        """Export each breaker's state, read when Prometheus scrapes (a breaker turns
        half-open by the clock, without any call)."""
        for name, breaker in breakers.items():
            self.metrics.breaker_state.labels(self.metrics.channel(name)).set_function(
                _state_reader(breaker))

    # -- metrics ----------------------------------------------------------------------

    def _count(self, channel: str, result: AttemptResult, state: DeliveryState) -> None:
        m = self.metrics
        outcome = m.outcome(result.outcome)
        m.attempts.labels(channel, outcome).inc()
        if outcome != "not_sent":
            m.send_duration.labels(channel).observe(_seconds(result.started_at,
                                                             result.ended_at))
        if outcome in _ERROR_OUTCOMES:
            m.errors.labels(channel, m.reason(result.reason)).inc()
        if state in _AGAIN and outcome == "transient":
            m.retries.labels(channel).inc()
        if state.value in DELIVERY_OUTCOMES:
            m.deliveries.labels(channel, state.value).inc()

    def _observe_latency(self, channel: str, item: ClaimedDelivery, result: AttemptResult,
                         alert: Alert | None) -> None:
        m = self.metrics
        if alert is not None:
            m.sent_to_confirmed.labels(channel).observe(_seconds(alert.sent, result.ended_at))
        if item.received_at is not None:
            m.accepted_to_handoff.labels(channel).observe(
                _seconds(item.received_at, result.started_at))
            m.accepted_to_confirmed.labels(channel).observe(
                _seconds(item.received_at, result.ended_at))

    def _count_receipt(self, channel: str, receipt: Mapping[str, object] | None) -> None:
        if receipt is None or receipt.get("duplicate"):
            return
        m = self.metrics
        targets = {"cbs_pages": m.cbs_pages.labels(channel),
                   "ewss_messages": m.ewss_messages.labels(channel),
                   "wallet_pushes": m.wallet_pushes.labels(channel)}
        for name, value in channel_counters(receipt.get("detail")).items():
            if name.startswith("sms_recipients_"):
                m.sms_recipients.labels(channel, name.removeprefix("sms_recipients_")).inc(value)
            else:
                targets[name].inc(value)


def _state_reader(breaker: _HasState) -> Callable[[], float]:
    return lambda: BREAKER_STATES.get(str(breaker.state), 0)


def _seconds(start: datetime, end: datetime) -> float:
    """Elapsed seconds, never negative (a sender clock ahead of ours says 0, not -3)."""
    return max(0.0, (end - start).total_seconds())


def _log_attempt(result: AttemptResult, state: DeliveryState) -> None:
    event = "delivery_retry" if state in _AGAIN else _EVENTS.get(state, "delivery_recorded")
    fields: dict[str, object] = {"attempt": result.number, "outcome": result.outcome,
                                 "state": state.value}
    if result.reason:
        fields |= {"reason": result.reason, "error": result.error}
    if result.next_attempt_at is not None and state in _AGAIN:
        fields["next_attempt_at"] = result.next_attempt_at.isoformat()
    if result.receipt is not None:
        fields |= {"reference": result.receipt.get("reference"),
                   "duplicate": result.receipt.get("duplicate")}
    level = log.warning if state in {DeliveryState.FAILED, DeliveryState.EXPIRED} else log.info
    level(event, **fields)
