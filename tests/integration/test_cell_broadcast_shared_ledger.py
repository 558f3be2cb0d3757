"""Two Tocsin nodes' cell-broadcast channels on one store (issue 17): the ledger lives
in the shared channel state, so neither node ever writes an identifier the other
holds or is writing, and a node that died mid-write is reconciled by the other.

Each "node" is a ``CellBroadcastChannel`` wired the way ``router.app`` wires it
(``KeepsChannelState`` -> ``use_channel_state``), both on one store area, both
speaking HTTP to one mock CBC process that keeps osmo-cbc's rules (one message per
identifier, 409) and its faults (answers lost). The mock's own log is what counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.cell_broadcast import CellBroadcastChannel
from router.channel import KeepsChannelState, Receipt
from router.storage import Stores
from tests.contract.harnesses import MockCbcProcess, mock_cbc
from tests.stores import opened_stores
from tests.unit.test_cbs_channel import alert_delivery
from tests.unit.test_cbs_pools import CMAS, fire

pytestmark = pytest.mark.usefixtures("store_backend")  # on SQLite and on PostgreSQL


@pytest.fixture(scope="module")
def cbc() -> Iterator[MockCbcProcess]:
    with mock_cbc() as running:
        yield running


@pytest.fixture
def healthy(cbc: MockCbcProcess) -> MockCbcProcess:
    cbc.call("DELETE", "/_mock/received")
    cbc.call("PUT", "/_mock/faults", {"mode": "none"})
    cbc.call("PUT", "/_mock/cbc", {})
    return cbc


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    async with opened_stores(tmp_path) as opened:
        yield opened


def node(tmp_path: Path, cbc: MockCbcProcess, stores: Stores) -> CellBroadcastChannel:
    """One node's channel instance, given its channel state as the service does."""
    deployment = tmp_path / "cmas.yaml"
    deployment.write_text(CMAS, encoding="utf-8")
    channel = CellBroadcastChannel("cell_broadcast", {
        "url": cbc.url, "timeout_s": 1, "deployment": str(deployment)})
    if isinstance(channel, KeepsChannelState):
        channel.use_channel_state(stores.channel_state.for_channel("cell_broadcast"))
    return channel


def writes(cbc: MockCbcProcess) -> list[dict[str, Any]]:
    return [e for e in cbc.call("GET", "/_mock/received") if e["op"] == "write"]


def message_id(receipt: Receipt) -> int:
    return int(receipt.detail["messages"][0]["message_id"])


async def test_two_nodes_sending_at_once_never_write_one_identifier(
        tmp_path: Path, healthy: MockCbcProcess, stores: Stores) -> None:
    """Both nodes see 4375 free at the same moment; only one may POST to it. A POST to
    an identifier the other node holds would meet a 409 that osmo-cbc may never
    answer, and the reconciling POST's 409 would make that node take the other
    node's live message for its own."""
    healthy.call("PUT", "/_mock/cbc", {"ack_delay_s": 0.3, "hang_on_conflict": True,
                                       "hang_s": 2})
    first, second = node(tmp_path, healthy, stores), node(tmp_path, healthy, stores)
    await asyncio.gather(first.start(), second.start())
    try:
        for round_ in range(2):  # the second round reuses the identifiers freed
            alerts = [(first, alert_delivery(key=f"a{round_}1/cb", raw=fire(10 * round_ + 1))),
                      (second, alert_delivery(key=f"a{round_}2/cb", raw=fire(10 * round_ + 2)))]
            results = await asyncio.gather(*(ch.send(d) for ch, d in alerts),
                                           return_exceptions=True)
            healthy.call("PUT", "/_mock/cbc", {})  # whatever failed is retried now
            receipts = [r if isinstance(r, Receipt) else await ch.send(d)
                        for r, (ch, d) in zip(results, alerts, strict=True)]
            assert sorted(map(message_id, receipts)) == [4375, 4376]  # both held at once
            shown = {m["message_id"] for m in healthy.call("GET", "/_mock/display")}
            assert shown == {4375, 4376}
            for receipt, (ch, d) in zip(receipts, alerts, strict=True):
                await ch.cancel(d, receipt)
            healthy.call("PUT", "/_mock/cbc", {"ack_delay_s": 0.3, "hang_on_conflict": True,
                                               "hang_s": 2})
        log = writes(healthy)
    finally:
        await asyncio.gather(first.close(), second.close())
    assert [e["outcome"] for e in log] == ["created"] * 4  # never a 409: never twice
    assert healthy.call("GET", "/_mock/display") == []


async def test_a_node_that_died_after_its_intent_is_reconciled_by_the_other(
        tmp_path: Path, healthy: MockCbcProcess, stores: Stores) -> None:
    """Node A records its write intent for 4375, POSTs, the CBC carries it out but the
    answer never comes, and A dies. Node B must see the intent, not a free slot: a
    new alert goes to 4376 without touching 4375, and A's delivery retried on B is
    reconciled (same serial POSTed again, 409 = there) -- on the air once."""
    healthy.call("PUT", "/_mock/cbc", {"no_answer": [{"op": "write", "outcome": "created"}],
                                       "hang_s": 5})
    a, b = node(tmp_path, healthy, stores), node(tmp_path, healthy, stores)
    await a.start()
    dying = asyncio.create_task(a.send(alert_delivery(key="a1/cb", raw=fire(1))))
    for _ in range(100):  # bounded: until the POST reached the CBC
        if writes(healthy):
            break
        await asyncio.sleep(0.05)
    dying.cancel()  # the process dies: nothing of the ledger is cleaned up
    await asyncio.gather(dying, return_exceptions=True)
    await a.close()
    await b.start()
    try:
        other = await b.send(alert_delivery(key="a2/cb", raw=fire(2)))
        retried = await b.send(alert_delivery(key="a1/cb", raw=fire(1)))
    finally:
        await b.close()
    assert message_id(other) == 4376
    assert message_id(retried) == 4375
    log = writes(healthy)
    assert [(e["message_id"], e["outcome"]) for e in log] == [
        (4375, "created"), (4376, "created"), (4375, "conflict")]  # the reconciling POST
    assert log[0]["serial"]["encoded"] == log[2]["serial"]["encoded"]
    shown = sorted((m["message_id"], m["serial"]["encoded"])
                   for m in healthy.call("GET", "/_mock/display"))
    assert shown == [(4375, log[0]["serial"]["encoded"]), (4376, log[1]["serial"]["encoded"])]
