"""The dispatcher against a real SQLite store and scripted channels: delivery on every
planned channel, retries, breaker and fallback, permanent failure, expiry, Cancel
during retries, and resumption after a crash without a second broadcast."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.cap import parse_cap
from router.channel import (
    Capabilities,
    Delivery,
    FailureReason,
    Health,
    PermanentError,
    Receipt,
    TransientError,
)
from router.delivery import Dispatcher, DispatchSettings
from router.errors import ChannelBusyError
from router.store import (
    AlertRecord,
    AlertStore,
    ClaimedDelivery,
    DeliveryState,
    NewAlert,
    PlannedDelivery,
    ReplanOutcome,
    Requester,
)
from tests import stores
from tests.stores import opened_stores

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
FAST = DispatchSettings(poll_interval_s=0.02, retry_multiplier_s=0.02, retry_max_s=0.1,
                        retry_jitter_s=0.01, breaker_failures=3, breaker_reset_s=60)


class Scripted:
    """A channel whose answers a test scripts: ``script(attempt) -> None | Exception``."""

    capabilities = Capabilities(supports_cancel=True)

    def __init__(self, name: str, script: Callable[[int], BaseException | None] = lambda n: None
                 ) -> None:
        self.name = name
        self.script = script
        self.calls: list[str] = []
        self.network: dict[str, int] = {}  # idempotency key -> times broadcast

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, delivery: Delivery) -> Receipt:
        self.calls.append(delivery.idempotency_key)
        problem = self.script(len(self.calls))
        if problem is not None:
            raise problem
        duplicate = delivery.idempotency_key in self.network
        self.network.setdefault(delivery.idempotency_key, 0)
        if not duplicate:
            self.network[delivery.idempotency_key] += 1
        return Receipt(self.name, delivery.idempotency_key, "ref", duplicate=duplicate)

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:
        return None

    async def health(self) -> Health:
        return Health(True)


def alert_bytes(identifier: str, expires_in: float | None = None) -> bytes:
    raw = (EXAMPLES / "nl-alert-fire.xml").read_text()
    raw = raw.replace("NL-VRR-2026-0042", identifier)
    now = datetime.now(UTC).replace(microsecond=0)
    raw = raw.replace("2026-11-25T14:05:00+01:00", (now - timedelta(minutes=1)).isoformat())
    if expires_in is not None:
        expires = (now + timedelta(seconds=math.ceil(expires_in))).isoformat()
        raw = raw.replace("<senderName>", f"<expires>{expires}</expires><senderName>")
    return raw.encode()


async def accept(store: AlertStore, identifier: str, plan: list[PlannedDelivery],
                 expires_in: float | None = None, raw: bytes | None = None) -> str:
    raw = raw or alert_bytes(identifier, expires_in)
    document = parse_cap(raw).document
    assert document is not None, parse_cap(raw).findings
    alert_id = f"id-{identifier}"
    await store.accept(NewAlert(alert_id, document.alert, raw, identifier, "cap12", "t",
                                datetime.now(UTC), [], plan))
    return alert_id


async def settled(store: AlertStore, alert_id: str, timeout: float = 10.0
                  ) -> dict[str, DeliveryState]:
    """Wait until no delivery of the alert is pending, sending or standby: a primary's
    end is recorded just before its fallbacks are woken or skipped, so a standby seen
    right after it is still to be settled (no test here ends with one in standby)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        record = await store.get(alert_id)
        assert record is not None
        states = {d.channel: d.state for d in record.deliveries}
        if not {DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.WAITING,
                DeliveryState.STANDBY} & set(states.values()):
            return states
        assert asyncio.get_running_loop().time() < deadline, states
        await asyncio.sleep(0.02)


async def record(store: AlertStore, alert_id: str) -> AlertRecord:
    found = await store.get(alert_id)
    assert found is not None
    return found


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AlertStore]:
    async with opened_stores(tmp_path) as opened:
        yield opened.alerts


async def run(store: AlertStore, channels: list[Scripted]) -> Dispatcher:
    dispatcher = Dispatcher(store, {c.name: c for c in channels}, FAST)
    await dispatcher.start()
    return dispatcher


async def test_delivers_on_every_planned_channel(store: AlertStore) -> None:
    channels = [Scripted("a"), Scripted("b"), Scripted("c"), Scripted("fb")]
    alert_id = await accept(store, "ALL", [PlannedDelivery("a", "r"), PlannedDelivery("b", "r"),
                                           PlannedDelivery("c", "r"),
                                           PlannedDelivery("fb", "r", fallback_for="a")])
    dispatcher = await run(store, channels)
    try:
        states = await settled(store, alert_id)
    finally:
        await dispatcher.stop()
    assert states == {"a": DeliveryState.DELIVERED, "b": DeliveryState.DELIVERED,
                      "c": DeliveryState.DELIVERED, "fb": DeliveryState.SKIPPED}
    assert [c.calls for c in channels[:3]] == [[f"{alert_id}/{n}"] for n in "abc"]


async def test_transient_failures_recover_through_retries(store: AlertStore) -> None:
    flaky = Scripted("a", lambda n: TransientError("busy") if n <= 2 else None)
    alert_id = await accept(store, "FLAKY", [PlannedDelivery("a", "r")])
    dispatcher = await run(store, [flaky])
    try:
        assert await settled(store, alert_id) == {"a": DeliveryState.DELIVERED}
    finally:
        await dispatcher.stop()
    delivery = (await record(store, alert_id)).deliveries[0]
    assert delivery.attempts == 3
    assert [a.outcome for a in delivery.history] == ["transient", "transient", "delivered"]


async def test_channel_down_opens_breaker_and_fallback_delivers(store: AlertStore) -> None:
    down = Scripted("a", lambda n: TransientError("down", FailureReason.UNAVAILABLE))
    fallback = Scripted("ewss")
    alert_id = await accept(store, "DOWN", [PlannedDelivery("a", "r"),
                                            PlannedDelivery("ewss", "r", fallback_for="a")],
                            expires_in=3)
    dispatcher = await run(store, [down, fallback])
    try:
        states = await settled(store, alert_id)
    finally:
        await dispatcher.stop()
    assert states == {"a": DeliveryState.EXPIRED, "ewss": DeliveryState.DELIVERED}
    assert dispatcher.breakers["a"].state != "closed"
    deliveries = {d.channel: d for d in (await record(store, alert_id)).deliveries}
    assert deliveries["ewss"].replaced == "a"
    assert len(down.calls) == FAST.breaker_failures  # the open breaker stopped the calls


async def test_permanent_failure_falls_back_at_once(store: AlertStore) -> None:
    refusing = Scripted("a", lambda n: PermanentError("refused", FailureReason.REJECTED))
    alert_id = await accept(store, "PERM", [PlannedDelivery("a", "r"),
                                            PlannedDelivery("fb", "r", fallback_for="a")])
    dispatcher = await run(store, [refusing, Scripted("fb")])
    try:
        states = await settled(store, alert_id)
    finally:
        await dispatcher.stop()
    assert states == {"a": DeliveryState.FAILED, "fb": DeliveryState.DELIVERED}
    assert len(refusing.calls) == 1
    assert (await record(store, alert_id)).deliveries[0].last_error == "refused"


async def test_alert_expiring_during_retries_is_expired_not_delivered(store: AlertStore
                                                                       ) -> None:
    calls: list[datetime] = []

    def script(n: int) -> BaseException | None:
        calls.append(datetime.now(UTC))
        return TransientError("busy")

    alert_id = await accept(store, "EXPIRING", [PlannedDelivery("a", "r")], expires_in=1.5)
    settings = DispatchSettings(poll_interval_s=0.02, retry_multiplier_s=0.05,
                                retry_max_s=0.2, retry_jitter_s=0.01, breaker_failures=1000)
    dispatcher = Dispatcher(store, {"a": Scripted("a", script)}, settings)
    await dispatcher.start()
    try:
        assert await settled(store, alert_id) == {"a": DeliveryState.EXPIRED}
    finally:
        await dispatcher.stop()
    expires = (await record(store, alert_id)).deliveries[0].deadline
    assert expires is not None
    assert calls
    assert max(calls) < expires


async def test_cancel_during_retries_stops_them(store: AlertStore) -> None:
    flaky = Scripted("a", lambda n: TransientError("busy"))
    alert_id = await accept(store, "NL-VRR-2026-0042", [PlannedDelivery("a", "r")],
                            raw=(EXAMPLES / "nl-alert-fire.xml").read_bytes())
    settings = DispatchSettings(poll_interval_s=0.02, retry_multiplier_s=0.05, retry_max_s=0.1,
                                retry_jitter_s=0.01, breaker_failures=1000,
                                retry_window_s=10 * 365 * 86400)
    dispatcher = Dispatcher(store, {"a": flaky}, settings)
    await dispatcher.start()
    try:
        while len(flaky.calls) < 2:
            await asyncio.sleep(0.02)
        cancel = (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes().replace(
            b"NL-VRR-2026-0043,2026-11-25T14:40:00+01:00",
            b"NL-VRR-2026-0042,2026-11-25T14:05:00+01:00")
        await accept(store, "CANCEL", [], raw=cancel)
        assert await settled(store, alert_id) == {"a": DeliveryState.CANCELLED}
        calls_at_cancel = len(flaky.calls)
        await asyncio.sleep(0.3)
        assert len(flaky.calls) <= calls_at_cancel + 1  # at most the one already in flight
    finally:
        await dispatcher.stop()


async def test_restart_resumes_without_a_second_broadcast(store: AlertStore) -> None:
    if stores.backend == "postgresql":  # tests/unit/test_store_contract.py: lease take-over
        pytest.skip("a shared store takes a dead node's claims over when their lease ends")
    channel = Scripted("a")
    alert_id = await accept(store, "RESUME", [PlannedDelivery("a", "r")])
    # a crash after the network took the alert but before the store recorded it:
    claimed = await store.claim_due(datetime.now(UTC), 10)
    assert [c.alert_id for c in claimed] == [alert_id]
    document = parse_cap(claimed[0].raw).document
    assert document is not None
    await channel.send(Delivery(alert_id, "a", claimed[0].idempotency_key, document.alert,
                                claimed[0].raw))
    dispatcher = await run(store, [channel])  # the restart
    try:
        assert await settled(store, alert_id) == {"a": DeliveryState.DELIVERED}
    finally:
        await dispatcher.stop()
    assert channel.network == {f"{alert_id}/a": 1}
    assert len(channel.calls) == 2


class Slow(Scripted):
    """A channel whose send takes ``takes_s`` (or never ends), with its own timeout."""

    def __init__(self, name: str, *, own_timeout_s: float | None, takes_s: float | None,
                 recipients: str | None = None) -> None:
        super().__init__(name)
        self.capabilities = Capabilities(send_timeout_s=own_timeout_s, recipients=recipients)
        self.takes_s = takes_s

    async def send(self, delivery: Delivery) -> Receipt:
        if self.takes_s is None:
            await asyncio.Event().wait()  # never answers
        else:
            await asyncio.sleep(self.takes_s)
        return await super().send(delivery)


async def test_one_attempt_gets_the_channels_own_timeout_else_the_default(
        store: AlertStore) -> None:
    settings = DispatchSettings(send_timeout_s=30, fanout_timeout_s=3600)
    plain = Slow("plain", own_timeout_s=None, takes_s=0)
    cbc = Slow("cbc", own_timeout_s=55, takes_s=0)
    short = Slow("short", own_timeout_s=5, takes_s=0)
    fanout = Slow("sms", own_timeout_s=55, takes_s=0, recipients="msisdn")
    dispatcher = Dispatcher(store, {}, settings)
    assert [dispatcher.attempt_timeout(c) for c in (plain, cbc, short, fanout)] == [
        30, 55, 5, 3600]  # a fan-out keeps its own, whatever the channel declares


async def test_a_send_longer_than_the_default_completes_within_the_channels_own_timeout(
        store: AlertStore) -> None:
    # the default (0.05 s) would cut a 0.3 s send; the channel's own 60 s does not
    settings = DispatchSettings(poll_interval_s=0.02, send_timeout_s=0.05,
                                retry_multiplier_s=0.02, retry_max_s=0.1, retry_jitter_s=0.01)
    patient = Slow("cbc", own_timeout_s=60, takes_s=0.3)
    hung = Slow("plain", own_timeout_s=None, takes_s=None)
    alert_id = await accept(store, "OWN-TIMEOUT", [PlannedDelivery("cbc", "r"),
                                                   PlannedDelivery("plain", "r")])
    dispatcher = Dispatcher(store, {"cbc": patient, "plain": hung}, settings)
    await dispatcher.start()
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while True:  # bounded: until the patient send lands and the hung one timed out
            deliveries = {d.channel: d for d in (await record(store, alert_id)).deliveries}
            if (deliveries["cbc"].state is DeliveryState.DELIVERED
                    and deliveries["plain"].history):
                break
            assert asyncio.get_running_loop().time() < deadline, deliveries
            await asyncio.sleep(0.02)
    finally:
        await dispatcher.stop(grace_s=0.1)
    assert [a.outcome for a in deliveries["cbc"].history] == ["delivered"]
    assert deliveries["plain"].history[0].outcome == "transient"
    assert deliveries["plain"].history[0].reason == FailureReason.TIMEOUT.value


async def test_open_breaker_makes_deliveries_wait_and_records_only_what_was_sent(
        store: AlertStore) -> None:
    """Down for 2 s with a 0.5 s cool-down: the deliveries wait (``waiting_for_channel``)
    instead of spinning, every stored attempt is a call the channel got, and both are
    delivered once the channel is back."""
    healthy_at = asyncio.get_running_loop().time() + 2.0

    def script(n: int) -> BaseException | None:
        if asyncio.get_running_loop().time() < healthy_at:
            return TransientError("down", FailureReason.UNAVAILABLE)
        return None

    down = Scripted("a", script)
    ids = [await accept(store, name, [PlannedDelivery("a", "r")]) for name in ("W1", "W2")]
    settings = DispatchSettings(poll_interval_s=0.02, retry_multiplier_s=0.02, retry_max_s=0.1,
                                retry_jitter_s=0.01, breaker_failures=3, breaker_reset_s=0.5)
    dispatcher = Dispatcher(store, {"a": down}, settings)
    await dispatcher.start()
    seen: set[DeliveryState] = set()
    try:
        while asyncio.get_running_loop().time() < healthy_at:
            seen |= {d.state for i in ids for d in (await record(store, i)).deliveries}
            await asyncio.sleep(0.05)
        for alert_id in ids:
            assert await settled(store, alert_id) == {"a": DeliveryState.DELIVERED}
    finally:
        await dispatcher.stop()
    assert DeliveryState.WAITING in seen
    rows = [a for i in ids for a in (await record(store, i)).deliveries[0].history]
    assert len(rows) == len(down.calls)  # no row without a call
    assert {a.outcome for a in rows} == {"transient", "delivered"}
    # 3 to open the breaker, then about one trial per 0.5 s cool-down, then the two sends
    assert len(down.calls) <= 3 + 2.0 / 0.5 + 1 + 2


class Busy(Scripted):
    """A channel whose every identifier is taken: it answers, but cannot take the alert."""

    async def send(self, delivery: Delivery) -> Receipt:
        self.calls.append(delivery.idempotency_key)
        raise ChannelBusyError("4371 holds id-OTHER; 4372 holds id-THIRD")


async def test_busy_channel_is_retried_to_the_deadline_then_fails_without_breaker_or_fallback(
        store: AlertStore) -> None:
    busy, fallback = Busy("cbc"), Scripted("ewss")
    alert_id = await accept(store, "BUSY", [PlannedDelivery("cbc", "r"),
                                            PlannedDelivery("ewss", "r", fallback_for="cbc")],
                            expires_in=2)
    dispatcher = await run(store, [busy, fallback])
    try:
        states = await settled(store, alert_id)
    finally:
        await dispatcher.stop()
    assert states == {"cbc": DeliveryState.FAILED, "ewss": DeliveryState.SKIPPED}
    assert len(busy.calls) > FAST.breaker_failures  # busy never opened the breaker
    assert dispatcher.breakers["cbc"].state == "closed"
    assert fallback.calls == []  # busy is not an outage: the satellite stays quiet
    delivery = (await record(store, alert_id)).deliveries[0]
    assert {a.reason for a in delivery.history} == {"identifier_pool_exhausted"}
    tried = [a for a in delivery.history if a.outcome == "transient"]
    assert len(tried) == len(busy.calls)  # a row per call; a deadline reached while
    # waiting for the next go adds one closing "expired" row, with the busy reason
    assert [a.outcome for a in delivery.history[len(tried):]] in ([], ["expired"])
    assert "4371 holds id-OTHER" in (delivery.last_error or "")


async def test_a_replanned_delivery_gets_a_new_window_and_a_fresh_back_off(
        store: AlertStore) -> None:
    """An alert without ``<expires>`` whose retry window (1 s here) has passed: asked to
    retry, its failed channel is sent again, the window counted from the request."""
    refusing_once = Scripted("a", lambda n: PermanentError("refused", FailureReason.REJECTED)
                             if n == 1 else None)
    alert_id = await accept(store, "REPLAN", [PlannedDelivery("a", "r")])
    settings = DispatchSettings(poll_interval_s=0.02, retry_multiplier_s=0.02,
                                retry_max_s=0.1, retry_jitter_s=0.01, retry_window_s=1.0)
    dispatcher = Dispatcher(store, {"a": refusing_once}, settings)
    await dispatcher.start()
    try:
        assert await settled(store, alert_id) == {"a": DeliveryState.FAILED}
        await asyncio.sleep(1.2)  # the window from acceptance is over
        result = await store.replan(alert_id, "a", Requester("ops", "sha256:0123456789ab"),
                                    datetime.now(UTC))
        assert result.outcome is ReplanOutcome.REPLANNED
        dispatcher.wake()
        assert await settled(store, alert_id) == {"a": DeliveryState.DELIVERED}
    finally:
        await dispatcher.stop()
    delivery = (await record(store, alert_id)).deliveries[0]
    assert [a.outcome for a in delivery.history] == ["permanent", "delivered"]
    assert delivery.retry_requested_by == Requester("ops", "sha256:0123456789ab")


class Held(Scripted):
    """A channel whose sends wait until the test lets them go: a slow network."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.go = asyncio.Event()

    async def send(self, delivery: Delivery) -> Receipt:
        self.calls.append(delivery.idempotency_key)
        await self.go.wait()
        return Receipt(self.name, delivery.idempotency_key, "ref")


async def test_a_slow_channels_backlog_does_not_hold_up_the_other_channels(
        store: AlertStore) -> None:
    """Every alert goes to a slow channel first (in the store's order) and a fast one.
    While the slow one's sends hang, the fast one still gets all of its deliveries: the
    slow channel is claimed only up to its concurrency, so its waiting deliveries never
    take all of ``max_in_flight`` (before, 4 slots filled with deliveries waiting for
    the slow channel and the fast one's stopped after the third alert)."""
    slow, fast = Held("slow"), Scripted("fast")
    ids = [await accept(store, f"HOL-{n}", [PlannedDelivery("slow", "r"),
                                            PlannedDelivery("fast", "r")]) for n in range(6)]
    settings = replace(FAST, max_in_flight=4, per_channel_concurrency=2)
    dispatcher = Dispatcher(store, {"slow": slow, "fast": fast}, settings)
    await dispatcher.start()
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while len(fast.calls) < len(ids) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert sorted(fast.calls) == sorted(f"{alert_id}/fast" for alert_id in ids)
        assert len(slow.calls) == 2  # its concurrency; the rest stay pending in the store
        slow.go.set()
        states = [await settled(store, alert_id) for alert_id in ids]
    finally:
        slow.go.set()
        await dispatcher.stop()
    assert states == [{"slow": DeliveryState.DELIVERED, "fast": DeliveryState.DELIVERED}] * 6
    assert len(slow.calls) == 6


async def test_a_wake_up_during_an_empty_claim_is_not_lost(store: AlertStore) -> None:
    """An alert accepted while the dispatcher's claim is running (and finds nothing)
    is claimed at once, not at the next poll: the wake-up that came with it is kept.
    Before, the loop cleared the wake-up after the empty claim and slept a whole poll
    interval (30 s here; 50-200 ms in service, the tail of 202 -> first call)."""
    channel = Scripted("a")
    dispatcher = Dispatcher(store, {"a": channel}, replace(FAST, poll_interval_s=30))
    claims = 0
    accepted: list[str] = []
    claim_due = store.claim_due

    async def claim_while_an_alert_arrives(now: datetime, limit: int, *,
                                           skip_channels: frozenset[str] = frozenset()
                                           ) -> list[ClaimedDelivery]:
        nonlocal claims
        claims += 1
        found = await claim_due(now, limit, skip_channels=skip_channels)
        if claims == 1:  # the first claim finds nothing; an alert is accepted meanwhile
            assert found == []
            accepted.append(await accept(store, "WAKE", [PlannedDelivery("a", "r")]))
            dispatcher.wake()
        return found

    store.claim_due = claim_while_an_alert_arrives  # type: ignore[method-assign]
    await dispatcher.start()
    try:
        deadline = asyncio.get_running_loop().time() + 10  # a third of the poll interval
        while not channel.calls and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
    finally:
        await dispatcher.stop()
    assert channel.calls == [f"{accepted[0]}/a"]
    # the empty claim, the one the wake-up asked for, perhaps one more that found nothing
    assert 2 <= claims <= 3


async def test_delivering_reads_the_stored_alert_without_validating_it_again(
        store: AlertStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The alert was validated when accepted: sending it on three channels runs neither
    the XSD nor the spec rules (``router.cap.read_stored``), counted, not timed."""
    from router.cap import parse as cap_parse  # noqa: PLC0415

    alert_id = await accept(store, "READ", [PlannedDelivery("a", "r"),
                                            PlannedDelivery("b", "r"), PlannedDelivery("c", "r")])
    validations: list[str] = []
    real = cap_parse.schema_findings

    def counted(*args: object) -> object:
        validations.append("xsd")
        return real(*args)  # type: ignore[arg-type]
    monkeypatch.setattr(cap_parse, "schema_findings", counted)
    channels = [Scripted("a"), Scripted("b"), Scripted("c")]
    dispatcher = await run(store, channels)
    try:
        states = await settled(store, alert_id)
    finally:
        await dispatcher.stop()
    assert set(states.values()) == {DeliveryState.DELIVERED}
    assert validations == []
