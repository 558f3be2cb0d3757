"""PostgreSQL restarts in the middle of a load on two nodes: readiness drops and comes
back, the nodes reconnect by themselves, every alert answered 202 is stored, and no
delivery goes out twice (an outcome made while the database was away is stored once
it is back, not dropped and sent again)."""

from __future__ import annotations

import asyncio
import collections
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import aiohttp
import pytest

from tests.contract.harnesses import MockCbcProcess
from tests.integration.cluster import Cluster, post_anywhere, wait_final
from tests.integration.server import Server
from tests.integration.sms_smsc import SmscProcess
from tests.integration.test_node_loss import alert
from tests.postgres import PostgresServer, start_postgres

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
ALERTS = 200
FINAL = frozenset({"delivered", "failed", "expired", "cancelled", "skipped", "superseded"})


@pytest.fixture
def database() -> Iterator[PostgresServer]:
    server = start_postgres()  # its own: this test stops and starts it
    try:
        yield server
    finally:
        server.remove()


def ready(node: Server) -> int:
    try:
        with urllib.request.urlopen(f"{node.url}/readyz", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def test_a_database_restart_mid_load_keeps_every_202_and_doubles_nothing(
        database: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    smsc, cbc = SmscProcess(), MockCbcProcess()
    cluster = Cluster(database.create_database("restart"), smsc, cbc,
                      tmp_path_factory.mktemp("restart"), lease_s=30)
    try:
        cluster.start(2)
        ids: dict[str, str] = {}

        async def load() -> None:
            async with aiohttp.ClientSession() as session:
                for n in range(ALERTS):
                    name = f"LOAD-{n}"
                    ids[name] = await post_anywhere(session, cluster, n, alert(name, "Moderate"))
                    await asyncio.sleep(0.01)
        loading = asyncio.create_task(load())
        while len(ids) < ALERTS // 4:
            await asyncio.sleep(0.05)
        database.stop(signal.SIGINT)  # fast shutdown: every connection is cut
        away = time.monotonic()
        readiness = [ready(node) for node in cluster.nodes]
        await asyncio.sleep(2)
        database.restart()
        back = None
        for _ in range(200):  # bounded: until both nodes are ready again
            if all(ready(node) == 200 for node in cluster.nodes):
                back = time.monotonic() - away
                break
            await asyncio.sleep(0.1)
        await loading
        seen = await wait_final(cluster, list(ids.values()), timeout=120, final=FINAL)
    finally:
        cluster.stop()
        smsc.stop()
        cbc.stop()
    print(f"readiness while away: {readiness}; both ready {back} s after the stop")
    assert readiness == [503, 503]
    assert back is not None
    assert len(seen) == ALERTS  # every 202 is stored
    states = collections.Counter(d["state"] for found in seen.values() for d in found.values())
    assert states == {"delivered": ALERTS}, states
    records = [json.loads(line) for i in range(2) if cluster.file_path(i).exists()
               for line in cluster.file_path(i).read_text(encoding="utf-8").splitlines()]
    written = collections.Counter(r["idempotency_key"] for r in records)
    assert {f"{alert_id}/file" for alert_id in ids.values()} <= set(written)
    assert [key for key, count in written.items() if count > 1] == []  # none twice
