"""Delivery end to end through real processes: ``tocsin serve`` with file channels and
a webhook channel pointed at ``tocsin mock-channels``, driven by the mock's fault API."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.contract.harnesses import MOCK_SECRET, MockWebhookProcess, mock_webhook
from tests.integration.conftest import EXAMPLES, make_alert
from tests.integration.server import Server, start_server

FAST = {"TOCSIN_DISPATCH_POLL_INTERVAL_S": "0.05", "TOCSIN_DISPATCH_RETRY_MULTIPLIER_S": "0.05",
        "TOCSIN_DISPATCH_RETRY_MAX_S": "0.2", "TOCSIN_DISPATCH_BREAKER_FAILURES": "3",
        "TOCSIN_DISPATCH_BREAKER_RESET_S": "60"}
FINAL = {"delivered", "failed", "expired", "superseded", "cancelled", "skipped"}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockWebhookProcess]:
    with mock_webhook() as running:
        yield running


@pytest.fixture
def healthy(mock: MockWebhookProcess) -> MockWebhookProcess:
    mock.call("DELETE", "/_mock/received")
    mock.call("PUT", "/_mock/faults", {"mode": "none"})
    return mock


def configure(tmp_path: Path, mock: MockWebhookProcess, routes: str) -> dict[str, str]:
    (tmp_path / "routes.yaml").write_text(routes, encoding="utf-8")
    config = {
        "routes_file": str(tmp_path / "routes.yaml"),
        "channels": {
            "webhook": {"type": "webhook", "url": f"{mock.url}/hook", "secret": MOCK_SECRET,
                        "timeout_s": 2},
            "file": {"type": "file", "path": str(tmp_path / "file.jsonl")},
            "archive": {"type": "file", "path": str(tmp_path / "archive.jsonl")},
        },
    }
    (tmp_path / "tocsin.yaml").write_text(json.dumps(config), encoding="utf-8")
    return {**FAST, "TOCSIN_CONFIG": str(tmp_path / "tocsin.yaml")}


ALL_THREE = "routes:\n  - id: all\n    match: {status: [Actual]}\n    channels: [webhook, file, archive]\ndefault: [file]\n"
WITH_FALLBACK = ("routes:\n  - id: main\n    match: {status: [Actual]}\n    channels: [webhook]\n"
                 "    fallback: [archive]\ndefault: [file]\n")


async def post(server: Server, body: bytes) -> str:
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async with session.post(f"{server.url}/api/v1/alerts", data=body) as response:
            assert response.status == 202, await response.text()
            return str((await response.json())["id"])


async def status(server: Server, alert_id: str) -> dict[str, Any]:
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async with session.get(f"{server.url}/api/v1/alerts/{alert_id}") as response:
            result: dict[str, Any] = await response.json()
            return result


async def until(server: Server, alert_id: str, done: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await status(server, alert_id)
        deliveries = {d["channel"]: d for d in current["deliveries"]}
        if done(deliveries):
            return deliveries
        assert asyncio.get_running_loop().time() < deadline, deliveries
        await asyncio.sleep(0.05)


def all_final(deliveries: dict[str, Any]) -> bool:
    return all(d["state"] in FINAL for d in deliveries.values())


def with_expiry(identifier: str, seconds: int) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    body = make_alert(identifier, sent=(now - timedelta(minutes=1)).isoformat())
    expires = (now + timedelta(seconds=seconds)).isoformat()
    return body.replace(b"<senderName>", f"<expires>{expires}</expires><senderName>".encode())


async def test_alert_routed_to_three_channels_is_delivered_on_each(
        tmp_path: Path, healthy: MockWebhookProcess) -> None:
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy, ALL_THREE))
    try:
        alert_id = await post(server, make_alert("THREE-1"))
        deliveries = await until(server, alert_id, all_final)
    finally:
        server.stop()
    assert {c: d["state"] for c, d in deliveries.items()} == {
        "webhook": "delivered", "file": "delivered", "archive": "delivered"}
    received = healthy.call("GET", "/_mock/received")
    assert [r["idempotency_key"] for r in received] == [f"{alert_id}/webhook"]
    assert received[0]["body"]["identifier"] == "THREE-1"
    lines = (tmp_path / "archive.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["alert_id"] == alert_id


async def test_transient_failures_recover_through_retries(tmp_path: Path,
                                                          healthy: MockWebhookProcess) -> None:
    healthy.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503, "count": 2})
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy, WITH_FALLBACK))
    try:
        alert_id = await post(server, make_alert("FLAKY-1"))
        deliveries = await until(server, alert_id, all_final)
    finally:
        server.stop()
    webhook = deliveries["webhook"]
    assert webhook["state"] == "delivered"
    assert webhook["attempts"] == 3
    assert [a["outcome"] for a in webhook["history"]] == ["transient", "transient", "delivered"]
    assert deliveries["archive"]["state"] == "skipped"


async def test_channel_that_stays_down_opens_breaker_and_fallback_delivers(
        tmp_path: Path, healthy: MockWebhookProcess) -> None:
    healthy.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503})
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy, WITH_FALLBACK))
    try:
        alert_id = await post(server, with_expiry("DOWN-1", 4))
        deliveries = await until(server, alert_id, all_final)
    finally:
        server.stop()
    assert deliveries["archive"]["state"] == "delivered"
    assert deliveries["archive"]["replaced"] == "webhook"
    assert deliveries["webhook"]["state"] == "expired"
    transient = [a for a in deliveries["webhook"]["history"] if a["outcome"] == "transient"]
    assert len(transient) == 3  # then the breaker held further calls back


async def test_cancel_during_retries_stops_them(tmp_path: Path,
                                                healthy: MockWebhookProcess) -> None:
    healthy.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503})
    env = {**configure(tmp_path, healthy, WITH_FALLBACK), "TOCSIN_DISPATCH_BREAKER_FAILURES": "1000"}
    server = start_server(tmp_path / "data", env=env)
    try:
        alert_id = await post(server, (EXAMPLES / "nl-alert-fire.xml").read_bytes())
        await until(server, alert_id, lambda d: d["webhook"]["attempts"] >= 2)
        cancel = (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes().replace(
            b"NL-VRR-2026-0043,2026-11-25T14:40:00+01:00",
            b"NL-VRR-2026-0042,2026-11-25T14:05:00+01:00")
        await post(server, cancel)
        deliveries = await until(server, alert_id, all_final)
        attempts = deliveries["webhook"]["attempts"]
        await asyncio.sleep(0.5)
        later = await until(server, alert_id, all_final)
    finally:
        server.stop()
    assert deliveries["webhook"]["state"] == "cancelled"
    assert later["webhook"]["attempts"] == attempts
    assert (await_state := later["archive"]["state"]) in {"cancelled", "skipped"}, await_state


async def test_alert_expiring_during_retries_is_expired_not_delivered(
        tmp_path: Path, healthy: MockWebhookProcess) -> None:
    healthy.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503})
    env = {**configure(tmp_path, healthy, ALL_THREE.replace(", file, archive", "")),
           "TOCSIN_DISPATCH_BREAKER_FAILURES": "1000"}
    server = start_server(tmp_path / "data", env=env)
    try:
        alert_id = await post(server, with_expiry("EXPIRES-1", 2))
        healthy_later = asyncio.get_running_loop().call_later(
            2.5, lambda: healthy.call("PUT", "/_mock/faults", {"mode": "none"}))
        deliveries = await until(server, alert_id, all_final)
        healthy_later.cancel()
        await asyncio.sleep(0.6)
    finally:
        server.stop()
    assert deliveries["webhook"]["state"] == "expired"
    assert healthy.call("GET", "/_mock/received") == []


async def test_kill_9_mid_delivery_resumes_without_a_second_broadcast(
        tmp_path: Path, healthy: MockWebhookProcess) -> None:
    healthy.call("PUT", "/_mock/faults", {"mode": "slow", "delay_s": 0.4})
    env = configure(tmp_path, healthy, ALL_THREE.replace(", file, archive", ""))
    server = start_server(tmp_path / "data", env=env)
    ids = [await post(server, make_alert(f"RESUME-{n}")) for n in range(20)]
    await asyncio.sleep(0.5)  # some deliveries are mid-request at the mock now
    server.stop(signal.SIGKILL)
    restarted = start_server(tmp_path / "data", env=env)
    try:
        for alert_id in ids:
            deliveries = await until(restarted, alert_id, all_final, timeout=30)
            assert deliveries["webhook"]["state"] == "delivered"
    finally:
        restarted.stop()
    received = healthy.call("GET", "/_mock/received")
    keys = [r["idempotency_key"] for r in received]
    assert sorted(keys) == sorted(f"{alert_id}/webhook" for alert_id in ids)  # once each


async def test_update_and_cancel_reach_the_channels_that_carried_the_alert(
        tmp_path: Path, healthy: MockWebhookProcess) -> None:
    # The Cancel has no <info>, so routing alone would send it only to the default
    # (file); it must also reach the webhook that carried the alert, as a cancel.
    routes = ("routes:\n  - id: severe\n    match: {severity: [Severe]}\n"
              "    channels: [webhook, archive]\ndefault: [file]\n")
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy, routes))
    try:
        first = await post(server, (EXAMPLES / "nl-alert-fire.xml").read_bytes())
        await until(server, first, all_final)
        update = await post(server, (EXAMPLES / "nl-alert-fire-update.xml").read_bytes())
        await until(server, update, all_final)
        cancel = await post(server, (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes())
        cancelled = await until(server, cancel, all_final)
    finally:
        server.stop()
    assert {c: d["state"] for c, d in cancelled.items()} == {
        "file": "delivered", "webhook": "delivered", "archive": "delivered"}
    assert cancelled["webhook"]["route"] == "references"
    received = {r["idempotency_key"]: r["body"] for r in healthy.call("GET", "/_mock/received")}
    assert received[f"{update}/webhook"]["type"] == "update"
    assert received[f"{update}/webhook"]["replaces"] == f"{first}/webhook"
    assert received[f"{cancel}/webhook/cancel"]["type"] == "cancel"
    assert received[f"{cancel}/webhook/cancel"]["cancels"] == f"{update}/webhook"
    archive = [json.loads(line) for line in (tmp_path / "archive.jsonl").read_text().splitlines()]
    assert [r["event"] for r in archive] == ["alert", "alert", "cancel"]
    assert archive[2]["cancels"] == f"{update}/archive"
