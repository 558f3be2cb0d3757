"""The contract every channel adapter passes, parametrised over every adapter
registered in the ``tocsin.channels`` entry-point group."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from router.cap import parse_cap
from router.channel import (
    Capabilities,
    Channel,
    ChannelState,
    Delivery,
    PermanentError,
    TransientError,
)
from router.errors import ConfigurationError, FailureReason
from router.registry import build_channels, channel_types
from tests.contract.harnesses import (
    CellBroadcastHarness,
    FileHarness,
    GalileoEwssHarness,
    Harness,
    MockCbcProcess,
    MockEwssUplinkProcess,
    MockPushProcess,
    MockWebhookProcess,
    SharedCellBroadcastHarness,
    SmsHarness,
    WalletHarness,
    WebhookHarness,
    mock_cbc,
    mock_ewss_uplink,
    mock_push_service,
    mock_webhook,
)
from tests.integration.sms_smsc import SmscProcess, smsc
from tests.stores import opened_stores

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "nl-alert-fire.xml"
KNOWN = {"file", "webhook", "sms", "galileo_ewss", "cell_broadcast", "eudi_wallet"}
TYPES = sorted(channel_types())
SHARED_CELL_BROADCAST = "cell_broadcast-in-channel-state"
"""The cell-broadcast channel once more, its ledger in the store's channel state."""


@pytest.fixture(scope="module")
def webhook_mock() -> Iterator[MockWebhookProcess]:
    with mock_webhook() as mock:
        yield mock


@pytest.fixture(scope="module")
def sms_smsc() -> Iterator[SmscProcess]:
    with smsc() as process:
        yield process


@pytest.fixture(scope="module")
def ewss_uplink_mock() -> Iterator[MockEwssUplinkProcess]:
    with mock_ewss_uplink() as mock:
        yield mock


@pytest.fixture(scope="module")
def cbc_mock() -> Iterator[MockCbcProcess]:
    with mock_cbc() as mock:
        yield mock


@pytest.fixture(scope="module")
def push_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockPushProcess]:
    with mock_push_service(tmp_path_factory.mktemp("push")) as mock:
        yield mock


@pytest.fixture
async def channel_state_area(tmp_path: Path) -> AsyncIterator[ChannelState]:
    async with opened_stores(tmp_path / "store") as stores:
        yield stores.channel_state.for_channel("cell_broadcast-under-test")


@pytest.fixture(params=[*TYPES, SHARED_CELL_BROADCAST])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    fixture = request.getfixturevalue
    builders: dict[str, Callable[[], Harness]] = {
        "file": lambda: FileHarness(tmp_path),
        "webhook": lambda: WebhookHarness(fixture("webhook_mock")),
        "sms": lambda: SmsHarness(fixture("sms_smsc"), tmp_path),
        "galileo_ewss": lambda: GalileoEwssHarness(fixture("ewss_uplink_mock")),
        "cell_broadcast": lambda: CellBroadcastHarness(fixture("cbc_mock"), tmp_path),
        SHARED_CELL_BROADCAST: lambda: SharedCellBroadcastHarness(
            fixture("cbc_mock"), tmp_path, fixture("channel_state_area")),
        "eudi_wallet": lambda: WalletHarness(fixture("push_mock"), tmp_path),
    }
    if request.param not in builders:
        pytest.fail(f"no contract harness for registered channel type {request.param!r}")
    return builders[request.param]()


@pytest.fixture
async def channel(harness: Harness) -> AsyncIterator[Channel]:
    built = harness.channel()
    await built.start()
    yield built
    await built.close()


def delivery(key: str = "alert-1/ch", attempt: int = 1) -> Delivery:
    raw = EXAMPLE.read_bytes()
    document = parse_cap(raw).document
    assert document is not None
    return Delivery(alert_id="alert-1", channel="ch", idempotency_key=key,
                    alert=document.alert, raw=raw, attempt=attempt)


def test_every_adapter_has_a_harness() -> None:
    assert set(TYPES) >= KNOWN
    assert set(TYPES) <= KNOWN, "add a harness in tests/contract/harnesses.py"


async def test_declares_a_protocol_conforming_shape(channel: Channel) -> None:
    assert isinstance(channel, Channel)
    assert isinstance(channel.capabilities, Capabilities)
    assert channel.capabilities.area_kinds
    assert channel.name.endswith("under-test")


async def test_send_reaches_the_network_once(channel: Channel, harness: Harness) -> None:
    receipt = await channel.send(delivery())
    assert receipt.idempotency_key == "alert-1/ch"
    assert receipt.reference
    assert not receipt.duplicate
    assert harness.times_received("alert-1/ch") == 1


async def test_resend_with_same_key_is_not_a_second_broadcast(channel: Channel,
                                                              harness: Harness) -> None:
    await channel.send(delivery())
    again = await channel.send(delivery(attempt=2))
    assert again.duplicate
    assert harness.times_received("alert-1/ch") == 1


async def test_resend_after_restart_is_not_a_second_broadcast(harness: Harness) -> None:
    first = harness.channel()
    await first.start()
    await first.send(delivery())
    await first.close()
    second = harness.channel()
    await second.start()
    try:
        assert (await second.send(delivery(attempt=2))).duplicate
    finally:
        await second.close()
    assert harness.times_received("alert-1/ch") == 1


async def test_cancel_after_send(channel: Channel, harness: Harness) -> None:
    receipt = await channel.send(delivery())
    if channel.capabilities.supports_cancel:
        await channel.cancel(delivery(), receipt)
        assert harness.cancelled("alert-1/ch")
    else:
        with pytest.raises(PermanentError) as raised:
            await channel.cancel(delivery(), receipt)
        assert raised.value.reason is FailureReason.REJECTED


async def test_transient_failure_is_transient_and_recovers(channel: Channel,
                                                           harness: Harness) -> None:
    harness.break_transient()
    with pytest.raises(TransientError):
        await channel.send(delivery())
    harness.heal()
    assert not (await channel.send(delivery(attempt=2))).duplicate
    assert harness.times_received("alert-1/ch") == 1


async def test_permanent_failure_is_permanent(channel: Channel, harness: Harness) -> None:
    harness.break_permanent()
    with pytest.raises(PermanentError):
        await channel.send(delivery())
    harness.heal()


async def test_health(channel: Channel, harness: Harness) -> None:
    assert (await channel.health()).ok
    unreachable = harness.unreachable()
    await unreachable.start()
    try:
        health = await unreachable.health()
    finally:
        await unreachable.close()
    assert not health.ok
    assert health.detail


async def test_health_facts_say_what_the_adapter_knows(channel: Channel, harness: Harness,
                                                      request: pytest.FixtureRequest) -> None:
    """JSON values for the dashboard: after a send, what each network element holds."""
    await channel.send(delivery())
    health = await channel.health()
    facts = json.loads(json.dumps(dict(health.facts)))
    kind = request.node.callspec.params["harness"]
    if kind in {"cell_broadcast", SHARED_CELL_BROADCAST}:
        assert facts["cbc"]
        assert [item["alert_id"] for item in facts["on_air"]] == ["alert-1"]
        assert isinstance(facts["on_air"][0]["identifier"], int)
        assert facts["on_air"][0]["state"] == "held"
    elif kind == "sms":
        assert facts["binds_up"] == facts["binds"] >= 1
        assert facts["smsc"]
        assert facts["last_error"] is None
    elif kind == "eudi_wallet":
        assert [service["outcome"] for service in facts["push_services"]] == ["sent"]
        assert facts["push_services"][0]["host"] == "127.0.0.1"
    elif kind == "galileo_ewss":
        assert facts["uplink"].startswith("http")
    assert harness.times_received("alert-1/ch") == 1


def test_bad_configuration_is_refused_with_the_instance_name() -> None:
    with pytest.raises(ConfigurationError) as raised:
        build_channels({"a": {"type": "file"}, "b": {"type": "webhook", "url": "ftp://x"},
                        "c": {"type": "pager"}})
    text = "\n".join(raised.value.problems)
    assert "channels.a:" in text
    assert "channels.b:" in text
    assert "channels.c: unknown type 'pager'" in text
