"""Delivery receipts: both forms parsed, multi-part messages settled only when every
part is delivered, receipts that overtake their submit_sm_resp still matched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from channels.sms.esme import parse_receipt, status_of
from channels.sms.tracking import ReceiptTracker
from router.channel import RecipientOutcome


@dataclass
class Tlv:
    tag: int
    value: bytes


@dataclass
class Event:
    short_message: bytes
    esm_class: int = 0x04
    tlvs: list[Tlv] = field(default_factory=list)


class Sink:
    pass


def test_tlv_receipt_wins_over_text() -> None:
    event = Event(b"id:zzz stat:UNDELIV", tlvs=[Tlv(0x001E, b"abc\0"), Tlv(0x0427, b"\x02")])
    receipt = parse_receipt(event)  # type: ignore[arg-type]
    assert receipt is not None
    assert (receipt.message_id, receipt.state) == ("abc", "DELIVRD")


def test_text_only_receipt() -> None:
    text = b"id:0A1B sub:001 dlvrd:000 submit date:2611251405 done date:2611251406 stat:EXPIRED err:000 text:"
    receipt = parse_receipt(Event(text))  # type: ignore[arg-type]
    assert receipt is not None
    assert (receipt.message_id, receipt.state) == ("0A1B", "EXPIRED")


def test_mobile_originated_message_is_not_a_receipt() -> None:
    assert parse_receipt(Event(b"id:1 stat:DELIVRD", esm_class=0)) is None  # type: ignore[arg-type]


@given(st.integers(0, 0xFFFFFFFF))
def test_status_read_from_smpp34_errors(status: int) -> None:
    assert status_of(RuntimeError(f"ESME_X (0x{status:08x})")) == status


def test_multi_part_message_is_delivered_when_every_part_is() -> None:
    tracker, sink = ReceiptTracker(), Sink()
    tracker.track(sink, "7", ["a", "b", "c"])  # type: ignore[arg-type]
    tracker.receipt("a", "DELIVRD")
    tracker.receipt("b", "DELIVRD")
    assert tracker.take() == []
    tracker.receipt("c", "DELIVRD")
    ((audience, results),) = tracker.take()
    assert audience is sink
    assert [(r.key, r.outcome) for r in results] == [("7", RecipientOutcome.DELIVERED)]


def test_first_failing_part_decides_and_later_receipts_are_ignored() -> None:
    tracker, sink = ReceiptTracker(), Sink()
    tracker.track(sink, "7", ["a", "b"])  # type: ignore[arg-type]
    tracker.receipt("a", "EXPIRED")
    tracker.receipt("b", "DELIVRD")
    results: list[Any] = [r for _, rs in tracker.take() for r in rs]
    assert [r.outcome for r in results] == [RecipientOutcome.EXPIRED]


def test_receipt_before_its_message_id_is_known_still_counts() -> None:
    tracker, sink = ReceiptTracker(), Sink()
    tracker.receipt("a", "DELIVRD")
    tracker.receipt("x", "ENROUTE")  # not final: ignored
    tracker.track(sink, "9", ["a"])  # type: ignore[arg-type]
    results = [r for _, rs in tracker.take() for r in rs]
    assert [(r.key, r.outcome) for r in results] == [("9", RecipientOutcome.DELIVERED)]


def test_tracking_memory_is_bounded() -> None:
    tracker, sink = ReceiptTracker(limit=10), Sink()
    for i in range(100):
        tracker.track(sink, str(i), [f"m{i}"])  # type: ignore[arg-type]
    tracker.receipt("m0", "DELIVRD")  # forgotten: waits as an early receipt, unmatched
    tracker.receipt("m99", "DELIVRD")
    assert [r.key for _, rs in tracker.take() for r in rs] == ["99"]
