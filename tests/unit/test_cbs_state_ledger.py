"""The cell-broadcast ledger in the shared channel state (issue 17): compare-and-set
per slot between nodes, message codes shared by every node, the one-time import of a
node's ``state_file``, the channel's behaviour with channel state (each on every store
of the contract suite), and the hypothesis state machine of ``test_cbs_ledger`` run
with every restart a fresh node on the shared store and sends alternating between two
live nodes (on the default store: a unittest-style case takes no parameters)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import rule

from channels.cell_broadcast import CellBroadcastChannel
from channels.cell_broadcast.ledger import FREE, LedgerConflictError, Slot
from channels.cell_broadcast.state_ledger import ChannelStateLedger, SlotInFlightError
from router.channel import ChannelState, KeepsChannelState
from router.errors import ChannelBusyError, TransientError
from router.storage import Stores, open_stores
from tests.stores import opened_stores, store_url
from tests.unit.test_cbs_channel import EXAMPLES, MemoryCbc, alert_delivery
from tests.unit.test_cbs_ledger import A, B, NeverKillALiveWarning
from tests.unit.test_cbs_pools import CMAS, fire

ON_EVERY_STORE = pytest.mark.usefixtures("store_backend")
"""The store contract suite (``tests/conftest.py``): once on SQLite, once on PostgreSQL."""


@pytest.fixture
async def area(tmp_path: Path) -> AsyncIterator[ChannelState]:
    async with opened_stores(tmp_path / "store") as stores:
        yield stores.channel_state.for_channel("cb")


def shared_node(cbc: MemoryCbc, area: ChannelState, config: dict[str, str] | None = None,
                clock: Callable[[], float] = time.time) -> CellBroadcastChannel:
    """A node's channel, handed its channel state the way ``router.app`` does."""
    channel = CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9", **(config or {})},
                                   transport=cbc, clock=clock)
    assert isinstance(channel, KeepsChannelState)
    channel.use_channel_state(area)
    return channel


@ON_EVERY_STORE
async def test_a_slot_another_node_took_is_never_written_over(area: ChannelState) -> None:
    now = [1000.0]
    first = ChannelStateLedger(area, lambda: now[0], stale_after_s=60)
    second = ChannelStateLedger(area, lambda: now[0], stale_after_s=60)
    await first.refresh()
    await second.refresh()  # both see 4371 free
    assert (await first.begin_write("4371", A)).state == "writing"
    with pytest.raises(LedgerConflictError, match="writing"):
        await second.begin_write("4371", B)  # its view said free: the store did not
    assert second.view.slot("4371") == Slot(intent="write", pending=A)  # read again
    with pytest.raises(LedgerConflictError):
        await second.begin_write("4371", A)  # the same intent is not second's either
    with pytest.raises(LedgerConflictError):
        await second.begin_kill("4371", chain=B.chain)  # never another chain's
    await second.confirm_write("4371", A.key)  # second reconciled first's write ...
    assert await first.confirm_write("4371", A.key) == Slot(confirmed=A)  # ... done
    assert await second.begin_kill("4371") == Slot(A, "kill")  # expiry, from any node


@ON_EVERY_STORE
async def test_another_nodes_kill_is_left_alone_until_stale_then_taken_over(
        area: ChannelState) -> None:
    """Two nodes finishing one kill could each DELETE; the first frees the slot, a new
    alert is written there, the second's late DELETE kills it. So a recent intent of
    another node is refused, and only the node that holds the intent frees the slot."""
    now = [1000.0]
    first = ChannelStateLedger(area, lambda: now[0], stale_after_s=60)
    second = ChannelStateLedger(area, lambda: now[0], stale_after_s=60)
    await first.begin_write("4371", A)
    await first.confirm_write("4371", A.key)
    await second.refresh()
    assert (await second.begin_kill("4371")).state == "killing"  # second's DELETE now
    with pytest.raises(SlotInFlightError, match="another node"):
        await first.begin_kill("4371")  # its call may be in flight: not first's to make
    now[0] += 61  # unchanged for longer than a send can take: second is taken for dead
    assert (await first.begin_kill("4371")).state == "killing"  # taken over
    assert (await second.write_unanswered("4371")).unknown == 0  # not second's any more
    assert (await second.confirm_kill("4371")).state == "killing"  # second frees nothing
    assert await first.confirm_kill("4371") == FREE  # the claimant does
    stored = await area.get("slot/4371")
    assert stored is not None
    assert json.loads(stored.value)["confirmed"] is None  # kept free, never deleted:
    assert stored.version == 5  # versions only grow, a stale one can never match


@ON_EVERY_STORE
async def test_message_codes_are_shared_by_the_nodes(area: ChannelState) -> None:
    """Node A's alert had code c on 4371 and was cancelled; node B's next alert with the
    same preferred code must not reuse it (handsets would take it for a repeat)."""
    cbc = MemoryCbc()
    a, b = shared_node(cbc, area), shared_node(cbc, area)
    first = await a.send(alert_delivery())
    await a.cancel(alert_delivery(key="c/cb"), first)
    second = await b.send(alert_delivery(key="a9/cb"))  # the same CAP: same preference
    code = first.detail["messages"][0]["serial"]["message_code"]
    assert second.detail["messages"][0]["serial"]["message_code"] == (code + 1) % 1024
    again = await a.send(alert_delivery(key="a9/cb"))  # its retry on the other node
    assert again.duplicate
    assert again.reference == second.reference


@ON_EVERY_STORE
async def test_an_alert_held_on_one_node_is_busy_on_the_other(area: ChannelState) -> None:
    cbc = MemoryCbc()
    a, b = shared_node(cbc, area), shared_node(cbc, area)
    receipt = await a.send(alert_delivery())
    other = (EXAMPLES / "nl-alert-fire.xml").read_bytes().replace(b"NL-VRR-2026-0042",
                                                                   b"NL-VRR-2026-0099")
    with pytest.raises(ChannelBusyError, match="4371: alert a1 \\(delivery a1/cb"):
        await b.send(alert_delivery(key="a2/cb", raw=other))
    update = await b.send(alert_delivery("nl-alert-fire-update.xml", "u/cb", receipt))
    assert update.detail["messages"][0]["serial"]["update_number"] == 1
    assert [c[0] for c in cbc.calls] == ["write", "kill", "write"]  # B never wrote 4371
    await a.cancel(alert_delivery(key="c/cb"), update)  # A cancels what B updated
    assert cbc.active == {}


@ON_EVERY_STORE
async def test_a_kill_left_unanswered_on_one_node_is_finished_by_the_other(
        area: ChannelState) -> None:
    cbc = MemoryCbc()
    now = [time.time()]
    a, b = shared_node(cbc, area), shared_node(cbc, area, clock=lambda: now[0])
    receipt = await a.send(alert_delivery())
    cancel = alert_delivery("nl-alert-fire-cancel.xml", "c1/cb", receipt)
    cbc.lose_next_kill_answer = True
    with pytest.raises(TransientError):  # no answer
        await a.cancel(cancel, receipt)
    assert await b.sweep() == 0  # a's intent, recent: its call may still be in flight
    now[0] += b.capabilities.send_timeout_s or 0  # a is taken for dead (crashed)
    assert await b.sweep() == 1  # b sees a's "killing" intent and finishes it (404)
    assert b.ledger.slot("4371") == FREE
    await a.cancel(cancel, receipt)  # a's retry: gone already, no call
    assert [c[0] for c in cbc.calls] == ["write", "kill", "kill"]


@ON_EVERY_STORE
async def test_an_existing_state_file_is_imported_once(tmp_path: Path,
                                                       area: ChannelState) -> None:
    """A node upgraded to channel state brings what its file says it has on the CBC:
    nobody may write over it. The file is renamed so it is never read again."""
    cbc = MemoryCbc()
    (tmp_path / "cmas.yaml").write_text(CMAS, encoding="utf-8")
    config = {"deployment": str(tmp_path / "cmas.yaml"),
              "state_file": str(tmp_path / "ledger.jsonl")}
    alone = CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9", **config},
                                 transport=cbc)
    first = await alone.send(alert_delivery(key="a1/cb", raw=fire(1)))
    assert first.detail["messages"][0]["message_id"] == 4375
    alone.ledger.close()
    upgraded = shared_node(cbc, area, config)
    await upgraded.start()
    await upgraded.close()
    assert not (tmp_path / "ledger.jsonl").exists()
    assert (tmp_path / "ledger.jsonl.imported").exists()
    other_node = shared_node(cbc, area, {"deployment": config["deployment"]})
    second = await other_node.send(alert_delivery(key="a2/cb", raw=fire(2)))
    assert second.detail["messages"][0]["message_id"] == 4376
    assert (await other_node.send(alert_delivery(key="a1/cb", raw=fire(1)))).duplicate
    assert [c[:2] for c in cbc.calls] == [("write", 4375), ("write", 4376)]


@ON_EVERY_STORE
async def test_an_imported_slot_never_replaces_a_live_one_in_the_store(
        tmp_path: Path, area: ChannelState) -> None:
    cbc = MemoryCbc()
    path = tmp_path / "ledger.jsonl"
    alone = CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9", "state_file":
                                        str(path)}, transport=MemoryCbc())
    await alone.send(alert_delivery(key="old/cb"))
    alone.ledger.close()
    live = await shared_node(cbc, area).send(alert_delivery(key="a1/cb"))
    upgraded = shared_node(cbc, area, {"state_file": str(path)})
    await upgraded.start()
    await upgraded.close()
    owner = upgraded.ledger.slot("4371").owner
    assert owner is not None
    assert owner.key == "a1/cb"  # the store's holder stays; the clash is logged
    assert live.reference


class SharedLedgerNeverKillsALiveWarning(NeverKillALiveWarning):
    """``test_cbs_ledger``'s state machine with the ledger in one shared store: every
    restart is another node taking over with nothing but the store, and ``switch``
    moves the next steps to the other of two live nodes."""

    def _channel(self) -> CellBroadcastChannel:
        if not hasattr(self, "stores"):
            self.stores: Stores = open_stores(store_url(self.dir), self.dir)
            self.loop.run_until_complete(self.stores.open())
            self.spare: CellBroadcastChannel | None = None
            self.now = time.time()
        self.now += 3600  # a node starts (or steps take over) later: time passes
        channel = CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9", "deployment":
                                              str(self.dir / "cmas.yaml")},
                                       transport=self.cbc, clock=lambda: self.now)
        channel.use_channel_state(self.stores.channel_state.for_channel("cb"))
        return channel

    @rule()
    def switch(self) -> None:
        if self.spare is None:
            self.spare = self._channel()
        self.now += 3600  # whatever the other node left is stale by now
        self.channel, self.spare = self.spare, self.channel

    def teardown(self) -> None:
        """A node finishes another's intent once it has seen it unchanged for longer
        than a send may take: faults heal, then look at every slot, let that time pass,
        and look again -- twice, because the node that first looks may be one that
        just started (the last fault crashed the one before), which has seen nothing
        yet -- then converge."""
        self.cbc.fault = "none"
        for _ in range(2):
            self._run(self.channel.sweep())
            self.now += 3600
        super().teardown()

    def release(self) -> None:
        self.loop.run_until_complete(self.stores.close())
        super().release()


SharedLedgerNeverKillsALiveWarning.TestCase.settings = settings(
    max_examples=15, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_shared_ledger_never_kills_a_live_warning = SharedLedgerNeverKillsALiveWarning.TestCase
