"""Identifier pools, repetition units and long alerts of the cell broadcast channel,
against the in-memory CBC that keeps osmo-cbc's one-message-per-identifier rule."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.cell_broadcast import CellBroadcastChannel
from channels.cell_broadcast.config import Deployment, Repetition
from channels.cell_broadcast.serial import GeoScope, SerialNumber
from channels.cell_broadcast.transport import CbcMessage, KillOutcome, WriteOutcome
from router.errors import ChannelBusyError, FailureReason
from tests.unit.test_cbs_channel import EXAMPLES, MemoryCbc, alert_delivery

CMAS = """identifiers:
  scheme: cmas
  pools:
    4370: [4370]
    4371: [4371, 4372, 4373, 4374]
    4372: [4372, 4371, 4373, 4374]
    4373: [4373, 4374, 4371, 4372]
    4374: [4374, 4373, 4371, 4372]
    4375: [4375, 4376]
    4376: [4376, 4375]
    4377: [4377, 4378]
    4378: [4378, 4377]
    4380: [4380]
    4381: [4381]
"""


@pytest.fixture
def cbc() -> MemoryCbc:
    return MemoryCbc()


def fire(number: int, expires: datetime | None = None) -> bytes:
    raw = (EXAMPLES / "nl-alert-fire.xml").read_bytes().replace(
        b"NL-VRR-2026-0042", f"NL-VRR-2026-{number:04d}".encode())
    if expires is not None:
        raw = raw.replace(b"<senderName>",
                          f"<expires>{expires.isoformat()}</expires><senderName>".encode())
    return raw


def cmas_channel(cbc: MemoryCbc, tmp_path: Path, extra: str = "",
                 clock: Callable[[], float] = time.time) -> CellBroadcastChannel:
    deployment = tmp_path / "cmas.yaml"
    deployment.write_text(CMAS + extra, encoding="utf-8")
    return CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9", "deployment":
                                       str(deployment), "state_file":
                                       str(tmp_path / "ledger.json")},
                                transport=cbc, clock=clock)


async def test_simultaneous_severe_alerts_take_free_members_of_the_pool(
        cbc: MemoryCbc, tmp_path: Path) -> None:
    ch = cmas_channel(cbc, tmp_path)
    first = await ch.send(alert_delivery(key="a1/cb", raw=fire(1)))
    second = await ch.send(alert_delivery(key="a2/cb", raw=fire(2)))
    assert [r.detail["messages"][0]["message_id"] for r in (first, second)] == [4375, 4376]
    with pytest.raises(ChannelBusyError) as raised:
        await ch.send(alert_delivery(key="a3/cb", raw=fire(3)))
    assert raised.value.reason is FailureReason.IDENTIFIER_POOL_EXHAUSTED
    text = str(raised.value)
    assert "4375: alert a1 (delivery a1/cb" in text
    assert "4376: alert a2 (delivery a2/cb" in text
    assert sorted(cbc.active) == [4375, 4376]
    # Update and Cancel stay on the identifier the original got
    update = await ch.send(alert_delivery("nl-alert-fire-update.xml", "u2/cb", second))
    assert update.detail["messages"][0]["message_id"] == 4376
    assert update.detail["messages"][0]["serial"]["update_number"] == 1
    await ch.cancel(alert_delivery(key="c2/cb"), update)
    assert sorted(cbc.active) == [4375]
    third = await ch.send(alert_delivery(key="a3/cb", raw=fire(3)))
    assert third.detail["messages"][0]["message_id"] == 4376


async def test_a_member_held_by_a_message_not_written_here_is_passed_over(
        cbc: MemoryCbc, tmp_path: Path) -> None:
    cbc.active[4375] = CbcMessage(4375, cbc_serial(), 1, (b"x",), 60, 0, "normal")
    receipt = await cmas_channel(cbc, tmp_path).send(alert_delivery(raw=fire(1)))
    assert receipt.detail["messages"][0]["message_id"] == 4376
    assert [c[:2] for c in cbc.calls] == [("write", 4375), ("write", 4376)]


def cbc_serial() -> SerialNumber:
    return SerialNumber(GeoScope.PLMN_WIDE, 999)


def test_every_identifier_the_table_can_pick_needs_an_explicit_pool(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no entry for \[4376, 4377, 4378"):
        Deployment.model_validate({"identifiers": {"scheme": "cmas", "pools": {
            4370: [4370], 4371: [4371], 4372: [4372], 4373: [4373], 4374: [4374],
            4375: [4375], 4380: [4380], 4381: [4381]}}})
    nl = Deployment.model_validate({})  # the Dutch defaults: one member each
    assert nl.identifiers.pools[4371] == (4371,)
    shipped = Path(__file__).resolve().parents[2] / "config" / "cell_broadcast.yaml"
    ch = CellBroadcastChannel("cb", {"url": "http://x", "deployment": str(shipped)})
    assert all(len(members) == 1 for members in ch.deployment.identifiers.pools.values())


class SerialKeyedCbc(MemoryCbc):
    """A CBC that keys messages by identifier and serial: several per identifier."""

    keyed_by_serial = True

    def __init__(self) -> None:
        super().__init__()
        self.by_serial: dict[tuple[int, int], CbcMessage] = {}

    async def write(self, message: CbcMessage) -> WriteOutcome:
        self.calls.append(("write", message.message_id, message.serial.encode()))
        key = (message.message_id, message.serial.encode())
        if key in self.by_serial:
            return WriteOutcome.BUSY
        self.by_serial[key] = message
        return WriteOutcome.WRITTEN

    async def kill(self, message_id: int, serial: int) -> KillOutcome:
        self.calls.append(("kill", message_id, serial))
        found = self.by_serial.pop((message_id, serial), None)
        return KillOutcome.KILLED if found else KillOutcome.UNKNOWN


async def test_a_cbc_keyed_by_identifier_and_serial_needs_no_pool(tmp_path: Path) -> None:
    cbc = SerialKeyedCbc()
    ch = CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9", "state_file":
                                     str(tmp_path / "ledger.json")}, transport=cbc)
    first = await ch.send(alert_delivery(key="a1/cb", raw=fire(1)))
    second = await ch.send(alert_delivery(key="a2/cb", raw=fire(2)))
    ids = {(r.detail["messages"][0]["message_id"], r.detail["messages"][0]["serial"]["encoded"])
           for r in (first, second)}
    assert {mid for mid, _ in ids} == {4371}  # one pool member, two messages
    assert ids == set(cbc.by_serial)
    await ch.cancel(alert_delivery(key="c1/cb"), first)
    assert set(cbc.by_serial) == ids - {(4371, first.detail["messages"][0]["serial"]
                                         ["encoded"])}


def test_the_period_unit_follows_the_peer_type() -> None:
    """osmo-cbc reads repetition_period 60 as 60 x 1.883 s with a CBSP peer."""
    cbsp = Repetition(peer="cbsp", period_s=60)
    assert (cbsp.period, round(cbsp.real_period_s, 3)) == (32, 60.256)
    sbc_ap = Repetition(peer="sbc_ap", period_s=60)
    assert (sbc_ap.period, sbc_ap.real_period_s) == (60, 60.0)


async def test_broadcasts_are_counted_from_the_real_period(cbc: MemoryCbc,
                                                           tmp_path: Path) -> None:
    expires = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    ch = cmas_channel(cbc, tmp_path, "repetition: {peer: cbsp, period_s: 60}\n")
    receipt = await ch.send(alert_delivery(raw=fire(1, expires)))
    repetition = receipt.detail["repetition"]
    assert (repetition["peer"], repetition["period"]) == ("cbsp", 32)
    assert repetition["broadcasts"] in {119, 120}  # 2 h / 60.256 s, the clock moving
    assert cbc.active[4375].repetition_period == 32


async def test_a_long_alert_goes_out_until_further_notice_and_is_killed_at_expiry(
        cbc: MemoryCbc, tmp_path: Path) -> None:
    """65,535 broadcasts of 60 s end after 45 days; an alert until 2030 must not."""
    expires = datetime(2030, 6, 1, tzinfo=UTC)
    now = [datetime.now(UTC).timestamp()]
    ch = cmas_channel(cbc, tmp_path, clock=lambda: now[0])
    receipt = await ch.send(alert_delivery(raw=fire(1, expires)))
    assert receipt.detail["repetition"]["broadcasts"] == 0
    assert receipt.detail["repetition"]["until_further_notice"]
    assert cbc.active[4375].broadcasts == 0
    assert await ch.sweep() == 0
    assert 4375 in cbc.active
    now[0] = expires.timestamp() + 1
    restarted = cmas_channel(cbc, tmp_path, clock=lambda: now[0])  # the schedule is durable
    await restarted.start()
    try:
        assert 4375 not in cbc.active
        assert restarted.ledger.slot("4375").state == "free"
    finally:
        await restarted.close()
