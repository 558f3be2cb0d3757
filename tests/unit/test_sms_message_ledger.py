"""The message ledger: SMSC message ids filed with the recipient's ``sent`` outcome, so
receipts settle recipients after a restart (a new store object on the same file), part
by part, per channel instance; and the channel side that waits for ids not filed yet."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from channels.sms.late import LateReceipts
from router.channel import MessageLedger, RecipientOutcome, RecipientResult
from router.store import SqliteStore
from tests.stores import opened_stores
from tests.unit.test_sms_subscribers import PEOPLE, accept, claimed, drain

DELIVERED, EXPIRED = RecipientOutcome.DELIVERED, RecipientOutcome.EXPIRED


async def sent_with_ids(path: Path, ids: dict[int, str]) -> dict[str, str]:
    """Send alert A to its audience, recipient n getting the message ids ``ids[n]``;
    the recipients' keys by those ids."""
    async with opened_stores(path.parent, path.name) as stores:
        await stores.audience.import_subscribers(PEOPLE)
        alert = await accept(stores.alerts, "nl-alert-fire.xml", "A")
        audience = stores.audience.audience("msisdn", claimed("A"), alert)
        people = await drain(audience)
        await audience.record([RecipientResult(p.key, RecipientOutcome.SENT, ids[n])
                               for n, p in enumerate(people)])
        return {ids[n]: p.key for n, p in enumerate(people)}


async def states(path: Path) -> dict[str, str]:
    store = SqliteStore(path)  # the table itself: what a receipt changed
    await store.open()
    try:
        rows: list[tuple[int, str]] = await store.run_read(lambda conn: conn.execute(
            "SELECT subscriber_id, state FROM recipient_outcomes").fetchall())
        return {str(key): state for key, state in rows}
    finally:
        await store.close()


async def settle(path: Path, receipts: Sequence[tuple[str, RecipientOutcome]],
                 channel: str = "sms") -> set[str]:
    """Receipts through a fresh store: what a restarted process has."""
    async with opened_stores(path.parent, path.name) as stores:
        return await stores.audience.message_ledger(channel).settle_messages(receipts)


async def test_a_recipient_is_delivered_when_every_part_is_even_across_restarts(
        tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    keys = await sent_with_ids(path, {0: "p1 p2 p3", 1: "r1 r2"})
    assert set(keys) == {"p1 p2 p3", "r1 r2"}  # the two subscribers inside alert A
    assert await settle(path, [("p1", DELIVERED), ("r2", DELIVERED)]) == {"p1", "r2"}
    assert (await states(path))[keys["p1 p2 p3"]] == "sent"  # two parts to come
    assert (await states(path))[keys["r1 r2"]] == "sent"
    assert await settle(path, [("p2", DELIVERED), ("p3", DELIVERED), ("r1", EXPIRED)]) == {
        "p2", "p3", "r1"}
    now = await states(path)
    assert (now[keys["p1 p2 p3"]], now[keys["r1 r2"]]) == ("delivered", "expired")
    assert await settle(path, [("p3", DELIVERED)]) == set()  # final: its ids are forgotten


async def test_ids_are_per_channel_instance_and_unknown_ids_match_nothing(
        tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    keys = await sent_with_ids(path, {0: "x1", 1: "x2"})
    assert await settle(path, [("x1", DELIVERED)], channel="sms-backup") == set()
    assert await settle(path, [("nope", DELIVERED)]) == set()
    assert (await states(path))[keys["x1"]] == "sent"


class Ledger:
    """A ledger that learns ids as the test files them."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.settled: list[tuple[str, RecipientOutcome]] = []

    async def settle_messages(self, receipts: Sequence[tuple[str, RecipientOutcome]]
                              ) -> set[str]:
        found = {(m, o) for m, o in receipts if m in self.known}
        self.settled += sorted(found)
        return {m for m, _ in found}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr("channels.sms.late.time.monotonic", lambda: now[0])
    return now


async def test_a_receipt_ahead_of_its_filing_waits_then_settles(clock: list[float]) -> None:
    ledger = Ledger()
    assert isinstance(ledger, MessageLedger)
    late = LateReceipts(ledger)
    late.receipt("m1", "DELIVRD")
    late.receipt("m2", "ENROUTE")  # not final: ignored
    await late.flush(lambda _m, _s: False)
    assert (len(late), ledger.settled) == (1, [])
    ledger.known.add("m1")
    await late.flush(lambda _m, _s: False)
    assert ledger.settled == []  # not due again yet: strays are not looked up every tick
    clock[0] += 0.5
    await late.flush(lambda _m, _s: False)
    assert (len(late), ledger.settled) == (0, [("m1", DELIVERED)])


async def test_receipts_the_tracker_knows_go_there_and_old_ones_are_dropped(
        clock: list[float]) -> None:
    ledger = Ledger()
    late = LateReceipts(ledger, patience_s=60)
    late.receipt("mine", "DELIVRD")
    late.receipt("stray", "UNDELIV")
    taken: list[str] = []
    await late.flush(lambda m, _s: m == "mine" and not taken.append(m))
    assert (taken, len(late), late.unmatched) == (["mine"], 1, 0)
    clock[0] += 61
    await late.flush(lambda _m, _s: False)
    assert (len(late), late.unmatched, ledger.settled) == (0, 1, [])
