"""Idle event streams cost little: between the record stage's wake-ups a stream does
not re-read the store (it did every second, so 500 idle streams were 500 reads a
second), and the per-key slot count is released when a stream ends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from router.app import create_app
from router.http.problems import ProblemError
from router.ingest import CONTEXT
from router.ingest.streams import StreamSlots, principal_of
from router.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
KEY = "dev-key-for-stream-tests-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


async def test_an_idle_stream_does_not_poll_the_store(tmp_path: Path) -> None:
    settings = Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY, dispatch_enabled=False)
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/api/v1/alerts", data=(EXAMPLES / "nl-alert-fire.xml").read_bytes(),
            headers={**AUTH, "Content-Type": "application/cap+xml"})
        alert_id = (await response.json())["id"]
        store = app[CONTEXT].store
        reads: list[str] = []
        original = store.get

        async def counting_get(wanted: str) -> Any:
            reads.append(wanted)
            return await original(wanted)

        store.get = counting_get  # type: ignore[method-assign]
        stream = await client.get(f"/api/v1/alerts/{alert_id}/events", headers=AUTH)
        assert stream.status == 200
        await stream.content.readline()
        await asyncio.sleep(3.5)  # three and a half of the old poll intervals
        assert len(reads) == 1, f"{len(reads)} store reads while nothing changed"
        app[CONTEXT].recorder.progress.changed(alert_id)  # a wake-up re-reads at once
        for _ in range(50):
            if len(reads) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(reads) == 2
        assert app[CONTEXT].event_streams.open_for(principal_of(AUTH["Authorization"])) == 1
        stream.close()
        for _ in range(60):  # the slot is freed within a tick of the client going away
            if not app[CONTEXT].event_streams.open_for(principal_of(AUTH["Authorization"])):
                break
            await asyncio.sleep(0.05)
        assert app[CONTEXT].event_streams.open_for(principal_of(AUTH["Authorization"])) == 0


async def test_an_idle_stream_ends_within_a_tick_when_the_service_drains(
        tmp_path: Path) -> None:
    settings = Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY, dispatch_enabled=False)
    app = create_app(settings)
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/api/v1/alerts", data=(EXAMPLES / "nl-alert-fire.xml").read_bytes(),
            headers={**AUTH, "Content-Type": "application/cap+xml"})
        alert_id = (await response.json())["id"]
        stream = await client.get(f"/api/v1/alerts/{alert_id}/events", headers=AUTH)
        await stream.content.readline()
        app[CONTEXT].draining = True
        async with asyncio.timeout(10):  # one tick (1 s), not the 15 s poll interval
            await stream.content.read()
        assert stream.content.at_eof()


def test_slots_are_per_principal_and_released() -> None:
    slots = StreamSlots()
    with slots.hold("a", 2), slots.hold("a", 2), slots.hold("b", 2):
        with pytest.raises(ProblemError) as refused, slots.hold("a", 2):
            pass
        assert (refused.value.status, refused.value.code) == (429, "sse.too-many-streams")
        assert slots.open_for("a") == 2
    assert slots.open_for("a") == slots.open_for("b") == 0
    assert principal_of("Bearer k") == principal_of("bearer   k ")
    assert principal_of("Bearer k") != principal_of("Bearer l")
