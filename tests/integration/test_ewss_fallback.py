"""Galileo EWSS end to end through real processes: ``tocsin serve`` with the default
routes, the primary cell-broadcast channel failing against the mock CBC, and the
sandbox alert message centre (``tocsin mock-channels --only galileo_ewss``) showing what went out."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from channels.galileo_ewss import camf, geometry
from tests.contract.harnesses import (
    EWSS_TABLES,
    MockCbcProcess,
    MockEwssUplinkProcess,
    mock_cbc,
    mock_ewss_uplink,
)
from tests.integration.conftest import EXAMPLES, make_alert
from tests.integration.server import Server, start_server
from tests.integration.test_dispatch_flow import FAST, post, until

RECTANGLE = [(51.8950, 4.4300), (51.8950, 4.4900), (51.8700, 4.4900), (51.8700, 4.4300)]


class PrimaryCellBroadcast:
    """The primary channel the default routes name ``cell_broadcast``: the real
    cell-broadcast adapter against the mock CBC (``tocsin mock-channels --only
    cell_broadcast``), made to fail through the mock's fault API."""

    def __init__(self, mock: MockCbcProcess, workdir: Path) -> None:
        self.mock = mock
        self.workdir = workdir

    def channel_config(self) -> dict[str, Any]:
        return {"type": "cell_broadcast", "url": self.mock.url, "timeout_s": 2,
                "state_file": str(self.workdir / "cbc-ledger.json")}

    def fail(self) -> None:
        """The CBC is down: every request answers 503."""
        self.mock.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503})

    def heal(self) -> None:
        self.mock.call("DELETE", "/_mock/received")
        self.mock.call("PUT", "/_mock/faults", {"mode": "none"})
        self.mock.call("PUT", "/_mock/cbc", {})

    def on_air(self) -> list[dict[str, Any]]:
        """What phones would display now."""
        result: list[dict[str, Any]] = self.mock.call("GET", "/_mock/display")
        return result


@pytest.fixture(scope="module")
def primary_mock() -> Iterator[MockCbcProcess]:
    with mock_cbc() as running:
        yield running


@pytest.fixture(scope="module")
def uplink_mock() -> Iterator[MockEwssUplinkProcess]:
    with mock_ewss_uplink() as running:
        yield running


@pytest.fixture
def primary(primary_mock: MockCbcProcess, tmp_path: Path) -> PrimaryCellBroadcast:
    cell_broadcast = PrimaryCellBroadcast(primary_mock, tmp_path)
    cell_broadcast.heal()
    return cell_broadcast


@pytest.fixture
def uplink(uplink_mock: MockEwssUplinkProcess) -> MockEwssUplinkProcess:
    uplink_mock.call("DELETE", "/_mock/received")
    uplink_mock.call("PUT", "/_mock/faults", {"mode": "none"})
    return uplink_mock


def configure(tmp_path: Path, primary: PrimaryCellBroadcast,
              uplink: MockEwssUplinkProcess) -> dict[str, str]:
    """Settings for the default ``config/routes.yaml``: every channel it names exists."""
    config = {"channels": {
        "cell_broadcast": primary.channel_config(),
        "galileo_ewss": {"type": "galileo_ewss", "url": uplink.url,
                         "tables_file": str(EWSS_TABLES), "timeout_s": 2},
        **{name: {"type": "file", "path": str(tmp_path / f"{name}.jsonl")}
           for name in ("sms", "eudi_wallet", "webhook", "file")},
    }}
    (tmp_path / "tocsin.yaml").write_text(json.dumps(config), encoding="utf-8")
    return {**FAST, "TOCSIN_CONFIG": str(tmp_path / "tocsin.yaml")}


def extreme_fire(identifier: str) -> bytes:
    return make_alert(identifier).replace(b"<severity>Severe</severity>",
                                          b"<severity>Extreme</severity>")


async def test_extreme_alert_falls_back_to_ewss_while_cell_broadcast_is_down(
        tmp_path: Path, primary: PrimaryCellBroadcast, uplink: MockEwssUplinkProcess) -> None:
    primary.fail()
    server = start_server(tmp_path / "data", env=configure(tmp_path, primary, uplink))
    try:
        alert_id = await post(server, extreme_fire("EWSS-FALLBACK-1"))
        deliveries = await until(server, alert_id,
                                 lambda d: d["galileo_ewss"]["state"] == "delivered")
    finally:
        server.stop()
    ewss, cbc = deliveries["galileo_ewss"], deliveries["cell_broadcast"]
    assert ewss["fallback_for"] == "cell_broadcast"
    assert ewss["replaced"] == "cell_broadcast"
    assert ewss["route"] == "life-threatening"
    failures = [a for a in cbc["history"] if a["outcome"] == "transient"]
    assert len(failures) >= 3  # the breaker opened after three (FAST settings)
    assert {a["reason"] for a in failures} == {"unavailable"}
    assert "503" in failures[0]["error"]
    assert primary.on_air() == []
    received = uplink.call("GET", "/_mock/received")
    assert [r["idempotency_key"] for r in received] == [f"{alert_id}/galileo_ewss"]
    shown = received[0]["shown"]
    assert shown["message_type"] == "alert"
    assert shown["severity"] == "extreme"
    assert shown["hazard"] == {"code": 24, "name": "conflagration", "category": "Fire"}
    assert shown["guidance"]["a"]["text"] == "Seek shelter in a building; stay informed."
    assert shown["country"]["name"] == "Netherlands"
    assert received[0]["metadata"]["alert_id"] == alert_id
    assert received[0]["metadata"]["overwarning_ratio"] > 1
    ellipse = camf.ellipse(camf.decode(bytes.fromhex(received[0]["camf_hex"])))
    assert geometry.uncovered(ellipse, RECTANGLE) == []
    assert shown["ellipse"]["latitude"] == pytest.approx(ellipse.latitude, abs=1e-6)


async def test_healthy_cell_broadcast_leaves_ewss_on_standby(
        tmp_path: Path, primary: PrimaryCellBroadcast, uplink: MockEwssUplinkProcess) -> None:
    server = start_server(tmp_path / "data", env=configure(tmp_path, primary, uplink))
    try:
        alert_id = await post(server, extreme_fire("EWSS-STANDBY-1"))
        deliveries = await until(server, alert_id,
                                 lambda d: d["galileo_ewss"]["state"] != "standby")
    finally:
        server.stop()
    assert deliveries["cell_broadcast"]["state"] == "delivered"
    assert [m["message_id"] for m in primary.on_air()] == [4372]  # EU-Alert extreme
    assert deliveries["galileo_ewss"]["state"] == "skipped"
    assert uplink.call("GET", "/_mock/received") == []


def demo_uplink_url(server: Server) -> str:
    started = next(line for line in server.log_lines() if line.get("event") == "service.started")
    elements = started["mock_elements"]
    assert isinstance(elements, dict)
    return str(elements["galileo_ewss"])


async def test_demo_delivers_the_ewss_exercise_through_its_mock(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        alert_id = await post(server, (EXAMPLES / "ewss-exercise.xml").read_bytes())
        deliveries = await until(server, alert_id,
                                 lambda d: d["galileo_ewss"]["state"] == "delivered")
        url = demo_uplink_url(server)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/_mock/received") as response:
                received = await response.json()
    finally:
        server.stop()
    assert set(deliveries) == {"galileo_ewss"}
    assert deliveries["galileo_ewss"]["route"] == "satellite-exercise"
    assert len(received) == 1  # the Dutch and English <info> are one CAMF message
    shown = received[0]["shown"]
    assert shown["message_type"] == "test"
    assert shown["hazard"]["name"] == "chemical hazard"
    assert shown["guidance"]["a"]["text"] == "This is only a test."
    assert shown["duration"] == "unknown"  # no <expires>: the example never goes stale


def submit(uplink: MockEwssUplinkProcess, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(f"{uplink.url}/camf", data=json.dumps(body).encode(),
                                     method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_message_centre_takes_base64_and_refuses_what_is_not_camf(
        uplink: MockEwssUplinkProcess) -> None:
    message = camf.from_int(int("01" + "0" * 9 + "00001" + "0011000" + "0" * 99, 2))
    data = camf.encode(message)
    status, answer = submit(uplink, {"idempotency_key": "b64-1",
                                     "camf_base64": base64.b64encode(data).decode()})
    assert status == 201
    assert answer["shown"]["hazard"]["code"] == 24
    assert submit(uplink, {"idempotency_key": "b64-1", "camf_hex": data.hex()}) == (
        200, {"id": "b64-1", "duplicate": True})
    zero_hazard = (0).to_bytes(16, "big")
    status, answer = submit(uplink, {"idempotency_key": "bad-1", "camf_hex": zero_hazard.hex()})
    assert (status, "A4 hazard" in answer["error"]) == (400, True)
    status, answer = submit(uplink, {"idempotency_key": "bad-2", "camf_hex": data.hex()[:-2]})
    assert (status, "16 bytes" in answer["error"]) == (400, True)
    assert [r["idempotency_key"] for r in uplink.call("GET", "/_mock/received")] == ["b64-1"]
