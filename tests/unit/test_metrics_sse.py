"""``GET /api/v1/alerts/{id}/events`` and ``GET /metrics`` on the in-process app (demo
mode): the stream sends each delivery's changes and ends with ``done``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from router.app import create_app
from router.cli.progress import sse_events
from router.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
KEY = "dev-key-for-sse-tests-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


async def test_events_stream_progress_until_done(tmp_path: Path) -> None:
    settings = Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY,
                        dispatch_poll_interval_s=0.05)
    async with TestClient(TestServer(create_app(settings))) as client:
        response = await client.post(
            "/api/v1/alerts", data=(EXAMPLES / "nl-alert-fire.xml").read_bytes(),
            headers={**AUTH, "Content-Type": "application/cap+xml"})
        assert response.status == 202
        alert_id = (await response.json())["id"]
        stream = await client.get(f"/api/v1/alerts/{alert_id}/events", headers=AUTH)
        assert stream.headers["Content-Type"] == "text/event-stream"
        received: list[tuple[str, dict[str, Any]]] = []
        async for event in sse_events(stream.content):
            received.append(event)
            if event[0] == "done":
                break
        missing = await client.get("/api/v1/alerts/nope/events", headers=AUTH)
        anonymous = await client.get(f"/api/v1/alerts/{alert_id}/events")
        metrics = await client.get("/metrics")
        exposition = await metrics.text()
    name, done = received[-1]
    assert (name, done["id"], done["lifecycle"], done["settled"]) == (
        "done", alert_id, "accepted", True)
    assert done["state"] in {"delivered", "partially_delivered"}
    assert sum(done["counts"].values()) == len({d["channel"] for n, d in received
                                                 if n == "delivery"})
    assert [d for n, d in received if n == "alert"][-1] == done
    last: dict[str, str] = {}
    for name, data in received[:-1]:
        assert name in {"delivery", "alert"}
        if name == "delivery":
            last[data["channel"]] = data["state"]
    assert last["webhook"] == "delivered"
    assert last["cell_broadcast"] == "delivered"  # the demo's mock CBC
    assert all(state not in {"pending", "sending"} for state in last.values())
    assert missing.status == 404
    assert anonymous.status == 401
    assert 'tocsin_deliveries_total{channel="webhook",outcome="delivered"} 1.0' in exposition
    assert 'tocsin_alerts_accepted_total{msg_type="Alert",profile="cap12"} 1.0' in exposition
