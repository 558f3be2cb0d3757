"""The cell broadcast channel's send / update / cancel logic against an in-memory
CBC that keeps osmo-cbc's rules (one active message per identifier, 409, 404)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from channels.cell_broadcast import CellBroadcastChannel
from channels.cell_broadcast.channel import SEND_MARGIN_S, code_for
from channels.cell_broadcast.transport import (
    CbcMessage,
    KillOutcome,
    OutcomeUnknownError,
    WriteOutcome,
)
from router.cap import parse_cap
from router.channel import (
    Delivery,
    FailureReason,
    Health,
    NotApplicableError,
    PermanentError,
    Receipt,
    TransientError,
)
from router.errors import ChannelBusyError

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"


class MemoryCbc:
    """A ``Transport`` fake: the CBC's state in a dict, and scripted failures."""

    keyed_by_serial = False

    def __init__(self) -> None:
        self.active: dict[int, CbcMessage] = {}
        self.calls: list[tuple[str, int, int | None]] = []
        self.lose_next_answer = False  # the write happens, the answer is lost
        self.drop_next = False  # the write does not happen, and no answer
        self.lose_next_kill_answer = False  # the kill happens, the answer is lost
        self.refuse_next: Exception | None = None
        self.busy_next = False  # another write slips in: answer 409 once

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write(self, message: CbcMessage) -> WriteOutcome:
        self.calls.append(("write", message.message_id, message.serial.encode()))
        if self.refuse_next is not None:
            error, self.refuse_next = self.refuse_next, None
            raise error
        if self.drop_next:
            self.drop_next = False
            raise OutcomeUnknownError("no answer", FailureReason.TIMEOUT)
        if message.message_id in self.active or self.busy_next:
            self.busy_next = False
            return WriteOutcome.BUSY
        self.active[message.message_id] = message
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise OutcomeUnknownError("no answer", FailureReason.TIMEOUT)
        return WriteOutcome.WRITTEN

    async def kill(self, message_id: int, serial: int) -> KillOutcome:
        self.calls.append(("kill", message_id, serial))
        found = self.active.pop(message_id, None)
        if self.lose_next_kill_answer:
            self.lose_next_kill_answer = False
            raise OutcomeUnknownError("no answer", FailureReason.TIMEOUT)
        return KillOutcome.KILLED if found else KillOutcome.UNKNOWN

    async def health(self) -> Health:
        return Health(True, "memory")

    def writes(self) -> int:
        return sum(1 for call in self.calls if call[0] == "write")


def alert_delivery(name: str = "nl-alert-fire.xml", key: str = "a1/cb",
                   replaces: Receipt | None = None, raw: bytes | None = None) -> Delivery:
    raw = raw if raw is not None else (EXAMPLES / name).read_bytes()
    document = parse_cap(raw).document
    assert document is not None
    return Delivery(alert_id=key.split("/", maxsplit=1)[0], channel="cb", idempotency_key=key,
                    alert=document.alert, raw=raw, replaces=replaces)


@pytest.fixture
def cbc() -> MemoryCbc:
    return MemoryCbc()


def channel(cbc: MemoryCbc, tmp_path: Path) -> CellBroadcastChannel:
    return CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9", "state_file":
                                       str(tmp_path / "ledger.json")}, transport=cbc)


async def test_send_writes_one_message_and_records_the_mapping(cbc: MemoryCbc,
                                                               tmp_path: Path) -> None:
    receipt = await channel(cbc, tmp_path).send(alert_delivery())
    [message] = receipt.detail["messages"]
    assert message["message_id"] == 4371
    assert message["serial"]["message_code"] == code_for(alert_delivery().alert)
    assert message["serial"]["update_number"] == 0
    assert message["serial"]["geo_scope"] == 1
    assert receipt.detail["metrics"] == {"cbs_pages": message["pages"]}
    assert receipt.detail["area"]["wac_octets"] > 0
    assert not receipt.duplicate
    assert cbc.active[4371].dcs == 0x05


async def test_retry_and_restart_are_duplicates_not_second_broadcasts(
        cbc: MemoryCbc, tmp_path: Path) -> None:
    await channel(cbc, tmp_path).send(alert_delivery())
    assert (await channel(cbc, tmp_path).send(alert_delivery())).duplicate
    assert cbc.writes() == 1


async def test_lost_answer_is_reconciled_by_posting_the_same_serial_again(
        cbc: MemoryCbc, tmp_path: Path) -> None:
    """Applied, no answer: the retry POSTs the same message; 409 proves it is there.
    Nothing is killed to find out."""
    cbc.lose_next_answer = True
    with pytest.raises(TransientError):
        await channel(cbc, tmp_path).send(alert_delivery())
    receipt = await channel(cbc, tmp_path).send(alert_delivery())
    first, second = cbc.calls
    assert (first[0], second[0]) == ("write", "write")
    assert first[2] == second[2] == receipt.detail["messages"][0]["serial"]["encoded"]
    assert len(cbc.active) == 1
    assert channel(cbc, tmp_path).ledger.slot("4371").state == "held"


async def test_write_not_applied_and_not_answered_is_written_by_the_retry(
        cbc: MemoryCbc, tmp_path: Path) -> None:
    cbc.drop_next = True
    with pytest.raises(TransientError):
        await channel(cbc, tmp_path).send(alert_delivery())
    assert channel(cbc, tmp_path).ledger.slot("4371").state == "writing"
    await channel(cbc, tmp_path).send(alert_delivery())
    assert [c[0] for c in cbc.calls] == ["write", "write"]
    assert 4371 in cbc.active


async def test_kill_applied_but_not_answered_is_finished_by_the_retry(
        cbc: MemoryCbc, tmp_path: Path) -> None:
    receipt = await channel(cbc, tmp_path).send(alert_delivery())
    cancel = alert_delivery("nl-alert-fire-cancel.xml", "c1/cb", receipt)
    cbc.lose_next_kill_answer = True
    with pytest.raises(TransientError):
        await channel(cbc, tmp_path).cancel(cancel, receipt)
    assert channel(cbc, tmp_path).ledger.slot("4371").state == "killing"
    await channel(cbc, tmp_path).cancel(cancel, receipt)  # 404 proves absence
    assert [c[0] for c in cbc.calls] == ["write", "kill", "kill"]
    assert channel(cbc, tmp_path).ledger.slot("4371").state == "free"


async def test_refused_write_is_forgotten_so_the_retry_writes(cbc: MemoryCbc,
                                                              tmp_path: Path) -> None:
    cbc.refuse_next = TransientError("503", FailureReason.UNAVAILABLE)
    with pytest.raises(TransientError):
        await channel(cbc, tmp_path).send(alert_delivery())
    assert not (await channel(cbc, tmp_path).send(alert_delivery())).duplicate
    assert [c[0] for c in cbc.calls] == ["write", "write"]


async def test_identifier_held_by_another_alert_is_busy_and_never_written(
        cbc: MemoryCbc, tmp_path: Path) -> None:
    """Issue 14 item 1: B is never written over (or killed for) A's live message."""
    ch = channel(cbc, tmp_path)
    await ch.send(alert_delivery())
    other = (EXAMPLES / "nl-alert-fire.xml").read_bytes().replace(b"NL-VRR-2026-0042",
                                                                   b"NL-VRR-2026-0099")
    for _ in range(3):  # every retry the same: no call reaches the CBC for B
        with pytest.raises(ChannelBusyError) as raised:
            await ch.send(alert_delivery(key="a2/cb", raw=other))
    assert raised.value.reason is FailureReason.IDENTIFIER_POOL_EXHAUSTED
    assert "4371: alert a1 (delivery a1/cb" in str(raised.value)
    owner = ch.ledger.slot("4371").owner
    assert owner is not None
    assert owner.key == "a1/cb"
    assert [c[0] for c in cbc.calls] == ["write"]  # nobody's alert was killed


async def test_update_kills_then_writes_the_next_update_number(cbc: MemoryCbc,
                                                               tmp_path: Path) -> None:
    ch = channel(cbc, tmp_path)
    first = await ch.send(alert_delivery())
    update = await ch.send(alert_delivery("nl-alert-fire-update.xml", "a2/cb", first))
    old, new = first.detail["messages"][0], update.detail["messages"][0]
    assert new["message_id"] == old["message_id"]
    assert new["serial"]["message_code"] == old["serial"]["message_code"]
    assert new["serial"]["update_number"] == 1
    assert [c[0] for c in cbc.calls] == ["write", "kill", "write"]
    assert "noordoosten" in new["text"]


async def test_update_number_wraps_modulo_16(cbc: MemoryCbc, tmp_path: Path) -> None:
    ch = channel(cbc, tmp_path)
    receipt = await ch.send(alert_delivery())
    for n in range(16):
        receipt = await ch.send(alert_delivery("nl-alert-fire-update.xml", f"u{n}/cb",
                                               receipt))
    assert receipt.detail["messages"][0]["serial"]["update_number"] == 0


async def test_update_meeting_409_after_its_own_kill_is_busy_not_a_second_kill(
        cbc: MemoryCbc, tmp_path: Path) -> None:
    """Something not written here took the identifier between our kill and our write:
    it is never killed to make room."""
    ch = channel(cbc, tmp_path)
    first = await ch.send(alert_delivery())
    cbc.busy_next = True
    with pytest.raises(ChannelBusyError):
        await ch.send(alert_delivery("nl-alert-fire-update.xml", "a2/cb", first))
    assert [c[0] for c in cbc.calls] == ["write", "kill", "write"]


async def test_update_does_not_kill_another_alert_holding_the_identifier(
        cbc: MemoryCbc, tmp_path: Path) -> None:
    ch = channel(cbc, tmp_path)
    first = await ch.send(alert_delivery())
    await ch.cancel(alert_delivery(key="c/cb"), first)
    other = (EXAMPLES / "nl-alert-fire.xml").read_bytes().replace(b"NL-VRR-2026-0042",
                                                                   b"NL-VRR-2026-0077")
    await ch.send(alert_delivery(key="a3/cb", raw=other))
    calls = len(cbc.calls)
    with pytest.raises(ChannelBusyError) as raised:
        await ch.send(alert_delivery("nl-alert-fire-update.xml", "a2/cb", first))
    assert "a3/cb" in str(raised.value)
    assert len(cbc.calls) == calls  # not even a write was tried
    assert ch.ledger.slot("4371").owner.key == "a3/cb"  # type: ignore[union-attr]


async def test_cancel_kills_and_a_missing_message_is_already_gone(cbc: MemoryCbc,
                                                                  tmp_path: Path) -> None:
    ch = channel(cbc, tmp_path)
    receipt = await ch.send(alert_delivery())
    cancel = alert_delivery("nl-alert-fire-cancel.xml", "c1/cb", receipt)
    await ch.cancel(cancel, receipt)
    assert 4371 not in cbc.active
    await ch.cancel(cancel, receipt)  # a retried cancel: the ledger knows it is gone
    assert [c[0] for c in cbc.calls] == ["write", "kill"]
    with pytest.raises(PermanentError) as raised:
        await ch.cancel(cancel, Receipt("cb", "x", "x"))
    assert raised.value.reason is FailureReason.REJECTED


async def test_cancel_never_kills_another_alerts_message(cbc: MemoryCbc,
                                                         tmp_path: Path) -> None:
    ch = channel(cbc, tmp_path)
    receipt = await ch.send(alert_delivery())
    await ch.cancel(alert_delivery(key="c/cb"), receipt)
    other = (EXAMPLES / "nl-alert-fire.xml").read_bytes().replace(b"NL-VRR-2026-0042",
                                                                   b"NL-VRR-2026-0077")
    await ch.send(alert_delivery(key="a3/cb", raw=other))
    await ch.cancel(alert_delivery(key="c2/cb"), receipt)  # a late, repeated cancel
    assert 4371 in cbc.active


async def test_new_alert_does_not_reuse_a_recent_code(cbc: MemoryCbc, tmp_path: Path) -> None:
    ch = channel(cbc, tmp_path)
    first = await ch.send(alert_delivery())
    await ch.cancel(alert_delivery(key="c/cb"), first)
    code = first.detail["messages"][0]["serial"]["message_code"]
    ch.ledger.message_code(4371, "elsewhere", (code + 1) % 1024, 3600)
    clash = alert_delivery(key="a9/cb")
    second = await ch.send(clash)
    assert second.detail["messages"][0]["serial"]["message_code"] == (code + 2) % 1024


async def test_broadcasts_stop_at_expires(cbc: MemoryCbc, tmp_path: Path) -> None:
    expires = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    raw = (EXAMPLES / "nl-alert-fire.xml").read_bytes().replace(
        b"<senderName>", f"<expires>{expires.isoformat()}</expires><senderName>".encode())
    receipt = await channel(cbc, tmp_path).send(alert_delivery(raw=raw))
    assert receipt.detail["repetition"]["period"] == 60
    assert receipt.detail["repetition"]["broadcasts"] == 30
    assert receipt.detail["repetition"]["kill_at"] == expires.isoformat()
    assert cbc.active[4371].broadcasts == 30
    endless = await channel(MemoryCbc(), tmp_path / "b").send(alert_delivery())
    assert endless.detail["repetition"]["broadcasts"] == 0


async def test_what_cell_broadcast_does_not_carry(cbc: MemoryCbc, tmp_path: Path) -> None:
    ch = channel(cbc, tmp_path)
    with pytest.raises(NotApplicableError):
        await ch.send(alert_delivery("nl-alert-fire-cancel.xml"))
    draft = (EXAMPLES / "nl-alert-fire.xml").read_bytes().replace(b"Actual", b"Draft")
    with pytest.raises(NotApplicableError):
        await ch.send(alert_delivery(raw=draft))
    assert cbc.calls == []


async def test_exercise_goes_out_on_the_exercise_identifier(cbc: MemoryCbc,
                                                            tmp_path: Path) -> None:
    receipt = await channel(cbc, tmp_path).send(alert_delivery("nl-alert-exercise.xml"))
    assert receipt.detail["messages"][0]["message_id"] == 4381


def test_capabilities_expose_the_cbs_budget(cbc: MemoryCbc, tmp_path: Path) -> None:
    caps = channel(cbc, tmp_path).capabilities
    assert caps.supports_update
    assert caps.supports_cancel
    budget = caps.text_budget("nl-NL")
    assert budget is not None
    assert budget.limit == 1395
    assert budget.cost("€") == 2


def test_an_update_gets_time_for_a_kill_and_a_write_per_message(tmp_path: Path) -> None:
    """osmo-cbc without peers takes its whole timeout per call; an Update is two."""
    default = CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9"})
    assert default.capabilities.send_timeout_s == 2 * 25 + SEND_MARGIN_S
    deployment = tmp_path / "separate.yaml"
    deployment.write_text("languages: {mode: separate}\n", encoding="utf-8")
    separate = CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9", "timeout_s": 20,
                                           "deployment": str(deployment)})
    assert separate.capabilities.send_timeout_s == 2 * 2 * 20 + SEND_MARGIN_S  # 2 messages


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="url"):
        CellBroadcastChannel("cb", {"url": "ftp://x"})
    with pytest.raises(ValueError, match="deployment file"):
        CellBroadcastChannel("cb", {"url": "http://x", "deployment": "/nonexistent.yaml"})
    with pytest.raises(ValueError, match="extra"):
        CellBroadcastChannel("cb", {"url": "http://x", "colour": "red"})


async def test_update_without_a_prior_receipt_is_a_fresh_message(cbc: MemoryCbc,
                                                                 tmp_path: Path) -> None:
    delivery = alert_delivery("nl-alert-fire-update.xml", "u/cb")
    receipt = await channel(cbc, tmp_path).send(replace(delivery, replaces=None))
    assert receipt.detail["messages"][0]["serial"]["update_number"] == 0
