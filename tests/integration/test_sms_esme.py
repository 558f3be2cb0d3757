"""The SMS channel against a real SMPP server it did not write (the smpp34 server in
``channels.mock.smsc``, a separate process on 127.0.0.1): binds, concatenation
reassembled on the server side, receipts, throttling, a dropped session, a crash."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import gsm0338  # noqa: F401  (registers the codec the test decodes with)
import pytest

from channels.sms import SmsChannel
from channels.sms.budget import PartsBudget
from router.cap import parse_cap
from router.channel import Delivery, PermanentError, PlainVariants, TransientError
from tests.integration.sms_smsc import SmscProcess, smsc

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "nl-alert-fire.xml"
NUMBERS = [f"3161{i:07d}" for i in range(60)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SmscProcess]:
    with smsc(tmp_path / "smsc-record.jsonl") as process:
        yield process


def make_channel(server: SmscProcess, journal: Path, **extra: Any) -> SmsChannel:
    config = {"port": server.smpp_port, "system_id": "tocsin", "password": "secret",
              "recipients": [f"+{n}" for n in NUMBERS], "journal": str(journal), "window": 4, "bind_wait_s": 3,
              "backoff_initial_s": 0.01, "backoff_max_s": 0.2, **extra}
    return SmsChannel("sms", config)


@pytest.fixture
async def channel(server: SmscProcess, tmp_path: Path) -> AsyncIterator[SmsChannel]:
    built = make_channel(server, tmp_path / "journal.jsonl", binds=2)
    await built.start()
    yield built
    await built.close()


def delivery(key: str = "a1/sms", text: str | None = None) -> Delivery:
    raw = EXAMPLE.read_bytes()
    if text is not None:
        raw = raw.replace(b"<headline>Grote brand in Rotterdam-Zuid</headline>",
                          f"<headline>{text}</headline>".encode())
    document = parse_cap(raw).document
    assert document is not None
    return Delivery(alert_id=key.split("/", maxsplit=1)[0], channel="sms", idempotency_key=key,
                    alert=document.alert, raw=raw)


def reassemble(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per destination, the messages as a handset would rebuild them from the parts."""
    groups: dict[tuple[str, int], dict[int, str]] = defaultdict(dict)
    messages: dict[str, list[str]] = defaultdict(list)
    for record in records:
        body = bytes.fromhex(record["short_message"])
        codec = "gsm03.38" if record["data_coding"] == 0 else "utf-16-be"
        if record["esm_class"] & 0x40:
            _, _, _, ref, total, seq = body[:6]
            groups[(record["destination_addr"], ref)][seq] = body[6:].decode(codec)
            parts = groups[(record["destination_addr"], ref)]
            if len(parts) == total:
                messages[record["destination_addr"]].append(
                    "".join(parts[i] for i in range(1, total + 1)))
                del groups[(record["destination_addr"], ref)]
        else:
            messages[record["destination_addr"]].append(body.decode(codec))
    assert not groups, "parts that never completed a message"
    return messages


def expected_text(d: Delivery, language: str = "nl-NL") -> str:
    return PlainVariants(d.alert).fit(language, PartsBudget(4)).text


async def test_every_subscriber_gets_the_whole_concatenated_text_once(
        channel: SmsChannel, server: SmscProcess) -> None:
    d = delivery()
    receipt = await channel.send(d)
    messages = reassemble(server.received())
    assert sorted(messages) == sorted(NUMBERS)
    assert all(texts == [expected_text(d)] for texts in messages.values())
    assert receipt.detail["parts"]["nl-nl"] >= 2  # the example needs concatenation
    assert receipt.detail["metrics"]["sms_recipients_sent"] == len(NUMBERS)
    assert {r["registered_delivery"] for r in server.received()} == {1}
    assert len({r["session"] for r in server.received()}) == 2  # both binds carried traffic


async def test_ucs2_text_is_reassembled(channel: SmsChannel, server: SmscProcess) -> None:
    d = delivery(text="Пожар в Роттердаме \U0001F525 " * 3)
    await channel.send(d)
    records = server.received()
    assert {r["data_coding"] for r in records} == {8}
    messages = reassemble(records)
    assert all(texts == [expected_text(d)] for texts in messages.values())


async def test_receipts_are_correlated_to_recipients(server: SmscProcess, tmp_path: Path) -> None:
    built = make_channel(server, tmp_path / "j.jsonl", receipt_wait_s=1.0)
    await built.start()
    try:
        receipt = await built.send(delivery())
        for _ in range(50):  # receipts are asynchronous: wait (bounded) until all arrived
            counts = await built._audience(delivery(), "a1/sms", None, True).counts()
            if counts.get("delivered") == len(NUMBERS):
                break
            await asyncio.sleep(0.2)
    finally:
        await built.close()
    assert counts["delivered"] == len(NUMBERS)
    assert receipt.detail["metrics"]["sms_recipients_sent"] == len(NUMBERS)
    assert server.stats()["receipts"] == len(server.received())


@pytest.mark.parametrize(("final", "outcome"), [("EXPIRED", "expired"), ("UNDELIV", "failed")])
async def test_negative_receipts_count_as_expired_or_failed(
        server: SmscProcess, tmp_path: Path, final: str, outcome: str) -> None:
    server.faults(receipt=final)
    built = make_channel(server, tmp_path / "j.jsonl", recipients=[f"+{n}" for n in NUMBERS[:5]])
    await built.start()
    try:
        await built.send(delivery())
        for _ in range(50):
            await built._settle()
            # a fresh view of the journal each time: an audience reads it when made
            counts = await built._audience(delivery(), "a1/sms", None, True).counts()
            if counts.get(outcome) == 5:
                break
            await asyncio.sleep(0.2)
    finally:
        await built.close()
    assert counts[outcome] == 5
    assert counts.get("delivered", 0) == 0


async def test_throttling_backs_off_without_losing_or_doubling(
        channel: SmsChannel, server: SmscProcess) -> None:
    server.faults(mode="throttle", count=40)
    await channel.send(delivery())
    stats = server.stats()
    assert stats["rejected_0x58"] == 40
    messages = reassemble(server.received())
    assert Counter(len(v) for v in messages.values()) == {1: len(NUMBERS)}


async def test_queue_full_is_throttling_too(channel: SmsChannel, server: SmscProcess) -> None:
    server.faults(mode="queue_full", count=10)
    await channel.send(delivery())
    assert server.stats()["rejected_0x14"] == 10
    assert len(reassemble(server.received())) == len(NUMBERS)


async def test_dropped_session_mid_fan_out_rebinds_and_sends_each_once(
        channel: SmsChannel, server: SmscProcess) -> None:
    server.faults(mode="drop", after=25)
    receipt = await channel.send(delivery())
    stats = server.stats()
    assert stats["dropped_sessions"] == 2
    assert stats["binds"] >= 3  # rebound after the drop
    messages = reassemble(server.received())
    assert sorted(messages) == sorted(NUMBERS)
    assert all(len(v) == 1 for v in messages.values())
    assert receipt.detail["this_attempt"]["sent"] == len(NUMBERS)


async def test_smsc_crash_mid_fan_out_loses_nobody(server: SmscProcess, tmp_path: Path) -> None:
    """kill -9 while messages are in flight, then the SMSC comes back: everyone gets
    the message; only messages in flight at the kill may arrive twice (at least once)."""
    built = make_channel(server, tmp_path / "j.jsonl", binds=1, window=4, rate_per_bind=100,
                         bind_wait_s=20)
    await built.start()
    try:
        sending = asyncio.create_task(built.send(delivery()))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if len(server.received()) >= 30 or sending.done():
                break
        server.stop(signal.SIGKILL)
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(sending, 120)
    finally:
        await built.close()
    assert server.stats()["accepted"] > 0  # the kill came mid-fan-out: the rest went after
    records = [json.loads(line)
               for line in (tmp_path / "smsc-record.jsonl").read_text().splitlines()]
    by_part = Counter((r["destination_addr"], r["short_message"]) for r in records)
    assert {dest for dest, _ in by_part} == set(NUMBERS)
    assert sum(n - 1 for n in by_part.values()) <= 4  # at most the window in flight


async def test_smsc_down_is_transient_and_the_retry_sends_only_the_rest(
        server: SmscProcess, tmp_path: Path) -> None:
    built = make_channel(server, tmp_path / "j.jsonl", bind_wait_s=1)
    await built.start()
    server.stop()
    try:
        with pytest.raises(TransientError):
            await built.send(delivery())
        await asyncio.to_thread(server.start)
        receipt = await built.send(delivery())
    finally:
        await built.close()
    assert not receipt.duplicate
    assert all(len(v) == 1 for v in reassemble(server.received()).values())
    assert len(reassemble(server.received())) == len(NUMBERS)


async def test_refused_numbers_fail_permanently(channel: SmsChannel, server: SmscProcess) -> None:
    server.faults(mode="reject", status=0x0B)
    with pytest.raises(PermanentError, match="0x0B"):
        await channel.send(delivery())


async def test_some_refused_numbers_are_counted_not_fatal(
        channel: SmsChannel, server: SmscProcess) -> None:
    server.faults(mode="reject", status=0x0B, count=3)
    receipt = await channel.send(delivery())
    metrics = receipt.detail["metrics"]
    assert metrics["sms_recipients_failed"] == 3
    assert metrics["sms_recipients_sent"] == len(NUMBERS) - 3


async def test_too_long_text_fails_before_anything_is_sent(
        server: SmscProcess, tmp_path: Path) -> None:
    built = make_channel(server, tmp_path / "j.jsonl", max_parts=1)
    await built.start()
    try:
        with pytest.raises(PermanentError, match="more than the limit of 1") as raised:
            await built.send(delivery(text="Brand " * 40))
    finally:
        await built.close()
    assert raised.value.reason.value == "too_long"
    assert server.received() == []


async def test_numbers_reach_the_smsc_as_e164_digits_with_ton_1_npi_1(
        server: SmscProcess, tmp_path: Path) -> None:
    """However the list writes them, the SMSC sees one form: E.164 digits, no '+', TON 1
    (international), NPI 1 (E.164); a national number is read in ``default_region``."""
    written = ["+31 6 1000 0001", "+31610000002", "0031 6 1000 0003", "06-1000 0004",
               "+31 (0)6 1000 0005"]
    built = make_channel(server, tmp_path / "j.jsonl", recipients=written, default_region="nl")
    await built.start()
    try:
        await built.send(delivery())
    finally:
        await built.close()
    seen = {(r["destination_addr"], r["dest_addr_ton"], r["dest_addr_npi"])
            for r in server.received()}
    assert seen == {(f"3161000000{i}", 1, 1) for i in range(1, 6)}
