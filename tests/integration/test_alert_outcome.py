"""The alert's state says how its deliveries went, through real processes: ``tocsin
serve`` with a webhook channel to the mock receiver and file channels; the status
API, the SSE stream and ``tocsin send --wait`` (its output and exit status)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.contract.harnesses import MockWebhookProcess
from tests.integration.conftest import make_alert
from tests.integration.server import DEV_KEY, REPO, Server, start_server
from tests.integration.test_dispatch_flow import (
    ALL_THREE,
    WITH_FALLBACK,
    configure,
    post,
    status,
)


def send(server: Server, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", "send", str(path), "--url", server.url, *args],
        cwd=REPO, env={**os.environ, "TOCSIN_API_KEY": DEV_KEY}, capture_output=True,
        text=True, timeout=90, check=False)


def sse_done(server: Server, alert_id: str) -> tuple[list[dict[str, object]], dict[str, object]]:
    """The ``alert`` events and the ``done`` event's data of one stream."""
    request = urllib.request.Request(f"{server.url}/api/v1/alerts/{alert_id}/events",
                                     headers={"Authorization": f"Bearer {DEV_KEY}"})
    alerts, event = [], ""
    with urllib.request.urlopen(request, timeout=30) as response:
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "alert":
                alerts.append(json.loads(line[5:]))
            elif line.startswith("data:") and event == "done":
                return alerts, json.loads(line[5:])
    raise AssertionError("the stream ended without done")


async def test_one_channel_refusing_makes_the_alert_partially_delivered(
        tmp_path: Path, receiver: MockWebhookProcess) -> None:
    receiver.call("PUT", "/_mock/faults", {"mode": "fail", "status": 400})  # permanent
    server = start_server(tmp_path / "data", env=configure(tmp_path, receiver, ALL_THREE))
    try:
        alert_id = await post(server, make_alert("OUTCOME-PARTIAL"))
        alerts, done = sse_done(server, alert_id)
        current = await status(server, alert_id)
    finally:
        server.stop()
    assert done["state"] == "partially_delivered"
    assert done["counts"] == {"delivered": 2, "failed": 1}
    assert alerts[-1] == done
    assert current["state"] == "partially_delivered"
    assert current["lifecycle"] == "accepted"
    assert current["settled"] is True
    assert current["counts"] == {"delivered": 2, "failed": 1}
    webhook = next(d for d in current["deliveries"] if d["channel"] == "webhook")
    assert webhook["reason"] == "rejected"


async def test_send_wait_ends_when_the_fallback_delivered_and_says_why_the_primary_did_not(
        tmp_path: Path, receiver: MockWebhookProcess) -> None:
    receiver.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503})  # down, for good
    server = start_server(tmp_path / "data", env=configure(tmp_path, receiver, WITH_FALLBACK))
    alert = tmp_path / "alert.xml"
    alert.write_bytes(make_alert("OUTCOME-FALLBACK"))
    try:
        began = time.monotonic()
        waited = send(server, alert, "--wait", "--timeout", "40")
        took = time.monotonic() - began
    finally:
        server.stop()
    assert waited.returncode == 1, waited.stdout + waited.stderr
    assert took < 30  # not the primary's deadline, nor --timeout
    lines = waited.stdout.splitlines()
    assert lines[-2].startswith("alert partially_delivered: ")
    assert "delivered 1" in lines[-2]
    assert lines[-1].startswith("  webhook waiting_for_channel: unavailable")
    assert lines[-1].endswith("archive delivered in its place")


async def test_send_wait_exits_0_when_delivered_and_3_for_a_duplicate(
        tmp_path: Path, receiver: MockWebhookProcess) -> None:
    server = start_server(tmp_path / "data", env=configure(tmp_path, receiver, ALL_THREE))
    alert = tmp_path / "alert.xml"
    alert.write_bytes(make_alert("OUTCOME-DUP"))
    try:
        first = send(server, alert, "--wait", "--timeout", "40")
        again = send(server, alert, "--wait", "--timeout", "40")
    finally:
        server.stop()
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.splitlines()[-1] == "alert delivered: delivered 3"
    assert again.returncode == 3, again.stdout + again.stderr
    assert "duplicate" in again.stderr
    assert "nothing new was sent" in again.stderr
    assert len(receiver.call("GET", "/_mock/received")) == 1
