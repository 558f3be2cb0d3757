"""Retry one channel, through real processes: ``tocsin serve`` with a webhook channel to
the mock receiver and file channels; ``tocsin retry`` and the HTTP route re-plan a
failed or expired delivery while the alert is in force, record who asked, audit it,
and refuse everything else with a clear problem code."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from router.settings import hash_api_key
from tests.contract.harnesses import MockWebhookProcess
from tests.integration.conftest import EXAMPLES, make_alert
from tests.integration.server import DEV_KEY, REPO, Server, start_server
from tests.integration.test_dispatch_flow import (
    ALL_THREE,
    all_final,
    configure,
    post,
    until,
    with_expiry,
)


def retry(server: Server, alert_id: str, channel: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", "retry", alert_id, channel, "--url", server.url],
        cwd=REPO, env={**os.environ, "TOCSIN_API_KEY": DEV_KEY}, capture_output=True,
        text=True, timeout=60, check=False)


async def retry_http(server: Server, alert_id: str, channel: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async with session.post(f"{server.url}/api/v1/alerts/{alert_id}/deliveries/"
                                f"{channel}/retry") as response:
            return response.status, await response.json(content_type=None)


async def test_a_failed_channel_is_sent_again_on_request_and_records_who_asked(
        tmp_path: Path, receiver: MockWebhookProcess) -> None:
    receiver.call("PUT", "/_mock/faults", {"mode": "fail", "status": 400})  # refused
    server = start_server(tmp_path / "data", env=configure(tmp_path, receiver, ALL_THREE))
    try:
        alert_id = await post(server, make_alert("RETRY-FAILED"))
        failed = await until(server, alert_id, all_final)
        receiver.call("PUT", "/_mock/faults", {"mode": "none"})  # the receiver is fixed
        asked = retry(server, alert_id, "webhook")
        again = await until(server, alert_id,
                            lambda d: d["webhook"]["state"] == "delivered")
        repeat = retry(server, alert_id, "webhook")
        audit = [line for line in server.log_lines() if line.get("audit")
                 and str(line.get("event", "")).startswith("delivery_retry")]
    finally:
        server.stop()
    assert failed["webhook"]["state"] == "failed"
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.strip() == f"{server.url}/api/v1/alerts/{alert_id}"
    webhook = again["webhook"]
    key = hash_api_key(DEV_KEY)[:len("sha256:") + 12]
    assert webhook["retry_requested_by"] == {"authority": "demo", "key": key}
    assert webhook["retry_requested_at"] is not None
    assert [a["outcome"] for a in webhook["history"]] == ["permanent", "delivered"]
    assert again["file"]["attempts"] == 1  # the other channels were not touched
    assert [r["idempotency_key"] for r in receiver.call("GET", "/_mock/received")] == [
        f"{alert_id}/webhook"]
    assert repeat.returncode == 1
    assert "409 delivery.not-retryable" in repeat.stderr
    assert [(a["event"], a["authority"], a["key"], a["channel"], a["status"]) for a in audit] == [
        ("delivery_retry_requested", "demo", key, "webhook", 202),
        ("delivery_retry_refused", "demo", key, "webhook", 409)]


async def test_refusals_say_why(tmp_path: Path, receiver: MockWebhookProcess) -> None:
    receiver.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503})  # down
    server = start_server(tmp_path / "data", env=configure(tmp_path, receiver, ALL_THREE))
    try:
        posted_at = time.time()  # <expires> is at most 2 s after this (whole seconds)
        short = await post(server, with_expiry("RETRY-EXPIRED", 2))
        await until(server, short, lambda d: d["webhook"]["state"] == "expired")
        # the delivery may end expired before <expires> itself (its next go would come
        # too late): wait until the alert's own <expires> has passed
        await asyncio.sleep(max(0.0, posted_at + 2.3 - time.time()))
        expired = await retry_http(server, short, "webhook")
        live = await post(server, make_alert("RETRY-CANCELLED"))
        await until(server, live, lambda d: d["file"]["state"] == "delivered")
        unknown_channel = await retry_http(server, live, "carrier-pigeon")
        unknown_alert = await retry_http(server, "01NOSUCHALERT", "webhook")
        cancel = (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes().replace(
            b"NL-VRR-2026-0043,2026-11-25T14:40:00+01:00",
            b"RETRY-CANCELLED,2026-11-25T14:05:00+01:00")
        await post(server, cancel)
        cancelled = await retry_http(server, live, "file")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{server.url}/api/v1/alerts/{live}/deliveries/file/retry",
                                    headers={"Authorization": "Bearer wrong"}) as response:
                anonymous = response.status
    finally:
        server.stop()
    assert (expired[0], expired[1].get("code")) == (422, "delivery.alert-expired"), expired
    assert (unknown_channel[0], unknown_channel[1]["code"]) == (404, "delivery.not-found")
    assert (unknown_alert[0], unknown_alert[1]["code"]) == (404, "alert.not-found")
    assert (cancelled[0], cancelled[1]["code"]) == (409, "delivery.alert-not-in-force")
    assert "cancelled" in cancelled[1]["detail"]
    assert anonymous == 401
