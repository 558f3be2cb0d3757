"""The dispatcher: claims due deliveries from the store and hands them to channels.

Stage: delivery (above the store; never imported by channels). Retries are
durable: a transient failure stores the attempt and a ``next_attempt_at``
(exponential back-off with jitter, from tenacity), so a restart resumes the
schedule instead of forgetting it, and the idempotency key makes the resumed
send safe. Rules:

- nothing is sent after the alert's deadline (its latest ``<expires>``; an alert
  without one gets ``retry_window_s``): the delivery becomes ``expired``;
- a permanent failure, or a channel whose breaker is open, wakes the route's
  standby fallback for that channel (the fallback records what it ``replaced``);
  with an open breaker the primary is still retried when the breaker lets a
  trial through, because a second channel reaching people is not a duplicate;
- a delivery that may not call its channel (breaker open, or its one half-open
  trial already taken) is not sent and not counted as an attempt: it becomes
  ``waiting_for_channel`` until the breaker lets a trial through, once per
  cool-down, and is due at once when a trial succeeds and the breaker closes.
  A transient failure that leaves the breaker open waits the same way, so a
  long outage costs one attempt per cool-down, not one per poll;
- ``ChannelBusyError`` (every cell-broadcast identifier of the class holds another
  live alert) is not an outage: the channel answered, so the breaker counts a
  success and no fallback is woken; the delivery is retried on its usual
  schedule and, if the deadline comes first, ends ``failed`` with the busy
  reason (``identifier_pool_exhausted``), not ``expired``;
- a success marks unneeded standby fallbacks ``skipped``;
- per-channel concurrency limits keep one slow network from taking every slot: a
  channel with as many deliveries claimed and not yet handed over as its limit is left
  out of the next claim, so its backlog (first in the store's order) never fills the
  ``max_in_flight`` slots with deliveries waiting for it while other channels'
  deliveries wait behind them;
- one attempt may take ``send_timeout_s`` (the setting ``dispatch_send_timeout_s``),
  or the channel's own ``Capabilities.send_timeout_s`` when it declares one (a CBC
  Update is two calls); a channel that names ``Capabilities.recipients`` gets the
  delivery's ``Audience`` from the store and ``fanout_timeout_s`` instead: a national
  fan-out takes minutes, and the audience's durable outcomes let a cut-short send
  resume where it stopped. Either way no attempt runs past the deadline;
- the stored variants go with every delivery, with the spoken audio made so far
  (``router.assets.media``): delivery never waits for speech.

Every attempt and every settled fallback is written through the record stage
(``router.record.Recorder``), which also turns it into metrics, log lines and
live progress; this module logs only what is not an attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog
from tenacity import RetryCallState, wait_exponential_jitter

from router.assets.media import parse, with_speech
from router.audience import AudienceStore
from router.cap import Alert, read_stored
from router.channel import Channel, Delivery, MsgType, Receipt
from router.delivery.breaker import Breaker, BreakerState
from router.errors import (
    ChannelBusyError,
    ConfigurationError,
    FailureReason,
    LeaseLostError,
    NotApplicableError,
    PermanentError,
    StoreUnavailableError,
    TransientError,
)
from router.observability.metrics import Metrics
from router.record import Recorder
from router.render import RenderedAlert
from router.store import AlertStore, AttemptResult, ClaimedDelivery, DeliveryState
from router.trust import confidential

log = structlog.get_logger("tocsin.dispatch")


@dataclass(frozen=True)
class DispatchSettings:
    poll_interval_s: float = 0.2
    max_in_flight: int = 64
    per_channel_concurrency: int = 8
    send_timeout_s: float = 30.0
    fanout_timeout_s: float = 3600.0
    retry_multiplier_s: float = 0.5
    retry_max_s: float = 30.0
    retry_jitter_s: float = 0.25
    retry_window_s: float = 3600.0
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0


class Dispatcher:
    def __init__(self, store: AlertStore, channels: Mapping[str, Channel],
                 settings: DispatchSettings | None = None, recorder: Recorder | None = None,
                 *, audience: AudienceStore | None = None) -> None:
        """``audience``: where the recipients of channels that name
        ``Capabilities.recipients`` come from; required when any channel does."""
        needy = sorted(name for name, c in channels.items() if c.capabilities.recipients)
        if needy and audience is None:
            raise ConfigurationError([f"channel {name!r} sends to subscribers, but the "
                                      "dispatcher was given no audience store"
                                      for name in needy])
        self.store = store
        self.audience = audience
        self.recorder = recorder or Recorder(store, Metrics(channels))
        self.channels = dict(channels)
        self.settings = settings or DispatchSettings()
        self.breakers = {name: Breaker(self.settings.breaker_failures,
                                       self.settings.breaker_reset_s) for name in channels}
        self.recorder.watch_breakers(self.breakers)
        self._limits = {name: asyncio.Semaphore(self.settings.per_channel_concurrency)
                        for name in channels}
        self._slots = asyncio.Semaphore(self.settings.max_in_flight)
        self._ahead: dict[str, set[str]] = {name: set() for name in channels}
        """Per channel, the deliveries claimed and not yet past their hand-over (sent,
        or ended before it): a channel with its limit of them is not claimed for."""
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._alerts: OrderedDict[str, Alert] = OrderedDict()
        self._wait = wait_exponential_jitter(multiplier=self.settings.retry_multiplier_s,
                                             max=self.settings.retry_max_s,
                                             jitter=self.settings.retry_jitter_s)

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        for name, channel in self.channels.items():
            try:
                await channel.start()
            except Exception as exc:  # one broken channel must not stop the rest
                # its sends fail (and retry, or fall back) with the channel's own errors;
                # every other channel keeps delivering
                log.exception("channel_start_failed", channel=name, error=str(exc) or
                          type(exc).__name__)
        released = await self.store.release_in_flight()
        if released:
            log.warning("deliveries_resumed", deliveries=released)
        self._loop_task = asyncio.create_task(self._run(), name="tocsin-dispatcher")

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming; give in-flight sends ``grace_s`` seconds, then close channels.
        Sends cut short stay ``sending`` and are resumed at the next start."""
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)
        for channel in self.channels.values():
            await channel.close()

    def wake(self) -> None:
        """New work was committed: look now rather than at the next poll."""
        self._wake.set()

    # -- the loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            # cleared before the claim, not after an empty one: a wake-up that lands
            # while the claim runs (an accept, a full channel with room again) is kept
            self._wake.clear()
            free = self.settings.max_in_flight - len(self._tasks)
            full = self._full_channels()
            try:
                claimed = (await self.store.claim_due(datetime.now(UTC), free,
                                                      skip_channels=full) if free else [])
            except StoreUnavailableError as exc:  # the database is away: try again later
                log.warning("dispatch_claim_failed", error=str(exc))
                claimed = []
            for item in claimed:
                await self._slots.acquire()
                task = asyncio.create_task(self._deliver(item))
                self._tasks.add(task)
                self._ahead.get(item.channel, set()).add(item.idempotency_key)
                task.add_done_callback(self._done)
            if not claimed:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that lands as the wait ends, and stop() would hang.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.poll_interval_s):
                        await self._wake.wait()

    def _full_channels(self) -> frozenset[str]:
        """Channels with as many deliveries claimed as their concurrency limit."""
        limit = self.settings.per_channel_concurrency
        return frozenset(name for name, keys in self._ahead.items() if len(keys) >= limit)

    def _past_channel(self, item: ClaimedDelivery) -> None:
        """``item`` no longer waits for or holds its channel (once; again is a no-op). A
        channel that had its limit has room again: its due deliveries, skipped by the
        last claim, are claimed now rather than at the next poll."""
        ahead = self._ahead.get(item.channel)
        if ahead is None or item.idempotency_key not in ahead:
            return
        was_full = len(ahead) >= self.settings.per_channel_concurrency
        ahead.discard(item.idempotency_key)
        if was_full:
            self._wake.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("dispatch_crashed", error=repr(task.exception()))

    def _alert(self, item: ClaimedDelivery) -> Alert:
        alert = self._alerts.get(item.alert_id)
        if alert is None:
            stored = read_stored(item.raw)  # validated when accepted: read, not checked
            if stored is None:  # it was valid when accepted; the parser changed since
                raise PermanentError("the stored alert no longer parses",
                                     FailureReason.INVALID_INPUT)
            alert = stored
            self._alerts[item.alert_id] = alert
            if len(self._alerts) > 256:
                self._alerts.popitem(last=False)
        else:
            self._alerts.move_to_end(item.alert_id)
        return alert

    def _deadline(self, item: ClaimedDelivery, alert: Alert) -> datetime:
        """``<expires>`` when every info has one; otherwise the retry window counted from
        when the alert was sent or accepted, whichever is later (an alert re-posted from
        an archive, or one whose sender clock lags, still gets its whole window), or
        from when someone asked for the delivery to be retried."""
        if item.deadline is not None:
            return item.deadline
        start = max(t for t in (alert.sent, item.received_at, item.retry_requested_at) if t)
        return start + timedelta(seconds=self.settings.retry_window_s)

    # -- one delivery -----------------------------------------------------------------

    async def _ready(self, item: ClaimedDelivery, started: datetime
                     ) -> tuple[Channel, Alert, datetime] | None:
        """The channel, alert and deadline for a send, or None when it ended here."""
        number = item.attempts + 1
        try:
            alert = self._alert(item)
        except PermanentError as exc:
            await self._finish(item, number, started, "permanent", DeliveryState.FAILED, exc)
            return None
        channel = self.channels.get(item.channel)
        if channel is None:
            error = PermanentError(f"no channel instance named {item.channel!r} is configured",
                                   FailureReason.CONFIGURATION)
            await self._finish(item, number, started, "permanent", DeliveryState.FAILED, error)
            return None
        if channel.capabilities.public and confidential(alert):
            skipped = NotApplicableError(f"a {alert.scope.value} alert is never sent on a "
                                         "public channel", FailureReason.SCOPE)
            await self._finish(item, number, started, "not-applicable", DeliveryState.SKIPPED,
                               skipped)
            return None
        deadline = self._deadline(item, alert)
        if started >= deadline:
            if item.last_reason == FailureReason.IDENTIFIER_POOL_EXHAUSTED.value:
                # claimed past the deadline after a busy attempt: it ends as every busy
                # delivery does at its deadline, failed with the busy reason
                busy = ChannelBusyError(item.last_error or "every identifier stayed busy")
                await self._finish(item, number, started, "expired", DeliveryState.FAILED,
                                   busy, fallbacks=False)
            else:
                await self._finish(item, number, started, "expired", DeliveryState.EXPIRED,
                                   None)
            return None
        return channel, alert, deadline

    async def _deliver(self, item: ClaimedDelivery) -> None:
        structlog.contextvars.bind_contextvars(alert_id=item.alert_id, channel=item.channel,
                                               delivery_id=item.idempotency_key)
        try:
            await self._deliver_claimed(item)
        except LeaseLostError as exc:  # another node took it over: its outcome stands
            log.warning("delivery_lease_lost", fence=item.fence, error=str(exc))
        finally:
            self._past_channel(item)  # ended before its hand-over

    async def _deliver_claimed(self, item: ClaimedDelivery) -> None:
        started = datetime.now(UTC)
        number = item.attempts + 1
        ready = await self._ready(item, started)
        if ready is None:
            return
        channel, alert, deadline = ready
        breaker = self.breakers[item.channel]
        if not breaker.allow():
            await self._wait_for_channel(item, breaker, deadline)
            return
        replaces = self._prior_receipt(item)
        kind = channel.capabilities.recipients
        delivery = Delivery(alert_id=item.alert_id, channel=item.channel,
                            idempotency_key=item.idempotency_key, alert=alert, raw=item.raw,
                            attempt=number, deadline=deadline, replaces=replaces,
                            variants=await self._variants(item),
                            audience=self.audience.audience(kind, item, alert)
                            if kind and self.audience else None)
        try:
            async with self.recorder.slot(item.channel, self._limits[item.channel]):
                try:
                    timeout = min(self.attempt_timeout(channel),
                                  (deadline - datetime.now(UTC)).total_seconds())
                    async with asyncio.timeout(max(timeout, 0.001)):
                        receipt = await self._hand_over(channel, delivery)
                finally:  # the outcome's writes below no longer hold the channel
                    self._past_channel(item)
        except NotApplicableError as exc:
            await self._answered(item.channel)
            await self._finish(item, number, started, "not-applicable", DeliveryState.SKIPPED,
                               exc)
            return
        except PermanentError as exc:
            await self._answered(item.channel)  # the channel answered; it refused this alert
            await self._finish(item, number, started, "permanent", DeliveryState.FAILED, exc)
            return
        except Exception as exc:  # transient, busy, a timeout, or an adapter bug
            await self._not_now(item, number, started, deadline, exc)
            return
        await self._answered(item.channel)
        await self._finish(item, number, started, "delivered", DeliveryState.DELIVERED, None,
                           receipt)

    async def _not_now(self, item: ClaimedDelivery, number: int, started: datetime,
                       deadline: datetime, exc: Exception) -> None:
        """A send that may succeed later. Busy is the channel answering (no breaker count);
        anything else counts against the breaker, an adapter bug loudly."""
        if isinstance(exc, ChannelBusyError):
            await self._answered(item.channel)
        else:
            if not isinstance(exc, (TransientError, TimeoutError)):
                log.error("channel_adapter_error", exc_info=exc)
            self.breakers[item.channel].failure()
        await self._retry_or_expire(item, number, started, deadline, exc)

    async def _answered(self, channel: str) -> None:
        """The channel answered: its breaker closes, and if it was not closed, the
        deliveries waiting for the channel are due now rather than at their wait's end."""
        breaker = self.breakers[channel]
        was_closed = breaker.state is BreakerState.CLOSED
        breaker.success()
        if not was_closed and await self.store.release_waiting(channel, datetime.now(UTC)):
            self.wake()

    async def _wait_for_channel(self, item: ClaimedDelivery, breaker: Breaker,
                                deadline: datetime) -> None:
        """The breaker refused the call: wake the fallbacks and wait, unsent, until the
        breaker lets a trial through. When the trial is already taken (half-open), wait a
        whole cool-down: a trial that succeeds releases the waiting at once, one that
        fails opens the breaker again for that long."""
        now = datetime.now(UTC)
        wait_s = (breaker.retry_in() if breaker.state is BreakerState.OPEN
                  else breaker.reset_after_s)
        until = min(now + timedelta(seconds=max(wait_s, 0.001)), deadline)
        # the wait is written before anything else is awaited, so a trial that succeeds
        # from here on releases it; one that succeeded meanwhile is caught just after
        await self.recorder.waiting(item, until, f"breaker open on {item.channel}")
        if breaker.state is BreakerState.CLOSED:
            await self.store.release_waiting(item.channel, datetime.now(UTC))
        await self.recorder.fallbacks(item.alert_id, item.channel, needed=True)
        self.wake()

    def attempt_timeout(self, channel: Channel) -> float:
        """Seconds one attempt on ``channel`` may take, before the deadline's cut."""
        capabilities = channel.capabilities
        if capabilities.recipients:
            return self.settings.fanout_timeout_s
        own = capabilities.send_timeout_s
        return own if own is not None and own > 0 else self.settings.send_timeout_s

    async def _variants(self, item: ClaimedDelivery) -> RenderedAlert | None:
        """The variants stored with the alert and the audio made so far; None (channels
        use ``PlainVariants``) when it has none or this Tocsin cannot read them. A store
        that cannot list the audio costs the delivery its audio, not the delivery."""
        rendered = parse(item.alert_id, item.variants)
        try:
            return await with_speech(self.store, item.alert_id, rendered, item.speech_state)
        except Exception:
            log.exception("dispatch.assets_unreadable")
            return rendered

    @staticmethod
    def _prior_receipt(item: ClaimedDelivery) -> Receipt | None:
        """The stored receipt of what an Update or Cancel follows, as the channel gave it."""
        prior = item.replaces
        if prior is None:
            return None
        detail = prior.receipt.get("detail")
        return Receipt(item.channel, prior.idempotency_key,
                       str(prior.receipt.get("reference", prior.idempotency_key)),
                       detail=detail if isinstance(detail, dict) else {})

    @staticmethod
    async def _hand_over(channel: Channel, delivery: Delivery) -> Receipt:
        """A Cancel withdraws what the channel carried, where the channel can; anything
        else (and a Cancel elsewhere) is sent, with ``replaces`` set for an Update."""
        replaces = delivery.replaces
        if (delivery.alert.msg_type is MsgType.CANCEL and replaces is not None
                and channel.capabilities.supports_cancel):
            await channel.cancel(delivery, replaces)
            return Receipt(channel.name, delivery.idempotency_key,
                           reference=f"cancelled:{replaces.reference}")
        if replaces is not None and not channel.capabilities.supports_update:
            delivery = replace(delivery, replaces=None)  # a fresh message, as the network knows
        return await channel.send(delivery)

    async def _retry_or_expire(self, item: ClaimedDelivery, number: int, started: datetime,
                               deadline: datetime, exc: BaseException) -> None:
        """Another go on the back-off schedule (no earlier than the breaker allows), or
        the end at the deadline: ``expired``, or ``failed`` for a busy channel."""
        busy = isinstance(exc, ChannelBusyError)
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]  # only the count is read
        state.attempt_number = max(1, number - item.retry_base)  # a re-plan starts afresh
        now = datetime.now(UTC)
        next_at = now + timedelta(seconds=self._wait(state))
        breaker = self.breakers[item.channel]
        blocked = not busy and breaker.state is BreakerState.OPEN
        if blocked:
            next_at = max(next_at, now + timedelta(seconds=breaker.retry_in()))
        if next_at >= deadline:  # a channel down to the end hands over to its fallbacks
            await self._finish(item, number, started, "transient",
                               DeliveryState.FAILED if busy else DeliveryState.EXPIRED, exc,
                               fallbacks=not busy and breaker.state is not BreakerState.CLOSED)
            return
        reason = exc.reason if isinstance(exc, TransientError) else FailureReason.TIMEOUT
        await self.recorder.attempt(item, AttemptResult(
            item.alert_id, item.channel, number, started, datetime.now(UTC), "transient",
            DeliveryState.WAITING if blocked else DeliveryState.PENDING, reason.value,
            str(exc) or type(exc).__name__, next_at))
        if not busy and breaker.state is not BreakerState.CLOSED:
            await self.recorder.fallbacks(item.alert_id, item.channel, needed=True)
            self.wake()

    async def _finish(self, item: ClaimedDelivery, number: int, started: datetime,  # noqa: PLR0917
                      outcome: str, state: DeliveryState, exc: BaseException | None,
                      receipt: Receipt | None = None, *, fallbacks: bool | None = None
                      ) -> None:
        """Record the delivery's last attempt, then wake its standby fallbacks (``fallbacks``;
        by default when it failed or was skipped), else mark them skipped."""
        reason = exc.reason.value if isinstance(exc, (TransientError, PermanentError)) else None
        await self.recorder.attempt(item, AttemptResult(
            item.alert_id, item.channel, number, started, datetime.now(UTC), outcome, state,
            reason, (str(exc) or type(exc).__name__) if exc else None, None,
            {"reference": receipt.reference, "duplicate": receipt.duplicate,
             "detail": dict(receipt.detail)} if receipt else None),
            self._alerts.get(item.alert_id))
        needed = (state in {DeliveryState.FAILED, DeliveryState.SKIPPED} if fallbacks is None
                  else fallbacks)
        woken = await self.recorder.fallbacks(item.alert_id, item.channel, needed=needed)
        if woken and needed:
            self.wake()

