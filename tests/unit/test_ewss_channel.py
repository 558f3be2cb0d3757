"""The ``galileo_ewss`` adapter over an in-memory uplink: what it submits, what its
receipt records, how it cancels, and how it refuses bad configuration."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from channels.galileo_ewss import camf, geometry
from channels.galileo_ewss.channel import GalileoEwssChannel
from channels.galileo_ewss.transport import UplinkAnswer, UplinkMessage
from router.cap import parse_cap
from router.channel import Delivery, FailureReason, Health, NotApplicableError, PermanentError
from router.errors import ConfigurationError
from router.registry import build_channels, channel_types

REPO = Path(__file__).resolve().parents[2]
TABLES = REPO / "config" / "galileo_ewss" / "tables.yaml"
EXAMPLE = REPO / "config" / "examples" / "nl-alert-fire.xml"
NOW = datetime(2026, 11, 25, 13, 10, tzinfo=UTC)


class MemoryUplink:
    """A fake uplink: remembers what it was given, answers duplicates by key."""

    def __init__(self) -> None:
        self.messages: dict[str, UplinkMessage] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def submit(self, message: UplinkMessage) -> UplinkAnswer:
        duplicate = message.idempotency_key in self.messages
        self.messages.setdefault(message.idempotency_key, message)
        return UplinkAnswer(f"up-{message.idempotency_key}", duplicate)

    async def health(self) -> Health:
        return Health(True, "memory")


def channel(tables: Path = TABLES) -> tuple[GalileoEwssChannel, MemoryUplink]:
    uplink = MemoryUplink()
    built = GalileoEwssChannel("ewss", {"url": "http://127.0.0.1:1", "tables_file": str(tables)},
                               uplink=uplink, clock=lambda: NOW)
    return built, uplink


def delivery(raw: bytes | None = None, key: str = "A1/galileo_ewss") -> Delivery:
    body = raw if raw is not None else EXAMPLE.read_bytes()
    document = parse_cap(body).document
    assert document is not None
    return Delivery(alert_id="A1", channel="galileo_ewss", idempotency_key=key,
                    alert=document.alert, raw=body)


def with_polygon(points: list[tuple[float, float]]) -> bytes:
    text = " ".join(f"{lat:.5f},{lon:.5f}" for lat, lon in [*points, points[0]])
    old = "51.8950,4.4300 51.8950,4.4900 51.8700,4.4900 51.8700,4.4300 51.8950,4.4300"
    return EXAMPLE.read_bytes().replace(old.encode(), text.encode())


def test_registered_under_its_entry_point() -> None:
    assert channel_types()["galileo_ewss"] is GalileoEwssChannel


async def test_send_submits_one_verified_message_and_records_it() -> None:
    built, uplink = channel()
    receipt = await built.send(delivery())
    assert list(uplink.messages) == ["A1/galileo_ewss"]
    sent = uplink.messages["A1/galileo_ewss"]
    message = camf.decode(sent.camf)
    assert (message.hazard, message.severity) == (24, camf.Severity.SEVERE)
    assert sent.metadata["alert_id"] == "A1"
    detail: Mapping[str, Any] = receipt.detail
    assert detail["metrics"] == {"ewss_messages": 1}
    entry = detail["messages"][0]
    assert entry["camf_hex"] == sent.camf.hex()
    assert entry["shown"]["hazard"]["name"] == "conflagration"
    assert detail["overwarning_ratio"] == entry["overwarning_ratio"]
    assert 1 < detail["overwarning_ratio"] < 2
    assert detail["overwarning_warning"] is False
    assert receipt.reference == "up-A1/galileo_ewss"
    assert not receipt.duplicate
    corners = [(51.895, 4.43), (51.895, 4.49), (51.87, 4.49), (51.87, 4.43)]
    assert geometry.uncovered(camf.ellipse(message), corners) == []


async def test_resend_is_a_duplicate_and_counts_no_new_message() -> None:
    built, _uplink = channel()
    await built.send(delivery())
    again = await built.send(delivery())
    assert again.duplicate
    assert again.detail["metrics"] == {"ewss_messages": 0}


async def test_poorly_fitting_area_is_flagged_with_its_ratio() -> None:
    corner = (52.0, 5.0)
    east = geometry.destination(corner, 90, 100)
    north = geometry.destination(corner, 0, 100)
    inner = geometry.destination(corner, 45, 1.4)
    l_shape = [corner, east, geometry.destination(east, 0, 1), inner,
               geometry.destination(north, 90, 1), north]  # two 100 x 1 km arms
    built, _uplink = channel()
    receipt = await built.send(delivery(with_polygon(l_shape)))
    assert receipt.detail["overwarning_ratio"] > 4
    assert receipt.detail["overwarning_warning"] is True


async def test_minor_alert_is_not_applicable() -> None:
    built, uplink = channel()
    raw = EXAMPLE.read_bytes().replace(b"<severity>Severe</severity>",
                                       b"<severity>Minor</severity>")
    with pytest.raises(NotApplicableError, match="severity Minor"):
        await built.send(delivery(raw))
    assert uplink.messages == {}


async def test_cancel_is_refused_unless_all_clear_is_configured() -> None:
    built, _uplink = channel()
    assert not built.capabilities.supports_cancel
    receipt = await built.send(delivery())
    with pytest.raises(PermanentError, match="cannot be withdrawn") as raised:
        await built.cancel(delivery(key="C1/galileo_ewss"), receipt)
    assert raised.value.reason is FailureReason.REJECTED


async def test_cancel_broadcasts_an_all_clear_for_what_was_sent(tmp_path: Path) -> None:
    tables = tmp_path / "tables.yaml"
    tables.write_text(TABLES.read_text().replace("cancel_as_all_clear: false",
                                                 "cancel_as_all_clear: true"))
    built, uplink = channel(tables)
    assert built.capabilities.supports_cancel
    receipt = await built.send(delivery())
    await built.cancel(delivery(key="C1/galileo_ewss"), receipt)
    original = camf.decode(uplink.messages["A1/galileo_ewss"].camf)
    clear = camf.decode(uplink.messages["C1/galileo_ewss/cancel"].camf)
    assert clear.message_type is camf.MessageType.ALL_CLEAR
    assert (clear.guidance_a, clear.guidance_b) == (31, 0)
    assert camf.ellipse(clear) == camf.ellipse(original)
    assert clear.hazard == original.hazard


def test_bad_configuration_is_refused_with_the_instance_name(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("events: {fire: 200}\n")
    with pytest.raises(ConfigurationError) as raised:
        build_channels({
            "a": {"type": "galileo_ewss", "url": "ftp://x"},
            "b": {"type": "galileo_ewss", "url": "http://x", "tables_file": str(broken)},
            "c": {"type": "galileo_ewss", "url": "http://x",
                  "tables_file": str(tmp_path / "missing.yaml")}})
    text = "\n".join(raised.value.problems)
    assert "channels.a:" in text
    assert "channels.b:" in text
    assert "events.fire" in text
    assert "channels.c:" in text
    assert "missing.yaml" in text
