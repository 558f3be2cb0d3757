"""An acknowledged alert is never lost; an unacknowledged one is never half-stored.

For 10 seeds: post 500 distinct alerts with concurrency 32 to a real ``tocsin
serve``, ``kill -9`` it after a random number of responses, restart it on the
same data directory, and check through the API and the SQLite file that

- every alert that got a 202 is there, byte-exact, with its whole delivery plan;
- every alert in the file has its whole plan (nothing half-stored), whether or
  not its 202 reached the client before the kill.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.integration.conftest import make_alert
from tests.integration.server import Server, start_server

ALERTS = 500
CONCURRENCY = 32
PLAN = {"cell_broadcast", "sms", "eudi_wallet", "webhook", "galileo_ewss"}
"""The channels routing plans for the example alert (the dispatcher moves their states on)."""


async def _post_until_killed(server: Server, seed: int) -> dict[str, tuple[str, bytes]]:
    """Post every alert; SIGKILL the server after a random count of 202s. Returns
    identifier -> (alert id, body) for each 202 received."""
    rng = random.Random(seed)
    kill_after = rng.randint(10, ALERTS - 50)
    acknowledged: dict[str, tuple[str, bytes]] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(ALERTS):
        queue.put_nowait(number)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            number = queue.get_nowait()
            identifier = f"CRASH-{seed}-{number}"
            body = make_alert(identifier)
            try:
                async with session.post(f"{server.url}/api/v1/alerts", data=body) as response:
                    if response.status == 202:
                        acknowledged[identifier] = ((await response.json())["id"], body)
                    else:
                        assert response.status >= 500, await response.text()
            except (aiohttp.ClientError, ConnectionError, TimeoutError):
                continue  # the server is gone: no 202, so no promise was made
            if len(acknowledged) >= kill_after and server.proc.poll() is None:
                server.proc.send_signal(signal.SIGKILL)

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(headers=server.headers, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return acknowledged


def _stored(db: Path) -> dict[str, tuple[str, dict[str, str]]]:
    conn = sqlite3.connect(db)
    try:
        plans: dict[str, dict[str, str]] = {}
        for alert_id, channel, state in conn.execute(
                "SELECT alert_id, channel, state FROM deliveries"):
            plans.setdefault(alert_id, {})[channel] = state
        return {identifier: (alert_id, plans.get(alert_id, {}))
                for alert_id, identifier in conn.execute("SELECT id, identifier FROM alerts")}
    finally:
        conn.close()


@pytest.mark.parametrize("seed", range(10))
async def test_kill_9_loses_nothing_acknowledged(tmp_path: Path, seed: int) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    try:
        acknowledged = await _post_until_killed(server, seed)
    finally:
        server.stop(signal.SIGKILL)
    assert server.proc.returncode == -signal.SIGKILL, "the server was not killed mid-run"
    assert 0 < len(acknowledged) < ALERTS

    restarted = start_server(data)
    try:
        stored = _stored(data / "tocsin.sqlite3")
        for identifier, (_alert_id, plan) in stored.items():
            assert set(plan) == PLAN, f"{identifier} is half-stored: {plan}"
        async with aiohttp.ClientSession(headers=restarted.headers) as session:
            for identifier, (alert_id, body) in acknowledged.items():
                assert stored[identifier][0] == alert_id
                async with session.get(f"{restarted.url}/api/v1/alerts/{alert_id}/cap") as r:
                    assert r.status == 200
                    assert await r.read() == body
            some_id = next(iter(acknowledged.values()))[0]
            async with session.get(f"{restarted.url}/api/v1/alerts/{some_id}") as r:
                status = await r.json()
            assert {d["channel"] for d in status["deliveries"]} == PLAN
    finally:
        restarted.stop()
