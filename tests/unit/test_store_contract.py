"""The store contract where several nodes share one store (issue: many nodes).

Every test runs on SQLite and on PostgreSQL (``store_backend``); those about taking a
dead node's work over run where a store is shared by nodes (PostgreSQL). "Two nodes"
are two store instances opened on one database, as two ``tocsin serve`` processes
would open it.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.audience import Subscriber
from router.audit.chain import AuditEvent, AuditKind, Principal, verify_chain
from router.cap import parse_cap
from router.channel import RecipientOutcome, RecipientResult
from router.errors import LeaseLostError, StoreUnavailableError
from router.storage import Stores, open_stores
from router.store import (
    AcceptOutcome,
    AnnouncesWork,
    AttemptResult,
    ClaimedDelivery,
    DeliveryState,
    NewAlert,
    PlannedDelivery,
    audit,
)
from router.store.leases import LEASE_LOST
from router.store.sql import Connection
from tests import stores as test_stores
from tests.postgres import start_postgres
from tests.stores import opened_stores
from tests.unit.test_dispatcher import accept, alert_bytes

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite


@pytest.fixture
async def two_nodes(tmp_path: Path) -> AsyncIterator[tuple[Stores, Stores]]:
    async with opened_stores(tmp_path) as first, \
            opened_stores(tmp_path, url=first.url) as second:
        yield first, second


@pytest.fixture
async def short_leases(tmp_path: Path) -> AsyncIterator[tuple[Stores, Stores]]:
    """Two nodes on one shared store whose claims hold a second without renewal."""
    shared_only()
    url = test_stores.store_url(tmp_path)
    first = open_stores(url, tmp_path, lease_s=1.0)
    second = open_stores(url, tmp_path, lease_s=1.0)
    await first.open()
    await second.open()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def shared_only() -> None:
    if test_stores.backend != "postgresql":
        pytest.skip("SQLite has one node by construction: nothing to take over")


def new_alert(identifier: str, alert_id: str, plan: list[PlannedDelivery]) -> NewAlert:
    raw = alert_bytes(identifier)
    document = parse_cap(raw).document
    assert document is not None
    return NewAlert(alert_id, document.alert, raw, identifier, "cap12", "t",
                    datetime.now(UTC), [], plan)


async def test_a_node_commits_while_another_nodes_transaction_has_appended_to_the_trail(
        two_nodes: tuple[Stores, Stores]) -> None:
    """Three nodes accepted 4-17 alerts/s where one accepted 130-175 (bench/nodes.py):
    an append locked the chain head from the job to the end of the writer's batch, and
    every other node's batch waited on it in the middle of its own. Here the second
    node's transaction appends and is held open (a job that waits, in its writer
    thread); the first node must still commit an alert with its entry meanwhile, and
    the chain stays whole once the second commits."""
    shared_only()
    first, second = two_nodes
    who = Principal(via="cli", actor="test")
    appended, release = threading.Event(), threading.Event()

    def held_open(conn: Connection) -> None:
        audit.append(conn, AuditEvent(AuditKind.KEY_CREATED, who, "held"))
        appended.set()
        release.wait(30)  # bounded: the test fails before, or releases it
    holder = asyncio.ensure_future(second.alerts.run_write(held_open))  # type: ignore[attr-defined]
    try:
        assert await asyncio.to_thread(appended.wait, 10)
        new = new_alert("WHILE-HELD", "w-1", [PlannedDelivery("a", "r")])
        accepted = await asyncio.wait_for(first.alerts.accept(new), timeout=15)
        assert accepted.outcome is AcceptOutcome.CREATED
        assert not holder.done()  # the second node's transaction is still open
    finally:
        release.set()
        await holder
    trail = await first.alerts.audit_page(limit=10)
    assert [(e.seq, e.subject) for e in trail.items] == [(1, "w-1"), (2, "held")]
    assert verify_chain(lambda: trail.items, await first.alerts.audit_head()).intact


async def test_an_audit_entry_of_a_job_that_failed_is_not_sealed(
        two_nodes: tuple[Stores, Stores]) -> None:
    """The entries of a job rolled back to its savepoint are dropped with it; the
    batch's other jobs keep theirs, in order."""
    first, _second = two_nodes
    who = Principal(via="cli", actor="test")

    def fails(conn: Connection) -> None:
        audit.append(conn, AuditEvent(AuditKind.KEY_CREATED, who, "failed"))
        raise ValueError("this job fails after appending")

    def keeps(name: str) -> Callable[[Connection], None]:
        return lambda conn: audit.append(conn, AuditEvent(AuditKind.KEY_CREATED, who, name))
    run = first.alerts.run_write  # type: ignore[attr-defined]
    results = await asyncio.gather(run(keeps("one")), run(fails), run(keeps("two")),
                                   return_exceptions=True)
    assert isinstance(results[1], ValueError)
    trail = await first.alerts.audit_page(limit=10)
    assert [(e.seq, e.subject) for e in trail.items] == [(1, "one"), (2, "two")]
    assert verify_chain(lambda: trail.items, await first.alerts.audit_head()).intact


async def test_one_alert_posted_to_two_nodes_at_once_is_stored_once(
        two_nodes: tuple[Stores, Stores]) -> None:
    first, second = two_nodes
    for n in range(10):
        new = new_alert(f"TWICE-{n}", f"a-{n}", [PlannedDelivery("a", "r")])
        results = await asyncio.gather(first.alerts.accept(new),
                                       second.alerts.accept(replace(new, id=f"b-{n}")))
        assert sorted(r.outcome for r in results) == [AcceptOutcome.CREATED,
                                                       AcceptOutcome.DUPLICATE]
        assert results[0].alert_id == results[1].alert_id  # both answer with the same id
        record = await first.alerts.get(results[0].alert_id)
        assert record is not None
        assert [d.channel for d in record.deliveries] == ["a"]  # one plan, not two


async def test_two_nodes_appending_to_the_audit_trail_at_once_never_collide(
        two_nodes: tuple[Stores, Stores]) -> None:
    """One hash chain, written by every node: each append takes the next sequence
    number under the chain head's row lock. Appends used to read the head unlocked;
    two nodes took the same number, one hit the primary key and was rerun at once
    against the same uncommitted head, and after five tries its caller got a 503
    (three nodes accepted 4-8 alerts/s, bench/nodes.py)."""
    first, second = two_nodes
    who = Principal(via="cli", actor="test")

    async def append(stores: Stores, node: str) -> None:
        for n in range(40):  # bounded
            await stores.alerts.append_audit(
                [AuditEvent(AuditKind.KEY_CREATED, who, f"{node}-{n}")])
    await asyncio.gather(append(first, "a"), append(second, "b"))

    trail = await first.alerts.audit_page(limit=1000)
    assert [e.seq for e in trail.items] == list(range(1, 81))
    assert verify_chain(lambda: trail.items, await first.alerts.audit_head()).intact
    assert getattr(first.alerts, "collisions", 0) == 0
    assert getattr(second.alerts, "collisions", 0) == 0


async def test_two_nodes_claiming_together_never_take_the_same_delivery(
        two_nodes: tuple[Stores, Stores]) -> None:
    first, second = two_nodes
    for n in range(60):
        await accept(first.alerts, f"CLAIM-{n}", [PlannedDelivery("a", "r"),
                                                  PlannedDelivery("b", "r")])
    taken: list[list[ClaimedDelivery]] = [[], []]

    async def claim(node: int, stores: Stores) -> None:
        for _ in range(200):  # bounded
            got = await stores.alerts.claim_due(datetime.now(UTC), 7)
            if not got:
                return
            taken[node].extend(got)
    await asyncio.gather(claim(0, first), claim(1, second))
    keys = [c.idempotency_key for c in taken[0] + taken[1]]
    assert len(keys) == 120
    assert len(set(keys)) == 120  # nobody claimed twice
    assert all(c.fence >= 1 for c in taken[0] + taken[1])


def attempt(claim: ClaimedDelivery, fence: int | None) -> AttemptResult:
    now = datetime.now(UTC)
    return AttemptResult(claim.alert_id, claim.channel, claim.attempts + 1, now, now,
                         "delivered", DeliveryState.DELIVERED, fence=fence)


async def test_an_outcome_under_an_old_fence_is_refused(tmp_path: Path) -> None:
    async with opened_stores(tmp_path) as stores:
        alert_id = await accept(stores.alerts, "FENCE", [PlannedDelivery("a", "r")])
        [claim] = await stores.alerts.claim_due(datetime.now(UTC), 5)
        with pytest.raises(LeaseLostError):
            await stores.alerts.record_attempt(attempt(claim, claim.fence - 1))
        assert await stores.alerts.record_attempt(attempt(claim, claim.fence)) is \
            DeliveryState.DELIVERED
        record = await stores.alerts.get(alert_id)
        assert record is not None
        assert [len(d.history) for d in record.deliveries] == [1]  # the refused one left none


async def test_a_node_paused_past_its_lease_cannot_record_over_the_one_that_took_over(
        short_leases: tuple[Stores, Stores]) -> None:
    paused, taker = short_leases
    await paused.alerts.stop_renewing_leases()  # type: ignore[attr-defined]
    alert_id = await accept(paused.alerts, "PAUSED", [PlannedDelivery("a", "r")])
    [old] = await paused.alerts.claim_due(datetime.now(UTC), 5)
    assert await taker.alerts.claim_due(datetime.now(UTC), 5) == []  # lease still live
    await asyncio.sleep(1.3)
    [new] = await taker.alerts.claim_due(datetime.now(UTC), 5)  # the lease ran out
    assert (new.idempotency_key, new.fence) == (old.idempotency_key, old.fence + 1)
    await taker.alerts.record_attempt(attempt(new, new.fence))
    with pytest.raises(LeaseLostError):  # the paused node wakes up and tries
        await paused.alerts.record_attempt(attempt(old, old.fence))
    record = await taker.alerts.get(alert_id)
    assert record is not None
    assert [(d.state, len(d.history)) for d in record.deliveries] == [
        (DeliveryState.DELIVERED, 1)]


async def test_a_live_node_renews_its_lease_and_keeps_its_claim(
        short_leases: tuple[Stores, Stores]) -> None:
    live, other = short_leases
    await accept(live.alerts, "LIVE", [PlannedDelivery("a", "r")])
    assert len(await live.alerts.claim_due(datetime.now(UTC), 5)) == 1
    await asyncio.sleep(2.5)  # more than two leases: renewed every third
    assert await other.alerts.claim_due(datetime.now(UTC), 5) == []


async def test_a_claim_whose_answer_was_lost_is_not_renewed_and_is_taken_over(
        short_leases: tuple[Stores, Stores]) -> None:
    """The claim committed but the node never learnt it (the database connection broke
    after the commit; the dispatcher's call was cancelled): the node does not work on
    that delivery, so it must not keep its lease alive either. It used to renew every
    ``sending`` row under its name, and such a delivery stayed ``sending`` for good."""
    live, other = short_leases
    await accept(live.alerts, "LOST", [PlannedDelivery("a", "r")])
    claiming = asyncio.create_task(live.alerts.claim_due(datetime.now(UTC), 5))
    await asyncio.sleep(0)  # the claim is with the writer now
    claiming.cancel()
    with pytest.raises(asyncio.CancelledError):
        await claiming
    taken: list[ClaimedDelivery] = []
    for _ in range(40):  # bounded: 4 s, four leases
        await live.alerts.renew_leases(datetime.now(UTC))  # type: ignore[attr-defined]
        taken = await other.alerts.claim_due(datetime.now(UTC), 5)
        if taken:
            break
        await asyncio.sleep(0.1)
    assert [c.channel for c in taken] == ["a"]


PEOPLE = [Subscriber("msisdn", f"3161234{n:04d}", "nl", points=((51.88, 4.46),))
          for n in range(12)]


async def test_a_fan_out_taken_over_is_finished_by_the_other_node_each_once(
        short_leases: tuple[Stores, Stores]) -> None:
    paused, taker = short_leases
    await paused.alerts.stop_renewing_leases()  # type: ignore[attr-defined]
    await paused.audience.import_subscribers(PEOPLE)
    raw = alert_bytes("FANOUT")
    document = parse_cap(raw).document
    assert document is not None
    await accept(paused.alerts, "FANOUT", [PlannedDelivery("sms", "r")])
    [old] = await paused.alerts.claim_due(datetime.now(UTC), 5)
    first = paused.audience.audience("msisdn", old, document.alert)
    batches = first.batches(4)
    sent_first = list(await anext(batches))  # a batch in flight when it stopped
    await asyncio.sleep(1.3)
    [new] = await taker.alerts.claim_due(datetime.now(UTC), 5)
    second = taker.audience.audience("msisdn", new, document.alert)
    sent_second = [r async for batch in second.batches(4) for r in batch]
    await second.record([RecipientResult(r.key, RecipientOutcome.SENT, "m")
                         for r in sent_second])
    # the paused node resumes: its next batch and its results are refused
    assert [r async for r in batches] == []
    assert first.interrupted == LEASE_LOST
    with pytest.raises(LeaseLostError):
        await first.record([RecipientResult(r.key, RecipientOutcome.SENT, "m")
                            for r in sent_first])
    assert len(sent_second) == len(PEOPLE)  # everyone, the batch in flight included
    assert len({r.key for r in sent_second}) == len(PEOPLE)  # each once on the taker
    assert 0 < len(sent_first) < len(PEOPLE)  # at most the batch in flight repeated


async def test_work_committed_on_one_node_wakes_the_others(
        two_nodes: tuple[Stores, Stores]) -> None:
    shared_only()
    first, second = two_nodes
    assert isinstance(second.alerts, AnnouncesWork)
    woken = asyncio.Event()
    second.alerts.watch_work(woken.set)
    await asyncio.sleep(0.3)  # the listener is connected
    started = asyncio.get_running_loop().time()
    await accept(first.alerts, "WAKE", [PlannedDelivery("a", "r")])
    await asyncio.wait_for(woken.wait(), timeout=2)
    assert asyncio.get_running_loop().time() - started < 1.0  # not a poll interval later


async def test_nodes_starting_together_migrate_once(tmp_path: Path) -> None:
    shared_only()
    url = test_stores.store_url(tmp_path)
    opened = [open_stores(url, tmp_path) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in opened))
    try:
        await accept(opened[0].alerts, "MIGRATED", [PlannedDelivery("a", "r")])
        assert all([await s.alerts.ping() for s in opened])
    finally:
        await asyncio.gather(*(s.close() for s in opened))


async def test_a_database_restart_is_survived_without_a_restart_of_the_node(
        tmp_path: Path) -> None:
    shared_only()
    server = start_postgres()  # its own: this test stops it
    stores = open_stores(server.create_database(), tmp_path)
    await stores.open()
    try:
        before = await accept(stores.alerts, "BEFORE", [PlannedDelivery("a", "r")])
        server.stop(signal.SIGINT)  # fast shutdown: connections are cut
        assert not await stores.alerts.ping()  # /readyz: not ready
        with pytest.raises(StoreUnavailableError):
            await accept(stores.alerts, "DURING", [PlannedDelivery("a", "r")])
        server.restart()
        assert await stores.alerts.ping()  # reconnected by itself
        after = await accept(stores.alerts, "AFTER", [PlannedDelivery("a", "r")])
        for alert_id in (before, after):  # acknowledged before the restart: still there
            assert await stores.alerts.get(alert_id) is not None
        assert await stores.alerts.get("id-DURING") is None
    finally:
        await stores.close()
        server.remove()


async def test_an_edxl_envelope_is_kept_beside_its_alert(tmp_path: Path) -> None:
    async with opened_stores(tmp_path) as stores:
        envelope = b"<EDXLDistribution xmlns='urn:oasis:names:tc:emergency:EDXL:DE:1.0'/>"
        await stores.alerts.accept(replace(new_alert("ENV-1", "env-1", []), envelope=envelope))
        await stores.alerts.accept(new_alert("ENV-2", "env-2", []))
        assert await stores.alerts.envelope("env-1") == envelope
        assert await stores.alerts.envelope("env-2") is None
        assert await stores.alerts.envelope("no-such-alert") is None
