"""Several ``tocsin serve`` nodes on one PostgreSQL store, with one sandbox SMSC and one
mock CBC they all use: the shape of a national deployment, as real processes.

The nodes share the database (``tests.postgres``: a fresh database on the session's
throwaway server) and the network elements; each has its own data directory (the
data-directory lock stays one server per directory). Leases are short
(``store_lease_s``) so that a node's death is taken over within seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

from tests.contract.harnesses import MockCbcProcess
from tests.integration.server import REPO, Server, start_server
from tests.integration.sms_smsc import SmscProcess
from tests.integration.test_dispatch_flow import FAST

CELL_BROADCAST_DEPLOYMENT = """\
identifiers:
  scheme: cmas            # a country whose handsets show the whole CMAS range alike:
  pools:                  # simultaneous Severe alerts share out four identifiers
    4370: [4370]
    4371: [4371]
    4372: [4372]
    4373: [4373]
    4374: [4374]
    4375: [4375, 4376, 4377, 4378]
    4376: [4376]
    4377: [4377]
    4378: [4378]
    4380: [4380]
    4381: [4381]
"""
ROUTES = """\
routes:
  - id: everyone-by-sms
    match: {status: [Actual], severity: [Extreme]}
    channels: [sms]
    stop: true
  - id: cell-broadcast
    match: {status: [Actual], severity: [Severe]}
    channels: [cell_broadcast]
    stop: true
default: [file]
"""
LEASE_S = 3


@dataclass
class Cluster:
    store: str
    smsc: SmscProcess
    cbc: MockCbcProcess
    workdir: Path
    lease_s: float = LEASE_S
    nodes: list[Server] = field(default_factory=list)

    def env(self, index: int) -> dict[str, str]:
        config = {
            "routes_file": str(self.workdir / "routes.yaml"),
            "accessibility_dir": str(self.workdir / "accessibility"),
            "store_lease_s": self.lease_s,
            "channels": {
                "sms": {"type": "sms", "port": self.smsc.smpp_port, "system_id": "tocsin",
                        "password": "secret", "binds": 2, "window": 8},
                "cell_broadcast": {
                    "type": "cell_broadcast", "url": self.cbc.url, "timeout_s": 5,
                    "deployment": str(self.workdir / "cell_broadcast.yaml")},
                "file": {"type": "file", "path": str(self.file_path(index))}}}
        path = self.workdir / f"node{index}.yaml"
        path.write_text(json.dumps(config), encoding="utf-8")
        return {**FAST, "TOCSIN_CONFIG": str(path), "TOCSIN_STORE": self.store}

    def file_path(self, index: int) -> Path:
        return self.workdir / f"node{index}-file.jsonl"

    def start(self, count: int) -> None:
        (self.workdir / "routes.yaml").write_text(ROUTES, encoding="utf-8")
        accessibility = self.workdir / "accessibility"  # speech off: not what is tested here
        shutil.copytree(REPO / "config" / "accessibility", accessibility, dirs_exist_ok=True)
        settings = accessibility / "accessibility.yaml"
        text = settings.read_text(encoding="utf-8")
        settings.write_text(text.replace("tts:\n  enabled: true", "tts:\n  enabled: false"),
                            encoding="utf-8")
        (self.workdir / "cell_broadcast.yaml").write_text(CELL_BROADCAST_DEPLOYMENT,
                                                          encoding="utf-8")
        for index in range(count):
            self.nodes.append(self._start(index))

    def _start(self, index: int) -> Server:
        return start_server(self.workdir / f"node{index}", env=self.env(index))

    def restart(self, index: int) -> None:
        self.nodes[index] = self._start(index)

    def kill(self, index: int, sig: signal.Signals = signal.SIGKILL) -> None:
        os.kill(self.nodes[index].proc.pid, sig)
        if sig is signal.SIGKILL:
            self.nodes[index].proc.wait(timeout=10)

    def alive(self) -> list[Server]:
        return [n for n in self.nodes if n.proc.poll() is None]

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc.poll() is None:
                node.stop(signal.SIGKILL)

    def import_subscribers(self, rows: list[str]) -> None:
        csv = self.workdir / "subscribers.csv"
        csv.write_text("address,language,areas\n" + "\n".join(rows) + "\n", encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "router.cli", "subscribers", "import", str(csv),
             "--data-dir", str(self.workdir / "import"), "--region", "NL"],
            cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, "TOCSIN_STORE": self.store})
        assert done.returncode == 0, done.stderr

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the shared database directly (what the nodes stored)."""
        with psycopg.connect(self.store) as conn:
            return list(conn.execute(query, params).fetchall())

    def node_holding(self, alert_id: str, channel: str) -> int | None:
        """Which node holds the claim on a delivery (its lease names the node's PID)."""
        rows = self.sql("SELECT lease_node FROM deliveries WHERE alert_id = %s AND channel = %s"
                        " AND state = 'sending'", alert_id, channel)
        if not rows or rows[0][0] is None:
            return None
        pid = int(str(rows[0][0]).split("/")[1])
        return next((i for i, n in enumerate(self.nodes) if n.proc.pid == pid), None)


async def post_to(session: aiohttp.ClientSession, node: Server, body: bytes) -> str:
    async with session.post(f"{node.url}/api/v1/alerts", data=body,
                            headers=node.headers) as response:
        assert response.status == 202, await response.text()
        return str((await response.json())["id"])


async def post_anywhere(session: aiohttp.ClientSession, cluster: Cluster, first: int,
                        body: bytes) -> str:
    """POST to node ``first``, and as a client behind a load balancer would, to the next
    live node when that one is dead or dies mid-request: a repeat of an alert that was
    stored after all is recognised by its CAP key and answered with the same id."""
    for attempt in range(len(cluster.nodes) * 50):  # bounded: some 30 s of trying
        node = cluster.nodes[(first + attempt) % len(cluster.nodes)]
        if node.proc.poll() is not None:
            continue
        try:
            async with session.post(f"{node.url}/api/v1/alerts", data=body,
                                    headers=node.headers) as response:
                if response.status in {200, 202}:
                    return str((await response.json())["id"])
                assert response.status == 503, await response.text()
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2 if attempt % len(cluster.nodes) == len(cluster.nodes) - 1
                            else 0)
    raise AssertionError("no node took the alert")


async def deliveries_of(session: aiohttp.ClientSession, node: Server,
                        alert_id: str) -> dict[str, dict[str, Any]]:
    async with session.get(f"{node.url}/api/v1/alerts/{alert_id}",
                           headers=node.headers) as response:
        assert response.status == 200, await response.text()
        body = await response.json()
        return {d["channel"]: d for d in body["deliveries"]}


async def wait_final(cluster: Cluster, alert_ids: list[str], timeout: float,
                     final: frozenset[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Poll any live node until every delivery of every alert is in a final state."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = list(alert_ids)
    seen: dict[str, dict[str, dict[str, Any]]] = {}
    async with aiohttp.ClientSession() as session:
        while pending:
            node = cluster.alive()[0]
            still = []
            for alert_id in pending:
                found = await deliveries_of(session, node, alert_id)
                seen[alert_id] = found
                if not found or any(d["state"] not in final for d in found.values()):
                    still.append(alert_id)
            pending = still
            if pending:
                assert loop.time() < deadline, {
                    a: {c: (d["state"], d.get("reason"), d["attempts"])
                        for c, d in seen[a].items()} for a in pending[:5]}
                await asyncio.sleep(0.5)
    return seen
