"""The channel against the mock push service (``tocsin mock-channels``, a real process
on 127.0.0.1): headers, tickles, expiry, scope, and subscriptions the push service
says are gone. Fetching a tickle's document from Tocsin is in
``tests/integration/test_wallet_end_to_end.py``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from channels.eudi_wallet import WalletChannel
from channels.eudi_wallet.keys import DemoKeys, generate_demo_keys
from router.cap import parse_cap
from router.channel import Delivery, NotApplicableError, PermanentError, TransientError
from router.errors import FailureReason
from tests.contract.harnesses import MockPushProcess, mock_push_service
from tests.integration.server import REPO, free_port

INSIDE = (51.8825, 4.46)  # inside the Rotterdam-Zuid example polygon
OUTSIDE = (52.3676, 4.9041)  # Amsterdam


def example(*, expires_in: timedelta | None = None) -> Delivery:
    raw = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_bytes()
    if expires_in is not None:
        expires = (datetime.now(UTC) + expires_in).replace(microsecond=0).isoformat()
        raw = raw.replace(b"<senderName>", f"<expires>{expires}</expires><senderName>".encode())
    document = parse_cap(raw).document
    assert document is not None
    return Delivery(alert_id="01TEST", channel="eudi_wallet", idempotency_key="01TEST/w",
                    alert=document.alert, raw=raw)


@pytest.fixture(scope="module")
def push(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockPushProcess]:
    with mock_push_service(tmp_path_factory.mktemp("push")) as mock:
        yield mock


@dataclass
class Rig:
    push: MockPushProcess
    tmp: Path
    keys: DemoKeys
    channels: list[WalletChannel]

    def phones(self, *positions: tuple[float, float]) -> list[dict[str, Any]]:
        created: list[dict[str, Any]] = self.push.call(
            "POST", "/_mock/phones", {"positions": [list(p) for p in positions]})
        return created

    async def channel(self, phones: list[dict[str, Any]], **extra: Any) -> WalletChannel:
        built = WalletChannel("eudi_wallet", {
            "signing_key_file": str(self.keys.signing_key_file),
            "vapid_key_file": str(self.keys.vapid_key_file),
            "vapid_subject": "mailto:ops@tocsin.example",
            "public_base_url": f"http://127.0.0.1:{free_port()}",  # nobody serves documents
            "devices": [p["subscription"] for p in phones],
            "journal": str(self.tmp / f"journal-{len(self.channels)}.jsonl"), **extra})
        await built.start()
        self.channels.append(built)
        return built

    def received(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.push.call("GET", "/_mock/received")
        return records


@pytest.fixture
async def rig(push: MockPushProcess, tmp_path: Path) -> AsyncIterator[Rig]:
    keys = generate_demo_keys(tmp_path / "keys")
    push.call("DELETE", "/_mock/received")
    push.call("PUT", "/_mock/faults", {"mode": "none"})
    push.call("PUT", "/_mock/trust", {"jwks": json.loads(keys.jwks_file.read_text())})
    made = Rig(push, tmp_path, keys, [])
    yield made
    for channel in made.channels:
        await channel.close()


async def test_pushes_carry_ttl_urgency_topic_and_reach_each_phone_once(rig: Rig) -> None:
    phones = rig.phones(INSIDE, OUTSIDE)
    channel = await rig.channel(phones)
    receipt = await channel.send(example(expires_in=timedelta(hours=1)))
    records = rig.received()
    assert sorted(r["outcome"] for r in records) == ["outside", "shown"]
    assert {r["urgency"] for r in records} == {"high"}
    assert {r["topic"] for r in records} == {receipt.detail["topic"]}
    assert all(3590 <= r["ttl"] <= 3600 for r in records)
    assert receipt.detail["metrics"] == {"wallet_pushes": 2}
    again = await channel.send(example(expires_in=timedelta(hours=1)))
    assert again.duplicate
    assert len(rig.received()) == 2


async def test_a_document_too_large_for_one_push_goes_as_a_tickle(rig: Rig) -> None:
    phones = rig.phones(INSIDE, OUTSIDE)
    channel = await rig.channel(phones, max_payload_bytes=1200)
    receipt = await channel.send(example())
    assert receipt.detail["kind"] == "tickle"
    assert receipt.detail["bytes"] <= 1200
    records = {r["phone"]: r for r in rig.received()}
    inside, outside = records[phones[0]["id"]], records[phones[1]["id"]]
    assert (inside["outcome"], inside["reason"]) == ("refused", "fetch")  # nobody serves it
    assert outside["outcome"] == "outside"  # decided from the tickle's area, no fetch


async def test_too_large_without_a_fetch_url_is_too_long(rig: Rig) -> None:
    channel = await rig.channel(rig.phones(INSIDE), max_payload_bytes=600,
                                public_base_url=None)
    with pytest.raises(PermanentError) as raised:
        await channel.send(example())
    assert raised.value.reason is FailureReason.TOO_LONG
    assert "over one push" in str(raised.value)


async def test_an_expired_alert_is_not_sent(rig: Rig) -> None:
    channel = await rig.channel(rig.phones(INSIDE))
    with pytest.raises(PermanentError) as raised:
        await channel.send(example(expires_in=timedelta(seconds=-5)))
    assert raised.value.reason is FailureReason.EXPIRED
    assert rig.received() == []


async def test_a_restricted_alert_is_not_for_the_wallet(rig: Rig) -> None:
    channel = await rig.channel(rig.phones(INSIDE))
    delivery = example()
    restricted = replace(delivery, alert=delivery.alert.model_copy(update={
        "scope": type(delivery.alert.scope)("Restricted")}))
    with pytest.raises(NotApplicableError):
        await channel.send(restricted)


async def test_gone_subscriptions_are_recorded_gone_and_the_rest_delivered(rig: Rig) -> None:
    phones = rig.phones(INSIDE, INSIDE)
    rig.push.call("DELETE", f"/_mock/phones/{phones[1]['id']}")
    channel = await rig.channel(phones)
    receipt = await channel.send(example())
    assert receipt.detail["recipients"] == {"sent": 1, "gone": 1}


async def test_a_push_service_error_is_transient_and_only_the_rest_is_retried(rig: Rig) -> None:
    channel = await rig.channel(rig.phones(INSIDE, INSIDE, INSIDE))
    rig.push.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503, "count": 1})
    with pytest.raises(TransientError):
        await channel.send(example())
    receipt = await channel.send(replace(example(), attempt=2))
    assert receipt.detail["this_attempt"] == {"sent": 1}
    assert len(rig.received()) == 3
